"""The pipeline's steps as plain functions over Settings: each reads from and writes to the lake.

Flows in ``pipelines/`` and the CLI call these; they hold the IO, the pure transforms live in their own modules.
Every step is idempotent: running it again writes nothing new.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from sentiment import privacy
from sentiment.analysis.suite import add_model_features, analyse_weekly
from sentiment.chats.detect import iter_chat_export
from sentiment.chats.records import Rejects
from sentiment.chats.slack import is_slack_export
from sentiment.errors import AnalysisError, ConfigError, EncodingError, InputError, LakeError, ParseError
from sentiment.features import weekly_community_features
from sentiment.lake import Lake
from sentiment.prices.candles_csv import read_candles_csv
from sentiment.prices.exchange import fetch_candles, make_exchange
from sentiment.prices.weekly import candle_gaps, timeframe_to_timedelta, weekly_bars
from sentiment.report.render import write_report
from sentiment.schemas import schema
from sentiment.scoring import BaseScorer, MessageFacts, score_messages, stored_version
from sentiment.scoring.factory import make_facts, make_scorer
from sentiment.settings import Settings

__all__ = [
    "CHAT_SUFFIXES",
    "IngestSummary",
    "ParsedExport",
    "analyse_and_report",
    "build_weekly",
    "build_weekly_symbol",
    "chat_files",
    "community_features",
    "compact_lake",
    "expand_chat_paths",
    "fetch_prices",
    "import_prices",
    "ingest_chats",
    "local_zone",
    "message_partitions",
    "parse_chat_file",
    "price_gaps",
    "pseudonym_key",
    "recorded",
    "report_dir",
    "score_new_messages",
    "score_partition",
    "write_messages",
    "write_rejects",
]

log = logging.getLogger(__name__)

CHAT_SUFFIXES = (".json", ".csv", ".txt", ".jsonl", ".zip")
_ENCODING_NAMES = {"utf-8-sig": "UTF-8", "gb18030": "GB18030, e.g. re-saved by Excel"}


def recorded(step: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a step taking Settings first: append one row to the lake's ``runs`` table when it ends."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(settings: Settings, *args: Any, **kwargs: Any) -> Any:
            started = pd.Timestamp.now(tz="UTC")
            try:
                result = fn(settings, *args, **kwargs)
            except Exception as exc:
                try:
                    _record_run(settings, step, started, "failed", None, f"{type(exc).__name__}: {exc}")
                except LakeError as lake_exc:  # the step's own error is the one to report
                    log.warning("could not record the failed %s run: %s", step, lake_exc)
                raise
            _record_run(settings, step, started, "ok", _rows_of(result), None)
            return result

        return run

    return wrap


def _rows_of(result: object) -> int | None:
    if isinstance(result, bool):
        return None
    if isinstance(result, int):
        return result
    if isinstance(result, IngestSummary):
        return result.rows_written
    if isinstance(result, pd.DataFrame):
        return len(result)
    if isinstance(result, dict) and all(isinstance(v, int) for v in result.values()):
        return sum(result.values())
    return None


def _record_run(
    settings: Settings, step: str, started: pd.Timestamp, status: str, rows: int | None, detail: str | None
) -> None:
    row = {
        "run_id": uuid.uuid4().hex,
        "step": step,
        "started_at": started,
        "finished_at": pd.Timestamp.now(tz="UTC"),
        "status": status,
        "rows_written": rows,
        "detail": detail,
    }
    frame = pd.DataFrame([row]).astype({"rows_written": "Int64"})
    Lake(settings.lake).append("runs", frame)


@dataclass(frozen=True)
class IngestSummary:
    """What one ingest did: per file (path, detected format, records read) and rows added to the lake."""

    files: list[tuple[str, str, int]] = field(default_factory=list)
    rows_written: int = 0
    rejects: int = 0

    @property
    def rows_read(self) -> int:
        return sum(n for _, _, n in self.files)


def local_zone(name: str | None) -> tzinfo:
    """The zone for exports that carry only wall time: the configured one, else this machine's."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"unknown time zone {name!r}") from exc
    return datetime.now().astimezone().tzinfo or ZoneInfo("UTC")


def expand_chat_paths(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, plus the export files found (recursively) inside named folders, in sorted order."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir() and is_slack_export(path):
            out.append(path)  # a Slack workspace export folder is one export
        elif path.is_dir():
            slack = sorted(p for p in path.rglob("*") if p.is_dir() and is_slack_export(p))
            out.extend(slack)
            out.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and p.suffix.lower() in CHAT_SUFFIXES and not any(s in p.parents for s in slack)
                )
            )
        elif path.is_file():
            out.append(path)
        else:
            raise InputError(path, "no such file or folder")
    return out


@dataclass(frozen=True)
class ParsedExport:
    """One export read into pseudonymised ``messages`` rows, plus the records it rejected (--skip-bad-records)."""

    path: Path
    label: str
    records: int
    messages: pd.DataFrame
    rejects: pd.DataFrame


@recorded("ingest-chats")
def ingest_chats(
    settings: Settings,
    paths: Sequence[Path],
    *,
    now: pd.Timestamp,
    progress: Callable[[Path, int, int], None] | None = None,
) -> IngestSummary:
    """Parse every export, pseudonymise, and append new messages: all or nothing for the run.

    Readers stream (Telegram in bounded batches); batches are staged and published only after every file parsed,
    so a bad file leaves no new rows. With ``skip_bad_records`` bad records go to ``rejects`` instead.
    ``progress(path, bytes_read, total)`` is called as big files stream.
    """
    lake = Lake(settings.lake)
    files = chat_files(settings, paths)
    key = pseudonym_key(settings)
    report: list[tuple[str, str, int]] = []
    rejected: list[pd.DataFrame] = []
    with lake.staged_append("messages") as staged:
        for path in files:
            tick = None if progress is None else (lambda done, total, p=path: progress(p, done, total))
            label, count, frames, rejects = _export_frames(settings, path, key, now, tick)
            for frame in frames:
                staged.add(frame)
            report.append((str(path), label(), count()))
            rejected.append(_rejects_frame(settings, path, label(), rejects, now))
            log.info("%s: %s, %d records, %d rejected", path, label(), count(), len(rejects))
    n_rejects = write_rejects(settings, rejected)
    return IngestSummary(files=report, rows_written=staged.written, rejects=n_rejects)


def parse_chat_file(settings: Settings, path: Path, *, now: pd.Timestamp) -> ParsedExport:
    """One export parsed, redacted if asked and pseudonymised into ``messages`` rows (nothing written)."""
    label, count, frames, rejects = _export_frames(settings, path, pseudonym_key(settings), now, None)
    parsed = [f for f in frames if not f.empty]
    messages = pd.concat(parsed, ignore_index=True) if parsed else pd.DataFrame()
    return ParsedExport(path, label(), count(), messages, _rejects_frame(settings, path, label(), rejects, now))


def _export_frames(
    settings: Settings,
    path: Path,
    key: bytes,
    now: pd.Timestamp,
    progress: Callable[[int, int], None] | None,
) -> tuple[Callable[[], str], Callable[[], int], Iterator[pd.DataFrame], Rejects]:
    """Stream one export as ``messages`` frames. Returns (format label, records read, frames, rejects): the label
    and count are functions because they are known once the frames have been consumed."""
    rejects: Rejects = []
    state: dict[str, Any] = {"fmt": "?", "count": 0, "encoding": None}

    def frames() -> Iterator[pd.DataFrame]:
        try:
            state["fmt"], raws = iter_chat_export(
                path,
                settings.platform,
                local_zone(settings.tz),
                settings.column_map,
                rejects=rejects if settings.skip_bad_records else None,
                progress=progress,
            )
            for raw in raws:
                state["encoding"] = raw.attrs.get("encoding", state["encoding"])
                state["count"] += len(raw)
                if settings.redact:
                    raw = privacy.redact_messages(raw)
                yield privacy.to_messages(raw, key, keep_names=settings.keep_names, ingested_at=now)
        except (ParseError, EncodingError) as exc:
            if not settings.skip_bad_records or state["fmt"] == "?":
                raise
            # A file-level failure (e.g. a truncated export) under --skip-bad-records: keep what parsed.
            rejects.append((exc.line or 0, "", exc.reason))

    def label() -> str:
        encoding = state["encoding"]
        return state["fmt"] if encoding is None else f"{state['fmt']} ({_ENCODING_NAMES.get(encoding, encoding)})"

    return label, lambda: int(state["count"]), frames(), rejects


def _rejects_frame(settings: Settings, path: Path, label: str, rejects: Rejects, now: pd.Timestamp) -> pd.DataFrame:
    rows = [
        {
            "source_file": path.name,
            "source_record": record,
            "platform": label.split("_", 1)[0],
            # The raw record names people: stored only when names may be stored.
            "raw": text if settings.keep_names and text else None,
            "reason": reason,
            "ingested_at": now,
        }
        for record, text, reason in rejects
    ]
    return pd.DataFrame(rows, columns=["source_file", "source_record", "platform", "raw", "reason", "ingested_at"])


def write_rejects(settings: Settings, frames: Sequence[pd.DataFrame]) -> int:
    """Store rejected records (file, record, reason); returns how many rejects the frames hold."""
    rejected = [f for f in frames if not f.empty]
    if not rejected:
        return 0
    frame = pd.concat(rejected, ignore_index=True)
    frame["ingested_at"] = pd.to_datetime(frame["ingested_at"], utc=True).astype("datetime64[us, UTC]")
    Lake(settings.lake).append("rejects", frame)
    return len(frame)


@recorded("score-messages")
def score_new_messages(
    settings: Settings,
    *,
    now: pd.Timestamp,
    scorer: BaseScorer | None = None,
    facts: MessageFacts | None = None,
    chat: tuple[str, str] | None = None,
) -> int:
    """Score the user messages that have no score yet, and rescore those scored by another scorer or version.

    The scorer is ``settings.scorer`` unless one is passed; ``chat`` = (platform, chat_id) limits the work to one
    chat. Returns the number of rows written.
    """
    lake = Lake(settings.lake)
    scorer = scorer or make_scorer(settings)
    facts = facts or make_facts(settings)
    version = stored_version(scorer, facts)
    cols = "m.platform, m.chat_id, m.message_id, m.kind, m.media_type, m.text"
    only = "" if chat is None else f" AND m.platform = '{_sql(chat[0])}' AND m.chat_id = '{_sql(chat[1])}'"
    pending = lake.read(
        f"SELECT {cols} FROM messages_raw m "
        "LEFT JOIN scores s USING (platform, chat_id, message_id) "
        "WHERE s.message_id IS NULL AND m.kind IN ('message', 'media')" + only
    )
    stale = lake.read(
        f"SELECT {cols} FROM messages_raw m JOIN scores s USING (platform, chat_id, message_id) "
        f"WHERE m.kind IN ('message', 'media') AND (s.scorer <> '{_sql(scorer.name)}' "
        f"OR s.scorer_version <> '{_sql(version)}')" + only
    )
    written = 0
    if not pending.empty:
        written += lake.append("scores", score_messages(pending, scorer, now, facts))
    if not stale.empty:
        log.info("rescoring %d messages scored by an older scorer or version", len(stale))
        written += lake.replace_rows("scores", score_messages(stale, scorer, now, facts))
    return written


@recorded("fetch-prices")
def fetch_prices(
    settings: Settings,
    *,
    now: pd.Timestamp,
    symbols: Sequence[str] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Fetch candles after the last stored one for each symbol (default: report symbols + market factor).

    Every page is stored as it arrives, so a run that fails midway keeps what it fetched and the next run
    resumes after the last stored candle.
    """
    lake = Lake(settings.lake)
    exchange = make_exchange(settings.exchange, settings.api_url)
    step = timeframe_to_timedelta(settings.timeframe)
    until = pd.Timestamp(settings.until, tz="UTC") + pd.Timedelta(days=1) if settings.until else None
    written: dict[str, int] = {}
    for symbol in symbols or settings.all_symbols:
        last = lake.read(
            "SELECT max(ts) AS last FROM prices "
            f"WHERE exchange = '{_sql(settings.exchange)}' AND upper(symbol) = upper('{_sql(symbol)}') "
            f"AND timeframe = '{_sql(settings.timeframe)}'"
        )["last"].iloc[0]
        since = pd.Timestamp(settings.since, tz="UTC") if pd.isna(last) else pd.Timestamp(last) + step
        written[symbol] = 0

        def store(page: pd.DataFrame, symbol: str = symbol) -> None:
            written[symbol] += lake.append("prices", page)

        fetch_candles(
            exchange,
            symbol,
            settings.timeframe,
            since,
            until,
            now=now,
            max_retries=settings.fetch_retries,
            base_delay=settings.retry_base_delay,
            on_page=store,
            progress=None if progress is None else (lambda n, _cursor, s=symbol: progress(s, n)),
        )
        log.info("%s %s: %d new candles since %s", settings.exchange, symbol, written[symbol], since.date())
    return written


def price_gaps(settings: Settings, symbols: Sequence[str] | None = None) -> pd.DataFrame:
    """Missing candle ranges inside each stored series of the configured exchange and timeframe (never filled)."""
    wanted = ", ".join(f"upper('{_sql(s)}')" for s in (symbols or settings.all_symbols))
    prices = Lake(settings.lake).read(
        f"SELECT exchange, symbol, timeframe, ts FROM prices WHERE exchange = '{_sql(settings.exchange)}' "
        f"AND timeframe = '{_sql(settings.timeframe)}' AND upper(symbol) IN ({wanted})"
    )
    return candle_gaps(prices)


@recorded("import-prices")
def import_prices(
    settings: Settings, path: Path, *, exchange: str, symbol: str, timeframe: str, now: pd.Timestamp
) -> tuple[int, int]:
    """Store a user's own candles from a CSV file; returns (rows read, rows new to the lake). Idempotent."""
    candles = read_candles_csv(path, exchange=exchange, symbol=symbol, timeframe=timeframe, fetched_at=now)
    return len(candles), Lake(settings.lake).append("prices", candles)


@recorded("build-weekly")
def build_weekly(settings: Settings) -> pd.DataFrame:
    """Join weekly community features (whole community and per chat) with each symbol's weekly bars."""
    features = community_features(settings)
    frames = [_weekly_of_symbol(settings, features, symbol) for symbol in settings.symbols]
    lake = Lake(settings.lake)
    for frame in frames:
        lake.replace("weekly", frame)
    return pd.concat(frames, ignore_index=True)


@recorded("analyse-and-report")
def analyse_and_report(settings: Settings, symbol: str, *, today: pd.Timestamp, synthetic: bool = False) -> Path:
    """Lead-lag and walk-forward analyses of one symbol's weekly table; returns the report folder."""
    lake = Lake(settings.lake)
    weekly = lake.read(f"SELECT * FROM weekly WHERE symbol = '{_sql(symbol)}' AND scope = 'all' ORDER BY week_start")
    if weekly.empty:
        raise AnalysisError(f"no weekly rows for {symbol}: build the weekly table first")
    weekly = add_model_features(weekly)
    # Community features are tested against the token's return net of the market (BTC) where known: the
    # market's share of the move is real in every token and only adds noise to the question asked here.
    target = "excess_log_return" if weekly["excess_log_return"].notna().sum() >= settings.min_weeks else "log_return"
    results = analyse_weekly(
        weekly,
        target=target,
        lags=range(-settings.max_lag, settings.max_lag + 1),
        n_boot=settings.n_boot,
        seed=settings.seed,
        min_weeks=settings.min_weeks,
        alpha=settings.alpha,
    )
    relations, prediction = results["relations"], results["prediction"]
    coverage = {**coverage_of(lake, weekly), "synthetic": synthetic, "relations_target": target}
    coverage["in_words"] = (
        f"{coverage['weeks']} weeks ({coverage['first_week']} to {coverage['last_week']}) from {coverage['chats']} "
        f"chats with {coverage['messages']:,} messages; {len(coverage['missing_weeks'])} weeks missing inside "
        f"that range; relations tested against {target}."
    )
    notes: list[str] = list(results["guards"])
    out = report_dir(settings.reports, symbol, today)
    write_report(
        out,
        symbol=symbol,
        weekly=weekly,
        relations=relations,
        prediction=prediction,
        coverage=coverage,
        caveats=notes,
        granger=results["granger"],
        flagged=results["flagged"],
    )
    return out


@recorded("compact")
def compact_lake(settings: Settings, table: str | None = None) -> dict[str, tuple[int, int]]:
    """Merge each partition's small files into one (every table, or ``table``); returns files before/after."""
    return Lake(settings.lake).compact(table)


def coverage_of(lake: Lake, weekly: pd.DataFrame) -> dict[str, object]:
    """What data the report rests on: weeks, chats, messages and the weeks missing inside the range."""
    stats = lake.read(
        "SELECT count(DISTINCT platform || ':' || chat_id) AS chats, "
        "count(*) FILTER (WHERE kind IN ('message', 'media')) AS messages, count(*) AS records FROM messages"
    ).iloc[0]
    weeks = pd.to_datetime(weekly["week_start"], utc=True)
    expected = pd.date_range(weeks.min(), weeks.max(), freq="7D") if len(weeks) else pd.DatetimeIndex([])
    missing = sorted(set(expected) - set(weeks))
    return {
        "weeks": len(weekly),
        "first_week": weeks.min().date().isoformat() if len(weeks) else None,
        "last_week": weeks.max().date().isoformat() if len(weeks) else None,
        "missing_weeks": [w.date().isoformat() for w in missing],
        "chats": int(stats["chats"]),
        "messages": int(stats["messages"]),
        "records": int(stats["records"]),
    }


def report_dir(reports: Path, symbol: str, today: pd.Timestamp) -> Path:
    """``<reports>/<YYYY-MM-DD>_<symbol with / as ->``."""
    return Path(reports) / f"{today.strftime('%Y-%m-%d')}_{symbol.replace('/', '-')}"


def _sql(value: str) -> str:
    return value.replace("'", "''")


# ---- the same steps split per file / partition / symbol, for flows that fan them out -------------------------
def chat_files(settings: Settings, paths: Sequence[Path] | None = None) -> list[Path]:
    """The export files under ``paths`` (default ``settings.chats``: files and watched folders); InputError if none."""
    roots = settings.chats if paths is None else paths
    files = expand_chat_paths(roots)
    if not files:
        raise InputError(", ".join(map(str, roots)) or ".", "no chat export files found")
    return files


def pseudonym_key(settings: Settings) -> bytes:
    """The lake's pseudonymisation key, created on first use."""
    return privacy.load_or_create_key(Lake(settings.lake).key_path)


def write_messages(settings: Settings, parsed: Sequence[ParsedExport]) -> int:
    """Append parsed exports' messages in one write (a bad file failed to parse, so nothing was written), and
    their rejects; returns the new message rows."""
    frames = [p.messages for p in parsed if not p.messages.empty]
    written = Lake(settings.lake).append("messages", pd.concat(frames, ignore_index=True)) if frames else 0
    write_rejects(settings, [p.rejects for p in parsed])
    return written


def message_partitions(settings: Settings) -> list[tuple[str, str]]:
    """The (platform, chat_id) pairs the lake holds messages for, sorted."""
    chats = Lake(settings.lake).read("SELECT DISTINCT platform, chat_id FROM messages_raw ORDER BY platform, chat_id")
    return [(str(p), str(c)) for p, c in chats.itertuples(index=False)]


def score_partition(
    settings: Settings, platform: str, chat_id: str, *, now: pd.Timestamp, scorer: BaseScorer | None = None
) -> int:
    """Score (or rescore) one chat's user messages; return how many rows were written."""
    return score_new_messages(settings, now=now, scorer=scorer, chat=(platform, chat_id))


def community_features(settings: Settings) -> pd.DataFrame:
    """Weekly community features (scope "all" and per chat) of every scored message in the lake."""
    messages = Lake(settings.lake).read("SELECT * FROM messages")
    if messages.empty:
        raise AnalysisError("the lake holds no messages: ingest chat exports first")
    aliases = tuple(sym.split("/")[0] for sym in settings.symbols)  # token_mentions: cashtags + base names
    return weekly_community_features(messages, week_starts_on=settings.week_starts_on, aliases=aliases)


def build_weekly_symbol(settings: Settings, features: pd.DataFrame, symbol: str) -> int:
    """Join ``features`` with one symbol's weekly bars and replace its ``weekly`` partition; return the rows."""
    return Lake(settings.lake).replace("weekly", _weekly_of_symbol(settings, features, symbol))


def _weekly_of_symbol(settings: Settings, features: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """``features`` joined with one symbol's weekly bars (excess returns over the market factor), schema columns."""
    wanted = ", ".join(f"'{_sql(s)}'" for s in dict.fromkeys((symbol, settings.market_symbol)))
    prices = Lake(settings.lake).read(
        f"SELECT * FROM prices WHERE exchange = '{_sql(settings.exchange)}' "
        f"AND timeframe = '{_sql(settings.timeframe)}' AND symbol IN ({wanted})"
    )
    if prices[prices["symbol"] == symbol].empty:
        raise AnalysisError(f"the lake holds no {settings.exchange} prices of {symbol}: fetch prices first")
    bars = weekly_bars(prices, market_symbol=settings.market_symbol, week_starts_on=settings.week_starts_on)
    weekly = features.merge(bars[bars["symbol"] == symbol], on="week_start", how="inner")
    return weekly[[c for c in schema("weekly").names if c in weekly.columns]]

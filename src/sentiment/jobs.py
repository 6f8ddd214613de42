"""The pipeline's steps as plain functions over Settings: each reads from and writes to the lake.

Flows in ``pipelines/`` and the CLI call these; they hold the IO, the pure transforms live in their own modules.
Every step is idempotent: running it again writes nothing new.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from sentiment import privacy
from sentiment.analysis.suite import add_model_features, analyse_weekly
from sentiment.chats.detect import read_chat_export
from sentiment.errors import AnalysisError, ConfigError, InputError
from sentiment.features import weekly_community_features
from sentiment.lake import Lake
from sentiment.prices.exchange import fetch_candles, make_exchange
from sentiment.prices.weekly import timeframe_to_timedelta, weekly_bars
from sentiment.report.render import write_report
from sentiment.scoring import VaderScorer, score_messages
from sentiment.settings import Settings

__all__ = [
    "CHAT_SUFFIXES",
    "IngestSummary",
    "analyse_and_report",
    "build_weekly",
    "expand_chat_paths",
    "fetch_prices",
    "ingest_chats",
    "local_zone",
    "report_dir",
    "score_new_messages",
]

log = logging.getLogger(__name__)

CHAT_SUFFIXES = (".json", ".csv", ".txt", ".jsonl", ".zip")
# Community features tested against prices, on scales where weekly values are comparable over time.
REPORT_FEATURES = (
    "log_messages",
    "log_active_authors",
    "log_new_authors",
    "log_joins",
    "mean_compound",
    "bullish_share",
)


@dataclass(frozen=True)
class IngestSummary:
    """What one ingest did: per file (path, detected format, records read) and rows added to the lake."""

    files: list[tuple[str, str, int]] = field(default_factory=list)
    rows_written: int = 0

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
        if path.is_dir():
            out.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in CHAT_SUFFIXES)
            )
        elif path.is_file():
            out.append(path)
        else:
            raise InputError(path, "no such file or folder")
    return out


def ingest_chats(settings: Settings, paths: Sequence[Path], *, now: pd.Timestamp) -> IngestSummary:
    """Parse every export, pseudonymise, and append new messages. All files parse before anything is written."""
    lake = Lake(settings.lake)
    zone = local_zone(settings.tz)
    files = expand_chat_paths(paths)
    if not files:
        raise InputError(", ".join(map(str, paths)) or ".", "no chat export files found")
    frames: list[pd.DataFrame] = []
    report: list[tuple[str, str, int]] = []
    key = privacy.load_or_create_key(lake.key_path)
    for path in files:
        fmt, raw = read_chat_export(path, settings.platform, zone)
        log.info("%s: %s, %d records", path, fmt, len(raw))
        report.append((str(path), fmt, len(raw)))
        frames.append(privacy.to_messages(raw, key, keep_names=settings.keep_names, ingested_at=now))
    written = lake.append("messages", pd.concat(frames, ignore_index=True))
    return IngestSummary(files=report, rows_written=written)


def score_new_messages(settings: Settings, *, now: pd.Timestamp, scorer: VaderScorer | None = None) -> int:
    """Score the user messages that have no score yet (or one from an older scorer version)."""
    lake = Lake(settings.lake)
    scorer = scorer or VaderScorer()
    pending = lake.read(
        "SELECT m.platform, m.chat_id, m.message_id, m.kind, m.text FROM messages_raw m "
        "LEFT JOIN scores s USING (platform, chat_id, message_id) "
        "WHERE s.message_id IS NULL AND m.kind IN ('message', 'media')"
    )
    if pending.empty:
        return 0
    return lake.append("scores", score_messages(pending, scorer, now))


def fetch_prices(
    settings: Settings,
    *,
    now: pd.Timestamp,
    symbols: Sequence[str] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Fetch candles after the last stored one for each symbol (default: report symbols + market factor)."""
    lake = Lake(settings.lake)
    exchange = make_exchange(settings.exchange, settings.api_url)
    step = timeframe_to_timedelta(settings.timeframe)
    until = pd.Timestamp(settings.until, tz="UTC") + pd.Timedelta(days=1) if settings.until else None
    written: dict[str, int] = {}
    for symbol in symbols or settings.all_symbols:
        last = lake.read(
            "SELECT max(ts) AS last FROM prices "
            f"WHERE exchange = '{_sql(settings.exchange)}' AND symbol = '{_sql(symbol)}' "
            f"AND timeframe = '{_sql(settings.timeframe)}'"
        )["last"].iloc[0]
        since = pd.Timestamp(settings.since, tz="UTC") if pd.isna(last) else pd.Timestamp(last) + step
        candles = fetch_candles(
            exchange,
            symbol,
            settings.timeframe,
            since,
            until,
            now=now,
            **({"progress": (lambda n, s=symbol: progress(s, n))} if progress else {}),
        )
        written[symbol] = lake.append("prices", candles)
        log.info("%s %s: %d new candles since %s", settings.exchange, symbol, written[symbol], since.date())
    return written


def build_weekly(settings: Settings) -> pd.DataFrame:
    """Join weekly community features (whole community and per chat) with each symbol's weekly bars."""
    lake = Lake(settings.lake)
    messages = lake.read("SELECT * FROM messages")
    prices = lake.read(
        f"SELECT * FROM prices WHERE exchange = '{_sql(settings.exchange)}' "
        f"AND timeframe = '{_sql(settings.timeframe)}'"
    )
    if messages.empty:
        raise AnalysisError("the lake holds no messages: ingest chat exports first")
    if prices.empty:
        raise AnalysisError("the lake holds no prices: fetch prices first")
    aliases = tuple(sym.split("/")[0] for sym in settings.symbols)  # token_mentions: cashtags + base names
    features = weekly_community_features(messages, week_starts_on=settings.week_starts_on, aliases=aliases)
    bars = weekly_bars(prices, market_symbol=settings.market_symbol, week_starts_on=settings.week_starts_on)
    weekly = features.merge(bars[bars["symbol"].isin(settings.symbols)], on="week_start", how="inner")
    lake.replace("weekly", weekly[[c for c in _weekly_columns() if c in weekly.columns]])
    return weekly


def analyse_and_report(
    settings: Settings, symbol: str, *, today: pd.Timestamp, synthetic: bool = False
) -> Path:
    """Lead-lag and walk-forward analyses of one symbol's weekly table; returns the report folder."""
    lake = Lake(settings.lake)
    weekly = lake.read(
        f"SELECT * FROM weekly WHERE symbol = '{_sql(symbol)}' AND scope = 'all' ORDER BY week_start"
    )
    if weekly.empty:
        raise AnalysisError(f"no weekly rows for {symbol}: build the weekly table first")
    weekly = add_model_features(add_report_features(weekly))
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


def add_report_features(weekly: pd.DataFrame) -> pd.DataFrame:
    """Log-scale counts (activity grows multiplicatively) next to the mood features."""
    import numpy as np

    out = weekly.copy()
    for col in ("messages", "active_authors", "new_authors", "joins"):
        out[f"log_{col}"] = np.log1p(out[col].astype("float64"))
    return out


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


def _weekly_columns() -> list[str]:
    from sentiment.schemas import TABLES

    return [c.name for c in TABLES["weekly"]]


def _sql(value: str) -> str:
    return value.replace("'", "''")

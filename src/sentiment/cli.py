"""The ``sentiment`` command line: thin wiring from flags to Settings to library steps and flows."""

from __future__ import annotations

import json
import os
import sys
import traceback
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import click
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from sentiment.errors import SentimentError
from sentiment.settings import Settings, load_settings

__all__ = ["app", "main", "run_cli"]

app = typer.Typer(
    name="sentiment",
    help="Group-chat exports + exchange prices -> Parquet lake -> lead-lag reports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)

DEFAULT_SAMPLE = Path("data/sample")


class _Globals:
    def __init__(self, lake: Path | None, reports: Path | None, config: Path | None) -> None:
        self.lake = lake
        self.reports = reports
        self.config = config

    def settings(self, **overrides: object) -> Settings:
        return load_settings(self.config, lake=self.lake, reports=self.reports, **overrides)


@app.callback()
def _root(
    ctx: typer.Context,
    lake: Annotated[
        Path | None, typer.Option(help="Lake root [env SENTIMENT_LAKE; default ./data/lake].")
    ] = None,
    reports: Annotated[
        Path | None, typer.Option(help="Reports folder [env SENTIMENT_REPORTS; default ./reports].")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML settings file [env SENTIMENT_CONFIG; default ./sentiment.toml].")
    ] = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks on errors.")] = False,
) -> None:
    ctx.obj = _Globals(lake, reports, config)


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").floor("s")


# ---- chats -----------------------------------------------------------------------------------------------
@app.command("ingest-chat")
def ingest_chat(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Export files or folders of exports.")],
    platform: Annotated[
        str, typer.Option(help="Export format, or auto to detect it from the content.")
    ] = "auto",
    tz: Annotated[
        str | None, typer.Option(help="Zone of exports with wall time only (default: this machine's).")
    ] = None,
    keep_names: Annotated[
        bool, typer.Option(help="Also store display names (default: pseudonyms only).")
    ] = False,
    skip_bad_records: Annotated[
        bool, typer.Option(help="Store bad records in the rejects table instead of failing.")
    ] = False,
    redact: Annotated[
        bool, typer.Option(help="Mask phone numbers, e-mails and wallet addresses in message text.")
    ] = False,
) -> None:
    """Parse chat exports, pseudonymise authors, append new messages to the lake and score them."""
    from sentiment import jobs

    settings = ctx.obj.settings(
        platform=platform,
        tz=tz,
        keep_names=keep_names or None,
        skip_bad_records=skip_bad_records or None,
        redact=redact or None,
    )
    if settings.tz is None:
        err.print(f"wall-time exports are read in this machine's zone: {jobs.local_zone(None)} (set --tz)")
    now = _now()
    with _ProgressBars() as progress:
        summary = jobs.ingest_chats(settings, paths, now=now, progress=progress)
    scored = jobs.score_new_messages(settings, now=now)
    table = Table("file", "format", "records")
    for path, fmt, n in summary.files:
        table.add_row(path, fmt, str(n))
    out.print(table)
    out.print(f"{summary.rows_read} records read, {summary.rows_written} new rows, {scored} newly scored")
    if settings.skip_bad_records:
        out.print(f"{summary.rejects} bad records stored in the rejects table")


@app.command("score-text")
def score_text() -> None:
    """Score one message per stdin line; print one JSON object per line (compound, label, lang, ...)."""
    from sentiment.scoring import VaderScorer

    scorer = VaderScorer()
    for line in sys.stdin:
        text = line.rstrip("\n")
        result = scorer.score_one(text)
        sys.stdout.write(json.dumps({"text": text, **result}, ensure_ascii=False) + "\n")


# ---- prices ----------------------------------------------------------------------------------------------
@app.command("fetch-prices")
def fetch_prices(
    ctx: typer.Context,
    exchange: Annotated[str | None, typer.Option(help="ccxt exchange id [default gate].")] = None,
    symbol: Annotated[
        list[str] | None,
        typer.Option(help="Symbol(s); default VIRTUAL/USDT plus the market factor BTC/USDT."),
    ] = None,
    timeframe: Annotated[str | None, typer.Option(help="Candle timeframe [default 1d].")] = None,
    since: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day to fetch.")] = None,
    until: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last day to fetch.")] = None,
    api_url: Annotated[
        str | None, typer.Option(help="Send every API request to this scheme+host instead.")
    ] = None,
) -> None:
    """Fetch candles through ccxt into the lake, incrementally (only after the last stored candle)."""
    from sentiment import jobs

    settings = ctx.obj.settings(
        exchange=exchange, timeframe=timeframe, since=_day(since), until=_day(until), api_url=api_url
    )
    targets = tuple(symbol) if symbol else settings.all_symbols
    written = jobs.fetch_prices(settings, now=_now(), symbols=targets)
    for sym, n in written.items():
        out.print(f"{settings.exchange} {sym} {settings.timeframe}: {n} new candles")


# ---- the weekly pipeline ---------------------------------------------------------------------------------
@app.command("run")
def run(
    ctx: typer.Context,
    chat: Annotated[list[Path] | None, typer.Option(help="Chat export file or folder (repeatable).")] = None,
    exchange: Annotated[str | None, typer.Option(help="ccxt exchange id [default gate].")] = None,
    symbol: Annotated[list[str] | None, typer.Option(help="Token symbol(s) to report on.")] = None,
    since: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day of prices.")] = None,
    until: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last day of prices.")] = None,
    api_url: Annotated[
        str | None, typer.Option(help="Send every API request to this scheme+host instead.")
    ] = None,
    platform: Annotated[str | None, typer.Option(help="Chat export format, or auto.")] = None,
    tz: Annotated[str | None, typer.Option(help="Zone of exports with wall time only.")] = None,
    keep_names: Annotated[bool, typer.Option(help="Also store display names.")] = False,
    skip_bad_records: Annotated[
        bool, typer.Option(help="Store bad records in the rejects table instead of failing.")
    ] = False,
    redact: Annotated[
        bool, typer.Option(help="Mask phone numbers, e-mails and wallet addresses in message text.")
    ] = False,
) -> None:
    """Run the weekly Prefect flow on your own exports; prints the report path(s)."""
    symbols = list(symbol or [])
    settings = ctx.obj.settings(
        chats=tuple(chat or ()),
        exchange=exchange,
        since=_day(since),
        until=_day(until),
        api_url=api_url,
        platform=platform,
        tz=tz,
        keep_names=keep_names or None,
        skip_bad_records=skip_bad_records or None,
        redact=redact or None,
        **_split_market(symbols),
    )
    if settings.tz is None:
        from sentiment.jobs import local_zone

        err.print(f"wall-time exports are read in this machine's zone: {local_zone(None)} (set --tz)")
    for path in _run_flow(settings, synthetic=False):
        print(path)


@app.command("demo")
def demo(
    ctx: typer.Context,
    sample: Annotated[Path, typer.Option(help="Bundled sample folder.")] = DEFAULT_SAMPLE,
) -> None:
    """Run the whole weekly pipeline offline on the bundled synthetic sample and print the report path."""
    from sentiment.prices.replay import serve_recorded

    chats = sample / "chats"
    if not chats.is_dir():
        raise SentimentError(
            f"{chats}: bundled sample not found (run from the repository root or pass --sample)"
        )
    with serve_recorded(sample / "exchange") as url:
        settings = ctx.obj.settings(
            chats=(chats,),
            exchange="gate",
            symbols=("VIRTUAL/USDT",),
            since=date(2024, 1, 1),
            api_url=url,
            tz="Asia/Shanghai",
        )
        paths = _run_flow(settings, synthetic=True)
    for path in paths:
        print(path)


def _run_flow(settings: Settings, synthetic: bool) -> list[Path]:
    _prefect_defaults()
    from pipelines.weekly import weekly_pipeline

    if not settings.chats:
        raise SentimentError("no chat exports given: pass --chat PATH (or set chats in sentiment.toml)")
    return [Path(p) for p in weekly_pipeline(settings=settings, synthetic=synthetic)]


# ---- query -----------------------------------------------------------------------------------------------
@app.command("query")
def query(
    ctx: typer.Context,
    sql: Annotated[
        str, typer.Argument(help="SQL over the views messages, messages_raw, scores, prices, weekly.")
    ],
    format: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Query the lake with DuckDB."""
    from sentiment.lake import Lake

    if format not in {"table", "csv", "json"}:
        raise click.BadParameter("must be table, csv or json", param_hint="--format")
    frame = Lake(ctx.obj.settings().lake).read(sql)
    text = _render(frame, format)
    if out_file:
        out_file.write_text(text, encoding="utf-8")
    elif format == "table":
        _print_table(frame)
    else:
        sys.stdout.write(text)


def _render(frame: pd.DataFrame, fmt: str) -> str:
    if fmt == "csv":
        return frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S%z")
    if fmt == "json":
        return frame.to_json(orient="records", date_format="iso", force_ascii=False) + "\n"
    return frame.to_string(index=False) + "\n"


def _print_table(frame: pd.DataFrame) -> None:
    table = Table(*[str(c) for c in frame.columns])
    for row in frame.itertuples(index=False):
        table.add_row(*["" if pd.isna(v) else str(v) for v in row])
    out.print(table)
    out.print(f"{len(frame)} rows")


# ---- helpers ---------------------------------------------------------------------------------------------
class _ProgressBars:
    """A rich progress bar per export file bigger than ``min_bytes``, fed by ingest's progress callback."""

    def __init__(self, min_bytes: int = 32 << 20) -> None:
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        self.min_bytes = min_bytes
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(), console=err
        )
        self._tasks: dict[Path, object] = {}

    def __enter__(self) -> _ProgressBars:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def __call__(self, path: Path, done: int, total: int) -> None:
        if total < self.min_bytes:
            return
        if path not in self._tasks:
            self._tasks[path] = self._progress.add_task(path.name, total=total)
        self._progress.update(self._tasks[path], completed=done)  # type: ignore[arg-type]


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def _split_market(symbols: list[str]) -> dict[str, object]:
    """``--symbol VIRTUAL/USDT --symbol BTC/USDT``: BTC/USDT is the market factor, the rest are reported on."""
    if not symbols:
        return {}
    reported = [s for s in symbols if s != "BTC/USDT"] or symbols
    return {"symbols": tuple(reported)}


def _prefect_defaults() -> None:
    """Quiet, local, private Prefect unless the user configured otherwise (set before prefect is imported)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "sentiment")


def run_cli(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code: 0 ok, 1 a SentimentError (one line on stderr), 2 a usage error."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        app(args=args, prog_name="sentiment", standalone_mode=False)
    except SentimentError as exc:
        if "--debug" in args:
            traceback.print_exc()
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        return 130
    return 0


def main() -> None:
    sys.exit(run_cli())

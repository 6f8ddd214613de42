"""The ``sentiment`` command line: thin wiring from flags to Settings to library steps and flows."""

from __future__ import annotations

import os
import sys
import traceback
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import click
import typer
from rich.console import Console
from rich.table import Table

from sentiment.errors import SentimentError
from sentiment.settings import Settings, load_settings

if TYPE_CHECKING:
    import pandas as pd

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
    def __init__(self, lake: str | None, reports: Path | None, config: Path | None) -> None:
        self.lake = lake
        self.reports = reports
        self.config = config

    def settings(self, **overrides: object) -> Settings:
        return load_settings(self.config, lake=self.lake, reports=self.reports, **overrides)


@app.callback()
def _root(
    ctx: typer.Context,
    lake: Annotated[
        str | None,
        typer.Option(help="Lake root, a folder or s3://bucket/prefix (env SENTIMENT_LAKE; default ./data/lake)."),
    ] = None,
    reports: Annotated[
        Path | None, typer.Option(help="Reports folder (env SENTIMENT_REPORTS; default ./reports).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML settings file (env SENTIMENT_CONFIG; default ./sentiment.toml).")
    ] = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks on errors.")] = False,
) -> None:
    ctx.obj = _Globals(lake, reports, config)


def _now() -> pd.Timestamp:
    import pandas as pd

    return pd.Timestamp.now(tz="UTC").floor("s")


# Options shared by several commands, declared once.
ScorerOption = Annotated[str | None, typer.Option(help="hybrid | lexicon | vader | trained [default hybrid].")]
SkipBadRecordsOption = Annotated[bool, typer.Option(help="Store bad records in the rejects table instead of failing.")]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        help="Read the tables as they were: a version (every table read), table=version,..., a report's "
        "metrics.json (the versions it recorded) or a time (ISO, UTC unless given)."
    ),
]
RedactOption = Annotated[bool, typer.Option(help="Mask phone numbers, e-mails and wallet addresses in message text.")]


# ---- chats -----------------------------------------------------------------------------------------------
@app.command("ingest-chat")
def ingest_chat(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Export files or folders of exports.")],
    platform: Annotated[str, typer.Option(help="Export format, or auto to detect it from the content.")] = "auto",
    tz: Annotated[
        str | None, typer.Option(help="Zone of exports with wall time only (default UTC; named when used).")
    ] = None,
    keep_names: Annotated[bool, typer.Option(help="Also store display names (default: pseudonyms only).")] = False,
    column_map: Annotated[
        str | None,
        typer.Option("--map", help="Generic CSV/JSONL columns: ts=COL,author=COL,text=COL[,id=COL,chat=COL]."),
    ] = None,
    scorer: ScorerOption = None,
    skip_bad_records: SkipBadRecordsOption = False,
    redact: RedactOption = False,
) -> None:
    """Parse chat exports, pseudonymise authors, append new messages to the lake and score them."""
    from sentiment.lake import prefer_system_allocator
    from sentiment.steps import ingest as ingest_step
    from sentiment.steps import score as score_step

    prefer_system_allocator()
    settings = ctx.obj.settings(
        platform=platform,
        tz=tz,
        keep_names=keep_names or None,
        column_map=column_map,
        scorer=scorer,
        skip_bad_records=skip_bad_records or None,
        redact=redact or None,
    )
    now = _now()
    with _ProgressBars() as progress:
        summary = ingest_step.ingest_chats(settings, paths, now=now, progress=progress, score=True)
    fresh = now if summary.scored_all else None
    scored = summary.rows_scored + score_step.score_new_messages(settings, now=now, scored_ingest=fresh)
    table = Table("file", "format", "records")
    for path, fmt, n in summary.files:
        table.add_row(path, fmt, str(n))
    out.print(table)
    out.print(f"{summary.rows_read} records read, {summary.rows_written} new rows, {scored} newly scored")
    for line in ingest_step.notices(settings, summary):
        err.print(line)
    if settings.skip_bad_records:
        out.print(f"{summary.rejects} bad records stored in the rejects table")


@app.command("score-text")
def score_text(
    ctx: typer.Context,
    scorer: Annotated[
        str | None, typer.Option(help="hybrid | lexicon | vader | trained [default: settings, hybrid].")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes for big inputs (default: CPU count).")] = None,
    show_stats: Annotated[
        bool, typer.Option("--stats", help="Print lines, distinct texts and worker CPU to stderr.")
    ] = False,
) -> None:
    """Score one message per stdin line; print one JSON object per line (compound, label, lang, ...), in order."""
    from sentiment.scoring.factory import make_facts, make_scorer
    from sentiment.scoring.stream import score_lines, score_stream

    settings = ctx.obj.settings(scorer=scorer) if ctx.obj else load_settings(scorer=scorer)
    chosen, facts = make_scorer(settings), make_facts(settings)
    stdin, stdout = getattr(sys.stdin, "buffer", None), getattr(sys.stdout, "buffer", None)
    if stdin is not None and stdout is not None:  # the real streams: read, dedupe and write UTF-8 bytes
        sys.stdout.flush()
        stats = score_stream(stdin, chosen, facts, stdout, workers=workers)
        stdout.flush()
    else:
        stats = score_lines(sys.stdin, chosen, facts, sys.stdout, workers=workers)
    if show_stats:
        err.print(
            f"{stats.lines} lines, {stats.rendered} distinct texts scored, {stats.workers} worker processes "
            f"using {stats.worker_cpu_s:.1f} CPU s"
        )


TextColOption = Annotated[
    str | None, typer.Option(help="Column holding the text (default: text, message, content, review or sentence).")
]
LabelColOption = Annotated[str | None, typer.Option(help="Column holding the gold label (default: label, sentiment).")]
LabelMapOption = Annotated[
    str | None, typer.Option(help="FILE_LABEL=bullish|bearish|neutral,... (positive/negative are mapped already).")
]


@app.command("eval")
def eval_scorer(
    ctx: typer.Context,
    files: Annotated[
        list[Path], typer.Argument(help="CSV (or header-less text<TAB>label TSV) files of labelled texts.")
    ],
    text_col: TextColOption = None,
    label_col: LabelColOption = None,
    label_map: LabelMapOption = None,
    cv: Annotated[
        bool, typer.Option(help="Also cross-validate the trainable model on FILE (default: when one is trained).")
    ] = False,
    scorer: ScorerOption = None,
) -> None:
    """Accuracy and macro-F1, per file and per detected language: this project's scorer vs vanilla VADER."""
    import pandas as pd

    from sentiment.scoring import LexiconScorer, analyse_texts
    from sentiment.scoring.evaluate import confusion, scores_of, vanilla_vader_labels
    from sentiment.scoring.factory import make_scorer, model_path

    settings = ctx.obj.settings(scorer=scorer)
    chosen = make_scorer(settings)
    trained = model_path(settings.lake)
    overall = Table("set", "rows", chosen.name, "vanilla VADER", title="macro-F1 per set")
    for file in files:
        texts, gold = _labelled(file, text_col, label_col, label_map)
        scored = analyse_texts(pd.Series(texts, dtype=object), chosen, workers=1)
        results = {chosen.name: scored["label"].tolist()}
        if chosen.name != "lexicon":
            results["lexicon"] = [r["label"] for r in LexiconScorer().score_many(texts)]
        results["vanilla VADER"] = vanilla_vader_labels(texts)
        if cv or trained.is_file():
            from sentiment.scoring.trained import CV_FOLDS, cross_validate

            results[f"trained recipe ({CV_FOLDS}-fold CV on FILE)"] = cross_validate(texts, gold)
        summary = Table("scorer", "accuracy", "macro-F1", title=f"{file.name}: {len(gold)} rows")
        for name, predicted in results.items():
            sc = scores_of(gold, predicted)
            summary.add_row(name, f"{sc['accuracy']:.3f}", f"{sc['macro_f1']:.3f}")
        out.print(summary)
        by_lang = Table("lang", "rows", f"{chosen.name} macro-F1", "vanilla VADER macro-F1", title="per language")
        langs = scored["lang"].to_numpy()
        for lang, n in scored["lang"].value_counts().items():
            rows = [i for i, x in enumerate(langs) if x == lang]
            sub_gold = [gold[i] for i in rows]
            ours = scores_of(sub_gold, [results[chosen.name][i] for i in rows])["macro_f1"]
            vader = scores_of(sub_gold, [results["vanilla VADER"][i] for i in rows])["macro_f1"]
            by_lang.add_row(str(lang), str(n), f"{ours:.3f}", f"{vader:.3f}")
        out.print(by_lang)
        overall.add_row(
            file.name,
            str(len(gold)),
            f"{scores_of(gold, results[chosen.name])['macro_f1']:.3f}",
            f"{scores_of(gold, results['vanilla VADER'])['macro_f1']:.3f}",
        )
        if trained.is_file():
            from sentiment.scoring.trained import load_card

            card = load_card(trained)
            cvs = card.get("cv", {})
            out.print(
                f"stored model {trained}: trained on {card.get('rows')} rows, its own {card.get('cv_folds')}-fold CV "
                f"accuracy {cvs.get('accuracy')}, macro-F1 {cvs.get('macro_f1')}"
            )
        for name, predicted in results.items():
            matrix = confusion(gold, predicted)
            table = Table("gold \\ predicted", *[str(c) for c in matrix.columns], title=f"confusion: {name}")
            for label, row in matrix.iterrows():
                table.add_row(str(label), *[str(int(v)) for v in row])
            out.print(table)
    if len(files) > 1:
        out.print(overall)


@app.command("train")
def train(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV of your own labelled messages.")],
    text_col: TextColOption = None,
    label_col: LabelColOption = None,
    label_map: LabelMapOption = None,
    warm_start: Annotated[
        bool, typer.Option(help="Add the shipped hybrid scorer's probabilities as features (needs fewer labels).")
    ] = False,
) -> None:
    """Fit TF-IDF + logistic regression on labelled messages; store it in the lake for --scorer trained."""
    from sentiment.scoring.factory import model_path
    from sentiment.scoring.trained import fit_model, save_model

    settings = ctx.obj.settings()
    texts, gold = _labelled(file, text_col, label_col, label_map)
    model, card = fit_model(texts, gold, warm_start=warm_start)
    path = model_path(settings.lake)
    save_model(model, {**card, "source": file.name}, path)
    cvs = card["cv"]
    out.print(
        f"trained on {card['rows']} rows {card['classes']}: {card['cv_folds']}-fold CV accuracy "
        f"{cvs['accuracy']:.3f}, macro-F1 {cvs['macro_f1']:.3f}"  # type: ignore[index]
    )
    print(path)


_TEXT_COLS = ("text", "message", "content", "review", "sentence")
_LABEL_COLS = ("label", "sentiment")


def _labelled(
    file: Path, text_col: str | None, label_col: str | None, label_map: str | None
) -> tuple[list[str], list[str]]:
    import pandas as pd

    from sentiment.errors import InputError
    from sentiment.scoring.evaluate import map_labels, parse_label_map

    if not file.is_file():
        raise InputError(file, "no such file")
    tsv = file.suffix.lower() == ".tsv"
    try:
        frame = pd.read_csv(file, dtype=str, keep_default_na=False, sep="\t" if tsv else ",", quoting=3 if tsv else 0)
        if tsv and len(frame.columns) == 2 and not {text_col, label_col, *_TEXT_COLS} & set(frame.columns):
            # A header-less text<TAB>label file (the IndoNLU layout).
            frame = pd.read_csv(file, dtype=str, keep_default_na=False, sep="\t", quoting=3, header=None)
            frame.columns = ["text", "label"]
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(file, f"not a readable CSV: {exc}") from exc
    text_col = text_col or next((c for c in _TEXT_COLS if c in frame.columns), "text")
    label_col = label_col or next((c for c in _LABEL_COLS if c in frame.columns), "label")
    missing = [c for c in (text_col, label_col) if c not in frame.columns]
    if missing:
        raise InputError(file, f"no column {', '.join(missing)} (columns: {', '.join(map(str, frame.columns))})")
    gold = map_labels(frame[label_col], parse_label_map(label_map), source=str(file))
    return frame[text_col].tolist(), gold


# ---- prices ----------------------------------------------------------------------------------------------
@app.command("fetch-prices")
def fetch_prices(
    ctx: typer.Context,
    exchange: Annotated[str | None, typer.Option(help="ccxt exchange id (default gate).")] = None,
    symbol: Annotated[
        list[str] | None,
        typer.Option(help="Symbol(s); default VIRTUAL/USDT plus the market factor BTC/USDT."),
    ] = None,
    timeframe: Annotated[str | None, typer.Option(help="Candle timeframe (default 1d).")] = None,
    since: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day to fetch.")] = None,
    until: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last day to fetch.")] = None,
    api_url: Annotated[str | None, typer.Option(help="Send every API request to this scheme+host instead.")] = None,
) -> None:
    """Fetch candles through ccxt into the lake, incrementally (only after the last stored candle)."""
    from sentiment.steps import prices as prices_step

    settings = ctx.obj.settings(
        exchange=exchange, timeframe=timeframe, since=_day(since), until=_day(until), api_url=api_url
    )
    targets = tuple(symbol) if symbol else settings.all_symbols
    written = prices_step.fetch_prices(settings, now=_now(), symbols=targets)
    for sym, n in written.items():
        out.print(f"{settings.exchange} {sym} {settings.timeframe}: {n} new candles")
    _print_gaps(prices_step.price_gaps(settings, targets))


@app.command("import-prices")
def import_prices(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV with ts|timestamp|date, open, high, low, close, volume.")],
    exchange: Annotated[str, typer.Option(help="Exchange name to store the candles under.")],
    symbol: Annotated[str, typer.Option(help="Symbol of the candles, e.g. VIRTUAL/USDT.")],
    timeframe: Annotated[str | None, typer.Option(help="Candle timeframe [default 1d].")] = None,
) -> None:
    """Store your own candles from a CSV file in the prices table (idempotent: known candles are skipped)."""
    from sentiment.steps import prices as prices_step

    settings = ctx.obj.settings(exchange=exchange, timeframe=timeframe)
    read, written = prices_step.import_prices(
        settings, file, exchange=exchange, symbol=symbol, timeframe=settings.timeframe, now=_now()
    )
    out.print(f"{exchange} {symbol} {settings.timeframe}: {read} candles read, {written} new")
    _print_gaps(prices_step.price_gaps(settings, (symbol,)))


def _print_gaps(gaps: pd.DataFrame) -> None:
    """One line per series with missing candles: ``N gaps: from..to (k), ...`` (they are never filled)."""
    for (exchange, sym, timeframe), group in gaps.groupby(["exchange", "symbol", "timeframe"], sort=True):
        spans = ", ".join(
            f"{_stamp(row.gap_start)}..{_stamp(row.gap_end)} ({row.missing} missing)"
            for row in group.itertuples(index=False)
        )
        noun = "gap" if len(group) == 1 else "gaps"
        out.print(f"{exchange} {sym} {timeframe}: {len(group)} {noun}: {spans}", highlight=False)


def _stamp(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.strftime("%Y-%m-%dT%H:%MZ")


# ---- the weekly pipeline ---------------------------------------------------------------------------------
@app.command("run")
def run(
    ctx: typer.Context,
    chat: Annotated[list[Path] | None, typer.Option(help="Chat export file or folder (repeatable).")] = None,
    exchange: Annotated[str | None, typer.Option(help="ccxt exchange id (default gate).")] = None,
    symbol: Annotated[list[str] | None, typer.Option(help="Token symbol(s) to report on.")] = None,
    community: Annotated[
        list[str] | None,
        typer.Option(
            help="SYMBOL=PATH: a token and its own community's exports (file or folder; repeatable). Each report "
            "uses only its community's chats; two or more communities also give a pooled panel report."
        ),
    ] = None,
    freq: Annotated[str | None, typer.Option("--freq", help="Bar size: 1w (default) or 1d.")] = None,
    since: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day of prices.")] = None,
    until: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last day of prices.")] = None,
    api_url: Annotated[str | None, typer.Option(help="Send every API request to this scheme+host instead.")] = None,
    platform: Annotated[str | None, typer.Option(help="Chat export format, or auto.")] = None,
    tz: Annotated[str | None, typer.Option(help="Zone of exports with wall time only (default UTC).")] = None,
    keep_names: Annotated[bool, typer.Option(help="Also store display names.")] = False,
    runner: Annotated[str | None, typer.Option(help="Task runner: threads (default) or dask.")] = None,
    dask_address: Annotated[
        str | None, typer.Option(help="Dask scheduler (tcp://host:8786); default a temporary local cluster.")
    ] = None,
    scorer: ScorerOption = None,
    skip_bad_records: SkipBadRecordsOption = False,
    redact: RedactOption = False,
) -> None:
    """Run the weekly Prefect flow on your own exports; prints the report path(s)."""
    symbols = list(symbol or [])
    settings = ctx.obj.settings(
        communities=_communities(community or []) or None,
        frequency=freq,
        chats=tuple(chat or ()),
        exchange=exchange,
        since=_day(since),
        until=_day(until),
        api_url=api_url,
        platform=platform,
        tz=tz,
        keep_names=keep_names or None,
        runner=runner,
        dask_address=dask_address,
        scorer=scorer,
        skip_bad_records=skip_bad_records or None,
        redact=redact or None,
        **_split_market(symbols),
    )
    for path in _run_flow(settings, synthetic=False):
        print(path)


@app.command("demo")
def demo(
    ctx: typer.Context,
    sample: Annotated[Path, typer.Option(help="Bundled sample folder.")] = DEFAULT_SAMPLE,
    runner: Annotated[str | None, typer.Option(help="Task runner: threads (default) or dask.")] = None,
    dask_address: Annotated[str | None, typer.Option(help="Dask scheduler (tcp://host:8786).")] = None,
) -> None:
    """Run the whole weekly pipeline offline on the bundled synthetic sample and print the report path."""
    from sentiment.sandbox.replay import serve_recorded

    chats = sample / "chats"
    if not chats.is_dir():
        raise SentimentError(f"{chats}: bundled sample not found (run from the repository root or pass --sample)")
    with serve_recorded(sample / "exchange") as url:
        settings = ctx.obj.settings(
            chats=(chats,),
            exchange="gate",
            symbols=("VIRTUAL/USDT",),
            since=date(2024, 1, 1),
            api_url=url,
            tz="Asia/Shanghai",
            runner=runner,
            dask_address=dask_address,
        )
        paths = _run_flow(settings, synthetic=True)
    for path in paths:
        print(path)


def _run_flow(settings: Settings, synthetic: bool) -> list[Path]:
    _prefect_defaults()
    from pipelines.weekly import weekly_pipeline
    from sentiment.lake import prefer_system_allocator

    prefer_system_allocator()
    if not settings.chats:
        raise SentimentError("no chat exports given: pass --chat PATH (or set chats in sentiment.toml)")
    return [Path(p) for p in weekly_pipeline(settings=settings, synthetic=synthetic)]


@app.command("schedule")
def schedule(
    ctx: typer.Context,
    chat: Annotated[
        list[Path] | None, typer.Option(help="Chat export file or watched folder (repeatable; else sentiment.toml).")
    ] = None,
    port: Annotated[int, typer.Option(help="Port of the local Prefect server (when PREFECT_API_URL is unset).")] = 4200,
    runner: Annotated[str | None, typer.Option(help="Task runner: threads (default) or dask.")] = None,
    dask_address: Annotated[str | None, typer.Option(help="Dask scheduler (tcp://host:8786).")] = None,
) -> None:
    """Serve the weekly-report and daily-prices deployments on their cron schedules until Ctrl-C or SIGTERM.

    With PREFECT_API_URL unset it first starts a local Prefect server on 127.0.0.1 (UI at http://127.0.0.1:PORT).
    """
    _prefect_defaults()
    from sentiment.orchestration import serve_schedules

    settings = ctx.obj.settings(chats=tuple(chat or ()), runner=runner, dask_address=dask_address)
    if not settings.chats:
        raise SentimentError("no chats to watch: pass --chat FOLDER (or set chats in sentiment.toml)")
    serve_schedules(settings, port=port)


# ---- query -----------------------------------------------------------------------------------------------
@app.command("query")
def query(
    ctx: typer.Context,
    sql: Annotated[
        str, typer.Argument(help="SQL over the views messages, messages_raw, scores, prices, weekly, runs, ...")
    ],
    format: Annotated[str, typer.Option("--format", help="table | csv | json | parquet (needs --out)")] = "table",
    out_file: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
    as_of: AsOfOption = None,
) -> None:
    """Query the lake with DuckDB (as it is, or as it was with --as-of)."""
    from sentiment.lake import Lake, parse_as_of

    when = None if as_of is None else parse_as_of(as_of)

    if format not in {"table", "csv", "json", "parquet"}:
        raise click.BadParameter("must be table, csv, json or parquet", param_hint="--format")
    if format == "parquet":
        if out_file is None:
            raise click.BadParameter("--format parquet writes a file: give --out FILE", param_hint="--out")
        rows = Lake(ctx.obj.settings().lake).copy_to_parquet(sql, out_file, as_of=when)
        err.print(f"{rows} rows written to {out_file}")
        return
    frame = Lake(ctx.obj.settings().lake).read(sql, as_of=when)
    text = _render(frame, format)
    if out_file:
        out_file.write_text(text, encoding="utf-8")
    elif format == "table":
        _print_table(frame)
    else:
        sys.stdout.write(text)


@app.command("compact")
def compact(
    ctx: typer.Context,
    table: Annotated[str | None, typer.Option(help="Only this table (default: every table).")] = None,
    retain_hours: Annotated[
        int, typer.Option(help="Keep the files of every version younger than this (time travel window).")
    ] = 168,
) -> None:
    """Optimize each table (merge small files) and vacuum files older than the retention; results do not change."""
    from sentiment.steps import compact as compact_step

    for name, (before, after) in compact_step.compact_lake(ctx.obj.settings(), table, retain_hours).items():
        out.print(f"{name}: {before} files -> {after}")


@app.command("migrate")
def migrate(ctx: typer.Context) -> None:
    """Convert a lake written before the Delta format in place (every row kept once, the pseudonym key kept)."""
    from sentiment.lake import Lake

    lake = Lake(ctx.obj.settings().lake)
    done = lake.migrate()
    if not done:
        out.print("nothing to migrate: every table is a Delta table")
    for name, rows in done.items():
        out.print(f"{name}: {rows} rows -> Delta table version {lake.version(name)}")


@app.command("report")
def report(
    ctx: typer.Context,
    symbol: Annotated[str, typer.Option(help="Token symbol whose weekly table is reported (e.g. VIRTUAL/USDT).")],
    as_of: AsOfOption = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Report folder (default <reports>/<today>_<symbol>).")
    ] = None,
    synthetic: Annotated[bool, typer.Option(help="Mark the report as made from synthetic data.")] = False,
) -> None:
    """Rebuild one symbol's report from the lake (as it is, or as it was with --as-of); prints its folder."""
    from sentiment.lake import parse_as_of
    from sentiment.steps import report as report_step

    settings = ctx.obj.settings()
    when = None if as_of is None else parse_as_of(as_of)
    path = report_step.analyse_and_report(
        settings, symbol, today=_now().normalize(), synthetic=synthetic, as_of=when, out=out_dir
    )
    print(path)


def _render(frame: pd.DataFrame, fmt: str) -> str:
    if fmt == "csv":
        return frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S%z")
    if fmt == "json":
        return frame.to_json(orient="records", date_format="iso", force_ascii=False) + "\n"
    return frame.to_string(index=False) + "\n"


def _print_table(frame: pd.DataFrame) -> None:
    import pandas as pd

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


def _communities(pairs: list[str]) -> dict[str, tuple[Path, ...]]:
    """``["SYM=PATH", ...]`` -> {SYM: (PATH, ...)}, paths of a repeated symbol kept in order."""
    out: dict[str, tuple[Path, ...]] = {}
    for pair in pairs:
        sym, sep, path = pair.partition("=")
        if not sep or not sym.strip() or not path.strip():
            raise click.BadParameter(f"{pair!r} is not SYMBOL=PATH", param_hint="--community")
        out[sym.strip()] = (*out.get(sym.strip(), ()), Path(path.strip()))
    return out


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
    except _EXITS as exc:
        return int(exc.exit_code)  # type: ignore[attr-defined]
    except _CLICK_ERRORS as exc:  # usage mistakes: click's usage message, exit code 2 (no traceback)
        exc.show()  # type: ignore[attr-defined]
        return int(exc.exit_code)  # type: ignore[attr-defined]
    except _ABORTS:
        print("aborted", file=sys.stderr)
        return 130
    return 0


def _click_classes(name: str) -> tuple[type[BaseException], ...]:
    """Class ``name`` from click and from typer's own copies of click (typer >= 0.22 vendors click as
    ``typer._click``, whose usage errors are not subclasses of click's: catching only click's let them through
    as tracebacks), wherever it exists."""
    import importlib

    found: list[type[BaseException]] = []
    for module in ("click.exceptions", "typer._click.exceptions", "typer.exceptions"):
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if isinstance(cls, type) and issubclass(cls, BaseException) and cls not in found:
            found.append(cls)
    return tuple(found)


_EXITS = _click_classes("Exit")
_CLICK_ERRORS = _click_classes("ClickException")
_ABORTS = _click_classes("Abort")


def main() -> None:
    sys.exit(run_cli())

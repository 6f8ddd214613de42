"""The pipeline as Prefect flows: chats and prices in, scores, weekly (and with frequency 1d daily) features, a
report per symbol. Orchestration only.

``weekly_pipeline`` runs the five step flows as subflows; ``ingest_prices`` is also deployed on its own (daily).
Each task is one call into :mod:`sentiment.steps`; cache keys, task runners and deployments live in
:mod:`sentiment.orchestration`. A flow given no settings loads them (sentiment.toml < env), as scheduled runs do.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from sentiment import orchestration
from sentiment.errors import ExchangeUnavailableError
from sentiment.settings import Settings, load_settings
from sentiment.steps import build as build_step
from sentiment.steps import ingest as ingest_step
from sentiment.steps import score as score_step
from sentiment.steps.common import IngestSummary
from sentiment.steps.isolated import in_child_process

# The price step is imported by the task that runs it and the report step only in the report's child process:
# ccxt, scikit-learn, statsmodels and matplotlib weigh ~250 MB of memory this process then never holds.

CACHED = {"persist_result": True, "cache_expiration": orchestration.CACHE_EXPIRATION}


def _network_failure(task, task_run, state) -> bool:  # type: ignore[no-untyped-def]
    """Retry a price task only when the exchange was unreachable, never on a bad symbol or bad data."""
    return isinstance(state.result(raise_on_failure=False), ExchangeUnavailableError)


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").floor("s")


# ---- chats -----------------------------------------------------------------------------------------------
@task(name="ingest-chat-exports", cache_key_fn=orchestration.chat_file_cache_key, **CACHED)
def ingest_chat_exports(settings: Settings, now: pd.Timestamp) -> IngestSummary:
    """The CLI's streaming, staged, all-or-nothing ingest (a big one scores while it parses, as the CLI's does);
    returns a small summary (never message rows)."""
    # in a child process: the memory a big ingest leaves behind goes with it (see sentiment.steps.isolated)
    return in_child_process(ingest_step.ingest_chats, settings, now=now, score=True)


@flow(name="ingest-chats")
def ingest_chats(settings: Settings | None = None) -> int:
    """Ingest every export in the watched chats (the same step as ``sentiment ingest-chat``); an unchanged set
    of exports is skipped from cache. Returns the new message rows."""
    settings = settings or load_settings()
    ingest_step.pseudonym_key(settings)  # created before the cache key looks at it
    summary = ingest_chat_exports(settings, _now())
    logger = get_run_logger()
    for line in ingest_step.notices(settings, summary):
        logger.warning(line)
    logger.info("%d chat exports, %d records, %d new", len(summary.files), summary.rows_read, summary.rows_written)
    return summary.rows_written


# ---- prices ----------------------------------------------------------------------------------------------
@task(
    name="fetch-prices",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[10, 60],
    retry_condition_fn=_network_failure,
)
def fetch_prices(settings: Settings, symbol: str, now: pd.Timestamp) -> int:
    from sentiment.steps import prices as prices_step  # see the note at the imports

    written = prices_step.fetch_prices(settings, now=now, symbols=[symbol])[symbol]
    get_run_logger().info("%s: %d new candles", symbol, written)
    return written


@flow(name="ingest-prices")
def ingest_prices(settings: Settings | None = None) -> dict[str, int]:
    """Fetch each symbol's new candles (report symbols and the market factor) concurrently."""
    settings = settings or load_settings()
    symbols = list(settings.all_symbols)
    fetched = fetch_prices.map(unmapped(settings), symbols, unmapped(_now()))
    return dict(zip(symbols, fetched.result(), strict=True))


# ---- scores ----------------------------------------------------------------------------------------------
@task(
    name="score-chat",
    cache_key_fn=orchestration.partition_cache_key(messages=("platform", "chat_id"), scores=("platform",)),
    **CACHED,
)
def score_chat(settings: Settings, platform: str, chat_id: str, now: pd.Timestamp) -> int:
    scored = in_child_process(score_step.score_partition, settings, platform, chat_id, now=now)  # see ingest
    get_run_logger().info("%s:%s: %d messages newly scored", platform, chat_id, scored)
    return scored


@flow(name="score-messages")
def score_messages(settings: Settings | None = None) -> int:
    """Score each chat's unscored messages, one task per chat partition."""
    settings = settings or load_settings()
    chats = score_step.message_partitions(settings)
    scored = score_chat.map(unmapped(settings), [p for p, _ in chats], [c for _, c in chats], unmapped(_now()))
    return sum(scored.result())


# ---- features --------------------------------------------------------------------------------------------
# Both read the communities table (which chats are whose community): a new mapping of unchanged exports recomputes.
@task(
    name="community-features",
    cache_key_fn=orchestration.partition_cache_key(messages=(), scores=(), communities=()),
    **CACHED,
)
def community_features(settings: Settings) -> pd.DataFrame:
    return in_child_process(build_step.community_features, settings)  # reads every message: see ingest


@task(
    name="weekly-table",
    cache_key_fn=orchestration.partition_cache_key(messages=(), scores=(), communities=(), prices=("exchange",)),
    **CACHED,
)
def weekly_table(settings: Settings, features: pd.DataFrame, symbol: str) -> int:
    # (with communities it reads the community's messages: see ingest)
    return in_child_process(build_step.build_weekly_symbol, settings, features, symbol)


@task(
    name="daily-table",
    cache_key_fn=orchestration.partition_cache_key(messages=(), scores=(), communities=(), prices=("exchange",)),
    **CACHED,
)
def daily_table(settings: Settings, symbol: str, now: pd.Timestamp) -> int:
    return in_child_process(build_step.build_daily_symbol, settings, symbol, now=now)  # see ingest


@flow(name="build-features")
def build_features(settings: Settings | None = None) -> int:
    """Community features once, then each symbol's weekly table (features joined to its weekly bars); with
    frequency 1d also each symbol's daily table (its community's day features joined to its daily bars)."""
    settings = settings or load_settings()
    features = community_features.submit(settings)
    rows = orchestration.submit_per_symbol(weekly_table, orchestration.weekly_output, settings, features=features)
    if settings.frequency == "1d":
        rows += orchestration.submit_per_symbol(daily_table, orchestration.daily_output, settings, now=_now())
    return sum(f.result() for f in rows)


# ---- model and report ------------------------------------------------------------------------------------
@task(
    name="report",
    cache_key_fn=orchestration.partition_cache_key(weekly=("symbol",), daily=("symbol",)),
    **CACHED,
)
def report(settings: Settings, symbol: str, today: pd.Timestamp, synthetic: bool) -> str:
    # named, not imported: the analyses' libraries load in the child only (see the note at the imports)
    path = in_child_process(
        "sentiment.steps.report:analyse_and_report", settings, symbol, today=today, synthetic=synthetic
    )
    get_run_logger().info("report written to %s", path)
    return str(path)


@task(name="panel-report", cache_policy=NO_CACHE)
def panel_report(settings: Settings, today: pd.Timestamp, synthetic: bool) -> str:
    # named, not imported: the analyses' libraries load in the child only (see the note at the imports)
    path = in_child_process(
        "sentiment.steps.report:analyse_panel_and_report", settings, today=today, synthetic=synthetic
    )
    get_run_logger().info("panel report written to %s", path)
    return str(path)


@task(name="publish-report", cache_policy=NO_CACHE)
def publish_report(settings: Settings, folder: str) -> None:
    """The report's verdict, relations and link as Prefect artifacts (keys stable per symbol); index rewritten.

    Not cached: a report served from the cache is published again, so every run leaves its findings in the UI.
    """
    from sentiment.report.artifacts import report_artifacts_of
    from sentiment.report.index import write_index

    made = report_artifacts_of(Path(folder))
    create_markdown_artifact(made.markdown, key=made.keys["summary"], description=made.descriptions["summary"])
    create_table_artifact(made.table, key=made.keys["relations"], description=made.descriptions["relations"])
    create_link_artifact(
        made.link, link_text=made.link_text, key=made.keys["link"], description=made.descriptions["link"]
    )
    write_index(settings.reports)


@flow(name="model-and-report")
def model_and_report(settings: Settings | None = None, synthetic: bool = False) -> list[str]:
    """Lead-lag and walk-forward analyses and one report per symbol, each published as Prefect artifacts, and
    the pooled panel report when the run names two or more communities."""
    settings = settings or load_settings()
    today = _now().normalize()
    reports = orchestration.submit_per_symbol(
        report, orchestration.report_output, settings, today=today, synthetic=synthetic
    )
    folders = [f.result() for f in reports]
    for folder in folders:
        publish_report(settings, folder)
    if len(settings.communities) >= 2:
        folders.append(panel_report(settings, today, synthetic))
    return folders


# ---- the weekly pipeline ---------------------------------------------------------------------------------
@flow(name="weekly-pipeline")
def weekly_pipeline(settings: Settings | None = None, synthetic: bool = False) -> list[str]:
    """Ingest chats and prices, score, build the weekly table, then one report per symbol (the report paths).

    Scoring, features and reports run on ``settings.runner`` (a thread pool, or a Dask cluster).
    """
    settings = settings or load_settings()
    ingest_chats(settings)  # a bad export fails the run here, with its own message naming file and line
    ingest_prices(settings)
    with orchestration.dask_cluster(settings) as settings:
        score_messages.with_options(task_runner=orchestration.task_runner(settings))(settings)
        build_features.with_options(task_runner=orchestration.task_runner(settings))(settings)
        on_runner = model_and_report.with_options(task_runner=orchestration.task_runner(settings))
        return on_runner(settings, synthetic)

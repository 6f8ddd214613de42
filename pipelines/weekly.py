"""The weekly pipeline as a Prefect flow: chats and prices in, a report per symbol out. Orchestration only."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from sentiment import jobs
from sentiment.errors import ExchangeUnavailableError
from sentiment.settings import Settings


def _network_failure(task, task_run, state) -> bool:  # type: ignore[no-untyped-def]
    """Retry a price task only when the exchange was unreachable, never on a bad symbol or bad data."""
    return isinstance(state.result(raise_on_failure=False), ExchangeUnavailableError)


@task(name="ingest-chats", cache_policy=NO_CACHE)
def ingest_chats(settings: Settings, now: pd.Timestamp) -> int:
    summary = jobs.ingest_chats(settings, settings.chats, now=now)
    get_run_logger().info(
        "%d records read from %d files, %d new", summary.rows_read, len(summary.files), summary.rows_written
    )
    return summary.rows_written


@task(name="score-messages", cache_policy=NO_CACHE)
def score_messages(settings: Settings, now: pd.Timestamp) -> int:
    scored = jobs.score_new_messages(settings, now=now)
    get_run_logger().info("%d messages newly scored", scored)
    return scored


@task(
    name="fetch-prices",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[10, 60],
    retry_condition_fn=_network_failure,
)
def fetch_prices(settings: Settings, symbol: str, now: pd.Timestamp) -> int:
    written = jobs.fetch_prices(settings, now=now, symbols=[symbol])[symbol]
    get_run_logger().info("%s: %d new candles", symbol, written)
    return written


@task(name="build-weekly", cache_policy=NO_CACHE)
def build_weekly(settings: Settings) -> int:
    return len(jobs.build_weekly(settings))


@task(name="model-and-report", cache_policy=NO_CACHE)
def model_and_report(settings: Settings, symbol: str, today: pd.Timestamp, synthetic: bool) -> str:
    path = jobs.analyse_and_report(settings, symbol, today=today, synthetic=synthetic)
    get_run_logger().info("report written to %s", path)
    return str(path)


@flow(name="weekly-pipeline")
def weekly_pipeline(settings: Settings, synthetic: bool = False) -> list[str]:
    """Ingest chats while prices download, score, build the weekly table, then one report per symbol."""
    now = pd.Timestamp.now(tz="UTC").floor("s")
    ingested = ingest_chats.submit(settings, now)
    prices = [fetch_prices.submit(settings, symbol, now) for symbol in settings.all_symbols]
    ingested.result()  # a bad export fails the run here, with its own message naming file and line
    score_messages(settings, now)
    for fetched in prices:
        fetched.result()
    build_weekly(settings)
    return [
        str(Path(model_and_report(settings, symbol, now.normalize(), synthetic)))
        for symbol in settings.symbols
    ]

"""Prices step: candles from an exchange (incremental, page by page) or a user's CSV into ``prices``; gaps."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from sentiment.lake import Lake
from sentiment.prices.candles_csv import read_candles_csv
from sentiment.prices.exchange import fetch_candles, make_exchange
from sentiment.prices.weekly import candle_gaps, timeframe_to_timedelta
from sentiment.settings import Settings
from sentiment.steps.common import recorded, sql_quote

__all__ = ["fetch_prices", "import_prices", "price_gaps"]

log = logging.getLogger(__name__)


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
            f"WHERE exchange = '{sql_quote(settings.exchange)}' AND upper(symbol) = upper('{sql_quote(symbol)}') "
            f"AND timeframe = '{sql_quote(settings.timeframe)}'"
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
    wanted = ", ".join(f"upper('{sql_quote(s)}')" for s in (symbols or settings.all_symbols))
    prices = Lake(settings.lake).read(
        f"SELECT exchange, symbol, timeframe, ts FROM prices WHERE exchange = '{sql_quote(settings.exchange)}' "
        f"AND timeframe = '{sql_quote(settings.timeframe)}' AND upper(symbol) IN ({wanted})"
    )
    return candle_gaps(prices)


@recorded("import-prices")
def import_prices(
    settings: Settings, path: Path, *, exchange: str, symbol: str, timeframe: str, now: pd.Timestamp
) -> tuple[int, int]:
    """Store a user's own candles from a CSV file; returns (rows read, rows new to the lake). Idempotent."""
    candles = read_candles_csv(path, exchange=exchange, symbol=symbol, timeframe=timeframe, fetched_at=now)
    return len(candles), Lake(settings.lake).append("prices", candles)

"""Pure transforms of the prices table: weekly bars from daily candles, and missing-candle ranges."""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd

from sentiment.errors import AnalysisError
from sentiment.weeks import week_start

__all__ = [
    "DAILY_BAR_COLUMNS",
    "WEEKLY_BAR_COLUMNS",
    "candle_gaps",
    "daily_bars",
    "timeframe_to_timedelta",
    "weekly_bars",
]

log = logging.getLogger(__name__)

WEEKLY_BAR_COLUMNS = [
    "symbol",
    "week_start",
    "close",
    "log_return",
    "next_log_return",
    "volatility",
    "volume",
    "excess_log_return",
    "n_days",
]
DAILY_BAR_COLUMNS = ["symbol", "day", "close", "log_return", "next_log_return", "volume", "excess_log_return"]
GAP_COLUMNS = ["exchange", "symbol", "timeframe", "gap_start", "gap_end", "missing"]
_TIMEFRAME = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "s", "m": "min", "h": "h", "d": "D", "w": "W"}


def timeframe_to_timedelta(timeframe: str) -> pd.Timedelta:
    """Length of a ccxt timeframe such as "1h" or "1d"; months ("1M") have no fixed length and are refused."""
    match = _TIMEFRAME.match(timeframe)
    if match is None:
        raise AnalysisError(f"timeframe {timeframe!r} has no fixed length (use s, m, h, d or w units)")
    return pd.Timedelta(int(match.group(1)), unit=_UNITS[match.group(2)])


def candle_gaps(prices: pd.DataFrame) -> pd.DataFrame:
    """Missing candle ranges per exchange/symbol/timeframe: first and last missing open time and their count.

    Only holes between the first and last candle of a series count; nothing is filled in.
    """
    found: list[dict[str, object]] = []
    series = prices.groupby(["exchange", "symbol", "timeframe"], sort=True)
    for (exchange, symbol, timeframe), group in series:
        step = timeframe_to_timedelta(str(timeframe))
        ts = group["ts"].drop_duplicates().sort_values()
        jumps = ts.diff()
        for end, jump in zip(ts[jumps > step], jumps[jumps > step], strict=True):
            missing = int(jump / step) - 1
            first, last = end - jump + step, end - step
            found.append(
                {
                    "exchange": exchange,
                    "symbol": symbol,
                    "timeframe": timeframe,
                    "gap_start": first,
                    "gap_end": last,
                    "missing": missing,
                }
            )
            log.warning(
                "%s %s %s: %d missing candle(s) from %s to %s", exchange, symbol, timeframe, missing, first, last
            )
    gaps = pd.DataFrame(found, columns=GAP_COLUMNS)
    for col in ("gap_start", "gap_end"):
        gaps[col] = pd.to_datetime(gaps[col], utc=True).astype("datetime64[us, UTC]")
    gaps["missing"] = gaps["missing"].astype("int64")
    return gaps


def weekly_bars(
    prices: pd.DataFrame, *, market_symbol: str = "BTC/USDT", week_starts_on: str = "monday"
) -> pd.DataFrame:
    """One row per symbol and week from the daily ("1d") candles in ``prices``.

    close is the last candle's close within the week; log_return is log(close / previous week's close) when
    both weeks are complete (7 daily candles: a partial week, such as the running one, or a week with a
    missing day would compare closes that are not a week apart, so its return and the next are left NaN);
    next_log_return the following week's log_return; volatility the sample standard deviation of the week's
    daily log returns (a return spanning a missing day is left out, not bridged); volume the summed base
    volume; excess_log_return the log_return minus ``market_symbol``'s for the same week (0 for the market
    itself, NaN when the market has no bar). Weeks without any candle between a symbol's first and last week
    are kept with n_days 0 and NaN prices, so nothing is forward-filled.
    """
    daily = prices[prices["timeframe"] == "1d"]
    if daily.empty:
        raise AnalysisError("no daily (1d) candles to build weekly bars from")
    doubled = daily.duplicated(["symbol", "ts"])
    if doubled.any():
        symbols = sorted(daily.loc[doubled, "symbol"].unique())
        raise AnalysisError(f"several candles for the same day of {', '.join(symbols)}: keep one exchange")
    bars = pd.concat(
        [_symbol_weeks(str(sym), group, week_starts_on) for sym, group in daily.groupby("symbol", sort=True)],
        ignore_index=True,
    )
    market = bars.loc[bars["symbol"] == market_symbol].set_index("week_start")["log_return"]
    if market.empty:
        log.warning("no daily candles for market symbol %s: excess_log_return left empty", market_symbol)
    bars["excess_log_return"] = bars["log_return"] - bars["week_start"].map(market).astype("float64")
    return bars[WEEKLY_BAR_COLUMNS]


def _symbol_weeks(symbol: str, candles: pd.DataFrame, week_starts_on: str) -> pd.DataFrame:
    candles = candles.sort_values("ts")
    ts = candles["ts"].dt.tz_convert("UTC")
    close = candles["close"].astype("float64")
    consecutive = ts.diff() == pd.Timedelta(days=1)
    daily_return = np.log(close / close.shift(1)).where(consecutive)
    frame = pd.DataFrame(
        {
            "week_start": week_start(ts, week_starts_on),
            "close": close,
            "volume": candles["volume"].astype("float64"),
            "daily_return": daily_return,
        }
    )
    weeks = frame.groupby("week_start").agg(
        close=("close", "last"),
        volume=("volume", "sum"),
        volatility=("daily_return", "std"),
        n_days=("close", "size"),
    )
    every_week = pd.date_range(weeks.index.min(), weeks.index.max(), freq="7D").as_unit("us")
    weeks = weeks.reindex(every_week)
    weeks.index.name = "week_start"
    weeks["n_days"] = weeks["n_days"].fillna(0).astype("int64")
    complete = weeks["n_days"] == 7
    weeks["log_return"] = np.log(weeks["close"] / weeks["close"].shift(1)).where(
        complete & complete.shift(1, fill_value=False)
    )
    weeks["next_log_return"] = weeks["log_return"].shift(-1)
    weeks.insert(0, "symbol", symbol)
    return weeks.reset_index()


def daily_bars(
    prices: pd.DataFrame, *, market_symbol: str = "BTC/USDT", now: pd.Timestamp | None = None
) -> pd.DataFrame:
    """One row per symbol and day from the daily ("1d") candles: the daily analogue of :func:`weekly_bars`.

    log_return is log(close / previous day's close) only when both candles exist (a missing day leaves the
    return and the next NaN, never bridged); a candle still open at ``now`` (open time + 1 day > now) is an
    incomplete bar and is left out. excess_log_return subtracts ``market_symbol``'s return of the same day.
    """
    daily = prices[prices["timeframe"] == "1d"]
    if now is not None:
        daily = daily[daily["ts"] + pd.Timedelta(days=1) <= now]
    if daily.empty:
        raise AnalysisError("no complete daily (1d) candles")
    if daily.duplicated(["symbol", "ts"]).any():
        raise AnalysisError("several candles for the same day: keep one exchange")
    parts = []
    for symbol, group in daily.groupby("symbol", sort=True):
        g = group.sort_values("ts")
        days = pd.DatetimeIndex(g["ts"].dt.tz_convert("UTC").dt.floor("D"))
        frame = pd.DataFrame(
            {"close": g["close"].astype("float64").to_numpy(), "volume": g["volume"].astype("float64").to_numpy()},
            index=days,
        )
        frame = frame[~frame.index.duplicated()]
        every = pd.date_range(frame.index.min(), frame.index.max(), freq="D").as_unit("us")
        frame = frame.reindex(every)
        frame["log_return"] = np.log(frame["close"] / frame["close"].shift(1))
        frame["next_log_return"] = frame["log_return"].shift(-1)
        frame.index.name = "day"
        parts.append(frame.reset_index().assign(symbol=str(symbol)))
    bars = pd.concat(parts, ignore_index=True)
    market = bars.loc[bars["symbol"] == market_symbol].set_index("day")["log_return"]
    bars["excess_log_return"] = bars["log_return"] - bars["day"].map(market).astype("float64")
    return bars[DAILY_BAR_COLUMNS]

"""weekly_bars and candle_gaps on small hand-made price frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sentiment.errors import AnalysisError
from sentiment.prices import candle_gaps, weekly_bars

LOG2 = math.log(2)


def daily(symbol: str, closes: dict[str, float], *, exchange: str = "gate", timeframe: str = "1d") -> pd.DataFrame:
    ts = pd.to_datetime(list(closes), utc=True).astype("datetime64[us, UTC]")
    close = list(closes.values())
    return pd.DataFrame(
        {
            "exchange": exchange,
            "symbol": symbol,
            "timeframe": timeframe,
            "ts": ts,
            "open": close,
            "high": close,
            "low": close,
            "close": close,
            "volume": 1.0,
            "fetched_at": pd.Timestamp("2024-04-01", tz="UTC"),
        }
    )


def days(first: str, n: int, value: float) -> dict[str, float]:
    return {str(d.date()): value for d in pd.date_range(first, periods=n, freq="D")}


# Weeks start Monday 2024-03-04, 03-11, 03-18; the last has only two candles.
VIRTUAL = {
    **days("2024-03-04", 6, 1.0),
    "2024-03-10": 2.0,
    **days("2024-03-11", 6, 3.0),
    "2024-03-17": 4.0,
    "2024-03-18": 4.0,
    "2024-03-19": 2.0,
}
BTC = {**days("2024-03-04", 7, 100.0), **days("2024-03-11", 7, 110.0), **days("2024-03-18", 7, 121.0)}


@pytest.fixture
def bars() -> pd.DataFrame:
    prices = pd.concat([daily("VIRTUAL/USDT", VIRTUAL), daily("BTC/USDT", BTC)], ignore_index=True)
    return weekly_bars(prices).set_index(["symbol", "week_start"])


def week(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


def test_weekly_returns_and_next_return(bars: pd.DataFrame) -> None:
    """It takes each week's last close, logs its change on the week before, and shifts it for next week."""
    v = bars.loc["VIRTUAL/USDT"]
    assert v["close"].tolist() == [2.0, 4.0, 2.0]
    assert np.isnan(v["log_return"].iloc[0])
    assert v["log_return"].iloc[1] == pytest.approx(LOG2)
    assert np.isnan(v["log_return"].iloc[2])  # the last week has 2 of 7 candles: no weekly return yet
    assert v["next_log_return"].iloc[0] == pytest.approx(LOG2)
    assert v["next_log_return"].iloc[1:].isna().all()
    assert v["n_days"].tolist() == [7, 7, 2]
    assert v["volume"].tolist() == [7.0, 7.0, 2.0]


def test_excess_return_is_over_the_market_symbol(bars: pd.DataFrame) -> None:
    """It subtracts BTC/USDT's log return of the same week; the market's own excess is 0."""
    assert bars.loc[("VIRTUAL/USDT", week("2024-03-11")), "excess_log_return"] == pytest.approx(LOG2 - math.log(1.1))
    assert np.isnan(bars.loc[("VIRTUAL/USDT", week("2024-03-18")), "excess_log_return"])  # incomplete week
    assert bars.loc["BTC/USDT", "excess_log_return"].iloc[1:].tolist() == [0.0, 0.0]


def test_volatility_is_std_of_daily_log_returns(bars: pd.DataFrame) -> None:
    """It measures a week's volatility as the sample std of its daily log returns (Monday's from Sunday)."""
    # Week of 03-18: returns log(4/4) = 0 and log(2/4) = -log 2.
    assert bars.loc[("VIRTUAL/USDT", week("2024-03-18")), "volatility"] == pytest.approx(LOG2 / math.sqrt(2))
    assert bars.loc[("BTC/USDT", week("2024-03-04")), "volatility"] == 0.0


def test_missing_week_is_kept_empty_not_filled() -> None:
    """It keeps a week without candles as n_days 0 with NaN prices, and leaves the next week's return NaN."""
    prices = daily("X/USDT", {"2024-03-04": 1.0, "2024-03-06": 2.0, "2024-03-19": 8.0})
    bars = weekly_bars(prices, market_symbol="X/USDT")
    assert bars["week_start"].tolist() == [week("2024-03-04"), week("2024-03-11"), week("2024-03-18")]
    assert bars["n_days"].tolist() == [2, 0, 1]
    assert bars["close"].iloc[0] == 2.0 and np.isnan(bars["close"].iloc[1])
    assert np.isnan(bars["volume"].iloc[1])
    assert bars["log_return"].isna().all()
    # Tuesday is missing, so the Mon->Wed change is no daily return: too few returns for a std.
    assert np.isnan(bars["volatility"].iloc[0])


def test_week_start_day_is_configurable() -> None:
    """It groups Sunday with the following days when weeks start on Sunday."""
    prices = daily("X/USDT", {**days("2024-03-03", 7, 1.0), "2024-03-10": 2.0, **days("2024-03-11", 6, 4.0)})
    bars = weekly_bars(prices, market_symbol="X/USDT", week_starts_on="sunday")
    assert bars["week_start"].tolist() == [week("2024-03-03"), week("2024-03-10")]
    assert bars["close"].tolist() == [1.0, 4.0]
    assert bars["log_return"].iloc[1] == pytest.approx(math.log(4.0))


def test_uses_daily_candles_only_and_refuses_mixed_exchanges() -> None:
    """It ignores non-daily candles and refuses two exchanges' candles for the same symbol and day."""
    hourly = daily("X/USDT", {"2024-03-04": 9.0}, timeframe="1h")
    with pytest.raises(AnalysisError, match="no daily"):
        weekly_bars(hourly)
    twice = pd.concat([daily("X/USDT", {"2024-03-04": 1.0}), daily("X/USDT", {"2024-03-04": 1.1}, exchange="binance")])
    with pytest.raises(AnalysisError, match="keep one exchange"):
        weekly_bars(twice)


def test_market_absent_leaves_excess_empty() -> None:
    """It leaves excess_log_return NaN when the market symbol has no candles."""
    bars = weekly_bars(daily("X/USDT", {**days("2024-03-04", 7, 1.0), **days("2024-03-11", 7, 2.0)}))
    assert bars["excess_log_return"].isna().all()
    assert bars["log_return"].iloc[1] == pytest.approx(LOG2)


def test_candle_gaps_per_series() -> None:
    """It reports each hole between a series' candles with its first and last missing open time."""
    prices = pd.concat(
        [
            daily("A/USDT", {"2024-03-01": 1, "2024-03-02": 1, "2024-03-05": 1, "2024-03-07": 1}),
            daily("B/USDT", days("2024-03-01", 5, 1.0)),
        ],
        ignore_index=True,
    )
    gaps = candle_gaps(prices)
    assert gaps.drop(columns=["exchange", "timeframe"]).to_dict("records") == [
        {"symbol": "A/USDT", "gap_start": week("2024-03-03"), "gap_end": week("2024-03-04"), "missing": 2},
        {"symbol": "A/USDT", "gap_start": week("2024-03-06"), "gap_end": week("2024-03-06"), "missing": 1},
    ]


def test_candle_gaps_empty_when_complete() -> None:
    """It returns an empty frame with the gap columns when nothing is missing."""
    gaps = candle_gaps(daily("B/USDT", days("2024-03-01", 5, 1.0)))
    assert gaps.empty
    assert list(gaps.columns) == ["exchange", "symbol", "timeframe", "gap_start", "gap_end", "missing"]


def test_incomplete_weeks_give_no_return() -> None:
    """A week with a missing day, and the week after it, get no weekly return (closes not a week apart)."""
    closes = {**days("2024-03-04", 7, 1.0), **days("2024-03-11", 7, 2.0), **days("2024-03-18", 7, 4.0)}
    del closes["2024-03-17"]  # week 2 lacks its Sunday: its close is Saturday's
    bars = weekly_bars(daily("X/USDT", closes), market_symbol="X/USDT")
    assert bars["n_days"].tolist() == [7, 6, 7]
    assert bars["log_return"].isna().all()
    full = weekly_bars(daily("X/USDT", {**closes, "2024-03-17": 2.0}), market_symbol="X/USDT")
    assert full["log_return"].iloc[1:].tolist() == pytest.approx([LOG2, LOG2])


def test_daily_bars_leave_gaps_and_the_open_candle_out() -> None:
    """Daily returns only between consecutive days; a candle still open at ``now`` is no bar."""
    from sentiment.prices.weekly import daily_bars

    closes = {"2024-03-04": 1.0, "2024-03-05": 2.0, "2024-03-07": 4.0, "2024-03-08": 8.0, "2024-03-09": 4.0}
    bars = daily_bars(daily("X/USDT", closes), market_symbol="X/USDT", now=pd.Timestamp("2024-03-09 12:00", tz="UTC"))
    assert bars["day"].dt.strftime("%m-%d").tolist() == ["03-04", "03-05", "03-06", "03-07", "03-08"]
    r = bars["log_return"].tolist()
    assert np.isnan(r[0]) and r[1] == pytest.approx(LOG2) and np.isnan(r[2]) and np.isnan(r[3])
    assert r[4] == pytest.approx(LOG2)
    assert bars["excess_log_return"].iloc[4] == 0.0

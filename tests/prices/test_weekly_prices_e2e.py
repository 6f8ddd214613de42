"""Prices to the weekly table end to end: fetched candles -> weekly bars with excess and next-week returns."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from sentiment.lake import Lake
from sentiment.sandbox.replay import serve_recorded
from sentiment.settings import load_settings
from sentiment.steps import build as build_step
from sentiment.steps import ingest as ingest_step
from sentiment.steps import prices as prices_step
from sentiment.steps import score as score_step

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
NOW = pd.Timestamp("2025-01-01", tz="UTC")


def expected_weekly_returns(prices: pd.DataFrame, anchor_weekday: int) -> pd.Series:
    """Log change of each week's last close, computed here from the stored candles, indexed by week start."""
    ts = prices["ts"]
    starts = (ts - pd.to_timedelta((ts.dt.day_of_week - anchor_weekday) % 7, unit="D")).dt.floor("D")
    last_close = prices.assign(week_start=starts).groupby("week_start")["close"].last()
    return np.log(last_close / last_close.shift(1))


def test_weekly_table_has_excess_over_btc_and_next_week_return(tmp_path: Path) -> None:
    """It builds weeks on the configured anchor (Sunday here, not the default Monday) whose excess return is
    VIRTUAL's minus BTC/USDT's weekly log return and whose next_log_return is the following week's return,
    from candles fetched through ccxt."""
    anchor, weekday = "sunday", 6
    settings = load_settings(
        lake=tmp_path / "lake",
        exchange="gate",
        symbols=("VIRTUAL/USDT",),
        since=date(2024, 1, 1),
        week_starts_on=anchor,
        tz="Asia/Shanghai",
        retry_base_delay=0.001,
    )
    with serve_recorded(SAMPLE / "exchange") as url:
        written = prices_step.fetch_prices(settings.model_copy(update={"api_url": url}), now=NOW)
    assert written["VIRTUAL/USDT"] > 300 and written["BTC/USDT"] > 300
    ingest_step.ingest_chats(settings, [SAMPLE / "chats"], now=NOW)
    score_step.score_new_messages(settings, now=NOW)
    weekly = build_step.build_weekly(settings)
    table = weekly[weekly["scope"] == "all"].set_index("week_start").sort_index()
    assert len(table) > 20
    assert (table.index.day_of_week == weekday).all() and (table.index == table.index.floor("D")).all()

    lake = Lake(settings.lake)
    virtual = expected_weekly_returns(
        lake.read("SELECT * FROM prices WHERE symbol = 'VIRTUAL/USDT' ORDER BY ts"), weekday
    )
    btc = expected_weekly_returns(lake.read("SELECT * FROM prices WHERE symbol = 'BTC/USDT' ORDER BY ts"), weekday)
    weeks = table.index
    np.testing.assert_allclose(table["log_return"], virtual.reindex(weeks), equal_nan=True)
    np.testing.assert_allclose(table["excess_log_return"], (virtual - btc).reindex(weeks), equal_nan=True)
    np.testing.assert_allclose(table["next_log_return"], virtual.shift(-1).reindex(weeks), equal_nan=True)
    both = table[["log_return", "excess_log_return"]].dropna()
    assert len(both) > 20 and not np.allclose(both["log_return"], both["excess_log_return"])

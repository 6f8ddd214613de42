"""The weekly join matches symbols in any case, as the price fetch does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sentiment.lake import Lake
from sentiment.settings import load_settings
from sentiment.steps import build as build_step
from sentiment.steps import ingest as ingest_step

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "chats"
NOW = pd.Timestamp("2026-01-05", tz="UTC")


def _seed(lake: Path) -> None:
    settings = load_settings(lake=lake, tz="UTC")
    ingest_step.ingest_chats(settings, [FIXTURES / "telegram_single_chat.json"], now=NOW)
    first = Lake(lake).read("SELECT min(ts) AS t FROM messages")["t"].iloc[0]
    days = pd.date_range(pd.Timestamp(first).floor("D") - pd.Timedelta(days=21), periods=60, freq="D", tz="UTC")
    rng = np.random.default_rng(3)
    frames = []
    for symbol in ("VIRTUAL/USDT", "BTC/USDT"):
        close = 1 + np.cumsum(rng.uniform(0.01, 0.02, len(days)))
        frames.append(
            pd.DataFrame(
                {"exchange": "gate", "symbol": symbol, "timeframe": "1d", "ts": days, "open": close, "high": close}
                | {"low": close, "close": close, "volume": 1.0, "fetched_at": NOW}
            )
        )
    Lake(lake).append("prices", pd.concat(frames, ignore_index=True))


def test_symbols_match_in_any_case(tmp_path: Path) -> None:
    """'virtual/usdt' against 'BTC/usdt' builds the same weeks and returns as the stored spelling."""
    _seed(tmp_path / "lake")
    exact = load_settings(lake=tmp_path / "lake", symbols=("VIRTUAL/USDT",), exchange="gate")
    lower = load_settings(lake=tmp_path / "lake", symbols=("virtual/usdt",), exchange="gate", market_symbol="btc/usdt")
    a = build_step.build_weekly(exact)
    b = build_step.build_weekly(lower)
    assert len(a) > 0 and len(b) == len(a)
    assert set(b["symbol"]) == {"virtual/usdt"}
    cols = ["log_return", "excess_log_return", "close"]
    np.testing.assert_allclose(b[cols].to_numpy(float), a[cols].to_numpy(float), equal_nan=True)
    assert b["excess_log_return"].notna().any()

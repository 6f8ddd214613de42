"""fetch_candles and make_exchange, through the real ccxt gate client against the loopback replay server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
from gate_wire import wire_rows, write_candles

from sentiment.errors import ConfigError, ExchangeUnavailableError, PriceError, UnknownSymbolError
from sentiment.prices import candle_gaps, fetch_candles, make_exchange
from sentiment.sandbox.replay import ReplayPlan, serve_recorded
from sentiment.schemas import TABLES, conform

CANDLES = "/api/v4/spot/candlesticks"
HOUR = 3600
DAY = 86400
START = pd.Timestamp("2024-01-01", tz="UTC")
START_S = int(START.timestamp())
FAST = {"max_retries": 4, "base_delay": 0.001}


@contextmanager
def gate(root: Path, plan: ReplayPlan) -> Iterator[object]:
    with serve_recorded(root, plan) as url:
        yield make_exchange("gate", url, rate_limit_ms=1)


def candle_queries(plan: ReplayPlan) -> list[dict[str, str]]:
    return [
        {k: v[-1] for k, v in parse_qs(urlsplit(p).query).items()} for p in plan.requests if urlsplit(p).path == CANDLES
    ]


def _leaves(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, str):
        yield value


def test_make_exchange_rewrites_every_api_url() -> None:
    """It points every URL in urls['api'] (nested) at api_url's scheme and host, keeping the paths."""
    exchange = make_exchange("gate", "http://127.0.0.1:8765")
    urls = list(_leaves(exchange.urls["api"]))
    assert len(urls) > 20
    assert all(u == "http://127.0.0.1:8765/api/v4" for u in urls)
    assert exchange.options["fetchMarkets"]["types"] == ["spot"]
    assert exchange.has["fetchCurrencies"] is False
    assert exchange.enableRateLimit is True


def test_make_exchange_without_api_url_keeps_gate_hosts() -> None:
    """It leaves the real Gate URLs alone when no api_url is given."""
    exchange = make_exchange("gate")
    assert all(u.startswith("https://api.gateio.ws/") for u in _leaves(exchange.urls["api"]))


def test_make_exchange_refuses_bad_input() -> None:
    """It rejects an api_url with a path and names a close exchange id for a typo."""
    with pytest.raises(ConfigError, match="without a path"):
        make_exchange("gate", "http://127.0.0.1:8765/api/v4")
    with pytest.raises(ConfigError, match="did you mean gate"):
        make_exchange("gatee")


def test_paginates_long_hourly_history_in_1000_candle_windows(gate_root: Path) -> None:
    """It walks 2,600 hourly candles in three requests of at most 1000 points, with no loss or overlap."""
    count = 2600
    write_candles(gate_root, "BTC_USDT", "1h", wire_rows(START_S, HOUR, count))
    now = START + pd.Timedelta(hours=count, minutes=30)
    plan = ReplayPlan(now_s=now.timestamp())
    seen: list[int] = []
    with gate(gate_root, plan) as exchange:
        prices = fetch_candles(
            exchange, "BTC/USDT", "1h", START, now=now, progress=lambda n, _cursor: seen.append(n), **FAST
        )
    queries = candle_queries(plan)
    assert len(queries) == 3
    for q in queries:
        assert "limit" not in q
        assert (int(q["to"]) - int(q["from"])) // HOUR + 1 <= 1000
    assert seen == [1000, 2000, 2600]
    assert len(prices) == count
    assert prices["ts"].is_unique and prices["ts"].is_monotonic_increasing
    assert prices["ts"].iloc[-1] == START + pd.Timedelta(hours=count - 1)
    assert prices["close"].iloc[1234] == 100.0 + 1234
    assert prices["open"].iloc[1234] == 99.0 + 1234
    assert list(prices.columns) == [c.name for c in TABLES["prices"]]
    assert (prices["fetched_at"] == now).all()
    conform(prices, "prices")


def test_retries_after_429_then_succeeds(gate_root: Path) -> None:
    """It waits and repeats a request Gate answered with 429 TOO_MANY_REQUESTS, then returns every candle."""
    write_candles(gate_root, "BTC_USDT", "1d", wire_rows(START_S, DAY, 30))
    plan = ReplayPlan(faults=["429"], fault_path=CANDLES)
    with gate(gate_root, plan) as exchange:
        prices = fetch_candles(exchange, "BTC/USDT", "1d", START, now=START + pd.Timedelta(days=30), **FAST)
    assert plan.count(CANDLES) == 2
    assert len(prices) == 30


def test_retries_a_connection_reset_mid_history(gate_root: Path) -> None:
    """It resumes from where it was when the connection resets on the second page, keeping the first page."""
    write_candles(gate_root, "BTC_USDT", "1h", wire_rows(START_S, HOUR, 1500))
    now = START + pd.Timedelta(hours=1500)
    plan = ReplayPlan(faults=["ok", "reset"], fault_path=CANDLES, now_s=now.timestamp())
    with gate(gate_root, plan) as exchange:
        prices = fetch_candles(exchange, "BTC/USDT", "1h", START, now=now, **FAST)
    froms = [int(q["from"]) for q in candle_queries(plan)]
    assert froms == [START_S, START_S + 1000 * HOUR, START_S + 1000 * HOUR]
    assert len(prices) == 1500
    assert prices["ts"].is_unique


def test_gives_up_after_bounded_retries(gate_root: Path) -> None:
    """It raises ExchangeUnavailableError naming exchange, symbol and since once the retries are spent."""
    write_candles(gate_root, "BTC_USDT", "1d", wire_rows(START_S, DAY, 10))
    plan = ReplayPlan(faults=["500"] * 10, fault_path=CANDLES)
    with gate(gate_root, plan) as exchange, pytest.raises(ExchangeUnavailableError) as caught:
        fetch_candles(
            exchange, "BTC/USDT", "1d", START, now=START + pd.Timedelta(days=10), max_retries=2, base_delay=0.001
        )
    assert plan.count(CANDLES) == 3
    err = caught.value
    assert (err.exchange, err.symbol, err.since) == ("gate", "BTC/USDT", START_S * 1000)
    assert "2024-01-01" in str(err)


def test_unknown_symbol_lists_close_matches_without_candle_request(gate_root: Path) -> None:
    """It names look-alike listed symbols for an unlisted one and never asks for its candles."""
    plan = ReplayPlan()
    with gate(gate_root, plan) as exchange, pytest.raises(UnknownSymbolError) as caught:
        fetch_candles(exchange, "VIRTUALS/USDT", "1d", START, **FAST)
    assert "VIRTUAL/USDT" in caught.value.close_matches
    assert "did you mean" in str(caught.value)
    assert plan.count(CANDLES) == 0


def test_symbol_is_matched_case_insensitively(gate_root: Path) -> None:
    """It accepts a lower-case symbol and stores the exchange's unified spelling."""
    now = pd.Timestamp("2024-03-10 12:00", tz="UTC")
    with gate(gate_root, ReplayPlan()) as exchange:
        prices = fetch_candles(exchange, "virtual/usdt", "1d", pd.Timestamp("2024-03-01", tz="UTC"), now=now)
    assert set(prices["symbol"]) == {"VIRTUAL/USDT"}


def test_drops_open_candle_and_reports_gap(gate_root: Path) -> None:
    """It leaves out the candle still open at now and keeps the two missing days as a reported gap."""
    now = pd.Timestamp("2024-03-10 12:00", tz="UTC")
    with gate(gate_root, ReplayPlan()) as exchange:
        prices = fetch_candles(exchange, "VIRTUAL/USDT", "1d", pd.Timestamp("2024-03-01", tz="UTC"), now=now)
    assert prices["ts"].max() == pd.Timestamp("2024-03-09", tz="UTC")
    assert len(prices) == 7
    gaps = candle_gaps(prices)
    assert gaps[["gap_start", "gap_end", "missing"]].to_dict("records") == [
        {
            "gap_start": pd.Timestamp("2024-03-05", tz="UTC"),
            "gap_end": pd.Timestamp("2024-03-06", tz="UTC"),
            "missing": 2,
        }
    ]


def test_until_is_exclusive(gate_root: Path) -> None:
    """It returns candles opening before until, not the one opening at until."""
    now = pd.Timestamp("2024-03-10 12:00", tz="UTC")
    with gate(gate_root, ReplayPlan()) as exchange:
        prices = fetch_candles(
            exchange,
            "VIRTUAL/USDT",
            "1d",
            pd.Timestamp("2024-03-01", tz="UTC"),
            pd.Timestamp("2024-03-04", tz="UTC"),
            now=now,
        )
    assert prices["ts"].dt.day.tolist() == [1, 2, 3]


def test_nothing_new_costs_only_the_market_load(gate_root: Path) -> None:
    """With no closed candle after since it sends no candle request: two market requests in all."""
    now = pd.Timestamp("2024-03-10 12:00", tz="UTC")
    plan = ReplayPlan()
    with gate(gate_root, plan) as exchange:
        prices = fetch_candles(exchange, "VIRTUAL/USDT", "1d", pd.Timestamp("2024-03-10", tz="UTC"), now=now)
    assert prices.empty
    assert list(prices.columns) == [c.name for c in TABLES["prices"]]
    assert [urlsplit(p).path for p in plan.requests] == ["/api/v4/margin/currency_pairs", "/api/v4/spot/currency_pairs"]


def test_unoffered_timeframe_is_a_price_error_before_any_candle_request(gate_root: Path) -> None:
    """It refuses a timeframe Gate does not offer, listing the ones it does."""
    plan = ReplayPlan()
    with gate(gate_root, plan) as exchange, pytest.raises(PriceError, match="not offered"):
        fetch_candles(exchange, "BTC/USDT", "3d", START, **FAST)
    assert plan.count(CANDLES) == 0


def test_exchange_rejection_is_a_price_error_without_retry(gate_root: Path) -> None:
    """It reports Gate's 'too long ago' rejection (over 10000 hourly points back) once, as a PriceError."""
    now = START + pd.Timedelta(hours=12_000)
    plan = ReplayPlan(now_s=now.timestamp())
    with gate(gate_root, plan) as exchange, pytest.raises(PriceError, match="too long ago") as caught:
        fetch_candles(exchange, "BTC/USDT", "1h", START, now=now, **FAST)
    assert not isinstance(caught.value, ExchangeUnavailableError | UnknownSymbolError)
    assert plan.count(CANDLES) == 1

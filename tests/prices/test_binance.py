"""The Binance side of the replay server (/api/v3/exchangeInfo, /api/v3/klines), through raw HTTP and real ccxt."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
from binance_wire import kline_rows, write_klines

from sentiment.errors import ExchangeUnavailableError, UnknownSymbolError
from sentiment.prices import fetch_candles, make_exchange
from sentiment.sandbox.replay import ReplayPlan, serve_recorded
from sentiment.schemas import conform

KLINES = "/api/v3/klines"
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
START = pd.Timestamp("2024-01-01", tz="UTC")
T0 = int(START.timestamp() * 1000)
FAST = {"max_retries": 4, "base_delay": 0.001}
# A spot kline row exactly as ccxt's binance.py documents Binance's response (fetch_ohlcv comment).
CCXT_DOC_ROW = [
    1591478520000,
    "0.02501300",
    "0.02501800",
    "0.02500000",
    "0.02500000",
    "22.19000000",
    1591478579999,
    "0.55490906",
    40,
    "10.92900000",
    "0.27336462",
    "0",
]


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def kline_queries(plan: ReplayPlan) -> list[dict[str, str]]:
    return [
        {k: v[-1] for k, v in parse_qs(urlsplit(p).query).items()} for p in plan.requests if urlsplit(p).path == KLINES
    ]


def test_make_exchange_loads_only_spot_markets_in_one_request(binance_root: Path) -> None:
    """It points ccxt.binance at the replay server and loads spot markets from /api/v3/exchangeInfo alone."""
    plan = ReplayPlan()
    with serve_recorded(binance_root, plan) as url:
        exchange = make_exchange("binance", url, rate_limit_ms=1)
        exchange.load_markets()
    assert plan.requests == ["/api/v3/exchangeInfo"]
    assert exchange.options["fetchMarkets"]["types"] == ["spot"]
    assert exchange.has["fetchCurrencies"] is False
    assert {"BTC/USDT", "ETH/USDT", "VIRTUAL/USDT"} <= set(exchange.symbols)
    btc = exchange.market("BTC/USDT")
    assert (btc["spot"], btc["id"], btc["precision"]["price"], btc["precision"]["amount"]) == (
        True,
        "BTCUSDT",
        0.01,
        1e-05,
    )
    assert exchange.market("LUNA/USDT")["active"] is False


def test_ccxt_parses_the_documented_kline_row(binance_root: Path) -> None:
    """It serves Binance's 12-field kline row so ccxt.binance parses it to [ms, o, h, l, c, v] floats."""
    write_klines(binance_root, "ETHUSDT", "1m", [CCXT_DOC_ROW])
    plan = ReplayPlan(now_s=1591478600)
    with serve_recorded(binance_root, plan) as url:
        exchange = make_exchange("binance", url, rate_limit_ms=1)
        parsed = exchange.fetch_ohlcv("ETH/USDT", "1m", 1591478520000, 1)
    assert parsed == [[1591478520000, 0.025013, 0.025018, 0.025, 0.025, 22.19]]
    assert kline_queries(plan) == [{"symbol": "ETHUSDT", "interval": "1m", "limit": "1", "startTime": "1591478520000"}]


def test_klines_window_rules(binance_root: Path) -> None:
    """It applies startTime/endTime (inclusive, ms), the first or latest `limit` rows, and the clock."""
    write_klines(binance_root, "BTCUSDT", "1d", kline_rows(T0, DAY_MS, 10))
    base = "/api/v3/klines?symbol=BTCUSDT&interval=1d"
    with serve_recorded(binance_root, ReplayPlan(now_s=(T0 + 7 * DAY_MS) / 1000)) as url:
        _, window = get(f"{url}{base}&startTime={T0 + DAY_MS}&endTime={T0 + 3 * DAY_MS}")
        _, first_two = get(f"{url}{base}&startTime={T0}&limit=2")
        _, latest = get(f"{url}{base}&limit=2")
        _, before = get(f"{url}{base}&endTime={T0 + 2 * DAY_MS}&limit=2")
        _, default = get(f"{url}{base}")
    assert [r[0] for r in window] == [T0 + DAY_MS, T0 + 2 * DAY_MS, T0 + 3 * DAY_MS]
    assert [r[0] for r in first_two] == [T0, T0 + DAY_MS]
    # The clock stands in day 7: the candle opening then exists (still open), later ones do not.
    assert [r[0] for r in latest] == [T0 + 6 * DAY_MS, T0 + 7 * DAY_MS]
    assert [r[0] for r in before] == [T0 + DAY_MS, T0 + 2 * DAY_MS]
    assert len(default) == 8 and len(window[0]) == 12 and isinstance(window[0][1], str)


def test_klines_errors_are_binance_shaped(binance_root: Path) -> None:
    """It rejects limit > 1000, an unknown symbol or interval, and start after end with Binance's codes."""
    write_klines(binance_root, "BTCUSDT", "1d", kline_rows(T0, DAY_MS, 3))
    with serve_recorded(binance_root) as url:
        answers = [
            get(f"{url}/api/v3/klines?symbol=BTCUSDT&interval=1d&limit=1001"),
            get(f"{url}/api/v3/klines?symbol=NOPEUSDT&interval=1d"),
            get(f"{url}/api/v3/klines?symbol=BTCUSDT&interval=7m"),
            get(f"{url}/api/v3/klines?symbol=BTCUSDT&interval=1d&startTime=5&endTime=4"),
            get(f"{url}/api/v3/klines?interval=1d"),
            get(f"{url}/api/v3/exchangeInfo?symbol=NOPEUSDT"),
        ]
        status, one = get(f"{url}/api/v3/exchangeInfo?symbol=ETHUSDT")
    assert [(s, body["code"]) for s, body in answers] == [
        (400, -1130),
        (400, -1121),
        (400, -1120),
        (400, -1023),
        (400, -1102),
        (400, -1121),
    ]
    assert (status, [m["symbol"] for m in one["symbols"]]) == (200, ["ETHUSDT"])


def test_paginates_2600_hourly_candles_in_1000_kline_pages(binance_root: Path) -> None:
    """It walks 2,600 hourly klines with three requests of limit 1000, dropping the still-open candle."""
    count = 2600
    write_klines(binance_root, "BTCUSDT", "1h", kline_rows(T0, HOUR_MS, count + 1))
    now = START + pd.Timedelta(hours=count, minutes=30)  # candle `count` is open at now
    plan = ReplayPlan(now_s=now.timestamp())
    with serve_recorded(binance_root, plan) as url:
        exchange = make_exchange("binance", url, rate_limit_ms=1)
        prices = fetch_candles(exchange, "BTC/USDT", "1h", START, now=now, **FAST)
    queries = kline_queries(plan)
    assert [int(q["startTime"]) for q in queries] == [T0, T0 + 1000 * HOUR_MS, T0 + 2000 * HOUR_MS]
    assert {q["limit"] for q in queries} == {"1000"}
    assert {q["symbol"] for q in queries} == {"BTCUSDT"}
    assert len(prices) == count and prices["ts"].is_unique and prices["ts"].is_monotonic_increasing
    assert prices["ts"].iloc[-1] == START + pd.Timedelta(hours=count - 1)
    assert (prices["close"].iloc[1234], prices["open"].iloc[1234]) == (100.0 + 1234, 99.0 + 1234)
    assert set(prices["exchange"]) == {"binance"}
    conform(prices, "prices")


def test_unknown_symbol_on_binance_lists_close_matches(binance_root: Path) -> None:
    """It names Binance's look-alike symbols for an unlisted one without any kline request."""
    plan = ReplayPlan()
    with serve_recorded(binance_root, plan) as url, pytest.raises(UnknownSymbolError) as caught:
        fetch_candles(make_exchange("binance", url, rate_limit_ms=1), "VIRTUALS/USDT", "1d", START, **FAST)
    assert caught.value.exchange == "binance"
    assert "VIRTUAL/USDT" in caught.value.close_matches
    assert plan.count(KLINES) == 0


def test_binance_429_is_retried_and_a_long_outage_names_the_failed_page(binance_root: Path) -> None:
    """It repeats a request Binance answered 429 (-1003); when resets outlast the retries it names that page."""
    write_klines(binance_root, "BTCUSDT", "1h", kline_rows(T0, HOUR_MS, 1500))
    now = START + pd.Timedelta(hours=1500)
    plan = ReplayPlan(faults=["429"], fault_path=KLINES, now_s=now.timestamp())
    with serve_recorded(binance_root, plan) as url:
        assert (
            len(fetch_candles(make_exchange("binance", url, rate_limit_ms=1), "BTC/USDT", "1h", START, now=now, **FAST))
            == 1500
        )
    assert plan.count(KLINES) == 3
    plan = ReplayPlan(faults=["ok"] + ["reset"] * 3, fault_path=KLINES, now_s=now.timestamp())
    pages: list[int] = []
    with serve_recorded(binance_root, plan) as url, pytest.raises(ExchangeUnavailableError) as caught:
        fetch_candles(
            make_exchange("binance", url, rate_limit_ms=1),
            "BTC/USDT",
            "1h",
            START,
            now=now,
            max_retries=2,
            base_delay=0.001,
            on_page=lambda page: pages.append(len(page)),
        )
    assert pages == [1000]
    assert caught.value.since == T0 + 1000 * HOUR_MS
    assert "binance BTC/USDT since 2024-02-11T16:00:00Z" in str(caught.value)

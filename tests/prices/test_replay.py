"""The loopback Gate replay server: Gate's wire format and rules, as ccxt and raw HTTP see them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from gate_wire import SHARED, wire_rows, write_candles

from sentiment.prices import make_exchange
from sentiment.sandbox.replay import ReplayPlan, serve_recorded

SAMPLE = SHARED / "samples" / "ccxt" / "gate_static_response_excerpt.json"
DAY = 86400
T0 = 1704067200  # 2024-01-01 00:00 UTC


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_ccxt_parses_recorded_gate_candle_like_ccxt_own_fixture(tmp_path: Path) -> None:
    """It serves ccxt's recorded Gate candle row so that ccxt.gate parses it to ccxt's recorded result."""
    if not SAMPLE.is_file():
        pytest.skip("../shared samples not present")
    case = json.loads(SAMPLE.read_text(encoding="utf-8"))["methods"]["fetchOHLCV"][0]
    symbol, timeframe, since, limit = case["input"]
    pair = symbol.replace("/", "_")
    (tmp_path / "gate").mkdir()
    (tmp_path / "gate" / "spot_currency_pairs.json").write_text(
        json.dumps(
            [
                {
                    "id": pair,
                    "base": "BTC",
                    "quote": "USDT",
                    "fee": "0.2",
                    "amount_precision": 6,
                    "precision": 1,
                    "trade_status": "tradable",
                    "buy_start": 0,
                }
            ]
        ),
        encoding="utf-8",
    )
    write_candles(tmp_path, pair, timeframe, case["httpResponse"])
    plan = ReplayPlan()
    with serve_recorded(tmp_path, plan) as url:
        exchange = make_exchange("gate", url, rate_limit_ms=1)
        parsed = exchange.fetch_ohlcv(symbol, timeframe, since, limit)
    assert parsed == case["parsedResponse"]
    assert plan.requests[-1] == f"/api/v4/spot/candlesticks?currency_pair={pair}&interval=1h&limit=1"


def test_ccxt_loads_spot_markets_from_two_requests(gate_root: Path) -> None:
    """It answers everything spot-only load_markets asks for: margin pairs, then spot pairs."""
    plan = ReplayPlan()
    with serve_recorded(gate_root, plan) as url:
        exchange = make_exchange("gate", url, rate_limit_ms=1)
        exchange.load_markets()
    assert plan.requests == ["/api/v4/margin/currency_pairs", "/api/v4/spot/currency_pairs"]
    assert {"BTC/USDT", "ETH/USDT", "VIRTUAL/USDT"} <= set(exchange.symbols)
    btc = exchange.market("BTC/USDT")
    assert (btc["precision"]["price"], btc["precision"]["amount"], btc["taker"]) == (0.1, 1e-06, 0.002)


def test_bundled_sample_pairs_load_in_ccxt(tmp_path: Path) -> None:
    """It parses the bundled data/sample currency pairs into the BTC/USDT and VIRTUAL/USDT spot markets."""
    root = Path(__file__).resolve().parents[2] / "data" / "sample" / "exchange"
    with serve_recorded(root) as url:
        exchange = make_exchange("gate", url, rate_limit_ms=1)
        exchange.load_markets()
    assert {"BTC/USDT", "VIRTUAL/USDT"} <= set(exchange.symbols)
    assert exchange.market("VIRTUAL/USDT")["active"] is True


def test_from_and_to_are_inclusive(gate_root: Path) -> None:
    """It returns the candles whose open time lies in [from, to], both ends included, as wire rows."""
    write_candles(gate_root, "BTC_USDT", "1d", wire_rows(T0, DAY, 10))
    with serve_recorded(gate_root) as url:
        status, rows = get(
            f"{url}/api/v4/spot/candlesticks?currency_pair=BTC_USDT&interval=1d&from={T0 + DAY}&to={T0 + 3 * DAY}"
        )
    assert status == 200
    assert [r[0] for r in rows] == [str(T0 + DAY), str(T0 + 2 * DAY), str(T0 + 3 * DAY)]
    assert all(isinstance(v, str) for r in rows for v in r) and len(rows[0]) == 8


def test_limit_returns_latest_points_before_to(gate_root: Path) -> None:
    """It answers limit without from/to with the most recent candles up to now."""
    write_candles(gate_root, "BTC_USDT", "1d", wire_rows(T0, DAY, 10))
    with serve_recorded(gate_root, ReplayPlan(now_s=T0 + 5 * DAY)) as url:
        _, rows = get(f"{url}/api/v4/spot/candlesticks?currency_pair=BTC_USDT&interval=1d&limit=2")
    assert [r[0] for r in rows] == [str(T0 + 4 * DAY), str(T0 + 5 * DAY)]


@pytest.mark.parametrize(
    ("query", "status", "label"),
    [
        (f"currency_pair=BTC_USDT&interval=1d&from={T0}&to={T0 + 1000 * DAY}", 400, "INVALID_PARAM_VALUE"),
        (f"currency_pair=BTC_USDT&interval=1d&from={T0}&limit=10", 400, "INVALID_PARAM_VALUE"),
        ("currency_pair=BTC_USDT&interval=3d", 400, "INVALID_PARAM_VALUE"),
        ("currency_pair=NOPE_USDT&interval=1d", 400, "INVALID_CURRENCY_PAIR"),
        ("interval=1d", 400, "MISSING_REQUIRED_PARAM"),
    ],
)
def test_rejects_what_gate_rejects(gate_root: Path, query: str, status: int, label: str) -> None:
    """It answers 1001 points, limit with from, unknown intervals and pairs with Gate's error shape."""
    with serve_recorded(gate_root, ReplayPlan(now_s=T0 + 2000 * DAY)) as url:
        got_status, body = get(f"{url}/api/v4/spot/candlesticks?{query}")
    assert (got_status, body["label"]) == (status, label)
    assert body["message"]


def test_exactly_1000_points_is_allowed(gate_root: Path) -> None:
    """It accepts the 1000-point window ccxt asks for (to = from + 999 intervals)."""
    write_candles(gate_root, "BTC_USDT", "1d", wire_rows(T0, DAY, 1200))
    with serve_recorded(gate_root, ReplayPlan(now_s=T0 + 1200 * DAY)) as url:
        status, rows = get(
            f"{url}/api/v4/spot/candlesticks?currency_pair=BTC_USDT&interval=1d&from={T0}&to={T0 + 999 * DAY}"
        )
    assert (status, len(rows)) == (200, 1000)


def test_single_pair_and_unknown_endpoint(gate_root: Path) -> None:
    """It serves one currency pair by id and a Gate-style 404 for endpoints it does not replay."""
    with serve_recorded(gate_root) as url:
        status, pair = get(f"{url}/api/v4/spot/currency_pairs/ETH_USDT")
        missing_status, missing = get(f"{url}/api/v4/spot/currency_pairs/NOPE_USDT")
        other_status, other = get(f"{url}/api/v4/spot/tickers")
    assert (status, pair["id"]) == (200, "ETH_USDT")
    assert (missing_status, missing["label"]) == (400, "INVALID_CURRENCY_PAIR")
    assert (other_status, other["label"]) == (404, "NOT_FOUND")


def test_faults_apply_in_order_then_stop(gate_root: Path) -> None:
    """It injects the planned 429 and 500 into matching requests only, then answers normally."""
    plan = ReplayPlan(faults=["429", "500"], fault_path="/api/v4/spot/currency_pairs")
    with serve_recorded(gate_root, plan) as url:
        statuses = [get(f"{url}/api/v4/margin/currency_pairs")[0]]
        statuses += [get(f"{url}/api/v4/spot/currency_pairs")[0] for _ in range(3)]
    assert statuses == [200, 429, 500, 200]
    assert plan.count("/api/v4/spot/currency_pairs") == 3


def test_server_stops_when_the_block_exits(gate_root: Path) -> None:
    """It closes the listening socket on exit, so the URL no longer answers."""
    with serve_recorded(gate_root) as url:
        assert get(f"{url}/api/v4/spot/currency_pairs")[0] == 200
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/api/v4/spot/currency_pairs", timeout=2)

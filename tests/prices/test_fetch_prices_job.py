"""prices_step.fetch_prices and `sentiment fetch-prices`: page-wise storage, resume, incremental re-runs, CLI errors."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
from binance_wire import kline_rows, write_klines
from gate_wire import wire_rows, write_candles

from sentiment.cli import run_cli
from sentiment.errors import ExchangeUnavailableError
from sentiment.lake import Lake
from sentiment.sandbox.replay import ReplayPlan, serve_recorded
from sentiment.settings import Settings, load_settings
from sentiment.steps import prices as prices_step

GATE_CANDLES = "/api/v4/spot/candlesticks"
KLINES = "/api/v3/klines"
START = pd.Timestamp("2024-01-01", tz="UTC")
START_S = int(START.timestamp())
HOUR = 3600
SRC = Path(__file__).resolve().parents[2] / "src"


def settings(lake: Path, url: str, exchange: str, *symbols: str, timeframe: str = "1h") -> Settings:
    return load_settings(
        lake=lake,
        api_url=url,
        exchange=exchange,
        timeframe=timeframe,
        since=date(2024, 1, 1),
        symbols=symbols,
        fetch_retries=2,
        retry_base_delay=0.001,
    )


def stored(lake: Path, symbol: str) -> pd.DataFrame:
    return Lake(lake).read(f"SELECT * FROM prices WHERE symbol = '{symbol}' ORDER BY ts")


def test_interrupted_run_keeps_its_pages_and_the_rerun_resumes_then_asks_nothing(gate_root: Path) -> None:
    """It stores each page as it comes: after resets outlast the retries on page 2, the re-run asks only for
    pages 2 and 3, and a run with nothing new makes only the 2 Gate market requests for two symbols."""
    count = 2600
    write_candles(gate_root, "BTC_USDT", "1h", wire_rows(START_S, HOUR, count))
    write_candles(gate_root, "ETH_USDT", "1h", wire_rows(START_S, HOUR, count))
    tmp_path = gate_root
    lake = tmp_path / "lake"
    now = START + pd.Timedelta(hours=count, minutes=30)
    failing = ReplayPlan(faults=["ok"] + ["reset"] * 3, fault_path=GATE_CANDLES, now_s=now.timestamp())

    with serve_recorded(tmp_path, failing) as url, pytest.raises(ExchangeUnavailableError) as caught:
        prices_step.fetch_prices(settings(lake, url, "gate", "BTC/USDT", "ETH/USDT"), now=now, symbols=["BTC/USDT"])
    assert caught.value.since == (START_S + 1000 * HOUR) * 1000
    assert failing.count(GATE_CANDLES) == 4  # page 1, then page 2 three times
    assert len(stored(lake, "BTC/USDT")) == 1000

    resumed = ReplayPlan(now_s=now.timestamp())
    with serve_recorded(tmp_path, resumed) as url:
        written = prices_step.fetch_prices(settings(lake, url, "gate", "BTC/USDT"), now=now, symbols=["BTC/USDT"])
    froms = [int(parse_qs(urlsplit(p).query)["from"][0]) for p in resumed.requests if urlsplit(p).path == GATE_CANDLES]
    assert froms == [START_S + 1000 * HOUR, START_S + 2000 * HOUR]
    assert written == {"BTC/USDT": 1600}
    btc = stored(lake, "BTC/USDT")
    assert len(btc) == count and btc["ts"].is_unique
    assert btc["close"].tolist() == [100.0 + i for i in range(count)]

    with serve_recorded(tmp_path, ReplayPlan(now_s=now.timestamp())) as url:
        prices_step.fetch_prices(settings(lake, url, "gate", "ETH/USDT"), now=now, symbols=["ETH/USDT"])
    idle = ReplayPlan(now_s=now.timestamp())
    with serve_recorded(tmp_path, idle) as url:
        written = prices_step.fetch_prices(
            settings(lake, url, "gate", "BTC/USDT"), now=now, symbols=["BTC/USDT", "ETH/USDT"]
        )
    assert written == {"BTC/USDT": 0, "ETH/USDT": 0}
    assert [urlsplit(p).path for p in idle.requests] == ["/api/v4/margin/currency_pairs", "/api/v4/spot/currency_pairs"]


def test_binance_rerun_resumes_and_idle_rerun_makes_one_request(gate_root: Path, binance_root: Path) -> None:
    """On Binance a fully stored history costs one request (/api/v3/exchangeInfo) for two symbols."""
    root = binance_root
    write_klines(root, "BTCUSDT", "1h", kline_rows(START_S * 1000, HOUR * 1000, 1200))
    write_klines(root, "ETHUSDT", "1h", kline_rows(START_S * 1000, HOUR * 1000, 1200))
    lake = root / "lake"
    now = START + pd.Timedelta(hours=1200)
    failing = ReplayPlan(faults=["ok"] + ["500"] * 3, fault_path=KLINES, now_s=now.timestamp())
    with serve_recorded(root, failing) as url, pytest.raises(ExchangeUnavailableError):
        prices_step.fetch_prices(settings(lake, url, "binance", "BTC/USDT"), now=now, symbols=["BTC/USDT"])
    assert len(stored(lake, "BTC/USDT")) == 1000
    resumed = ReplayPlan(now_s=now.timestamp())
    with serve_recorded(root, resumed) as url:
        written = prices_step.fetch_prices(
            settings(lake, url, "binance", "BTC/USDT"), now=now, symbols=["BTC/USDT", "ETH/USDT"]
        )
    assert written == {"BTC/USDT": 200, "ETH/USDT": 1200}
    starts = [parse_qs(urlsplit(p).query)["startTime"][0] for p in resumed.requests if urlsplit(p).path == KLINES]
    assert starts[0] == str((START_S + 1000 * HOUR) * 1000)
    idle = ReplayPlan(now_s=now.timestamp())
    with serve_recorded(root, idle) as url:
        assert prices_step.fetch_prices(
            settings(lake, url, "binance", "BTC/USDT"), now=now, symbols=["BTC/USDT", "ETH/USDT"]
        ) == {"BTC/USDT": 0, "ETH/USDT": 0}
    assert idle.requests == ["/api/v3/exchangeInfo"]


def cli(lake: Path, url: str, *args: str) -> int:
    return run_cli(["--lake", str(lake), "fetch-prices", "--api-url", url, "--since", "2024-03-01", *args])


def test_cli_fetches_several_symbols_until_a_day_and_reports_gaps(
    gate_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It fetches each --symbol up to --until (inclusive day), prints counts and the gap, and fills nothing."""
    write_candles(
        gate_root, "BTC_USDT", "1d", wire_rows(int(pd.Timestamp("2024-03-01", tz="UTC").timestamp()), 86400, 20)
    )
    lake = gate_root / "lake"
    with serve_recorded(gate_root) as url:
        code = cli(
            lake, url, "--exchange", "gate", "--symbol", "VIRTUAL/USDT", "--symbol", "BTC/USDT", "--until", "2024-03-08"
        )
    printed = capsys.readouterr().out
    assert code == 0
    assert "gate VIRTUAL/USDT 1d: 6 new candles" in printed
    assert "gate BTC/USDT 1d: 8 new candles" in printed
    assert "gate VIRTUAL/USDT 1d: 1 gap: 2024-03-05..2024-03-06 (2 missing)" in printed
    assert "BTC/USDT 1d: 1 gap" not in printed
    days = stored(lake, "VIRTUAL/USDT")["ts"].dt.day.tolist()
    assert days == [1, 2, 3, 4, 7, 8]


def test_cli_network_failure_exits_1_with_one_line_naming_exchange_symbol_since(gate_root: Path) -> None:
    """It retries 500s with backoff (SENTIMENT_FETCH_RETRIES), then exits 1 printing one error line (run as a
    real process, so no log handler left by other tests can add lines)."""
    plan = ReplayPlan(faults=["500"] * 5, fault_path=GATE_CANDLES)
    env = {
        **os.environ,
        "SENTIMENT_FETCH_RETRIES": "1",
        "SENTIMENT_RETRY_BASE_DELAY": "0.001",
        "PYTHONPATH": os.pathsep.join([str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    with serve_recorded(gate_root, plan) as url:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "sentiment",
                "--lake",
                str(gate_root / "lake"),
                "fetch-prices",
                "--api-url",
                url,
                "--since",
                "2024-03-01",
                "--symbol",
                "VIRTUAL/USDT",
                "--until",
                "2024-03-08",
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=gate_root,
            timeout=120,
            check=False,
        )
    assert done.returncode == 1
    assert plan.count(GATE_CANDLES) == 2
    # Python's last-resort handler shows the retry warning; the failure itself is exactly one line.
    assert done.stderr.splitlines() == [
        "gate VIRTUAL/USDT: ExchangeNotAvailable, retry 1/1 in 0.00s",
        "error: gate VIRTUAL/USDT since 2024-03-01T00:00:00Z: ExchangeNotAvailable after 2 attempts: "
        'gate {"label":"SERVER_ERROR","message":"Internal server error"}',
    ]


def test_cli_unknown_symbol_exits_1_listing_close_symbols(
    binance_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It fails fast on Binance with the look-alike listed symbols and sends no kline request."""
    plan = ReplayPlan()
    with serve_recorded(binance_root, plan) as url:
        code = cli(binance_root / "lake", url, "--exchange", "binance", "--symbol", "VIRTUALS/USDT")
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip() == "error: binance VIRTUALS/USDT: unknown symbol (did you mean VIRTUAL/USDT?)"
    assert plan.requests == ["/api/v3/exchangeInfo"]

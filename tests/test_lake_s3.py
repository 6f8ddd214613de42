"""A lake on S3: written and read back through a real S3 server (moto's server mode) on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from sentiment.cli import run_cli
from sentiment.lake import Lake
from sentiment.settings import load_settings

moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")


@pytest.fixture
def s3_lake(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }.items():
            monkeypatch.setenv(name, value)
        endpoint = f"http://{host}:{port}"
        bucket = f"lake-{uuid.uuid4().hex[:12]}"  # moto's backend is per process, shared by every server in it
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
        yield f"s3://{bucket}/community?endpoint_override={host}:{port}&scheme=http&region=us-east-1"
    finally:
        server.stop()


def _prices(days: list[str], symbol: str = "VIRTUAL/USDT", close: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "exchange": "gate",
            "symbol": symbol,
            "timeframe": "1d",
            "ts": pd.to_datetime(days, utc=True),
            "open": close,
            "high": close,
            "low": close,
            "close": close,
            "volume": 10.0,
            "fetched_at": pd.Timestamp("2024-06-01", tz="UTC"),
        }
    )


def test_s3_round_trip_append_replace_query_compact(s3_lake: str, tmp_path: Path) -> None:
    """Appends are idempotent, replace swaps a partition, DuckDB views read S3, compaction keeps the results."""
    lake = Lake(s3_lake, key_dir=tmp_path)
    assert lake.remote and str(lake.root) == s3_lake.split("?")[0] and str(lake.root).endswith("/community")
    assert lake.append("prices", _prices(["2024-01-01", "2024-01-02"])) == 2
    assert lake.append("prices", _prices(["2024-01-01", "2024-01-02"])) == 0
    assert lake.append("prices", _prices(["2024-01-02", "2024-01-03"])) == 1
    assert lake.append("prices", _prices(["2024-01-01"], symbol="BTC/USDT", close=40000.0)) == 1
    files = [str(f) for f in lake.files("prices")]
    assert len(files) == 3 and any("symbol=VIRTUAL%2FUSDT" in f for f in files)
    query = "SELECT symbol, count(*) AS n, sum(close) AS c FROM prices GROUP BY 1 ORDER BY 1"
    before = lake.read(query)
    assert before.to_dict("records") == [
        {"symbol": "BTC/USDT", "n": 1, "c": 40000.0},
        {"symbol": "VIRTUAL/USDT", "n": 3, "c": 3.0},
    ]
    assert lake.compact("prices") == {"prices": (3, 2)}
    pd.testing.assert_frame_equal(lake.read(query), before)
    assert lake.append("prices", _prices(["2024-01-03"])) == 0  # dedupe reads the compacted file

    weekly = pd.DataFrame({c: [None] for c in lake.read("SELECT * FROM weekly").columns if c != "symbol"})
    weekly["scope"], weekly["week_start"], weekly["close"] = "all", pd.Timestamp("2024-01-01", tz="UTC"), 1.0
    weekly.insert(0, "symbol", "VIRTUAL/USDT")
    lake.replace("weekly", weekly)
    lake.replace("weekly", weekly.assign(close=2.0))
    assert lake.read("SELECT close FROM weekly")["close"].tolist() == [2.0]
    assert lake.key_path.parent == tmp_path  # the pseudonymisation key never goes to the bucket


def test_cli_takes_an_s3_lake_uri(s3_lake: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--lake s3://... reaches the lake as a URI (not a collapsed Path); query writes Parquet locally."""
    assert load_settings(lake=s3_lake).lake == s3_lake
    assert load_settings(lake="data/lake").lake == Path("data/lake")
    Lake(s3_lake).append("prices", _prices(["2024-01-01", "2024-01-02"]))
    out = tmp_path / "p.parquet"
    code = run_cli(["--lake", s3_lake, "query", "SELECT * FROM prices", "--format", "parquet", "--out", str(out)])
    assert code == 0
    assert len(pd.read_parquet(out)) == 2
    assert run_cli(["--lake", s3_lake, "query", "SELECT count(*) AS n FROM prices", "--format", "json"]) == 0
    assert '"n":2' in capsys.readouterr().out

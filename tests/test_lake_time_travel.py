"""Time travel: a past query answered again with --as-of (a version or a time), and a report rebuilt from the versions
its metrics.json recorded is identical in every number after new data arrived."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentiment import schemas
from sentiment.cli import run_cli
from sentiment.errors import LakeError
from sentiment.lake import Lake, parse_as_of


def _prices(days: pd.DatetimeIndex, close: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "exchange": "gate",
            "symbol": "VIRTUAL/USDT",
            "timeframe": "1d",
            "ts": days,
            "open": close,
            "high": close,
            "low": close,
            "close": close,
            "volume": 10.0,
            "fetched_at": pd.Timestamp("2024-06-01", tz="UTC"),
        }
    )


SQL = "SELECT count(*) AS n, sum(close) AS total FROM prices"


def test_as_of_version_and_time_reproduce_a_past_query(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lake = Lake(tmp_path)
    lake.append("prices", _prices(pd.date_range("2024-01-01", periods=10, tz="UTC"), 1.0))
    past, version = lake.read(SQL), lake.version("prices")
    time.sleep(0.05)
    moment = pd.Timestamp.now(tz="UTC")
    time.sleep(0.05)
    lake.append("prices", _prices(pd.date_range("2024-01-11", periods=5, tz="UTC"), 2.0))
    lake.compact("prices")  # a compaction keeps the recent versions readable (default retention: a week)
    assert lake.read(SQL).iloc[0].tolist() == [15, 20.0]
    pd.testing.assert_frame_equal(lake.read(SQL, as_of=version), past)
    pd.testing.assert_frame_equal(lake.read(SQL, as_of=moment.to_pydatetime()), past)
    pd.testing.assert_frame_equal(lake.read(SQL, as_of={"prices": version}), past)

    for as_of in (str(version), moment.isoformat(), f"prices={version}"):
        assert run_cli(["--lake", str(tmp_path), "query", SQL, "--format", "json", "--as-of", as_of]) == 0
        assert json.loads(capsys.readouterr().out) == [{"n": 10, "total": 10.0}]
    before_any = (pd.Timestamp("2000-01-01", tz="UTC")).isoformat()
    assert run_cli(["--lake", str(tmp_path), "query", SQL, "--format", "json", "--as-of", before_any]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 0, "total": None}]  # the table did not exist yet
    with pytest.raises(LakeError, match="no version 99"):
        lake.read(SQL, as_of=99)
    assert run_cli(["--lake", str(tmp_path), "query", SQL, "--as-of", "prices=x"]) == 1


def test_parse_as_of_reads_a_reports_recorded_versions(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"table_versions": {"weekly": 3, "messages": 1, "scores": None}}))
    assert parse_as_of(str(metrics)) == {"weekly": 3, "messages": 1, "scores": None}
    assert parse_as_of("7") == 7
    assert parse_as_of("2024-06-01T12:00:00").isoformat() == "2024-06-01T12:00:00+00:00"


def _weekly(weeks: int, seed: int) -> pd.DataFrame:
    """A symbol's weekly table: random community features and returns (nothing to find, but numbers to compare)."""
    rng = np.random.default_rng(seed)
    frame = schemas.empty_frame("weekly").reindex(range(weeks))
    for col in schemas.TABLES["weekly"]:
        if col.type == "int64" or str(col.type) == "int64":
            frame[col.name] = rng.integers(1, 100, weeks)
        elif str(col.type) == "double":
            frame[col.name] = rng.normal(0, 1, weeks)
    frame["symbol"] = "VIRTUAL/USDT"
    frame["scope"] = "all"
    frame["week_start"] = pd.date_range("2023-01-02", periods=weeks, freq="7D", tz="UTC")
    frame["n_days"] = 7
    frame["spike_flag"] = False
    return frame


def _messages(ids: range) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "platform": "telegram",
            "chat_id": "-1001",
            "chat_name": "VIRTUAL",
            "message_id": [str(i) for i in ids],
            "ts": pd.Timestamp("2023-01-03", tz="UTC") + pd.to_timedelta(list(ids), unit="h"),
            "author_id": "a" * 16,
            "author_name": None,
            "kind": "message",
            "join_method": None,
            "inviter_id": None,
            "media_type": None,
            "text": "gm",
            "reply_to": None,
            "is_forward": False,
            "reactions": None,
            "edited": False,
            "source_file": "result.json",
            "source_record": list(ids),
            "ingested_at": pd.Timestamp("2024-06-01", tz="UTC"),
        }
    )


def _numbers(metrics: Path) -> dict[str, object]:
    data = json.loads(metrics.read_text(encoding="utf-8"))
    data.pop("generated_at")
    return data


def test_a_report_rebuilt_as_of_its_versions_is_identical_after_new_data(tmp_path: Path) -> None:
    lake_dir, reports = tmp_path / "lake", tmp_path / "reports"
    lake = Lake(lake_dir)
    lake.append("messages", _messages(range(200)))
    lake.replace("weekly", _weekly(60, seed=1))
    config = tmp_path / "sentiment.toml"
    config.write_text("n_boot = 200\n")  # the bootstrap's seed is fixed; fewer resamples keep the test fast
    base = ["--lake", str(lake_dir), "--reports", str(reports), "--config", str(config)]
    first = tmp_path / "first"
    assert run_cli([*base, "report", "--symbol", "VIRTUAL/USDT", "--out", str(first)]) == 0
    recorded = json.loads((first / "metrics.json").read_text())["table_versions"]
    assert recorded == {"weekly": lake.version("weekly"), "messages": lake.version("messages"), "scores": None}

    lake.append("messages", _messages(range(200, 260)))  # new data arrives: more messages, a rebuilt weekly table
    lake.replace("weekly", _weekly(64, seed=2))
    now = tmp_path / "now"
    assert run_cli([*base, "report", "--symbol", "VIRTUAL/USDT", "--out", str(now)]) == 0
    assert _numbers(now / "metrics.json") != _numbers(first / "metrics.json")

    again = tmp_path / "again"
    as_of = str(first / "metrics.json")
    assert run_cli([*base, "report", "--symbol", "VIRTUAL/USDT", "--as-of", as_of, "--out", str(again)]) == 0
    assert _numbers(again / "metrics.json") == _numbers(first / "metrics.json")
    assert (again / "metrics.json").read_text().count("\n") == (first / "metrics.json").read_text().count("\n")

"""The CLI contract: command names, exit codes, one-line errors, output formats."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sentiment.cli import run_cli
from sentiment.lake import Lake

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _seed_prices(lake: Path) -> None:
    days = pd.date_range("2024-01-01", periods=3, tz="UTC")
    Lake(lake).append(
        "prices",
        pd.DataFrame(
            {
                "exchange": "gate",
                "symbol": "VIRTUAL/USDT",
                "timeframe": "1d",
                "ts": days,
                "open": 1.0,
                "high": 2.0,
                "low": 0.5,
                "close": [1.0, 1.5, 1.25],
                "volume": 3.0,
                "fetched_at": pd.Timestamp("2024-02-01", tz="UTC"),
            }
        ),
    )


def test_query_csv_has_a_header_then_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """query --format csv prints a header line, then one line per row."""
    _seed_prices(tmp_path)
    code = run_cli(
        ["--lake", str(tmp_path), "query", "SELECT symbol, close FROM prices ORDER BY ts", "--format", "csv"]
    )
    assert code == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [
        ["symbol", "close"],
        ["VIRTUAL/USDT", "1.0"],
        ["VIRTUAL/USDT", "1.5"],
        ["VIRTUAL/USDT", "1.25"],
    ]


def test_query_json_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """query --format json prints records; the default table format ends with the row count."""
    _seed_prices(tmp_path)
    assert run_cli(["--lake", str(tmp_path), "query", "SELECT close FROM prices ORDER BY ts", "--format", "json"]) == 0
    assert [r["close"] for r in json.loads(capsys.readouterr().out)] == [1.0, 1.5, 1.25]
    assert run_cli(["--lake", str(tmp_path), "query", "SELECT count(*) AS n FROM prices"]) == 0
    assert "1 rows" in capsys.readouterr().out


def test_query_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Bad SQL exits 1 with a single 'error:' line and no traceback."""
    assert run_cli(["--lake", str(tmp_path), "query", "SELECT nope FROM prices"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "Traceback" not in err and len(err.splitlines()) == 1


def test_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    """An unsupported --format exits 2 (usage)."""
    assert run_cli(["--lake", str(tmp_path), "query", "SELECT 1", "--format", "xml"]) == 2


def test_score_text_reads_stdin_lines(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """score-text prints one JSON object per input line with compound, label and lang."""
    lines = "this is great news\n要涨了\nterrible scam\n안녕하세요 여러분\n"
    lines += "harga naik terus, mantap banget\n\nterrible scam\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    assert run_cli(["score-text"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in rows] == lines.splitlines()  # one row per line, in order, repeats included
    assert [r["label"] for r in rows] == ["bullish", "bullish", "bearish", "unscored", "bullish", "unscored", "bearish"]
    assert [r["lang"] for r in rows] == ["en", "zh", "en", "ko", "id", "und", "en"]
    assert rows[3]["compound"] is None and rows[0]["compound"] > 0 and rows[0]["scorer"] == "hybrid"


def test_truncated_export_fails_cleanly_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A truncated Telegram export exits 1 naming the file and line; the lake stays empty."""
    good = (FIXTURES / "chats" / "telegram_single_chat.json").read_text(encoding="utf-8")
    bad = tmp_path / "truncated.json"
    bad.write_text(good[: len(good) // 2], encoding="utf-8")
    lake = tmp_path / "lake"
    code = run_cli(["--lake", str(lake), "ingest-chat", str(bad), "--tz", "UTC"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1].startswith(f"error: {bad}:") and "Traceback" not in "\n".join(err)
    assert Lake(lake).files("messages") == []


def test_one_bad_file_among_good_ones_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every file parses before anything is written: a bad second file leaves the lake untouched."""
    bad = tmp_path / "b.json"
    bad.write_text('{"name": "x", "messages": [', encoding="utf-8")
    lake = tmp_path / "lake"
    code = run_cli(
        [
            "--lake",
            str(lake),
            "ingest-chat",
            str(FIXTURES / "chats" / "telegram_single_chat.json"),
            str(bad),
            "--tz",
            "UTC",
        ]
    )
    assert code == 1
    assert Lake(lake).files("messages") == []


def test_ingest_twice_adds_nothing_and_never_stores_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Re-ingesting the same export adds 0 rows; no display name reaches Parquet by default."""
    lake = tmp_path / "lake"
    src = FIXTURES / "chats" / "telegram_single_chat.json"
    assert run_cli(["--lake", str(lake), "ingest-chat", str(src), "--tz", "UTC"]) == 0
    first = Lake(lake).count("messages")
    assert first > 0
    assert run_cli(["--lake", str(lake), "ingest-chat", str(src), "--tz", "UTC"]) == 0
    assert Lake(lake).count("messages") == first
    names = {m.get("from") for m in json.loads(src.read_text(encoding="utf-8"))["messages"]} - {None}
    blob = b"".join(p.read_bytes() for p in Path(lake).rglob("*.parquet"))
    assert names and not any(name.encode() in blob for name in names)


def test_missing_path_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path that does not exist is named in the error."""
    assert run_cli(["--lake", str(tmp_path), "ingest-chat", str(tmp_path / "nope.json")]) == 1
    assert "nope.json" in capsys.readouterr().err


def test_query_parquet_needs_out_and_writes_a_file(tmp_path: Path) -> None:
    """--format parquet without --out is a usage error; with --out the rows land in a Parquet file."""
    _seed_prices(tmp_path)
    assert run_cli(["--lake", str(tmp_path), "query", "SELECT * FROM prices", "--format", "parquet"]) == 2
    out = tmp_path / "out.parquet"
    sql = "SELECT ts, close FROM prices ORDER BY ts;"
    assert run_cli(["--lake", str(tmp_path), "query", sql, "--format", "parquet", "--out", str(out)]) == 0
    assert pd.read_parquet(out)["close"].tolist() == [1.0, 1.5, 1.25]


def test_compact_command_reports_files_before_and_after(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """sentiment compact --table prices merges the partition's files and records a run."""
    _seed_prices(tmp_path)
    _seed_prices(tmp_path)  # nothing new: still one file
    later = Lake(tmp_path).read("SELECT * FROM prices").head(1).assign(ts=pd.Timestamp("2024-02-01", tz="UTC"))
    Lake(tmp_path).append("prices", later)
    assert run_cli(["--lake", str(tmp_path), "compact", "--table", "prices"]) == 0
    assert "prices: 2 files -> 1" in capsys.readouterr().out
    runs = Lake(tmp_path).read("SELECT step, status FROM runs")
    assert runs.to_dict("records") == [{"step": "compact", "status": "ok"}]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--bogus"], "No such option: --bogus"),
        (["query"], "Missing argument"),
        (["nosuchcmd"], "No such command"),
        (["ingest-chat", "--platform"], "requires an argument"),
    ],
)
def test_usage_errors_through_the_installed_script(args: list[str], message: str) -> None:
    """The console script (typer vendors click: its errors are not click's) prints click's usage message and
    exits 2 on a usage mistake, never a traceback."""
    script = Path(sys.executable).parent / "sentiment"
    result = subprocess.run([str(script), *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr and "Error: " in result.stderr
    assert "Traceback" not in result.stderr + result.stdout

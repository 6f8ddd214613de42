"""read_candles_csv and `sentiment import-prices`: formats accepted, rows refused with file and line, idempotence."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sentiment.cli import run_cli
from sentiment.errors import ConfigError, ParseError
from sentiment.lake import Lake
from sentiment.prices.candles_csv import read_candles_csv
from sentiment.schemas import conform

NOW = pd.Timestamp("2024-04-01", tz="UTC")
HEADER = "date,open,high,low,close,volume\n"


def write(tmp_path: Path, text: str, name: str = "candles.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def read(path: Path, timeframe: str = "1d") -> pd.DataFrame:
    return read_candles_csv(path, exchange="mine", symbol="VIRTUAL/USDT", timeframe=timeframe, fetched_at=NOW)


def test_reads_iso_dates_unix_seconds_and_milliseconds(tmp_path: Path) -> None:
    """It takes ISO dates, ISO datetimes with offsets, unix seconds and unix milliseconds, all to UTC."""
    path = write(
        tmp_path,
        "Timestamp,Open,High,Low,Close,Volume,extra\n"
        "2024-03-01,1,2,0.5,1.5,10,x\n"
        "2024-03-02T08:00:00+08:00,1.5,2,1,1.2,11,y\n"
        "1709424000,1.2,1.3,1.1,1.25,0,z\n"
        "1709510400000,1.25,1.4,1.2,1.3,5.5,w\n",
    )
    prices = read(path)
    assert prices["ts"].dt.strftime("%Y-%m-%d %H:%M").tolist() == [
        "2024-03-01 00:00",
        "2024-03-02 00:00",
        "2024-03-03 00:00",
        "2024-03-04 00:00",
    ]
    assert prices["close"].tolist() == [1.5, 1.2, 1.25, 1.3]
    assert set(prices["exchange"]) == {"mine"} and set(prices["timeframe"]) == {"1d"}
    conform(prices, "prices")


@pytest.mark.parametrize(
    ("rows", "line", "reason"),
    [
        ("2024-03-01,1,2,0.5,1.5,10\n2024-03-02,1,0.9,0.5,0.8,10\n", 3, "inconsistent candle"),
        ("2024-03-01,1,2,0.5,1.5,10\n2024-03-01,1,2,0.5,1.5,10\n", 3, "does not come after"),
        ("2024-03-02,1,2,0.5,1.5,10\n2024-03-01,1,2,0.5,1.5,10\n", 3, "does not come after"),
        ("2024-03-01,1,2,0.5,1.5,10\n2024-03-01T06:00,1,2,0.5,1.5,10\n", 3, "less than one timeframe"),
        ("03/01/2024,1,2,0.5,1.5,10\n", 2, "neither ISO 8601"),
        ("2024-03-01,1,2,abc,1.5,10\n", 2, "low 'abc' is not a number"),
        ("2024-03-01,1,2,0.5,1.5,-1\n", 2, "volume -1.0 is negative"),
        ("2024-03-01,1,2,0.5,nan,1\n", 2, "not a finite number"),
        ("2024-03-01,1,2,0.5,1.5\n", 2, "expected 6 fields, found 5"),
        ("", 1, "no candle rows"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, rows: str, line: int, reason: str) -> None:
    """It refuses the first bad row with a ParseError carrying the file and its line number."""
    path = write(tmp_path, HEADER + rows)
    with pytest.raises(ParseError, match=reason) as caught:
        read(path)
    assert (caught.value.path, caught.value.line) == (str(path), line)
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_header_problems_are_line_1(tmp_path: Path) -> None:
    """It names the missing columns, and refuses an empty file or an unknown timeframe."""
    with pytest.raises(ParseError, match=r"lacks column\(s\) ts \(or timestamp, date\), volume") as caught:
        read(write(tmp_path, "day,open,high,low,close\n2024-03-01,1,2,0.5,1.5\n"))
    assert caught.value.line == 1
    with pytest.raises(ParseError, match="empty file"):
        read(write(tmp_path, "", "empty.csv"))
    with pytest.raises(ConfigError, match="no fixed length"):
        read(write(tmp_path, HEADER + "2024-03-01,1,2,0.5,1.5,10\n", "ok.csv"), timeframe="1M")


def test_cli_import_prices_is_idempotent_and_reports_gaps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It stores the candles once (a re-import adds 0), prints the gap and never fills it."""
    path = write(
        tmp_path, HEADER + "2024-03-01,1,2,0.5,1.5,10\n2024-03-02,1.5,2,1,1.2,11\n2024-03-05,1.2,1.3,1.1,1.25,3\n"
    )
    args = [
        "--lake",
        str(tmp_path / "lake"),
        "import-prices",
        str(path),
        "--exchange",
        "mine",
        "--symbol",
        "VIRTUAL/USDT",
        "--timeframe",
        "1d",
    ]
    assert run_cli(args) == 0
    first = capsys.readouterr().out
    assert run_cli(args) == 0
    second = capsys.readouterr().out
    assert "mine VIRTUAL/USDT 1d: 3 candles read, 3 new" in first
    assert "mine VIRTUAL/USDT 1d: 3 candles read, 0 new" in second
    assert "mine VIRTUAL/USDT 1d: 1 gap: 2024-03-03..2024-03-04 (2 missing)" in second
    assert Lake(tmp_path / "lake").count("prices") == 3


def test_cli_import_prices_bad_row_exits_1_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It prints one error line naming file:line and stores none of the file's rows."""
    path = write(tmp_path, HEADER + "2024-03-01,1,2,0.5,1.5,10\n2024-03-02,1,2,1.1,1.5,10\n")
    code = run_cli(
        ["--lake", str(tmp_path / "lake"), "import-prices", str(path), "--exchange", "mine", "--symbol", "X/USDT"]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith(f"error: {path}:3: inconsistent candle") and len(err.strip().splitlines()) == 1
    assert Lake(tmp_path / "lake").count("prices") == 0

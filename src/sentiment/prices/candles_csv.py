"""Read a user's own OHLCV candles from a CSV file into the "prices" table, validating every row."""

from __future__ import annotations

import csv
import math
import re
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from sentiment.errors import AnalysisError, ConfigError, EncodingError, InputError, ParseError
from sentiment.prices.weekly import timeframe_to_timedelta
from sentiment.schemas import TABLES

__all__ = ["TS_COLUMNS", "VALUE_COLUMNS", "read_candles_csv"]

# The candle open time may be headed by any one of these (case-insensitive).
TS_COLUMNS = ("ts", "timestamp", "date")
VALUE_COLUMNS = ("open", "high", "low", "close", "volume")
# A unix number below this is seconds (it would be the year 5138 in seconds), above it milliseconds.
MS_THRESHOLD = 100_000_000_000
_NUMBER = re.compile(r"^\d+(\.\d+)?$")
PRICE_COLUMNS = [c.name for c in TABLES["prices"]]


def read_candles_csv(
    path: Path, *, exchange: str, symbol: str, timeframe: str, fetched_at: pd.Timestamp
) -> pd.DataFrame:
    """Every candle in ``path`` as the "prices" table, or ParseError naming the file and line of the first bad row.

    The header names a time column (ts, timestamp or date: ISO 8601 dates/datetimes, UTC unless they carry an
    offset, or unix seconds/milliseconds) and open, high, low, close, volume; other columns are ignored. Rows
    must be consistent (low <= open, close <= high; prices > 0; volume >= 0) and in strictly increasing time
    at least one timeframe apart. Nothing is filled in for missing candles.
    """
    try:
        step = timeframe_to_timedelta(timeframe)
    except AnalysisError as exc:
        raise ConfigError(str(exc)) from exc
    if not exchange or not symbol:
        raise ConfigError("import-prices needs an exchange name and a symbol")
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as handle:
            rows, ts = _read_rows(path, csv.reader(handle), step)
    except UnicodeDecodeError as exc:
        raise EncodingError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise InputError(path, exc.strerror or str(exc)) from exc
    frame = pd.DataFrame(rows, columns=list(VALUE_COLUMNS), dtype="float64")
    frame.insert(0, "ts", pd.Series(ts, dtype="datetime64[us, UTC]"))
    frame.insert(0, "timeframe", timeframe)
    frame.insert(0, "symbol", symbol)
    frame.insert(0, "exchange", exchange)
    frame["fetched_at"] = pd.Series([fetched_at] * len(frame), dtype="datetime64[us, UTC]")
    return frame[PRICE_COLUMNS]


def _read_rows(path: Path, reader: csv.Reader, step: pd.Timedelta) -> tuple[list[list[float]], list[pd.Timestamp]]:
    header = next(reader, None)
    if header is None:
        raise ParseError(path, "empty file: expected a header with ts, open, high, low, close, volume", 1)
    names = [h.strip().lower() for h in header]
    time_cols = [c for c in TS_COLUMNS if c in names]
    missing = [c for c in VALUE_COLUMNS if c not in names]
    if not time_cols or missing:
        need = ([] if time_cols else ["ts (or timestamp, date)"]) + missing
        raise ParseError(path, f"header lacks column(s) {', '.join(need)}; found {', '.join(names)}", 1)
    if len(time_cols) > 1:
        raise ParseError(path, f"several time columns ({', '.join(time_cols)}): keep one", 1)
    ts_at = names.index(time_cols[0])
    value_at = [names.index(c) for c in VALUE_COLUMNS]
    rows: list[list[float]] = []
    stamps: list[pd.Timestamp] = []
    for record in reader:
        line = reader.line_num
        if not any(field.strip() for field in record):
            continue
        if len(record) != len(header):
            raise ParseError(path, f"expected {len(header)} fields, found {len(record)}", line)
        ts = _timestamp(path, line, record[ts_at].strip())
        values = [_number(path, line, name, record[i]) for name, i in zip(VALUE_COLUMNS, value_at, strict=True)]
        _check_candle(path, line, *values)
        if stamps and ts <= stamps[-1]:
            raise ParseError(
                path,
                f"time {ts.isoformat()} does not come after the previous row's "
                f"{stamps[-1].isoformat()} (rows must be sorted, each time once)",
                line,
            )
        if stamps and ts - stamps[-1] < step:
            raise ParseError(path, f"time {ts.isoformat()} is less than one timeframe after the previous row", line)
        stamps.append(ts)
        rows.append(values)
    if not rows:
        raise ParseError(path, "no candle rows after the header", reader.line_num)
    return rows, stamps


def _timestamp(path: Path, line: int, raw: str) -> pd.Timestamp:
    if _NUMBER.match(raw):
        value = float(raw)
        seconds = value / 1000 if value >= MS_THRESHOLD else value
        return pd.Timestamp(datetime.fromtimestamp(seconds, tz=UTC))
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise ParseError(path, f"time {raw!r} is neither ISO 8601 nor unix seconds/milliseconds", line) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return pd.Timestamp(parsed).tz_convert("UTC")


def _number(path: Path, line: int, name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ParseError(path, f"{name} {raw.strip()!r} is not a number", line) from None
    if not math.isfinite(value):
        raise ParseError(path, f"{name} {raw.strip()!r} is not a finite number", line)
    return value


def _check_candle(path: Path, line: int, open_: float, high: float, low: float, close: float, volume: float) -> None:
    if min(open_, high, low, close) <= 0:
        raise ParseError(path, "prices must be positive", line)
    if volume < 0:
        raise ParseError(path, f"volume {volume} is negative", line)
    if not low <= min(open_, close) <= max(open_, close) <= high:
        raise ParseError(
            path,
            f"inconsistent candle: need low <= open, close <= high, got open {open_} high {high} "
            f"low {low} close {close}",
            line,
        )

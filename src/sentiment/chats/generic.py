"""Read any CSV or JSON-lines chat log into the raw chat-record frame through a --map column mapping."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment.chats.records import name_chat_id, raw_frame
from sentiment.chats.textio import ContentKeys, decode_utf8
from sentiment.errors import ConfigError, ParseError

__all__ = ["MAP_FIELDS", "parse_column_map", "read_generic_csv", "read_generic_jsonl"]

PLATFORM = "generic"
MAP_FIELDS = ("ts", "author", "text", "id", "chat")
_REQUIRED = ("ts", "author", "text")


def parse_column_map(spec: str | Mapping[str, str] | None) -> dict[str, str]:
    """``ts=col,author=col,text=col[,id=col,chat=col]`` as a dict; ConfigError on unknown or missing fields."""
    if spec is None or spec == "":
        raise ConfigError("generic CSV/JSONL needs --map ts=COLUMN,author=COLUMN,text=COLUMN[,id=...,chat=...]")
    if isinstance(spec, Mapping):
        pairs = dict(spec)
    else:
        pairs = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            field, sep, column = part.partition("=")
            if not sep or not column.strip():
                raise ConfigError(f"--map entry {part!r} is not FIELD=COLUMN")
            pairs[field.strip()] = column.strip()
    unknown = sorted(set(pairs) - set(MAP_FIELDS))
    if unknown:
        raise ConfigError(f"--map: unknown field(s) {', '.join(unknown)}; use {', '.join(MAP_FIELDS)}")
    missing = [f for f in _REQUIRED if f not in pairs]
    if missing:
        raise ConfigError(f"--map: missing {', '.join(missing)} (ts, author and text are required)")
    return pairs


def read_generic_csv(path: Path, tz: tzinfo, column_map: str | Mapping[str, str] | None) -> pd.DataFrame:
    """All rows of a CSV chat log (header row first); columns are found through ``column_map``."""
    path = Path(path)
    mapping = parse_column_map(column_map)
    text = decode_utf8(path, path.read_bytes(), "UTF-8")
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise ParseError(path, f"malformed CSV header: {exc}", line=1) from exc
    absent = [c for c in mapping.values() if c not in header]
    if absent:
        raise ParseError(path, f"--map names column(s) {', '.join(absent)} not in the header {header}", line=1)

    def records() -> Iterator[tuple[int, Mapping[str, Any]]]:
        start = 2
        try:
            for rec in reader:
                if None in rec or any(v is None for v in rec.values()):
                    raise ParseError(
                        path, f"record has {len(header)} columns in the header but not in this row", line=start
                    )
                yield start, rec
                start = reader.line_num + 1
        except csv.Error as exc:
            raise ParseError(path, f"malformed CSV: {exc}", line=start) from exc

    return _frame(path, records(), mapping, tz)


def read_generic_jsonl(path: Path, tz: tzinfo, column_map: str | Mapping[str, str] | None) -> pd.DataFrame:
    """All objects of a JSON-lines chat log; ``column_map`` names keys (dotted paths reach nested ones)."""
    path = Path(path)
    mapping = parse_column_map(column_map)
    text = decode_utf8(path, path.read_bytes(), "UTF-8")

    def records() -> Iterator[tuple[int, Mapping[str, Any]]]:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ParseError(path, f"invalid JSON at column {exc.colno}: {exc.msg}", line=number) from exc
            if not isinstance(obj, dict):
                raise ParseError(path, "line is not a JSON object", line=number)
            yield number, {column: _dig(obj, column) for column in mapping.values()}

    return _frame(path, records(), mapping, tz)


def _dig(obj: Mapping[str, Any], column: str) -> Any:
    if column in obj:
        return obj[column]
    value: Any = obj
    for part in column.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _seconds(value: Any, tz: tzinfo) -> int:
    """Unix seconds (or milliseconds) as is; ISO strings with an offset as is, without one read in ``tz``."""
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError("empty")
    if isinstance(value, int | float) or str(value).replace(".", "", 1).isdigit():
        number = float(value)
        return int(number / 1000 if number > 1e11 else number)
    stamp = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    return int((stamp if stamp.tzinfo else stamp.replace(tzinfo=tz)).timestamp())


def _frame(
    path: Path, records: Iterator[tuple[int, Mapping[str, Any]]], mapping: Mapping[str, str], tz: tzinfo
) -> pd.DataFrame:
    default_chat = path.stem
    keys = ContentKeys("g:")
    rows: list[dict[str, Any]] = []
    for line, rec in records:
        raw_ts = rec.get(mapping["ts"])
        try:
            ts = _seconds(raw_ts, tz)
        except (TypeError, ValueError) as exc:
            raise ParseError(path, f"unreadable {mapping['ts']} value {raw_ts!r}", line=line) from exc
        author = rec.get(mapping["author"])
        text = rec.get(mapping["text"])
        chat = rec.get(mapping["chat"]) if "chat" in mapping else None
        chat_name = str(chat) if chat not in (None, "") else default_chat
        ident = rec.get(mapping["id"]) if "id" in mapping else None
        author_s = None if author in (None, "") else str(author)
        text_s = None if text in (None, "") else str(text)
        rows.append(
            {
                "platform": PLATFORM,
                "chat_id": chat_name if chat not in (None, "") else name_chat_id(default_chat),
                "chat_name": chat_name,
                "message_id": str(ident)
                if ident not in (None, "")
                else keys(str(raw_ts), author_s or "", text_s or ""),
                "ts": ts,
                "author_key": author_s,
                "author_name": author_s,
                "kind": "message",
                "text": text_s,
                "source_file": path.name,
                "source_record": line,
            }
        )
    return raw_frame(rows)

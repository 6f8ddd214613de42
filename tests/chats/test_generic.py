"""Tests for the generic CSV / JSON-lines reader and its --map column mapping."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from sentiment.chats.detect import detect_format, read_chat_export
from sentiment.chats.generic import parse_column_map, read_generic_csv, read_generic_jsonl
from sentiment.chats.records import RAW_COLUMNS
from sentiment.errors import ConfigError, ParseError, UnknownFormatError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chats"
CSV_MAP = "ts=sent_at,author=user,text=body,id=msg_id,chat=room"
JSONL_MAP = "ts=time,author=from.name,text=message"


def test_parse_column_map() -> None:
    """It parses FIELD=COLUMN pairs and rejects unknown or missing fields."""
    assert parse_column_map(" ts=a , author=b,text=c ") == {"ts": "a", "author": "b", "text": "c"}
    for bad in ("ts=a,author=b", "ts=a,author=b,text=c,mood=d", "ts", None):
        with pytest.raises(ConfigError):
            parse_column_map(bad)


def test_csv_with_id_and_chat_columns() -> None:
    """It maps the columns, keeps ids, reads ISO offsets as is, naive times in tz, and unix seconds."""
    frame = read_generic_csv(FIXTURES / "generic_chat.csv", ZoneInfo("Europe/Berlin"), CSV_MAP)
    assert tuple(frame.columns) == RAW_COLUMNS
    assert frame["message_id"].tolist() == ["1", "2", "3"]
    assert frame["chat_id"].tolist() == ["alpha", "alpha", "beta"]
    assert frame["ts"].tolist() == [
        pd.Timestamp("2024-03-01 10:00", tz="UTC"),
        pd.Timestamp("2024-03-01 11:30", tz="UTC"),
        pd.Timestamp(1709300000, unit="s", tz="UTC"),
    ]
    assert frame["text"].iloc[1] == "wen moon, ser"
    assert frame["text"].iloc[2].splitlines() == ["line one", "line two"]
    assert set(frame["platform"]) == {"generic"} and set(frame["kind"]) == {"message"}


def test_jsonl_nested_keys_and_content_hash_ids() -> None:
    """It reads dotted keys and milliseconds; without an id column repeats get distinct, stable hash ids."""
    frame = read_generic_jsonl(FIXTURES / "generic_chat.jsonl", UTC, JSONL_MAP)
    assert frame["author_key"].tolist() == ["alice", "bob", "alice"]
    assert frame["ts"].iloc[1] == pd.Timestamp("2024-03-01 11:00", tz="UTC")
    assert frame["source_record"].tolist() == [1, 2, 4]
    ids = frame["message_id"].tolist()
    assert len(set(ids)) == 3
    assert read_generic_jsonl(FIXTURES / "generic_chat.jsonl", UTC, JSONL_MAP)["message_id"].tolist() == ids


def test_detected_only_with_a_map() -> None:
    """It detects generic CSV/JSONL from the content when --map is given, and names the format otherwise."""
    assert detect_format(FIXTURES / "generic_chat.csv", CSV_MAP) == "generic_csv"
    assert detect_format(FIXTURES / "generic_chat.jsonl", JSONL_MAP) == "generic_jsonl"
    with pytest.raises(UnknownFormatError, match="generic_csv"):
        detect_format(FIXTURES / "generic_chat.csv")
    fmt, frame = read_chat_export(FIXTURES / "generic_chat.jsonl", "generic", UTC, JSONL_MAP)
    assert fmt == "generic_jsonl" and len(frame) == 3
    with pytest.raises(ConfigError, match="--map"):
        read_chat_export(FIXTURES / "generic_chat.csv", "generic_csv", UTC)


def test_errors(tmp_path: Path) -> None:
    """It names the line of an unreadable time, a broken JSON line, and a mapped column the header lacks."""
    bad = tmp_path / "c.csv"
    bad.write_text("sent_at,user,body\n2024-03-01T10:00:00Z,a,x\nlater,b,y\n", encoding="utf-8")
    with pytest.raises(ParseError) as info:
        read_generic_csv(bad, UTC, "ts=sent_at,author=user,text=body")
    assert info.value.line == 3
    with pytest.raises(ParseError) as info:
        read_generic_csv(bad, UTC, "ts=sent_at,author=nick,text=body")
    assert info.value.line == 1
    broken = tmp_path / "j.jsonl"
    broken.write_text('{"time": 1, "from": {"name": "a"}, "message": "x"}\n{"time": 2, "from"\n', encoding="utf-8")
    with pytest.raises(ParseError) as info:
        read_generic_jsonl(broken, UTC, JSONL_MAP)
    assert info.value.line == 2

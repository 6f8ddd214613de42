"""Tests for the raw chat-record frame constructor and the package's public names."""

from __future__ import annotations

import pandas as pd

import sentiment.chats
from sentiment.chats.records import RAW_COLUMNS, name_chat_id, raw_frame


def test_public_api() -> None:
    """It exports exactly the readers, the dispatcher and the column list."""
    assert sorted(sentiment.chats.__all__) == [
        "FORMATS", "RAW_COLUMNS", "detect_format", "read_chat_export", "read_memotrace_csv",
        "read_telegram_export",
    ]  # fmt: skip


def test_empty_frame_is_typed() -> None:
    """It gives an empty frame the same columns and dtypes as a full one."""
    frame = raw_frame([])
    assert tuple(frame.columns) == RAW_COLUMNS
    assert str(frame["ts"].dtype) == "datetime64[us, UTC]"
    assert frame["is_forward"].dtype == bool and frame["source_record"].dtype == "int64"


def test_absent_keys_become_null_and_flags_false() -> None:
    """It fills absent keys with nulls (flags with False) and converts unix seconds to UTC."""
    frame = raw_frame(
        [
            {
                "platform": "telegram",
                "chat_id": "1",
                "message_id": "7",
                "ts": 1709546400,
                "kind": "message",
                "source_record": 1,
            }
        ]
    )
    row = frame.iloc[0]
    assert row["ts"] == pd.Timestamp("2024-03-04T10:00:00", tz="UTC")
    assert pd.isna(row["author_key"]) and pd.isna(row["reactions"])
    assert not row["is_forward"] and not row["edited"]
    assert frame["join_method"].dtype == frame["platform"].dtype


def test_name_chat_id_is_stable() -> None:
    """It derives the same prefixed id from the same chat name, and different ids from different names."""
    assert name_chat_id("币圈") == name_chat_id("币圈")
    assert name_chat_id("币圈").startswith("h:")
    assert name_chat_id("币圈") != name_chat_id("币圈2")

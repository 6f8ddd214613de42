"""Tests for the Telegram Desktop JSON reader."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from sentiment.chats.records import RAW_COLUMNS
from sentiment.chats.telegram import read_telegram_export
from sentiment.errors import EncodingError, ParseError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chats"
SINGLE = FIXTURES / "telegram_single_chat.json"
FULL = FIXTURES / "telegram_full_account.json"
SAMPLES = Path(__file__).parents[2] / ".." / "shared" / "samples" / "chat" / "telegram"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def single() -> pd.DataFrame:
    return read_telegram_export(SINGLE, SHANGHAI).set_index("message_id")


def test_columns_and_types(single: pd.DataFrame) -> None:
    """It returns exactly the raw columns, with UTC timestamps and string ids."""
    frame = read_telegram_export(SINGLE, SHANGHAI)
    assert tuple(frame.columns) == RAW_COLUMNS
    assert str(frame["ts"].dtype) == "datetime64[us, UTC]"
    assert set(frame["platform"]) == {"telegram"}
    assert set(frame["chat_id"]) == {"2100000001"}
    assert set(frame["chat_name"]) == {"VIRTUAL Holders"}
    assert set(frame["source_file"]) == {"telegram_single_chat.json"}


def test_text_string_and_entity_list(single: pd.DataFrame) -> None:
    """It keeps plain-string text and joins the pieces of entity-list text."""
    assert single.loc["102", "text"] == "gm holders, we are so early"
    assert single.loc["103", "text"] == "check $VIRTUAL on https://www.gate.io 🚀"
    assert single.loc["103", "author_key"] == "user1002"
    assert single.loc["103", "author_name"] == "Ape Alice"


def test_self_join_via_invite_members(single: pd.DataFrame) -> None:
    """It maps invite_members whose actor is the member to a self join keyed by the actor id."""
    row = single.loc["104"]
    assert (row["kind"], row["join_method"], row["author_key"]) == ("join", "self", "user1003")
    assert pd.isna(row["inviter_key"])


def test_invite_of_several_members(single: pd.DataFrame) -> None:
    """It yields one invite join per invited member, numbered <id>#n, with the actor as inviter."""
    joins = single.loc[["105#1", "105#2"]]
    assert list(joins["author_key"]) == ["Bob Trader", "Carol"]
    assert set(joins["join_method"]) == {"invite"}
    assert set(joins["inviter_key"]) == {"user1001"}
    assert "105" not in single.index


def test_link_and_request_joins(single: pd.DataFrame) -> None:
    """It maps join_group_by_link to a link join with the inviter key, and join_group_by_request to self."""
    link = single.loc["106"]
    assert (link["kind"], link["join_method"], link["inviter_key"], link["author_key"]) == (
        "join",
        "link",
        "Moon Boy",
        "user1004",
    )
    request = single.loc["107"]
    assert (request["kind"], request["join_method"]) == ("join", "self")


def test_leave_remove_rename_and_other_service(single: pd.DataFrame) -> None:
    """It maps remove_members to leave (self) or remove, edit_group_title to rename, the rest to system."""
    assert single.loc["115", "kind"] == "leave"
    assert single.loc["115", "author_key"] == "user1007"
    assert single.loc["116", "kind"] == "remove"
    assert single.loc["116", "author_key"] == "Bob Trader"
    assert single.loc["117", "kind"] == "rename"
    assert single.loc["117", "text"] == "VIRTUAL Holders 🚀"
    assert single.loc["101", "kind"] == "system"
    assert single.loc["118", "kind"] == "system"


def test_media(single: pd.DataFrame) -> None:
    """It marks stickers, photos and voice messages as media with the project's media_type names."""
    assert (single.loc["108", "kind"], single.loc["108", "media_type"]) == ("media", "sticker")
    assert (single.loc["114", "kind"], single.loc["114", "media_type"]) == ("media", "image")
    assert single.loc["114", "text"] == "chart looks good"
    assert (single.loc["119", "kind"], single.loc["119", "media_type"]) == ("media", "voice")
    assert pd.isna(single.loc["119", "author_name"])
    assert single.loc["119", "author_key"] == "user1008"


def test_reply_forward_edit_reactions(single: pd.DataFrame) -> None:
    """It carries reply_to, forwarded, edited and the summed reaction counts."""
    assert single.loc["109", "reply_to"] == "103"
    assert bool(single.loc["110", "is_forward"]) and not bool(single.loc["109", "is_forward"])
    assert bool(single.loc["111", "edited"]) and not bool(single.loc["110", "edited"])
    assert single.loc["112", "reactions"] == 5
    assert pd.isna(single.loc["102", "reactions"])


def test_timestamps(single: pd.DataFrame) -> None:
    """It takes date_unixtime when present, else reads date as wall time in the given zone."""
    assert single.loc["102", "ts"] == pd.Timestamp("2024-03-04T10:01:00", tz="UTC")
    assert single.loc["113", "ts"] == pd.Timestamp("2024-03-04T10:30:00", tz="UTC")
    in_utc = read_telegram_export(SINGLE, UTC).set_index("message_id")
    assert in_utc.loc["113", "ts"] == pd.Timestamp("2024-03-04T18:30:00", tz="UTC")
    assert in_utc.loc["102", "ts"] == single.loc["102", "ts"]


def test_source_record_is_index_in_messages(single: pd.DataFrame) -> None:
    """It numbers records by their 1-based position in the chat's messages array."""
    raw = json.loads(SINGLE.read_text(encoding="utf-8"))
    for position, msg in enumerate(raw["messages"], start=1):
        ids = [i for i in single.index if i.split("#")[0] == str(msg["id"])]
        assert ids and all(single.loc[i, "source_record"] == position for i in ids)


def test_full_account_export() -> None:
    """It returns every chat of a full-account export, left chats included, each with its own id and name."""
    frame = read_telegram_export(FULL, UTC)
    counts = frame.groupby(["chat_id", "chat_name"]).size().to_dict()
    assert counts == {
        ("1002", "Ape Alice"): 2,
        ("2100000002", "VIRTUAL Traders"): 3,
        ("2100000003", "Old Pump Group"): 1,
    }
    traders = frame[frame["chat_id"] == "2100000002"]
    assert list(traders["source_record"]) == [1, 2, 3]


def test_truncated_json_names_file_and_line(tmp_path: Path) -> None:
    """It raises ParseError with the file and the line where a truncated export stops."""
    text = SINGLE.read_text(encoding="utf-8")
    cut = text[: len(text) // 2]
    path = tmp_path / "result.json"
    path.write_text(cut, encoding="utf-8")
    with pytest.raises(ParseError) as info:
        read_telegram_export(path, UTC)
    assert info.value.line == cut.count("\n") + 1
    assert str(info.value).startswith(f"{path}:{cut.count(chr(10)) + 1}: ")


def test_invalid_utf8_names_line(tmp_path: Path) -> None:
    """It raises EncodingError naming the line of the first undecodable byte."""
    lines = SINGLE.read_bytes().split(b"\n")
    bad = next(i for i, line in enumerate(lines) if b"wagmi" in line)
    lines[bad] = lines[bad].replace(b"wagmi", b"wag\xffmi")
    path = tmp_path / "result.json"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(EncodingError) as info:
        read_telegram_export(path, UTC)
    assert info.value.line == bad + 1
    assert str(path) in str(info.value)


def test_gb18030_file_is_an_encoding_error(tmp_path: Path) -> None:
    """It reports a GB18030-encoded export as an encoding error with a conversion hint."""
    path = tmp_path / "result.json"
    chat = {
        "name": "币圈",
        "type": "private_group",
        "id": 1,
        "messages": [
            {
                "id": 1,
                "type": "message",
                "date": "2024-01-01T00:00:00",
                "from": "张三",
                "from_id": "user1",
                "text": "牛市来了",
            }
        ],
    }
    path.write_bytes(json.dumps(chat, ensure_ascii=False, indent=1).encode("gb18030"))
    with pytest.raises(EncodingError, match="GB18030") as info:
        read_telegram_export(path, UTC)
    assert info.value.line == 2


def test_record_missing_keys_names_record(tmp_path: Path) -> None:
    """It raises ParseError naming the record number when a message lacks its id or date."""
    raw = json.loads(SINGLE.read_text(encoding="utf-8"))
    del raw["messages"][2]["date"], raw["messages"][2]["date_unixtime"]
    path = tmp_path / "result.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ParseError, match=r"message record 3: missing required key\(s\) 'date'") as info:
        read_telegram_export(path, UTC)
    assert str(path) in str(info.value)


def test_unreadable_date_is_a_parse_error(tmp_path: Path) -> None:
    """It wraps an unparsable date in a ParseError instead of leaking ValueError."""
    raw = json.loads(SINGLE.read_text(encoding="utf-8"))
    raw["messages"][0]["date_unixtime"] = "soon"
    path = tmp_path / "result.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ParseError, match="record 1: unreadable date 'soon'"):
        read_telegram_export(path, UTC)


def test_json_that_is_not_an_export(tmp_path: Path) -> None:
    """It rejects JSON without messages or chats with a ParseError."""
    path = tmp_path / "other.json"
    path.write_text('{"hello": []}', encoding="utf-8")
    with pytest.raises(ParseError, match="no 'messages' or 'chats' key"):
        read_telegram_export(path, UTC)


def _expected_rows(chat: dict) -> int:
    rows = 0
    for msg in chat["messages"]:
        if msg.get("action") in ("invite_members", "remove_members"):
            rows += max(len(msg.get("members") or []), 1)
        else:
            rows += 1
    return rows


@pytest.mark.parametrize(
    "name",
    [
        "tgif_oop_result.json",
        "telegram-chat-parser_public_supergroup.json",
        "chat-analytics_MultiChat_2C_6M.json",
    ],
)
def test_real_samples(name: str) -> None:
    """It reads real Telegram exports with one row per message (per member for member events)."""
    path = SAMPLES / name
    if not path.exists():
        pytest.skip("../shared/samples is absent")
    raw = json.loads(path.read_text(encoding="utf-8"))
    chats = raw["chats"]["list"] if "chats" in raw else [raw]
    frame = read_telegram_export(path, UTC)
    assert len(frame) == sum(_expected_rows(c) for c in chats)
    messages = [m for c in chats for m in c["messages"]]
    assert frame["is_forward"].sum() == sum("forwarded_from" in m for m in messages)
    assert frame["reply_to"].notna().sum() == sum("reply_to_message_id" in m for m in messages)
    assert frame["edited"].sum() == sum("edited" in m for m in messages)
    assert (frame["media_type"] == "sticker").sum() == sum(m.get("media_type") == "sticker" for m in messages)
    assert (frame["kind"] == "system").sum() == sum(m["type"] == "service" for m in messages)
    assert frame["author_key"].notna().all()

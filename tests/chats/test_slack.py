"""Tests for the Slack workspace export reader (folder and .zip)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from sentiment.chats.detect import detect_format, read_chat_export
from sentiment.chats.records import RAW_COLUMNS
from sentiment.chats.slack import is_slack_export, read_slack_export
from sentiment.errors import ParseError

CHANNELS = [
    {
        "id": "C0BMYT2FL",
        "name": "general",
        "created": "1442342055",
        "creator": "U0BMYT2FL",
        "is_archived": False,
        "is_general": True,
        "members": ["U0BMYT2FL", "U0BN3QK1U"],
        "topic": {"value": "", "creator": "", "last_set": "0"},
        "purpose": {"value": "company-wide", "creator": "", "last_set": "0"},
    },
    {
        "id": "C0BN4E5FH",
        "name": "random",
        "created": "1442342055",
        "creator": "U0BMYT2FL",
        "is_archived": False,
        "is_general": False,
        "members": ["U0BMYT2FL"],
        "topic": {"value": "", "creator": "", "last_set": "0"},
        "purpose": {"value": "", "creator": "", "last_set": "0"},
    },
]
USERS = [
    {
        "id": "U0BMYT2FL",
        "team_id": "T0BMYT2FC",
        "name": "alice",
        "deleted": False,
        "real_name": "Alice Ape",
        "tz": "Europe/London",
        "tz_offset": 0,
        "profile": {"real_name": "Alice Ape", "display_name": "alice"},
        "is_bot": False,
    },
    {
        "id": "U0BN3QK1U",
        "team_id": "T0BMYT2FC",
        "name": "bob",
        "deleted": False,
        "real_name": "",
        "profile": {"real_name": "Bob Trader", "display_name": "bob"},
        "is_bot": False,
    },
]
GENERAL_DAY1 = [
    {
        "type": "message",
        "subtype": "channel_join",
        "user": "U0BMYT2FL",
        "text": "<@U0BMYT2FL|alice> has joined the channel",
        "ts": "1452845865.000008",
    },
    {
        "type": "message",
        "subtype": "channel_join",
        "user": "U0BN3QK1U",
        "inviter": "U0BMYT2FL",
        "text": "<@U0BN3QK1U|bob> has joined the channel",
        "ts": "1452845900.000002",
    },
    {
        "type": "message",
        "user": "U0BMYT2FL",
        "text": "gm, $VIRTUAL &gt; everything",
        "ts": "1452846000.000003",
        "edited": {"user": "U0BMYT2FL", "ts": "1452846010.000000"},
        "reactions": [
            {"name": "rocket", "users": ["U0BN3QK1U"], "count": 1},
            {"name": "fire", "users": ["U0BN3QK1U", "U0BMYT2FL"], "count": 2},
        ],
    },
    {
        "type": "message",
        "user": "U0BN3QK1U",
        "text": "agreed",
        "ts": "1452846100.000004",
        "thread_ts": "1452846000.000003",
        "parent_user_id": "U0BMYT2FL",
    },
]
GENERAL_DAY2 = [
    {
        "type": "message",
        "subtype": "file_share",
        "user": "U0BN3QK1U",
        "text": "<@U0BN3QK1U|bob> uploaded a file: chart",
        "ts": "1452934800.000001",
        "upload": True,
        "file": {"id": "F1", "name": "chart.png", "mimetype": "image/png"},
    },
    {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B0BN4FHL2",
        "username": "pricebot",
        "text": "VIRTUAL 1.23",
        "ts": "1452934900.000002",
        "attachments": [],
    },
    {
        "type": "message",
        "subtype": "channel_leave",
        "user": "U0BN3QK1U",
        "text": "<@U0BN3QK1U|bob> has left the channel",
        "ts": "1452935000.000003",
    },
    {
        "type": "message",
        "subtype": "channel_purpose",
        "user": "U0BMYT2FL",
        "text": "set the channel purpose: x",
        "ts": "1452935100.000004",
    },
]
RANDOM_DAY = [{"type": "message", "user": "U0BMYT2FL", "text": "hello random", "ts": "1452845999.000001"}]


def _write_export(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "channels.json").write_text(json.dumps(CHANNELS, indent=4), encoding="utf-8")
    (root / "users.json").write_text(json.dumps(USERS, indent=4), encoding="utf-8")
    (root / "integration_logs.json").write_text("[]", encoding="utf-8")
    for channel, day, messages in (
        ("general", "2016-01-15", GENERAL_DAY1),
        ("general", "2016-01-16", GENERAL_DAY2),
        ("random", "2016-01-15", RANDOM_DAY),
    ):
        (root / channel).mkdir(exist_ok=True)
        (root / channel / f"{day}.json").write_text(json.dumps(messages, indent=4), encoding="utf-8")
    return root


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return _write_export(tmp_path / "My Workspace Slack export Jan 15 2016")


def test_folder_export_rows(export: Path) -> None:
    """It reads every day file of every channel; subtypes map to join/leave/media/system; ts is UTC."""
    frame = read_slack_export(export, ZoneInfo("Asia/Tokyo"))
    assert tuple(frame.columns) == RAW_COLUMNS
    assert len(frame) == len(GENERAL_DAY1) + len(GENERAL_DAY2) + len(RANDOM_DAY)
    general = frame[frame["chat_name"] == "general"].set_index("message_id")
    assert set(general["chat_id"]) == {"C0BMYT2FL"}
    first = general.loc["1452845865.000008"]
    assert (first["kind"], first["join_method"], first["ts"]) == (
        "join",
        "self",
        pd.Timestamp(1452845865, unit="s", tz="UTC"),
    )
    invited = general.loc["1452845900.000002"]
    assert (invited["join_method"], invited["inviter_key"], invited["author_key"]) == (
        "invite",
        "U0BMYT2FL",
        "U0BN3QK1U",
    )
    msg = general.loc["1452846000.000003"]
    assert (msg["kind"], msg["reactions"], bool(msg["edited"]), msg["author_name"]) == ("message", 3, True, "Alice Ape")
    assert general.loc["1452846100.000004", "reply_to"] == "1452846000.000003"
    assert general.loc["1452846100.000004", "author_name"] == "Bob Trader"
    assert general.loc["1452934800.000001", ["kind", "media_type"]].tolist() == ["media", "image"]
    bot = general.loc["1452934900.000002"]
    assert (bot["kind"], bot["author_key"], bot["author_name"]) == ("message", "B0BN4FHL2", "pricebot")
    assert general.loc["1452935000.000003", "kind"] == "leave"
    assert general.loc["1452935100.000004", "kind"] == "system"
    assert frame.loc[frame["chat_name"] == "random", "chat_id"].tolist() == ["C0BN4E5FH"]


def test_zip_equals_folder_and_is_detected(export: Path, tmp_path: Path) -> None:
    """It reads the zipped export (everything under one top folder) exactly like the folder, and detects both."""
    archive = Path(shutil.make_archive(str(tmp_path / "slack"), "zip", export.parent, export.name))
    renamed = archive.with_name("export.bin")
    archive.rename(renamed)
    folder = read_slack_export(export, UTC)
    zipped = read_slack_export(renamed, UTC)
    cols = [c for c in RAW_COLUMNS if c != "source_file"]
    assert zipped[cols].equals(folder[cols])
    assert detect_format(export) == detect_format(renamed) == "slack_export"
    fmt, frame = read_chat_export(renamed, platform="slack")
    assert fmt == "slack_export" and len(frame) == len(folder)
    assert is_slack_export(export / "general") is False


def test_bad_day_file_names_member_and_record(export: Path) -> None:
    """It raises ParseError naming the day file and the record of a message without ts."""
    day = export / "general" / "2016-01-16.json"
    messages = json.loads(day.read_text(encoding="utf-8"))
    del messages[1]["ts"]
    day.write_text(json.dumps(messages), encoding="utf-8")
    with pytest.raises(ParseError) as info:
        read_slack_export(export, UTC)
    assert "general/2016-01-16.json" in info.value.path and info.value.line == 2


def test_expand_chat_paths_keeps_a_slack_folder_whole(export: Path, tmp_path: Path) -> None:
    """A Slack export folder (named or inside a named folder) is one export, not a pile of day files."""
    from sentiment.steps.ingest import expand_chat_paths

    loose = export.parent / "other.txt"
    loose.write_text("01/02/2024, 10:00 - A: gm\n", encoding="utf-8")
    assert expand_chat_paths([export]) == [export]
    assert expand_chat_paths([export.parent]) == [export, loose]

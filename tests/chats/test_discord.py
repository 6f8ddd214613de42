"""Tests for the DiscordChatExporter JSON and CSV readers."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from sentiment.chats.discord import read_discord_csv, read_discord_json
from sentiment.chats.records import RAW_COLUMNS
from sentiment.errors import EncodingError, ParseError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chats"
CHANNEL_JSON = FIXTURES / "discord_channel.json"
CHANNEL_CSV = FIXTURES / "Virtuals Protocol - Community - general [1089000000000000777].csv"
OLD_CSV = FIXTURES / "discord_old_dates.csv"
SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "samples" / "chat" / "discord"


@pytest.fixture(scope="module")
def channel() -> pd.DataFrame:
    return read_discord_json(CHANNEL_JSON, UTC).set_index("message_id")


def test_json_columns_chat_and_offsets(channel: pd.DataFrame) -> None:
    """It keys the chat by channel id, names it guild / channel, and honours ISO offsets (+02:00)."""
    frame = read_discord_json(CHANNEL_JSON, ZoneInfo("Asia/Tokyo"))
    assert tuple(frame.columns) == RAW_COLUMNS
    assert set(frame["chat_id"]) == {"1089000000000000777"}
    assert set(frame["chat_name"]) == {"Virtuals Protocol / general"}
    # Absolute times ignore the tz argument.
    assert frame["ts"].iloc[1] == pd.Timestamp("2024-04-01 08:05:30", tz="UTC")
    assert frame["ts"].equals(read_discord_json(CHANNEL_JSON, UTC)["ts"])


def test_json_system_types_to_kinds(channel: pd.DataFrame) -> None:
    """It maps GuildMemberJoin, RecipientAdd/Remove and ChannelNameChange to join/leave/remove/rename."""
    assert channel.loc["1230000000000000001", ["kind", "join_method"]].tolist() == ["join", "self"]
    added = channel.loc["1230000000000000006"]
    assert (added["kind"], added["join_method"], added["author_key"], added["inviter_key"]) == (
        "join",
        "invite",
        "900000000000000003",
        "900000000000000001",
    )
    assert channel.loc["1230000000000000007", ["kind", "author_key"]].tolist() == ["leave", "900000000000000002"]
    assert channel.loc["1230000000000000008", ["kind", "author_key"]].tolist() == ["remove", "900000000000000003"]
    assert channel.loc["1230000000000000009", ["kind", "text"]].tolist() == ["rename", "virtual-holders"]
    assert channel.loc["1230000000000000010", "kind"] == "system"


def test_json_media_reply_reactions_edited(channel: pd.DataFrame) -> None:
    """It turns attachments and stickers into media, keeps reply references, sums reactions, flags edits."""
    assert channel.loc["1230000000000000004", ["kind", "media_type"]].tolist() == ["media", "image"]
    assert channel.loc["1230000000000000005", ["kind", "media_type"]].tolist() == ["media", "sticker"]
    assert channel.loc["1230000000000000003", "reply_to"] == "1230000000000000002"
    assert channel.loc["1230000000000000002", "reactions"] == 5
    assert bool(channel.loc["1230000000000000002", "edited"]) is True
    assert bool(channel.loc["1230000000000000003", "edited"]) is False


def test_csv_current_iso_dates() -> None:
    """It reads a current CSV: quoted fields, doubled quotes, raw newlines, reactions, attachments, chat id."""
    frame = read_discord_csv(CHANNEL_CSV, ZoneInfo("Asia/Tokyo"))
    assert tuple(frame.columns) == RAW_COLUMNS
    assert len(frame) == 5
    assert set(frame["chat_id"]) == {"1089000000000000777"}
    assert frame["ts"].iloc[0] == pd.Timestamp("2024-04-01 08:00", tz="UTC")
    assert frame["text"].iloc[1] == 'gm, $VIRTUAL looks "strong"'
    assert frame["reactions"].iloc[1] == 5
    assert (frame["kind"].iloc[2], frame["media_type"].iloc[2]) == ("media", "image")
    assert frame["text"].iloc[3] == "first line\nsecond line"
    assert frame["source_record"].tolist() == [2, 3, 4, 5, 7]
    assert frame["kind"].iloc[0] == "join" and frame["join_method"].iloc[0] == "self"
    assert (frame["kind"].iloc[4], frame["author_key"].iloc[4], frame["inviter_key"].iloc[4]) == (
        "join",
        "carol",
        "900000000000000001",
    )
    # The JSON and CSV of the same channel agree on every shared instant.
    json_ts = set(read_discord_json(CHANNEL_JSON, UTC)["ts"])
    assert set(frame["ts"]) <= json_ts


def test_csv_old_ui_dates_use_tz() -> None:
    """It reads old '01-Jan-20 01:33 AM' dates as wall time in tz, and keeps repeated rows apart."""
    utc = read_discord_csv(OLD_CSV, UTC)
    berlin = read_discord_csv(OLD_CSV, ZoneInfo("Europe/Berlin"))
    assert utc["ts"].iloc[0] == pd.Timestamp("2020-01-01 01:33", tz="UTC")
    assert utc["ts"].iloc[2] == pd.Timestamp("2020-02-13 23:05", tz="UTC")
    assert (utc["ts"] - berlin["ts"]).unique().tolist() == [pd.Timedelta(hours=1)]
    assert utc["message_id"].nunique() == 3
    assert utc["message_id"].tolist() == berlin["message_id"].tolist()


def test_errors(tmp_path: Path) -> None:
    """It names the record of a bad message, the line of a bad CSV row, and rejects non-UTF-8 bytes."""
    data = json.loads(CHANNEL_JSON.read_text(encoding="utf-8"))
    del data["messages"][3]["timestamp"]
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ParseError) as info:
        read_discord_json(bad, UTC)
    assert info.value.line == 4 and "record 4" in str(info.value)
    truncated = tmp_path / "t.json"
    truncated.write_text(CHANNEL_JSON.read_text(encoding="utf-8")[:500], encoding="utf-8")
    with pytest.raises(ParseError):
        read_discord_json(truncated, UTC)
    rows = OLD_CSV.read_text(encoding="utf-8").replace('"13-Feb-20 11:05 PM"', '"yesterday"')
    csv_bad = tmp_path / "old.csv"
    csv_bad.write_text(rows, encoding="utf-8", newline="")
    with pytest.raises(ParseError) as info:
        read_discord_csv(csv_bad, UTC)
    assert info.value.line == 4
    latin = tmp_path / "l.csv"
    latin.write_bytes(OLD_CSV.read_bytes().replace(b"Hello", "Olá".encode("latin-1")))
    with pytest.raises(EncodingError):
        read_discord_csv(latin, UTC)


def test_conformance_chat_analytics_sample() -> None:
    """It parses the real chat-analytics export: one row per message record, media where files are attached."""
    path = SAMPLES / "chat-analytics_SV_5A_5M.json"
    if not path.is_file():
        pytest.skip("../shared/samples not present")
    data = json.loads(path.read_text(encoding="utf-8"))
    frame = read_discord_json(path, UTC)
    assert len(frame) == len(data["messages"]) == 5
    joins = [m for m in data["messages"] if m["type"] in ("GuildMemberJoin", "RecipientAdd")]
    assert (frame["kind"] == "join").sum() == len(joins)
    with_files = [m for m in data["messages"] if m.get("attachments") or m.get("stickers")]
    assert (frame["kind"] == "media").sum() == len(with_files)
    assert frame["reactions"].sum() == sum(r["count"] for m in data["messages"] for r in m["reactions"])
    assert frame["edited"].sum() == sum(m["timestampEdited"] is not None for m in data["messages"])

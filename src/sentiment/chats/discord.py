"""Read DiscordChatExporter JSON and CSV exports into the raw chat-record frame."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment.chats.records import name_chat_id, raw_frame
from sentiment.chats.textio import ContentKeys, decode_utf8, media_type_of
from sentiment.errors import ParseError

__all__ = ["CSV_HEADER", "read_discord_csv", "read_discord_json"]

PLATFORM = "discord"
CSV_HEADER = ("AuthorID", "Author", "Date", "Content", "Attachments", "Reactions")
_DM_GUILD = "Direct Messages"

_MESSAGE_TYPES = {"Default", "Reply"}
# Old DiscordChatExporter versions wrote dates in the UI culture's short format, with no offset.
_OLD_DATES = ("%d-%b-%y %I:%M %p", "%d-%b-%y %H:%M", "%m/%d/%Y %I:%M %p", "%d/%m/%Y %H:%M")
_REACTION_COUNT = re.compile(r"\((\d+)\)")
# The fallback contents DiscordChatExporter writes for system messages (the CSV has no type column).
_CSV_SYSTEM = (
    (re.compile(r"^Joined the server\.$"), "join"),
    (re.compile(r"^Added (.+) to the group\.$"), "join"),
    (re.compile(r"^Left the group\.$"), "leave"),
    (re.compile(r"^Removed (.+) from the group\.$"), "remove"),
    (re.compile(r"^Changed the channel name: (.+)$"), "rename"),
)


def _iso_seconds(value: Any, tz: tzinfo) -> int:
    stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=tz)
    return int(stamp.timestamp())


# ---- JSON ------------------------------------------------------------------------------------------------
def read_discord_json(path: Path, tz: tzinfo) -> pd.DataFrame:
    """All messages of a DiscordChatExporter JSON export; ISO timestamps carry their offset (``tz`` if absent)."""
    path = Path(path)
    text = decode_utf8(path, path.read_bytes(), "UTF-8 (DiscordChatExporter writes UTF-8)")
    try:
        root = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(
            path, f"invalid JSON at column {exc.colno}: {exc.msg} (truncated export?)", line=exc.lineno
        ) from exc
    if not isinstance(root, dict) or not isinstance(root.get("messages"), list):
        raise ParseError(path, "not a DiscordChatExporter export: no 'messages' list")
    guild = root.get("guild") if isinstance(root.get("guild"), dict) else {}
    channel = root.get("channel") if isinstance(root.get("channel"), dict) else {}
    chat_name = " / ".join(str(p) for p in (guild.get("name"), channel.get("name")) if p)
    chat_id = str(channel["id"]) if channel.get("id") is not None else name_chat_id(chat_name)
    base = {"platform": PLATFORM, "chat_id": chat_id, "chat_name": chat_name or None, "source_file": path.name}
    # A DM channel is named after the other person (DiscordChatExporter: guild "Direct Messages").
    base["chat_private"] = str(channel.get("type", "")).startswith("Direct") or guild.get("name") == _DM_GUILD
    rows: list[dict[str, Any]] = []
    for record, msg in enumerate(root["messages"], start=1):
        rows.extend(_json_rows(path, record, msg, tz, base))
    return raw_frame(rows)


def _json_rows(path: Path, record: int, msg: Any, tz: tzinfo, base: dict[str, Any]) -> Iterator[dict[str, Any]]:
    where = f"message record {record}"
    if not isinstance(msg, dict):
        raise ParseError(path, f"{where}: not a JSON object", line=record)
    missing = [k for k in ("id", "timestamp", "author") if msg.get(k) is None]
    if missing or not isinstance(msg["author"], dict):
        raise ParseError(path, f"{where}: missing or malformed {', '.join(missing) or 'author'}", line=record)
    try:
        ts = _iso_seconds(msg["timestamp"], tz)
    except ValueError as exc:
        raise ParseError(path, f"{where}: unreadable timestamp {msg['timestamp']!r}", line=record) from exc
    author = msg["author"]
    author_key = None if author.get("id") is None else str(author["id"])
    author_name = author.get("nickname") or author.get("name")
    reference = msg.get("reference") if isinstance(msg.get("reference"), dict) else {}
    reactions = msg.get("reactions")
    row: dict[str, Any] = {
        **base,
        "message_id": str(msg["id"]),
        "ts": ts,
        "author_key": author_key,
        "author_name": author_name,
        "text": msg.get("content") or None,
        "reply_to": None if reference.get("messageId") is None else str(reference["messageId"]),
        "is_forward": reference.get("type") == "Forward" or bool(msg.get("forwardedMessage")),
        "reactions": sum(int(r.get("count", 0)) for r in reactions if isinstance(r, dict))
        if isinstance(reactions, list)
        else None,
        "edited": msg.get("timestampEdited") is not None,
        "source_record": record,
    }
    kind = msg.get("type", "Default")
    mentions = [m for m in msg.get("mentions") or [] if isinstance(m, dict)]
    if kind in _MESSAGE_TYPES:
        yield {**row, **_json_media(msg)}
    elif kind == "GuildMemberJoin":
        yield {**row, "kind": "join", "join_method": "self"}
    elif kind in ("RecipientAdd", "RecipientRemove"):
        # The author added/removed the mentioned user; without a mention the author acted on themselves.
        targets = [m for m in mentions if m.get("id") is not None] or [author]
        for n, target in enumerate(targets, start=1):
            is_self = str(target.get("id")) == author_key
            out = {
                **row,
                "author_key": None if target.get("id") is None else str(target["id"]),
                "author_name": target.get("nickname") or target.get("name"),
            }
            if len(targets) > 1:
                out["message_id"] = f"{row['message_id']}#{n}"
            if kind == "RecipientAdd":
                out |= {"kind": "join", "join_method": "self" if is_self else "invite"}
                out["inviter_key"] = None if is_self else author_key
            else:
                out["kind"] = "leave" if is_self else "remove"
            yield out
    elif kind == "ChannelNameChange":
        yield {**row, "kind": "rename"}
    else:
        yield {**row, "kind": "system"}


def _json_media(msg: Mapping[str, Any]) -> dict[str, Any]:
    attachments = [a for a in msg.get("attachments") or [] if isinstance(a, dict)]
    if attachments:
        name = str(attachments[0].get("fileName") or attachments[0].get("url") or "")
        return {"kind": "media", "media_type": media_type_of(name)}
    if msg.get("stickers"):
        return {"kind": "media", "media_type": "sticker"}
    return {"kind": "message"}


# ---- CSV -------------------------------------------------------------------------------------------------
def read_discord_csv(path: Path, tz: tzinfo) -> pd.DataFrame:
    """All messages of a DiscordChatExporter CSV; ISO dates carry their offset, old UI-format dates are ``tz``."""
    path = Path(path)
    text = decode_utf8(path, path.read_bytes(), "UTF-8 (DiscordChatExporter writes UTF-8)")
    # DiscordChatExporter names files "<guild> - <channel> [<channel id>].csv"; the id is the stable chat key.
    chat_name = re.sub(r"\s*\[\d+\]$", "", path.stem)
    channel_id = re.search(r"\[(\d+)\]$", path.stem)
    base = {
        "platform": PLATFORM,
        "chat_id": channel_id[1] if channel_id else name_chat_id(chat_name),
        "chat_name": chat_name,
        "source_file": path.name,
        "chat_private": path.stem.startswith(f"{_DM_GUILD} - "),
    }
    keys = ContentKeys("d:")
    rows = [_csv_row(path, line, rec, tz, base, keys) for line, rec in _csv_records(path, text)]
    return raw_frame(rows)


def _csv_records(path: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    lines = io.StringIO(text, newline="")
    reader = csv.reader(lines, strict=True)
    start = 1
    try:
        for n, fields in enumerate(reader):
            end = reader.line_num
            if n == 0:
                if tuple(fields) != CSV_HEADER:
                    raise ParseError(path, f"header is not {','.join(CSV_HEADER)}", line=1)
            elif fields:
                if len(fields) != len(CSV_HEADER):
                    raise ParseError(path, f"record has {len(fields)} fields, expected {len(CSV_HEADER)}", line=start)
                yield start, fields
            start = end + 1
    except csv.Error as exc:
        raise ParseError(path, f"malformed CSV: {exc}", line=start) from exc


def _csv_seconds(value: str, tz: tzinfo) -> int:
    try:
        return _iso_seconds(value, tz)
    except ValueError:
        pass
    for fmt in _OLD_DATES:
        try:
            return int(datetime.strptime(value, fmt).replace(tzinfo=tz).timestamp())
        except ValueError:
            continue
    raise ValueError(value)


def _csv_row(
    path: Path, line: int, fields: list[str], tz: tzinfo, base: dict[str, Any], keys: ContentKeys
) -> dict[str, Any]:
    author_id, author, date, content, attachments, reactions = fields
    try:
        ts = _csv_seconds(date, tz)
    except ValueError as exc:
        raise ParseError(path, f"unreadable Date {date!r}", line=line) from exc
    row: dict[str, Any] = {
        **base,
        "message_id": keys(author_id, date, content, attachments),
        "ts": ts,
        "author_key": author_id or None,
        "author_name": author or None,
        "kind": "message",
        "text": content or None,
        "reactions": sum(int(c) for c in _REACTION_COUNT.findall(reactions)) if reactions else None,
        "source_record": line,
    }
    if attachments:
        return {**row, "kind": "media", "media_type": media_type_of(attachments.split(",")[0])}
    for pattern, kind in _CSV_SYSTEM:
        m = pattern.match(content)
        if m is None:
            continue
        if kind == "join" and m.groups():
            # "Added X to the group.": the author invited X, whom the CSV names only by display name.
            return {
                **row,
                "kind": "join",
                "join_method": "invite",
                "author_key": m[1],
                "author_name": m[1],
                "inviter_key": author_id or None,
            }
        if kind == "remove":
            return {**row, "kind": "remove", "author_key": m[1], "author_name": m[1]}
        return {**row, "kind": kind, "join_method": "self" if kind == "join" else None}
    return row

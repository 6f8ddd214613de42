"""Read a Slack workspace export (folder or .zip) into the raw chat-record frame."""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator, Mapping
from datetime import tzinfo
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment.chats.records import raw_frame
from sentiment.chats.textio import decode_utf8
from sentiment.errors import ParseError

__all__ = ["is_slack_export", "read_slack_export"]

PLATFORM = "slack"
# Conversation lists a workspace export may hold: public channels, private channels, group DMs, DMs.
_LISTS = ("channels.json", "groups.json", "mpims.json", "dms.json")
_DAY_FILE = re.compile(r"^(?P<folder>[^/]+)/\d{4}-\d{2}-\d{2}\.json$")
_MESSAGE_SUBTYPES = {None, "bot_message", "thread_broadcast", "reply_broadcast", "me_message", "file_comment"}
_JOINS = {"channel_join", "group_join"}
_LEAVES = {"channel_leave", "group_leave"}
_RENAMES = {"channel_name", "group_name"}


class _Archive:
    """The member files of an export, whether it is a folder or a .zip, by their '/'-separated relative names."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip = None if path.is_dir() else zipfile.ZipFile(path)
        names = (
            [str(p.relative_to(path).as_posix()) for p in path.rglob("*") if p.is_file()]
            if self._zip is None
            else [n for n in self._zip.namelist() if not n.endswith("/")]
        )
        # Zips made by compressing the export folder put everything under one top folder.
        roots = {n.split("/", 1)[0] for n in names}
        self.prefix = ""
        if "channels.json" not in names and "users.json" not in names and len(roots) == 1:
            self.prefix = next(iter(roots)) + "/"
        self.names = sorted(n.removeprefix(self.prefix) for n in names if n.startswith(self.prefix))

    def read(self, name: str) -> bytes:
        if self._zip is None:
            return (self.path / self.prefix / name).read_bytes()
        return self._zip.read(self.prefix + name)

    def json(self, name: str) -> Any:
        where = Path(f"{self.path}:{name}")
        text = decode_utf8(where, self.read(name), "UTF-8 (Slack exports are UTF-8)")
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParseError(where, f"invalid JSON at column {exc.colno}: {exc.msg}", line=exc.lineno) from exc

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def is_slack_export(path: Path) -> bool:
    """Whether ``path`` (a folder or a zip) holds a Slack workspace export: users.json and a conversation list."""
    path = Path(path)
    if path.is_dir():
        return (path / "users.json").is_file() and any((path / n).is_file() for n in _LISTS)
    try:
        archive = _Archive(path)
    except (zipfile.BadZipFile, OSError):
        return False
    try:
        return "users.json" in archive.names and any(n in archive.names for n in _LISTS)
    finally:
        archive.close()


def read_slack_export(path: Path, tz: tzinfo) -> pd.DataFrame:
    """All records of a Slack export; ``ts`` is UTC unix time, so ``tz`` is not needed."""
    del tz  # Slack timestamps are absolute.
    path = Path(path)
    try:
        archive = _Archive(path)
    except zipfile.BadZipFile as exc:
        raise ParseError(path, f"not a readable zip archive: {exc}") from exc
    try:
        users = {u.get("id"): u for u in _list(archive, "users.json") if isinstance(u, dict)}
        channels: dict[str, Mapping[str, Any]] = {}
        for list_name in _LISTS:
            if list_name in archive.names:
                for ch in _list(archive, list_name):
                    if isinstance(ch, dict) and (ch.get("name") or ch.get("id")):
                        channels[str(ch.get("name") or ch.get("id"))] = ch
        rows: list[dict[str, Any]] = []
        for name in archive.names:
            day = _DAY_FILE.match(name)
            if day is None:
                continue
            channel = channels.get(day["folder"], {})
            base = {
                "platform": PLATFORM,
                "chat_id": str(channel.get("id") or day["folder"]),
                "chat_name": day["folder"],
                "source_file": f"{path.name}:{name}",
            }
            messages = archive.json(name)
            if not isinstance(messages, list):
                raise ParseError(Path(f"{path}:{name}"), "a day file is not a JSON array")
            for record, msg in enumerate(messages, start=1):
                rows.extend(_rows(Path(f"{path}:{name}"), record, msg, base, users))
        return raw_frame(rows)
    finally:
        archive.close()


def _list(archive: _Archive, name: str) -> list[Any]:
    if name not in archive.names:
        raise ParseError(archive.path, f"not a Slack export: {name} is missing")
    value = archive.json(name)
    if not isinstance(value, list):
        raise ParseError(Path(f"{archive.path}:{name}"), "not a JSON array")
    return value


def _name(users: Mapping[Any, Mapping[str, Any]], user: Any) -> str | None:
    info = users.get(user) or {}
    profile = info.get("profile") if isinstance(info.get("profile"), dict) else {}
    return info.get("real_name") or profile.get("real_name") or info.get("name") or None


def _rows(
    where: Path, record: int, msg: Any, base: dict[str, Any], users: Mapping[Any, Mapping[str, Any]]
) -> Iterator[dict[str, Any]]:
    if not isinstance(msg, dict):
        raise ParseError(where, f"message record {record}: not a JSON object", line=record)
    try:
        ts = int(float(msg["ts"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ParseError(
            where, f"message record {record}: missing or unreadable ts {msg.get('ts')!r}", line=record
        ) from exc
    subtype = msg.get("subtype")
    user = msg.get("user") or msg.get("bot_id")
    reactions = msg.get("reactions")
    thread = msg.get("thread_ts")
    row: dict[str, Any] = {
        **base,
        "message_id": str(msg["ts"]),
        "ts": ts,
        "author_key": None if user is None else str(user),
        "author_name": msg.get("username") if subtype == "bot_message" else _name(users, user),
        "kind": "message",
        "text": msg.get("text") or None,
        "reply_to": str(thread) if thread is not None and thread != msg["ts"] else None,
        "reactions": sum(int(r.get("count", len(r.get("users") or []))) for r in reactions if isinstance(r, dict))
        if isinstance(reactions, list)
        else None,
        "edited": isinstance(msg.get("edited"), dict),
        "source_record": record,
    }
    if subtype in _JOINS:
        inviter = msg.get("inviter")
        yield {
            **row,
            "kind": "join",
            "join_method": "invite" if inviter else "self",
            "inviter_key": str(inviter) if inviter else None,
        }
    elif subtype in _LEAVES:
        yield {**row, "kind": "leave"}
    elif subtype in _RENAMES:
        yield {**row, "kind": "rename", "text": msg.get("name") or row["text"]}
    elif subtype == "file_share" or (subtype is None and msg.get("files")):
        file = msg.get("file") or (msg.get("files") or [{}])[0]
        yield {**row, "kind": "media", "media_type": _media_type(file if isinstance(file, dict) else {})}
    elif subtype in ("message_deleted", "tombstone"):
        yield {**row, "kind": "recall"}
    elif subtype in _MESSAGE_SUBTYPES:
        yield row
    else:
        yield {**row, "kind": "system"}


def _media_type(file: Mapping[str, Any]) -> str:
    mime = str(file.get("mimetype") or "")
    major = mime.split("/", 1)[0]
    if major in ("image", "video"):
        return major
    if major == "audio":
        return "voice" if file.get("subtype") == "slack_audio" else "audio"
    return "file"

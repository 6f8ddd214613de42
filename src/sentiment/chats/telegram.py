"""Read Telegram Desktop JSON exports (single chat or full account) into the raw chat-record frame."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment.chats.records import decode_error, name_chat_id, raw_frame
from sentiment.errors import ParseError

__all__ = ["read_telegram_export"]

PLATFORM = "telegram"

# Telegram's document media_type values, renamed to the project's vocabulary shared with WeChat.
_MEDIA_TYPES = {
    "voice_message": "voice",
    "video_file": "video",
    "audio_file": "audio",
}
# Non-document media keys, in the order they are checked.
_MEDIA_KEYS = (
    ("photo", "image"),
    ("file", "file"),
    ("contact_information", "contact"),
    ("location_information", "location"),
    ("place_name", "location"),
    ("poll", "poll"),
    ("game_title", "game"),
    ("invoice_information", "invoice"),
)


def read_telegram_export(path: Path, tz: tzinfo) -> pd.DataFrame:
    """All records of a Telegram Desktop result.json; ``tz`` reads ``date`` if ``date_unixtime`` is absent."""
    path = Path(path)
    root = _load_json(path)
    rows: list[dict[str, Any]] = []
    for chat in _chats(path, root):
        rows.extend(_chat_rows(path, chat, tz))
    return raw_frame(rows)


def _load_json(path: Path) -> Any:
    data = path.read_bytes()
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        text = data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise decode_error(path, data, bom + exc.start, "UTF-8 (Telegram exports are UTF-8)") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(
            path, f"invalid JSON at column {exc.colno}: {exc.msg} (truncated export?)", line=exc.lineno
        ) from exc


def _chats(path: Path, root: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(root, dict) and "messages" in root:
        yield root
        return
    if isinstance(root, dict) and isinstance(root.get("chats"), dict):
        for section in ("chats", "left_chats"):
            for chat in (root.get(section) or {}).get("list", []):
                if not isinstance(chat, dict):
                    raise ParseError(path, f"an entry of {section}.list is not a JSON object")
                yield chat
        return
    raise ParseError(path, "not a Telegram Desktop export: the root object has no 'messages' or 'chats' key")


def _chat_rows(path: Path, chat: Mapping[str, Any], tz: tzinfo) -> Iterator[dict[str, Any]]:
    name = chat.get("name")
    chat_name = None if name is None else str(name)
    chat_id = str(chat["id"]) if chat.get("id") is not None else name_chat_id(chat_name or "")
    messages = chat.get("messages") or []
    if not isinstance(messages, list):
        raise ParseError(path, f"chat {chat_name!r}: 'messages' is not a list")
    base = {"platform": PLATFORM, "chat_id": chat_id, "chat_name": chat_name, "source_file": path.name}
    for record, msg in enumerate(messages, start=1):
        where = f"chat {chat_name or chat_id!r}, message record {record}"
        if not isinstance(msg, dict):
            raise ParseError(path, f"{where}: not a JSON object")
        missing = [k for k in ("id", "type") if k not in msg]
        if "date" not in msg and "date_unixtime" not in msg:
            missing.append("date")
        if missing:
            raise ParseError(path, f"{where}: missing required key(s) {', '.join(map(repr, missing))}")
        common = {
            **base,
            "message_id": str(msg["id"]),
            "ts": _seconds(path, where, msg, tz),
            "edited": "edited" in msg or "edited_unixtime" in msg,
            "source_record": record,
        }
        if msg["type"] == "service":
            yield from _service_rows(msg, common)
        else:
            yield {**common, **_message_fields(msg)}


def _seconds(path: Path, where: str, msg: Mapping[str, Any], tz: tzinfo) -> int:
    try:
        if msg.get("date_unixtime") is not None:
            return int(msg["date_unixtime"])
        # Old exports only carry the exporting PC's wall-clock time, with no offset.
        local = datetime.fromisoformat(str(msg["date"])).replace(tzinfo=tz)
        return int(local.timestamp())
    except (TypeError, ValueError) as exc:
        raise ParseError(
            path, f"{where}: unreadable date {msg.get('date_unixtime', msg.get('date'))!r}"
        ) from exc


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            p if isinstance(p, str) else str(p.get("text", "")) for p in value if isinstance(p, str | dict)
        )
    return ""


def _key(ident: Any, name: Any) -> str | None:
    if ident is not None:
        return str(ident)
    return None if name is None else str(name)


def _message_fields(msg: Mapping[str, Any]) -> dict[str, Any]:
    media_type = _media_type(msg)
    reply = msg.get("reply_to_message_id")
    reactions = msg.get("reactions")
    return {
        "author_key": _key(msg.get("from_id"), msg.get("from")),
        "author_name": msg.get("from"),
        "kind": "media" if media_type else ("message" if msg["type"] == "message" else "system"),
        "media_type": media_type,
        "text": _text(msg.get("text")) or None,
        "reply_to": None if reply is None else str(reply),
        # The key is present (possibly null, for hidden senders) exactly when the message was forwarded.
        "is_forward": "forwarded_from" in msg,
        "reactions": (
            sum(int(r.get("count", 0)) for r in reactions if isinstance(r, dict))
            if isinstance(reactions, list)
            else None
        ),
    }


def _media_type(msg: Mapping[str, Any]) -> str | None:
    if msg.get("media_type"):
        return _MEDIA_TYPES.get(msg["media_type"], msg["media_type"])
    return next((label for key, label in _MEDIA_KEYS if key in msg), None)


def _service_rows(msg: Mapping[str, Any], common: dict[str, Any]) -> Iterator[dict[str, Any]]:
    action = msg.get("action")
    actor = msg.get("actor")
    actor_key = _key(msg.get("actor_id"), actor)
    event = {
        **common,
        "author_key": actor_key,
        "author_name": actor,
        "text": _text(msg.get("text")) or msg.get("information_text") or action,
    }

    if action in ("invite_members", "remove_members"):
        members = msg.get("members") or [None]
        for n, member in enumerate(members, start=1):
            is_self = member is not None and member == actor
            row = {
                **event,
                # The member list holds names only; the actor's id is the better key when they are the member.
                "author_key": actor_key if is_self else member,
                "author_name": member,
            }
            if len(members) > 1:
                row["message_id"] = f"{common['message_id']}#{n}"
            if action == "invite_members":
                row |= {
                    "kind": "join",
                    "join_method": "self" if is_self else "invite",
                    "inviter_key": None if is_self else actor_key,
                }
            else:
                row["kind"] = "leave" if is_self else "remove"
            yield row
    elif action == "join_group_by_link":
        yield {**event, "kind": "join", "join_method": "link", "inviter_key": msg.get("inviter")}
    elif action == "join_group_by_request":
        yield {**event, "kind": "join", "join_method": "self"}
    elif action == "edit_group_title":
        yield {**event, "kind": "rename", "text": msg.get("title")}
    else:
        yield {**event, "kind": "system"}

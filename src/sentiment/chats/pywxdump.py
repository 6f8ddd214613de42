"""Read PyWxDump CSV exports (v3 ``msg,src`` columns and v2 JSON ``content``) into the raw chat-record frame."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from datetime import tzinfo
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment.chats.encoding import read_text
from sentiment.chats.records import Rejects, local_seconds, raw_frame
from sentiment.chats.wechat import SELF_KEY, system_text
from sentiment.chats.wechat import _system_rows as system_event_rows
from sentiment.errors import ParseError

__all__ = ["PYWXDUMP_V2_HEADER", "PYWXDUMP_V3_HEADER", "read_pywxdump_csv"]

PLATFORM = "wechat"
PYWXDUMP_V3_HEADER = ("id", "MsgSvrID", "type_name", "is_sender", "talker", "room_name", "msg", "src", "CreateTime")
PYWXDUMP_V2_HEADER = ("id", "MsgSvrID", "type_name", "is_sender", "talker", "room_name", "content", "CreateTime")
# PyWxDump writes the literal 我 ("me") as the talker of the owner's messages when it is not given the wxid.
_OWNER_TALKER = "我"
_MEDIA = {
    "图片": "image",
    "语音": "voice",
    "视频": "video",
    "动画表情": "sticker",
    "位置": "location",
    "文件": "file",
    "转账": "transfer",
    "语音通话": "call",
    "名片": "contact",
    "音乐与音频": "music",
    "红包": "red_packet",
}
_SYSTEM = ("系统通知", "拍一拍", "邀请加群")
_FORWARD = "合并转发的聊天记录"


def read_pywxdump_csv(path: Path, tz: tzinfo, *, rejects: Rejects | None = None) -> pd.DataFrame:
    """All records of a PyWxDump CSV; ``CreateTime`` is the exporting PC's local time, read in ``tz``.

    With ``rejects`` a bad record is appended there (line, raw text, reason) instead of failing the file.
    """
    path = Path(path)
    text, encoding = read_text(path, "UTF-8 or GB18030 (PyWxDump CSV)")
    rows: list[dict[str, Any]] = []
    for line, raw, rec in _records(path, text):
        try:
            rows.extend(_rows(path, line, rec, tz))
        except ParseError as exc:
            if rejects is None:
                raise
            rejects.append((line, raw, exc.reason))
    frame = raw_frame(rows)
    frame.attrs["encoding"] = encoding
    return frame


def _records(path: Path, text: str) -> Iterator[tuple[int, str, dict[str, str]]]:
    """(first physical line, raw record text, field dict) per CSV record."""
    lines = text.splitlines(keepends=True)
    counter = iter(lines)
    consumed = 0
    start = 1

    def feed() -> Iterator[str]:
        nonlocal consumed
        for line in counter:
            consumed += 1
            yield line

    reader = csv.reader(feed(), strict=True)
    header: tuple[str, ...] | None = None
    try:
        for fields in reader:
            raw = "".join(lines[start - 1 : consumed]).rstrip("\r\n")
            if not fields:
                start = consumed + 1
                continue
            if header is None:
                header = tuple(f.strip() for f in fields)
                if header not in (PYWXDUMP_V3_HEADER, PYWXDUMP_V2_HEADER):
                    raise ParseError(path, f"not a PyWxDump CSV: unexpected header {','.join(header)}", line=start)
            elif len(fields) != len(header):
                yield start, raw, {"__error__": f"record has {len(fields)} fields, expected {len(header)}"}
            else:
                yield start, raw, dict(zip(header, fields, strict=True))
            start = consumed + 1
    except csv.Error as exc:
        raise ParseError(path, f"malformed CSV: {exc}", line=start) from exc
    if header is None:
        raise ParseError(path, "empty file: no PyWxDump CSV header", line=1)


def _message(path: Path, line: int, rec: dict[str, str]) -> tuple[str, str]:
    """(msg, src) from v3 columns or the v2 JSON ``content``."""
    if "content" not in rec:
        return rec.get("msg", ""), rec.get("src", "")
    try:
        content = json.loads(rec["content"]) if rec["content"].strip() else {}
    except json.JSONDecodeError as exc:
        raise ParseError(path, f"content is not JSON: {exc.msg}", line=line) from exc
    if not isinstance(content, dict):
        raise ParseError(path, "content is not a JSON object", line=line)
    return str(content.get("msg") or ""), str(content.get("src") or "")


def _rows(path: Path, line: int, rec: dict[str, str], tz: tzinfo) -> Iterator[dict[str, Any]]:
    if "__error__" in rec:
        raise ParseError(path, rec["__error__"], line=line)
    try:
        ts = local_seconds(rec["CreateTime"], tz)
    except ValueError as exc:
        raise ParseError(path, f"unreadable CreateTime {rec['CreateTime']!r}", line=line) from exc
    msg, _src = _message(path, line, rec)
    svr = rec["MsgSvrID"].strip()
    local = rec["id"].strip()
    if not (svr and svr != "0") and not local:
        raise ParseError(path, "record has neither MsgSvrID nor id", line=line)
    room = rec["room_name"].strip()
    if not room:
        raise ParseError(path, "record has no room_name (the conversation id)", line=line)
    talker = rec["talker"].strip()
    author = SELF_KEY if talker == _OWNER_TALKER else (talker or None)
    row: dict[str, Any] = {
        "platform": PLATFORM,
        "chat_id": room,
        "chat_name": room,
        # MsgSvrID is the server's id, unique across the account; the local id only within one database.
        "message_id": svr if svr and svr != "0" else f"local:{local}",
        "ts": ts,
        "author_key": author,
        "author_name": None if author == SELF_KEY else author,
        "source_file": path.name,
        "source_record": line,
        # Group rooms end in @chatroom; any other room is the other person's WeChat id.
        "chat_private": not room.endswith("@chatroom"),
    }
    type_name = rec["type_name"].strip()
    if type_name in _SYSTEM or type_name.startswith("消息撤回"):
        yield from system_event_rows(row, system_text(msg))
    elif type_name in _MEDIA:
        yield {**row, "kind": "media", "media_type": _MEDIA[type_name]}
    elif type_name == "文本":
        yield {**row, "kind": "message", "text": msg or None}
    elif type_name == "引用回复":
        # "{title}\n\n[引用]({time}){name}:{content}" — the quoted part is someone else's earlier message.
        yield {**row, "kind": "message", "text": re.split(r"\n+\[引用\]", msg, maxsplit=1)[0] or None}
    elif type_name == _FORWARD:
        yield {**row, "kind": "message", "text": msg or None, "is_forward": True}
    elif "链接" in type_name or "卡片" in type_name:
        yield {**row, "kind": "message", "text": msg or None}
    else:
        yield {**row, "kind": "system", "text": msg or type_name or None}

"""Read the WeChat text exports (WeChatMsg/MemoTrace TXT and WechatExporter TXT) into the raw chat-record frame."""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterator
from datetime import tzinfo
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment.chats.encoding import read_text
from sentiment.chats.records import content_id, local_seconds, name_chat_id, raw_frame
from sentiment.chats.wechat import _system_rows as system_event_rows
from sentiment.chats.wechat import system_text
from sentiment.errors import ParseError

__all__ = [
    "EXPORTER_TITLE",
    "WECHATMSG_HEADER",
    "looks_like_wechatexporter_txt",
    "looks_like_wechatmsg_txt",
    "read_wechatexporter_txt",
    "read_wechatmsg_txt",
]

PLATFORM = "wechat"
_TIME = r"\d{4}[-/]\d{1,2}[-/]\d{1,2} \d{1,2}:\d{2}(?::\d{2})?"
# WeChatMsg: "{StrTime} {name}" then the content lines, then one blank line; system lines have no name line after.
WECHATMSG_HEADER = re.compile(rf"^({_TIME}) (.*)$")
# WechatExporter: "{NAME} ({YYYY-MM-DD HH:MM:SS}):{MESSAGE}" after a "{session} - 微信聊天记录" title line.
_EXPORTER_LINE = re.compile(rf"^(.*?) \(({_TIME})\):(.*)$")
EXPORTER_TITLE = re.compile(r"^(.*) - (?:微信聊天记录|WeChat Chat History)\s*$")
_EXPORTER_SYSTEM_PREFIX = re.compile(r"^(?:System Message|系统消息)\s*[:：]\s*")
# System texts outside parse_system_text's event patterns that still mark a bare line as a notice, not a message.
_NOTICE = re.compile(
    r"(加入了群聊|加入群聊|移出了?群聊|退出了群聊|撤回了一条消息|拍了拍|现在可以开始聊天了|修改群名为|"
    r"to the group chat|recalled a message|Start chatting!|changed the group name)"
)
_PLACEHOLDERS = {
    "[图片]": "image",
    "[语音]": "voice",
    "[视频]": "video",
    "[表情包]": "sticker",
    "[文件]": "file",
    "[音乐分享]": "music",
    # WechatExporter (Chinese and English UI)
    "[Photo]": "image",
    "[表情]": "sticker",
    "[Emoji]": "sticker",
    "[Video]": "video",
    "[Voice]": "voice",
}


def looks_like_wechatmsg_txt(text: str) -> bool:
    """The first non-blank line is a ``{time} {name}`` header and a line below it holds content."""
    lines = [line for line in text.splitlines() if line.strip()]
    return len(lines) >= 2 and WECHATMSG_HEADER.match(lines[0]) is not None


def looks_like_wechatexporter_txt(text: str) -> bool:
    """A ``... - 微信聊天记录`` title, or a first line in the ``NAME (TIME):MESSAGE`` shape."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return False
    return EXPORTER_TITLE.match(lines[0]) is not None or _EXPORTER_LINE.match(lines[0]) is not None


def _unescape_name(name: str) -> str:
    # WeChatMsg passes names through escape_js_and_html: backslash-escaped quotes and control chars, HTML entities.
    name = re.sub(r"\\([\\'\"])", r"\1", name).replace("\\n", "\n").replace("\\t", "\t").replace("\\r", "")
    return html.unescape(name)


def _content_fields(content: str) -> dict[str, Any]:
    first = content.split("\n", 1)[0].strip()
    if content.strip() in _PLACEHOLDERS:
        return {"kind": "media", "media_type": _PLACEHOLDERS[content.strip()]}
    if first.startswith("[链接]"):
        return {"kind": "message", "text": first.removeprefix("[链接]").lstrip(":：") or None}
    # Quoted replies end with "\n引用:{name}:{content}" (WeChatMsg) — the quoted part is not this message's text.
    text = re.split(r"\n引用[:：]", content, maxsplit=1)[0]
    return {"kind": "message", "text": text or None}


def _system_rows(row: dict[str, Any], raw_text: str) -> Iterator[dict[str, Any]]:
    # The same event decoding as the MemoTrace CSV reader (one row per member of a join/removal).
    return system_event_rows(row, system_text(raw_text))


class _Ids:
    """Content-hash ids that stay distinct when the same person says the same thing twice in one second."""

    def __init__(self, chat_id: str) -> None:
        self._chat_id = chat_id
        self._seen: Counter[tuple[Any, ...]] = Counter()

    def __call__(self, *parts: Any) -> str:
        self._seen[parts] += 1
        return content_id(self._chat_id, *parts, self._seen[parts])


def read_wechatmsg_txt(path: Path, tz: tzinfo) -> pd.DataFrame:
    """All records of a WeChatMsg/MemoTrace TXT export; ``tz`` is the exporting PC's zone (times are local)."""
    path = Path(path)
    text, encoding = read_text(path, "UTF-8 or GB18030 (WeChatMsg TXT)")
    lines = text.split("\n")
    chat_name = path.stem
    chat_id = name_chat_id(chat_name)
    ids = _Ids(chat_id)
    base = {"platform": PLATFORM, "chat_id": chat_id, "chat_name": chat_name, "source_file": path.name}
    # A record starts at a header line that opens the file or follows a blank line.
    starts = [
        i for i, line in enumerate(lines) if WECHATMSG_HEADER.match(line) and (i == 0 or not lines[i - 1].strip())
    ]
    if not starts and text.strip():
        raise ParseError(path, "not a WeChatMsg TXT export: no '{time} {name}' header line", line=1)
    if starts and any(line.strip() for line in lines[: starts[0]]):
        first = next(i for i, line in enumerate(lines) if line.strip())
        raise ParseError(path, "text before the first '{time} {name}' header line", line=first + 1)
    rows: list[dict[str, Any]] = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        block = lines[start:end]
        while block and not block[-1].strip():
            block.pop()
        header = WECHATMSG_HEADER.match(block[0])
        assert header is not None  # starts holds header lines only
        stamp, rest = header.group(1), header.group(2)
        try:
            ts = local_seconds(stamp, tz)
        except ValueError as exc:
            raise ParseError(path, f"unreadable time {stamp!r}", line=start + 1) from exc
        row = {**base, "ts": ts, "source_record": start + 1}
        content = "\n".join(block[1:])
        if len(block) == 1:
            # System messages carry no name: the whole rest of the header line is the system text.
            rows.extend(_system_rows({**row, "message_id": ids(ts, "", rest)}, rest))
            continue
        name = _unescape_name(rest)
        rows.append(
            {
                **row,
                "message_id": ids(ts, name, content),
                "author_key": name or None,
                "author_name": name or None,
                **_content_fields(content),
            }
        )
    frame = raw_frame(rows)
    frame.attrs["encoding"] = encoding
    return frame


def read_wechatexporter_txt(path: Path, tz: tzinfo) -> pd.DataFrame:
    """All records of a WechatExporter (iOS) TXT export; bare lines are system notices or continued messages."""
    path = Path(path)
    text, encoding = read_text(path, "UTF-8 or GB18030 (WechatExporter TXT)")
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    title = EXPORTER_TITLE.match(lines[first]) if first is not None else None
    chat_name = title.group(1).strip() if title else (path.parent.name if path.stem == "index" else path.stem)
    chat_id = name_chat_id(chat_name)
    ids = _Ids(chat_id)
    base = {"platform": PLATFORM, "chat_id": chat_id, "chat_name": chat_name, "source_file": path.name}
    # (line number, name or None for notices, time text or None, content lines)
    records: list[list[Any]] = []
    for i, line in enumerate(lines):
        if title is not None and i == first:
            continue
        m = _EXPORTER_LINE.match(line)
        if m:
            records.append([i + 1, m.group(1), m.group(2), [m.group(3)]])
        elif not line.strip():
            if records and records[-1][1] is not None:
                records[-1][3].append("")  # maybe a blank line inside a message; trailing ones are trimmed
        elif _EXPORTER_SYSTEM_PREFIX.match(line) or _NOTICE.search(line) or not records or records[-1][1] is None:
            records.append([i + 1, None, None, [_EXPORTER_SYSTEM_PREFIX.sub("", line)]])
        else:
            records[-1][3].append(line)
    if lines and not records and text.strip() and title is None:
        raise ParseError(path, "not a WechatExporter TXT export: no 'NAME (TIME):MESSAGE' line", line=1)
    # Notices have no time of their own: they take the previous message's (or, before any, the next one's).
    stamps: list[int | None] = []
    for line_no, _, stamp, _ in records:
        if stamp is None:
            stamps.append(None)
            continue
        try:
            stamps.append(local_seconds(stamp, tz))
        except ValueError as exc:
            raise ParseError(path, f"unreadable time {stamp!r}", line=line_no) from exc
    known = [s for s in stamps if s is not None]
    if records and not known:
        raise ParseError(path, "no timed message: notices alone cannot be placed in time", line=records[0][0])
    filled: list[int] = []
    for s in stamps:
        filled.append(s if s is not None else (filled[-1] if filled else known[0]))
    rows: list[dict[str, Any]] = []
    for (line_no, name, _, content_lines), ts in zip(records, filled, strict=True):
        while content_lines and not content_lines[-1].strip():
            content_lines.pop()
        content = "\n".join(content_lines)
        row = {**base, "ts": ts, "source_record": line_no}
        if name is None:
            rows.extend(_system_rows({**row, "message_id": ids(ts, "", content)}, content))
            continue
        fields = _content_fields(content)
        # Quoted replies: 「{name}：{msg}」, a dashed rule, then the reply itself.
        if fields.get("text") and "\n- - - -" in fields["text"]:
            fields["text"] = re.split(r"\n(?:- )+-?\s*\n?", fields["text"], maxsplit=1)[-1].strip() or None
        rows.append(
            {
                **row,
                "message_id": ids(ts, name, content),
                "author_key": name or None,
                "author_name": name or None,
                **fields,
            }
        )
    frame = raw_frame(rows)
    frame.attrs["encoding"] = encoding
    return frame

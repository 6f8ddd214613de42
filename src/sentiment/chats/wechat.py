"""Read MemoTrace/WeChatMsg CSV exports into the raw chat-record frame, decoding system texts into events."""

from __future__ import annotations

import csv
import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from sentiment.chats.encoding import sniff_encoding
from sentiment.chats.records import Rejects, decode_error, local_seconds, name_chat_id, raw_frame
from sentiment.errors import ParseError

__all__ = [
    "MEMOTRACE_HEADER",
    "SELF_KEY",
    "SystemEvent",
    "parse_system_text",
    "read_memotrace_csv",
    "system_text",
]

PLATFORM = "wechat"
MEMOTRACE_HEADER = (
    "localId",
    "TalkerId",
    "Type",
    "SubType",
    "IsSender",
    "CreateTime",
    "Status",
    "StrContent",
    "StrTime",
    "Remark",
    "NickName",
    "Sender",
)
# Stands for the exporting account in system texts ("你" / "You"), whose wxid the text does not carry.
SELF_KEY = "@me"
# Older private-chat rows stop after StrTime (9 fields); anything shorter is damaged.
_MIN_FIELDS = 9

_MEDIA = {3: "image", 34: "voice", 43: "video", 47: "sticker", 42: "contact", 48: "location"}
_APP_MEDIA = {6: "file", 3: "music", 4: "video", 2000: "transfer"}
_APP_TEXT = {57, 5, 19}  # quoted reply, link card, forwarded chat record
_SYSTEM_TYPES = {10000, 10002}


@dataclass(frozen=True)
class SystemEvent:
    """What a WeChat system text says happened: to whom (members), by whom (actor), how, and who invited."""

    kind: str
    members: tuple[str, ...] = ()
    join_method: str | None = None
    inviter: str | None = None
    actor: str | None = None
    title: str | None = None


def read_memotrace_csv(path: Path, tz: tzinfo, *, rejects: Rejects | None = None) -> pd.DataFrame:
    """All records of a MemoTrace CSV; ``tz`` reads ``StrTime`` only for rows without a ``CreateTime``.

    UTF-8 (BOM) as written, or GB18030 when re-saved by Excel. With ``rejects`` a bad record is appended there
    (line, raw fields, reason) instead of failing the file.
    """
    path = Path(path)
    encoding = sniff_encoding(path, "UTF-8 (MemoTrace CSVs are UTF-8 with BOM)")
    records = list(_records(path, encoding))
    talkers = sorted({r["TalkerId"] for _, r in records if r.get("TalkerId")})
    chat_name = _chat_name(path)
    # Several TalkerIds mean several MSG*.db shards, whose localIds overlap: key the chat by name then.
    sharded = len(talkers) > 1
    chat_id = talkers[0] if len(talkers) == 1 else name_chat_id(chat_name)
    base = {"platform": PLATFORM, "chat_id": chat_id, "chat_name": chat_name, "source_file": path.name}
    rows: list[dict[str, Any]] = []
    for line, rec in records:
        try:
            rows.extend(_rows(path, line, rec, tz, base, sharded=sharded))
        except ParseError as exc:
            if rejects is None:
                raise
            rejects.append((line, ",".join(rec.values()), exc.reason))
    frame = raw_frame(rows)
    frame.attrs["encoding"] = encoding
    return frame


def _chat_name(path: Path) -> str:
    # MemoTrace writes <remark>/<remark>_utf8.csv (newer builds: <remark>(<wxid>)/<remark>.csv).
    stem = path.stem
    return stem.removesuffix("_utf8") or path.parent.name


def _records(path: Path, encoding: str = "utf-8-sig") -> Iterator[tuple[int, dict[str, str]]]:
    """(first physical line, field dict) per CSV record, tolerating rows shorter than the header."""
    try:
        with path.open(encoding=encoding, newline="") as fh:
            counter = _LineCounter(fh)
            reader = csv.reader(counter, strict=True)
            start = 1
            header: list[str] | None = None
            try:
                for fields in reader:
                    if not fields:
                        start = counter.newlines + 1
                        continue
                    if header is None:
                        header = fields
                        if tuple(header[:2]) != MEMOTRACE_HEADER[:2]:
                            raise ParseError(
                                path,
                                "not a MemoTrace CSV: the header does not start with localId,TalkerId",
                                line=start,
                            )
                    elif len(fields) < _MIN_FIELDS:
                        raise ParseError(
                            path,
                            f"record has {len(fields)} fields, expected at least {_MIN_FIELDS} of {len(header)}",
                            line=start,
                        )
                    else:
                        yield start, dict(zip(header, fields, strict=False))
                    start = counter.newlines + 1
            except csv.Error as exc:
                raise ParseError(path, f"malformed CSV: {exc}", line=start) from exc
    except UnicodeDecodeError:
        data = path.read_bytes()
        bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
        try:
            data[bom:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise decode_error(path, data, bom + exc.start, "UTF-8 (MemoTrace CSVs are UTF-8 with BOM)") from exc
        raise  # pragma: no cover - the streaming decoder and a whole-file decode disagree only on a bug


class _LineCounter:
    """Iterates a file's lines for csv.reader while counting the newlines consumed so far."""

    def __init__(self, fh: TextIO) -> None:
        self._fh = fh
        self.newlines = 0

    def __iter__(self) -> Iterator[str]:
        for line in self._fh:
            self.newlines += line.endswith("\n")
            yield line


def _int(path: Path, line: int, rec: dict[str, str], key: str) -> int:
    value = rec.get(key)
    if value is None:
        raise ParseError(path, f"record misses the {key} field", line=line)
    try:
        return int(value)
    except ValueError as exc:
        raise ParseError(path, f"{key} is not an integer: {value!r}", line=line) from exc


def _seconds(path: Path, line: int, rec: dict[str, str], tz: tzinfo) -> int:
    if rec.get("CreateTime"):
        return _int(path, line, rec, "CreateTime")
    try:
        # StrTime is the exporting PC's local wall-clock time (Excel re-saves it as 2024/10/4 11:42).
        return local_seconds(rec.get("StrTime", ""), tz)
    except ValueError as exc:
        raise ParseError(path, "record has neither a CreateTime nor a readable StrTime", line=line) from exc


def _rows(
    path: Path, line: int, rec: dict[str, str], tz: tzinfo, base: dict[str, Any], *, sharded: bool
) -> Iterator[dict[str, Any]]:
    local_id = _int(path, line, rec, "localId")
    msg_type = _int(path, line, rec, "Type")
    sub_type = int(rec["SubType"]) if rec.get("SubType", "").lstrip("-").isdigit() else 0
    content = rec.get("StrContent", "")
    name = rec.get("NickName") or rec.get("Remark") or None
    row: dict[str, Any] = {
        **base,
        "message_id": f"{rec['TalkerId']}:{local_id}" if sharded else str(local_id),
        "ts": _seconds(path, line, rec, tz),
        "author_key": rec.get("Sender") or name,
        "author_name": name,
        "source_record": line,
    }
    if msg_type == 1:
        yield {**row, "kind": "message", "text": content or None}
    elif msg_type in _MEDIA:
        yield {**row, "kind": "media", "media_type": _MEDIA[msg_type]}
    elif msg_type == 49 and sub_type in _APP_TEXT:
        title = _xml_field(content, "title") if content.lstrip().startswith("<") else content
        yield {**row, "kind": "message", "text": title or None, "is_forward": sub_type == 19}
    elif msg_type == 49:
        yield {**row, "kind": "media", "media_type": _APP_MEDIA.get(sub_type, "app")}
    elif msg_type in _SYSTEM_TYPES:
        yield from _system_rows(row, system_text(content))
    else:
        yield {**row, "kind": "system", "text": content or None}


def _system_rows(row: dict[str, Any], text: str) -> Iterator[dict[str, Any]]:
    event = parse_system_text(text)
    row = {**row, "author_key": None, "author_name": None, "kind": event.kind, "text": text}
    if event.actor is not None:
        yield {**row, "author_key": event.actor, "author_name": event.actor, "text": event.title or text}
        return
    if not event.members:
        yield row
        return
    for n, member in enumerate(event.members, start=1):
        yield {
            **row,
            "message_id": f"{row['message_id']}#{n}" if len(event.members) > 1 else row["message_id"],
            "author_key": member,
            "author_name": member,
            "join_method": event.join_method,
            "inviter_key": event.inviter,
        }


def _xml_field(xml: str, tag: str) -> str | None:
    m = re.search(rf"<{tag}>(.*?)</{tag}>", xml, re.S)
    if m is None:
        return None
    value = m.group(1).strip()
    cdata = re.fullmatch(r"<!\[CDATA\[(.*)\]\]>", value, re.S)
    return cdata.group(1) if cdata else html.unescape(value)


def system_text(content: str) -> str:
    """The readable text of a Type 10000/10002 StrContent (plain, revokemsg or sysmsgtemplate XML)."""
    text = content.strip()
    if "sysmsgtemplate" in text:
        text = _render_template(text) or text
    elif "revokemsg" in text:
        text = _xml_field(text, "replacemsg") or _xml_field(text, "revokemsg") or text
    text = re.sub(r"<!\[CDATA\[(.*?)\]\]>", r"\1", text, flags=re.S)
    text = re.sub(r"\s*<a href=\"weixin://revoke_edit_click\">.*?</a>", "", text, flags=re.S)
    text = text.replace("$revoke$", "")
    return text.strip()


def _render_template(xml: str) -> str | None:
    """Fill a sysmsgtemplate's ``$name$`` slots with the nicknames its links list."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    template = root.findtext(".//template")
    if not template:
        return None
    for link in root.iterfind(".//link_list/link"):
        names = [m.findtext("nickname") or m.findtext("username") or "" for m in link.iterfind(".//member")]
        separator = link.findtext("separator") or "、"
        template = template.replace(f"${link.get('name')}$", separator.join(names) if names else "")
    return template


_Q = '["“”]'  # WeChat quotes names with ASCII quotes; some clients and the rename title use curly ones
_N = rf"{_Q}\s*(.+?){_Q}"  # a quoted name (QR joins on some versions put a space inside the quote)
_O = rf"{_Q}?(.+?){_Q}?"  # an optionally quoted name (English clients quote inconsistently)
_YOU = {"你", "you", "You"}


def _split(names: str) -> tuple[str, ...]:
    parts = re.split(rf"{_Q}?\s*(?:、|，|,)\s*{_Q}?", names)
    return tuple(p.strip().strip('"“”').strip() for p in parts if p.strip().strip('"“”').strip())


def _who(name: str) -> str:
    return SELF_KEY if name in _YOU else name


def _joined(members: str, inviter: str | None, method: str = "invite") -> SystemEvent:
    found = list(_split(members))
    # "X invited you and Y ..." / "X"邀请你和"Y"... name the account owner first.
    head = re.match(r"^(?:you and |你和\s*)(.*)$", found[0]) if found else None
    if head:
        found[0:1] = [SELF_KEY, head.group(1).strip().strip('"“”')]
    return SystemEvent("join", tuple(_who(m) for m in found), method, None if inviter is None else _who(inviter))


_RULES: tuple[tuple[re.Pattern[str], Any], ...] = tuple(
    (re.compile(pattern, re.I if english else 0), build)
    for pattern, english, build in (
        # Chinese client
        (rf"^{_N}邀请你加入了群聊", False, lambda m: _joined("你", m[1])),
        (rf"^{_N}邀请你和{_Q}(.+?){_Q}加入了群聊", False, lambda m: _joined("你和" + m[2], m[1])),
        (rf"^{_N}邀请{_Q}(.+?){_Q}加入了群聊", False, lambda m: _joined(m[2], m[1])),
        (rf"^你邀请{_Q}(.+?){_Q}加入了群聊", False, lambda m: _joined(m[1], SELF_KEY)),
        (rf"^{_N}通过扫描你分享的二维码加入群聊", False, lambda m: _joined(m[1], SELF_KEY, "qr")),
        (rf"^{_N}通过扫描{_N}分享的二维码加入群聊", False, lambda m: _joined(m[1], m[2], "qr")),
        (r"^你通过扫描二维码加入群聊", False, lambda m: SystemEvent("join", (SELF_KEY,), "qr")),
        (rf"^你将{_Q}(.+?){_Q}移出了群聊", False, lambda m: SystemEvent("remove", _split(m[1]))),
        (rf"^你被{_N}移出群聊", False, lambda m: SystemEvent("remove", (SELF_KEY,))),
        (rf"^{_N}退出了群聊", False, lambda m: SystemEvent("leave", (m[1],))),
        (
            rf"^(?:{_N}|你)修改群名为[“\"](.+?)[”\"]",
            False,
            lambda m: SystemEvent("rename", actor=m[1] or SELF_KEY, title=m[2]),
        ),
        (rf"^{_N}\s*撤回了一条消息", False, lambda m: SystemEvent("recall", actor=m[1])),
        (r"^你撤回了一条消息", False, lambda m: SystemEvent("recall", actor=SELF_KEY)),
        # English client
        (rf"^{_O} invited you to a group chat with ", True, lambda m: _joined("you", m[1])),
        (rf"^{_O} invited (.+?) to the group chat\.?$", True, lambda m: _joined(m[2], m[1])),
        (
            rf"^{_N} joined (?:the )?group chat via (?:the QR code you shared|your shared QR code)",
            True,
            lambda m: _joined(m[1], SELF_KEY, "qr"),
        ),
        (
            rf"^{_N} joined (?:the )?group chat via the QR code shared by {_N}",
            True,
            lambda m: _joined(m[1], m[2], "qr"),
        ),
        (
            r"^You've joined (?:the )?group chat via QR code",
            True,
            lambda m: SystemEvent("join", (SELF_KEY,), "qr"),
        ),
        (rf"^You removed {_O} from the group chat", True, lambda m: SystemEvent("remove", _split(m[1]))),
        (
            rf"^You were removed from the group chat by {_O}\.?$",
            True,
            lambda m: SystemEvent("remove", (SELF_KEY,)),
        ),
        (rf"^{_N} left the group chat", True, lambda m: SystemEvent("leave", (m[1],))),
        (
            rf"^{_O} changed the group name to {_Q}(.+?){_Q}\.?$",
            True,
            lambda m: SystemEvent("rename", actor=_who(m[1]), title=m[2]),
        ),
        (rf"^{_O} recalled a message", True, lambda m: SystemEvent("recall", actor=_who(m[1]))),
    )
)


def parse_system_text(text: str) -> SystemEvent:
    """Decode a WeChat system text (Chinese or English client) into an event; unknown texts are ``system``."""
    for pattern, build in _RULES:
        m = pattern.match(text)
        if m:
            return build(m)
    return SystemEvent("system")

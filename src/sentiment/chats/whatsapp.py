"""Read WhatsApp "Export chat" .txt files (Android and iOS layouts) into the raw chat-record frame."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment.chats.records import name_chat_id, raw_frame
from sentiment.chats.textio import ContentKeys, decode_utf8, media_type_of
from sentiment.errors import ParseError

__all__ = ["HEADER", "SELF_KEY", "Header", "day_first", "parse_header", "read_whatsapp_txt", "wall_time"]

PLATFORM = "whatsapp"
# Stands for the exporting account ("You"), as in the WeChat reader.
SELF_KEY = "@me"

# The message-start grammar of whatsapp-chat-parser (Pustur), named: optional LRM/RLM and "[", a 3-part date,
# anything non-numeric ("klo", ", "), the time, an optional am/pm (a.m., p. m., PM with NBSP), "]" or " -" or ":".
HEADER = re.compile(
    r"^[\u200e\u200f]*\[?(?P<date>\d{1,4}[-/.]\s?\d{1,4}[-/.]\s?\d{1,4})[,.]?\s\D*?"
    r"(?P<time>\d{1,2}[.:]\d{1,2}(?:[.:]\d{1,2})?)(?:\s?(?P<ampm>[ap])\.?\s?m\.?)?\]?(?:\s-|:)?\s(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)

_Q = '["“”]'
_SYSTEM_RULES: tuple[tuple[re.Pattern[str], str, str | None], ...] = tuple(
    (re.compile(p, re.IGNORECASE), kind, method)
    for p, kind, method in (
        (r"^(?P<actor>.+?) created group " + _Q + r"(?P<title>.*)" + _Q + r"$", "system", None),
        (r"^(?P<members>.+?) (?:was|were) added$", "join", "invite"),
        (r"^(?P<actor>.+?) added (?P<members>.+)$", "join", "invite"),
        (r"^(?P<members>.+?) joined using this group['’]s invite link$", "join", "link"),
        (r"^(?P<members>.+?) joined from the community$", "join", "self"),
        (r"^(?P<members>.+?) (?:was|were) removed$", "remove", None),
        (r"^(?P<actor>.+?) removed (?P<members>.+)$", "remove", None),
        (r"^(?P<members>.+?) left$", "leave", None),
        (
            r"^(?P<actor>.+?) changed (?:the subject|the group name|this group['’]s name)"
            r"(?: from " + _Q + r".*?" + _Q + r")? to " + _Q + r"(?P<title>.*)" + _Q + r"$",
            "rename",
            None,
        ),
        (r"end-to-end encrypt", "system", None),
    )
)
_YOU = {"you", "You"}
_LIST = re.compile(r",\s+|\s+and\s+")

_OMITTED = re.compile(
    r"^(?:.+? )?(?P<what>image|video|audio|sticker|GIF|document|Contact card|voice message|video note) omitted$",
    re.IGNORECASE,
)
_OMITTED_TYPES = {"gif": "animation", "document": "file", "contact card": "contact", "audio": "voice"}
_ATTACHED = re.compile(
    r"^(?:<\s?attached: (?P<a>.+?)\s?>|(?P<b>.+?) \((?:file attached|Datei angehängt)\)|(?P<c>.+?) <\u200e?attached>)$"
)
_DELETED = {"This message was deleted", "You deleted this message"}
_EDITED = " <This message was edited>"


@dataclass(frozen=True)
class Header:
    """The parts of one message-start line: raw date and time strings, am/pm letter and the text after them."""

    date: str
    time: str
    ampm: str | None
    rest: str


def parse_header(line: str) -> Header | None:
    """The header parts of ``line`` if it starts a message (or system line), else None (a continuation)."""
    m = HEADER.match(line)
    if m is None:
        return None
    return Header(m["date"], m["time"], m["ampm"], m["rest"])


def _date_parts(date: str) -> tuple[int, int, int]:
    """(year, first, second): the year wherever it stands (4 digits, else last) and the other two in order."""
    parts = [int(p) for p in re.findall(r"\d+", date)]
    long = [i for i, p in enumerate(re.findall(r"\d+", date)) if len(p) == 4]
    year_at = long[0] if long else 2
    year = parts[year_at]
    first, second = (p for i, p in enumerate(parts) if i != year_at)
    return (year + 2000 if year < 100 else year), first, second


def day_first(dates: Sequence[str]) -> bool:
    """Whether this file writes the day first: a field above 12 decides, else date order, else the faster-changing."""
    pairs = [_date_parts(d)[1:] for d in dates]
    if any(a > 12 for a, _ in pairs):
        return True
    if any(b > 12 for _, b in pairs):
        return False
    # Exports are chronological: the wrong order makes dates go backwards within a year.
    full = [_date_parts(d) for d in dates]
    back_a = sum((y1, a1, b1) > (y2, a2, b2) for (y1, a1, b1), (y2, a2, b2) in itertools.pairwise(full))
    back_b = sum((y1, b1, a1) > (y2, b2, a2) for (y1, a1, b1), (y2, a2, b2) in itertools.pairwise(full))
    if back_a != back_b:
        return back_a > back_b
    # Consecutive messages change day more often than month.
    changes_a = sum(p[0] != q[0] for p, q in itertools.pairwise(pairs))
    changes_b = sum(p[1] != q[1] for p, q in itertools.pairwise(pairs))
    return changes_a >= changes_b


def wall_time(header: Header, dayfirst: bool) -> datetime:
    year, a, b = _date_parts(header.date)
    day, month = (a, b) if dayfirst else (b, a)
    hms = [int(p) for p in re.split(r"[.:]", header.time)]
    hour = hms[0]
    if header.ampm:
        # Some Android locales write the first hour after midnight as "00:08 a. m." (hour 0 on a 12-hour clock).
        if not 0 <= hour <= 12 or (hour == 0 and header.ampm.lower() == "p"):
            raise ValueError(f"hour {hour} with am/pm")
        hour = hour % 12 + (12 if header.ampm.lower() == "p" else 0)
    return datetime(year, month, day, hour, hms[1], hms[2] if len(hms) > 2 else 0)


def read_whatsapp_txt(path: Path, tz: tzinfo) -> pd.DataFrame:
    """All records of a WhatsApp .txt export; its wall-clock times are read in ``tz``."""
    path = Path(path)
    text = decode_utf8(path, path.read_bytes(), "UTF-8 (WhatsApp exports are UTF-8)")
    records = list(_records(path, text))
    if not records:
        raise ParseError(path, "no WhatsApp messages found (empty export?)", line=1)
    dayfirst = day_first([h.date for _, h, _ in records])
    known = _known_authors([h.rest for _, h, _ in records])
    chat_name = re.sub(r"^WhatsApp Chat (?:with |- )", "", path.stem) or path.stem
    base = {"platform": PLATFORM, "chat_id": name_chat_id(chat_name), "chat_name": chat_name, "source_file": path.name}
    keys = ContentKeys("w:")
    rows: list[dict[str, Any]] = []
    for line, header, body in records:
        try:
            wall = wall_time(header, dayfirst)
        except ValueError as exc:
            order = "day/month" if dayfirst else "month/day"
            raise ParseError(
                path, f"unreadable date {header.date} {header.time} ({order} order): {exc}", line=line
            ) from exc
        full = header.rest + body
        row = {
            **base,
            "message_id": keys(header.date, header.time, full),
            "ts": int(wall.replace(tzinfo=tz).timestamp()),
            "source_record": line,
        }
        rows.extend(_rows(row, full, known))
    return raw_frame(rows)


def _records(path: Path, text: str) -> Iterator[tuple[int, Header, str]]:
    """(first line number, header, continuation text) per message; continuation lines are joined with \\n."""
    current: tuple[int, Header] | None = None
    extra: list[str] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        header = parse_header(line)
        if header is not None:
            if current is not None:
                yield current[0], current[1], "".join("\n" + e for e in extra)
            current, extra = (number, header), []
        elif current is not None:
            extra.append(line)
        elif line.strip():
            raise ParseError(path, f"line does not start with a WhatsApp date and time: {line[:60]!r}", line=number)
    if current is not None:
        # The export ends with a newline: drop the empty "line" after it.
        while extra and not extra[-1]:
            extra.pop()
        yield current[0], current[1], "".join("\n" + e for e in extra)


def _system_rule(rest: str) -> tuple[re.Match[str], str, str | None] | None:
    for pattern, kind, method in _SYSTEM_RULES:
        m = pattern.search(rest)
        if m:
            return m, kind, method
    return None


def _known_authors(rests: Sequence[str]) -> set[str]:
    """Names this file shows as authors: senders of unambiguous lines, and the people system lines name."""
    known = {r.split(": ", 1)[0] for r in rests if r.count(": ") == 1 and _system_rule(r) is None}
    # iOS attributes system lines to the group: "<group>: \u200e<event>".
    known |= {r.split(": \u200e", 1)[0] for r in rests if ": \u200e" in r}
    for rest in rests:
        rule = _system_rule(rest)
        if rule is not None and rest.split(": ", 1)[0] not in known:
            groups = rule[0].groupdict()
            known.update(_names(groups.get("members")) + _names(groups.get("actor")))
    return known - {SELF_KEY}


def _names(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(n.strip() for n in _LIST.split(text.strip().rstrip(".")) if n.strip())


def _who(name: str | None) -> str | None:
    return SELF_KEY if name in _YOU else name


def _rows(row: dict[str, Any], full: str, known: set[str]) -> Iterator[dict[str, Any]]:
    first_line = full.split("\n", 1)[0]
    # Authors may contain ": " themselves: prefer the shortest prefix this file shows as an author.
    splits = [m.start() for m in re.finditer(": ", first_line)]
    author = next((first_line[:i] for i in splits if first_line[:i] in known), None)
    if author is None:
        rule = _system_rule(first_line) if "\n" not in full else _system_rule(full)
        if rule is not None:
            yield from _system_rows(row, full, *rule)
            return
        author = next((a for a in sorted(known, key=len, reverse=True) if first_line.startswith(a + ":")), None)
        if author is None and splits:
            author = first_line[: splits[0]]
    if author is None:
        yield {**row, "kind": "system", "text": full}
        return
    text = full[len(author) + 1 :].removeprefix(" ")
    # iOS writes system lines as "<group name>: \u200e<event>"; the mark tells them from user text.
    if text.startswith("\u200e"):
        event = text.lstrip("\u200e")
        rule = None if _OMITTED.match(event) or _ATTACHED.match(event) else _system_rule(event)
        if rule is not None:
            yield from _system_rows(row, event, *rule)
            return
    yield {**row, "author_key": author, "author_name": author, **_message_fields(text)}


def _message_fields(text: str) -> dict[str, Any]:
    edited = text.endswith(_EDITED)
    text = text.removesuffix(_EDITED)
    head, _, caption = text.partition("\n")
    head = head.strip("\u200e\u200f")
    fields: dict[str, Any] = {"kind": "message", "text": text or None, "edited": edited}
    if head in _DELETED and not caption:
        return {**fields, "kind": "recall", "text": head}
    if head == "<Media omitted>":
        return {**fields, "kind": "media", "media_type": "unknown", "text": caption or None}
    omitted = _OMITTED.match(head)
    if omitted:
        what = omitted["what"].lower()
        return {**fields, "kind": "media", "media_type": _OMITTED_TYPES.get(what, what), "text": caption or None}
    attached = _ATTACHED.match(head)
    if attached:
        name = (attached["a"] or attached["b"] or attached["c"]).strip("\u200e")
        return {**fields, "kind": "media", "media_type": media_type_of(name), "text": caption or None}
    return fields


def _system_rows(
    row: dict[str, Any], full: str, m: re.Match[str], kind: str, method: str | None
) -> Iterator[dict[str, Any]]:
    groups = m.groupdict()
    actor = _who(groups.get("actor"))
    event = {**row, "kind": kind, "text": full, "author_key": actor, "author_name": actor}
    if kind == "rename":
        yield {**event, "text": groups["title"]}
        return
    members = [_who(n) for n in _names(groups.get("members"))]
    if kind == "system" or not members:
        yield event
        return
    for n, member in enumerate(members, start=1):
        out = {**event, "author_key": member, "author_name": member}
        if len(members) > 1:
            out["message_id"] = f"{row['message_id']}#{n}"
        if kind == "join":
            out |= {"join_method": method, "inviter_key": actor if method == "invite" else None}
        yield out

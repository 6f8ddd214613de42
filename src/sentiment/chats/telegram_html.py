"""Read Telegram Desktop HTML exports (``messages.html``, ``messages2.html``, ...) into raw frames, page by page.

One chat export is a folder of pages read in numeric order; lxml's incremental HTML parser builds one message
block at a time and each block is dropped once read, so memory is bounded by the batch size, not the export.
The HTML carries no user ids (senders are display names) and service blocks carry no time (only the day of the
preceding date separator): a service event is stamped with the time of the message before it on that day, else
the start of the day. Blocks that cannot be read
(a flattened anonymised copy, a block without a time) are skipped and counted, never guessed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

import pandas as pd
from lxml import etree

from sentiment.chats.records import name_chat_id, raw_frame
from sentiment.errors import EncodingError, ParseError

__all__ = ["PAGE_NAME", "export_pages", "iter_telegram_html_batches", "looks_like_telegram_html"]

PLATFORM = "telegram"
PAGE_NAME = re.compile(r"^messages(\d*)\.html?$", re.IGNORECASE)
Progress = Callable[[int, int], None]

_TITLE = re.compile(r"^(\d{2})\.(\d{2})\.(\d{4}) (\d{2}):(\d{2}):(\d{2})(?: (\S+))?$")
_OFFSET = re.compile(r"^(?:UTC|GMT)([+-])(\d{2}):(\d{2})$")
_DAY = re.compile(r"^(\d{1,2}) ([A-Z][a-z]+) (\d{4})$")
_MONTHS = {
    m: n
    for n, m in enumerate(
        (
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ),
        start=1,
    )
}
_GO_TO = re.compile(r"go_to_message(-?\d+)")
_VIA_BOT = re.compile(r"\s+via @\w+$")
# Migrated basic-group messages are shifted by -1e9; ids between that and 0 are date separators.
_MIGRATED = -1_000_000_000

# Service texts (hard-coded English in every build); A = actor, the start of the text.
_INVITED = re.compile(r"^(?P<actor>.+?) invited (?P<members>.+)$", re.DOTALL)
_BY_LINK = re.compile(r"^(?P<actor>.+?) joined group by link from (?P<inviter>.+)$", re.DOTALL)
_BY_REQUEST = re.compile(r"^(?P<actor>.+?) joined group by request$", re.DOTALL)
_REMOVED = re.compile(r"^(?P<actor>.+?) removed (?P<members>.+)$", re.DOTALL)
_RENAMED = re.compile(
    r"^(?:(?P<actor>.+?) f?changed group title to|Channel title changed to) «(?P<title>.*)»$", re.DOTALL
)
_ACTOR_FIRST = re.compile(
    r"^(?P<actor>.+?) (?:created group «|converted |pinned |changed group photo$|removed group photo$|"
    r"joined Telegram$|took a screenshot$|scored \d+ in|started voice chat|scheduled a voice chat|"
    r"has set messages to|changed chat theme|disabled chat theme|created topic|changed topic)",
    re.DOTALL,
)
_NOT_MEMBERS = (" to the voice chat", " group photo")
# media block class -> media_type (the JSON reader's vocabulary); titles refine photo/video blocks.
_MEDIA_CLASSES = {
    "media_photo": "image",
    "media_video": "video",
    "media_voice_message": "voice",
    "media_audio_file": "audio",
    "media_file": "file",
    "media_contact": "contact",
    "media_location": "location",
    "media_live_location": "location",
    "media_venue": "location",
    "media_game": "game",
    "media_invoice": "invoice",
    "media_call": "call",
    "media_poll": "poll",
    "media_giveaway": "giveaway",
    "photo_wrap": "image",
    "sticker_wrap": "sticker",
    "animated_wrap": "animation",
    "video_file_wrap": "video",
}
_MEDIA_TITLES = {"Sticker": "sticker", "Video message": "video_message", "Animation": "animation"}
# Service texts that only a group (never a one-to-one chat) shows.
_GROUP_KINDS = frozenset({"join", "leave", "remove", "rename"})


def looks_like_telegram_html(head: bytes) -> bool:
    """True when the first bytes of a file are a Telegram Desktop HTML export page."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()[:4096].lower()
    if not text.startswith((b"<!doctype html", b"<html")):
        return False
    return b"<title>exported data</title>" in head.lower() or b'class="message default' in head


def export_pages(path: Path) -> list[Path]:
    """The pages of the export holding ``path`` (its folder, or one of its files), in numeric order."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    numbered = []
    for page in folder.iterdir():
        match = PAGE_NAME.match(page.name)
        if match and page.is_file():
            numbered.append((int(match.group(1) or 1), page.name, page))
    if not numbered and path.is_file():
        return [path]  # a single page saved under another name
    return [page for _, _, page in sorted(numbered)]


class _Export:
    """What carries over from block to block (and page to page) while one export is read."""

    def __init__(self, root: Path, tz: tzinfo) -> None:
        self.root = root
        self.tz = tz
        self.chat_name: str | None = None
        self.day: date | None = None
        self.last_ts: int | None = None  # of the last normal message, which a service block on its day follows
        self.zone: tzinfo | None = None  # the last offset a time title carried
        self.sender: str | None = None  # of the last non-joined message on this page
        self.skipped: Counter[str] = Counter()
        self.wall_time = False
        self.group_evidence = False
        self.senders: set[str] = set()


def iter_telegram_html_batches(
    path: Path,
    tz: tzinfo,
    *,
    batch_rows: int = 20_000,
    progress: Progress | None = None,
) -> Iterator[pd.DataFrame]:
    """The records of a Telegram HTML export (every page of ``path``'s folder) as raw frames of ~``batch_rows``.

    ``tz`` reads times written without an offset (exports before Telegram Desktop 4.0). Each frame's attrs hold
    ``skipped`` (reason -> blocks skipped so far) and ``wall_time`` (a time without offset was read).
    """
    pages = export_pages(path)
    if not pages:
        raise ParseError(path, "no messages*.html page in this folder")
    total = sum(p.stat().st_size for p in pages)
    state = _Export(Path(path), tz)
    rows: list[dict[str, Any]] = []
    private: bool | None = None
    done = 0

    def frame(batch: list[dict[str, Any]]) -> pd.DataFrame:
        nonlocal private
        if private is None:
            # Decided once per export from its first batch: a chat named after a person is pseudonymised.
            private = not state.group_evidence and len(state.senders) < 3
        for row in batch:
            row["chat_private"] = private
        out = raw_frame(batch)
        out.attrs.update(skipped=dict(state.skipped), wall_time=state.wall_time)
        return out

    for page in pages:
        for row in _page_rows(page, state):
            rows.append(row)
            if len(rows) >= batch_rows:
                yield frame(rows)
                rows = []
                if progress is not None:
                    progress(done, total)
        done += page.stat().st_size
    if rows or private is None:
        yield frame(rows)
    if progress is not None:
        progress(total, total)


def _classes(el: Any) -> list[str]:
    return (el.get("class") or "").split()


def _child(el: Any, *cls: str) -> Any:
    """The first child carrying every class in ``cls``."""
    for sub in el:
        if set(cls) <= set(_classes(sub)):
            return sub
    return None


def _text_of(el: Any) -> str:
    """Visible text of an element: ``<br>`` as newlines, reactions/buttons/initials left out, trimmed."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if node.tag == "br":
            parts.append("\n")
        elif not {"reactions", "bot_buttons_table", "initials"} & set(_classes(node)):
            if node.text:
                parts.append(node.text)
            for sub in node:
                walk(sub)
                if sub.tail:
                    parts.append(sub.tail)

    if el.text:
        parts.append(el.text)
    for sub in el:
        walk(sub)
        if sub.tail:
            parts.append(sub.tail)
    return "".join(parts).strip()


def _page_rows(page: Path, state: _Export) -> Iterator[dict[str, Any]]:
    state.sender = None  # a page starts a new sender header
    block = 0
    try:
        events = etree.iterparse(
            str(page), events=("end",), tag="div", html=True, encoding="utf-8", recover=True, huge_tree=True
        )
        for _, el in events:
            classes = _classes(el)
            if "message" not in classes:
                if state.chat_name is None and "bold" in classes and "text" in classes:
                    state.chat_name = " ".join(_text_of(el).split()) or None
                continue
            block += 1
            yield from _block_rows(page, block, el, state)
            # Drop the block (and any earlier siblings) so memory stays bounded by one block.
            el.clear(keep_tail=True)
            parent = el.getparent()
            while parent is not None and el.getprevious() is not None:
                del parent[0]
    except UnicodeDecodeError as exc:  # lxml reports undecodable bytes as it meets them
        raise EncodingError(page, f"invalid UTF-8 (Telegram exports are UTF-8): {exc}") from exc
    except (etree.LxmlError, OSError) as exc:
        raise ParseError(page, f"unreadable HTML: {exc}") from exc


def _block_rows(page: Path, block: int, el: Any, state: _Export) -> Iterator[dict[str, Any]]:
    ident = (el.get("id") or "").removeprefix("message")
    try:
        message_id = int(ident)
    except ValueError:
        state.skipped["block without a message id"] += 1
        return
    base = {
        "platform": PLATFORM,
        "chat_id": name_chat_id(state.chat_name or ""),
        "chat_name": state.chat_name,
        "message_id": str(message_id),
        "source_file": page.name,
        "source_record": block,
    }
    if "service" in _classes(el):
        text = " ".join(_text_of(_child(el, "body") if _child(el, "body") is not None else el).split())
        if _MIGRATED < message_id < 0:
            day = _parse_day(text)
            if day is None:
                state.skipped["date separator without a date"] += 1
            else:
                state.day = day
            return
        yield from _service_rows(base, text, state)
        return
    body = _child(el, "body")
    if body is None:
        state.skipped["message block without a body"] += 1
        return
    yield from _message_rows(base, el, body, state)


def _parse_day(text: str) -> date | None:
    match = _DAY.match(text)
    if not match or match.group(2) not in _MONTHS:
        return None
    try:
        return date(int(match.group(3)), _MONTHS[match.group(2)], int(match.group(1)))
    except ValueError:
        return None


def _seconds(title: str, state: _Export) -> int | None:
    match = _TITLE.match(title.strip())
    if not match:
        return None
    day, month, year, hour, minute, second, suffix = match.groups()
    zone: tzinfo | None
    if suffix is None:
        zone, state.wall_time = state.tz, True
    else:
        offset = _OFFSET.match(suffix)
        if offset is None:
            zone, state.wall_time = state.tz, True  # a zone name we cannot read: as if none were written
        else:
            sign = 1 if offset.group(1) == "+" else -1
            zone = timezone(sign * timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3))))
            state.zone = zone
    try:
        stamp = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=zone)
    except ValueError:
        return None
    return int(stamp.timestamp())


def _message_rows(base: dict[str, Any], el: Any, body: Any, state: _Export) -> Iterator[dict[str, Any]]:
    stamp = _child(body, "date")
    ts = None if stamp is None else _seconds(stamp.get("title") or "", state)
    if ts is None:
        state.skipped["message without a readable time"] += 1
        return
    state.day = datetime.fromtimestamp(ts, state.zone or state.tz).date()
    state.last_ts = ts
    header = _child(body, "from_name")
    if header is not None:
        state.sender = _VIA_BOT.sub("", " ".join(_text_of(header).split())) or None
    elif "joined" not in _classes(el):
        state.sender = None
    elif state.sender is None:
        state.skipped["joined message without a sender on its page"] += 1
        return
    if state.sender:
        state.senders.add(state.sender)
    forwarded = _child(body, "forwarded", "body")
    inner = [body] if forwarded is None else [body, forwarded]
    text = reply = media = None
    for part in inner:
        node = _child(part, "text")
        if node is not None and text is None:
            text = _text_of(node) or None
        node = _child(part, "reply_to")
        if node is not None and reply is None:
            link = next((a.get("href") or "" for a in node.iter("a")), "")
            found = _GO_TO.search(link)
            reply = found.group(1) if found else None
        node = _child(part, "media_wrap")
        if node is not None and media is None:
            media = _media_type(node)
    yield {
        **base,
        "ts": ts,
        "author_key": state.sender,
        "author_name": state.sender,
        "kind": "media" if media else "message",
        "media_type": media,
        "text": text,
        "reply_to": reply,
        "is_forward": forwarded is not None,
        "reactions": _reactions(body),
    }


def _media_type(wrap: Any) -> str:
    for node in wrap.iter():
        for cls in _classes(node):
            if cls in _MEDIA_CLASSES:
                kind = _MEDIA_CLASSES[cls]
                if kind in ("image", "video"):
                    title = next((t for t in node.iter() if "title" in _classes(t)), None)
                    kind = _MEDIA_TITLES.get(" ".join(_text_of(title).split()), kind) if title is not None else kind
                return kind
    return "file"


def _reactions(body: Any) -> int | None:
    box = next((n for n in body.iter() if "reactions" in _classes(n)), None)
    if box is None:
        return None
    total = 0
    for reaction in box:
        if "reaction" not in _classes(reaction):
            continue
        count = next((n for n in reaction.iter() if "count" in _classes(n)), None)
        if count is not None and _text_of(count).isdigit():
            total += int(_text_of(count))
        else:
            total += max(1, sum(1 for n in reaction.iter() if "userpic" in _classes(n)))
    return total


def _members(text: str) -> list[str]:
    """``B, C and D`` -> [B, C, D] (Telegram's list wording)."""
    head, _, last = text.rpartition(" and ")
    names = [*head.split(", "), last] if head else [last]
    return [n.strip() for n in names if n.strip()]


def _service_rows(base: dict[str, Any], text: str, state: _Export) -> Iterator[dict[str, Any]]:
    if state.day is None:
        state.skipped["service block before any date"] += 1
        return
    zone = state.zone or state.tz
    start = int(datetime(state.day.year, state.day.month, state.day.day, tzinfo=zone).timestamp())
    if state.zone is None:
        state.wall_time = True
    # Blocks are in time order: the event came after the last message of its day (else at the day's start).
    same_day = state.last_ts is not None and start <= state.last_ts < start + 86_400
    event = {**base, "ts": state.last_ts if same_day else start, "text": text, "kind": "system"}
    if (m := _BY_LINK.match(text)) is not None:
        state.group_evidence = True
        actor = m["actor"]
        yield {**event, "author_key": actor, "author_name": actor, "kind": "join", "join_method": "link"} | {
            "inviter_key": m["inviter"]
        }
        return
    if (m := _BY_REQUEST.match(text)) is not None:
        state.group_evidence = True
        yield {**event, "author_key": m["actor"], "author_name": m["actor"], "kind": "join", "join_method": "self"}
        return
    if (m := _RENAMED.match(text)) is not None:
        state.group_evidence = True
        actor = m["actor"]
        yield {**event, "author_key": actor, "author_name": actor, "kind": "rename", "text": m["title"]}
        return
    for pattern, joining in ((_INVITED, True), (_REMOVED, False)):
        m = pattern.match(text)
        if m is None or m["members"].endswith(_NOT_MEMBERS):
            continue
        state.group_evidence = True
        actor = m["actor"]
        # "A invited A" is a self-join, even when the name itself holds ", " or " and ".
        members = [actor] if m["members"] == actor else _members(m["members"])
        for n, member in enumerate(members, start=1):
            row = {**event, "author_key": member, "author_name": member}
            if len(members) > 1:
                row["message_id"] = f"{base['message_id']}#{n}"
            if joining:
                is_self = member == actor
                row |= {"kind": "join", "join_method": "self" if is_self else "invite"}
                row["inviter_key"] = None if is_self else actor
            else:
                row["kind"] = "leave" if member == actor else "remove"
            yield row
        return
    m = _ACTOR_FIRST.match(text)
    if m is not None and ("created group «" in text or "converted " in text):
        state.group_evidence = True
    actor = m["actor"] if m is not None else None
    yield {**event, "author_key": actor, "author_name": actor}

"""The fast path for single-chat Telegram Desktop JSON exports: whole message items decoded chunk by chunk in C.

In valid JSON a raw newline byte never occurs inside a string, so a line that starts with the messages list's item
indent followed by ``{`` is the start of a message item. The export is cut at such lines into chunks of a few MB,
each decoded by msgspec into typed structs; the rows are then built column by column.

It reads exactly what the ijson path (``telegram.py``) reads, or gives up: anything unexpected (a layout other than
Telegram Desktop's pretty-printing or one item per line, a key or nesting the structs do not know, an integer
beyond 64 bits, invalid UTF-8 or JSON) raises ``Unexpected`` with the number of records already yielded, and the
caller reads the rest with ijson (which also words any error). The typed structs bound the nesting depth far
below ijson's limit and reject what yajl rejects (integers beyond 64 bits, floats out of range), so a file read
here is one the ijson path reads the same way.

With a pool of worker processes (big exports, see ``telegram.PARALLEL_BYTES``) this process only cuts the chunks
and the workers decode and build them, several at once; the frames come back in file order. A chunk's first record
number is known before it is decoded: items are counted by the lines that start them, and the worker checks the
count. Records without an id get content ids that count repeats across the whole file, so from the first chunk
holding one the chunks are read here, in order.
"""

from __future__ import annotations

import gc
import json
import logging
import re
from collections import deque
from collections.abc import Iterator
from concurrent.futures import BrokenExecutor, Executor, Future
from operator import attrgetter
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Protocol

import msgspec
import pandas as pd

from sentiment.chats.records import RAW_COLUMNS, Rejects, raw_columns_frame
from sentiment.chats.telegram import _MAX_SECONDS, _MEDIA_KEYS, _MEDIA_TYPES, _text
from sentiment.errors import SentimentError

__all__ = ["Rules", "Unexpected", "iter_fast_frames"]

log = logging.getLogger(__name__)

# Chunks of about this many bytes (whole items): memory stays bounded whatever the file size.
CHUNK_BYTES = 2 << 20
_HEAD_BYTES = 1 << 16  # the chat's name/type/id precede "messages" within this many bytes


class Unexpected(Exception):
    """The fast path cannot read the rest of the file; ``records`` message records were already yielded."""

    def __init__(self, records: int, why: str) -> None:
        super().__init__(why)
        self.records = records

    def __reduce__(self) -> tuple[Any, ...]:  # raised in parse workers: comes back with its record count
        return (Unexpected, (self.records, str(self)))


# Bounded JSON values: integers within 64 bits (yajl's range), nesting at most 5 levels below a message key.
_Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
_J0 = str | _Int | float | bool | None
_J1 = _J0 | list[_J0] | dict[str, _J0]
_J2 = _J0 | list[_J1] | dict[str, _J1]
_J3 = _J0 | list[_J2] | dict[str, _J2]
_J4 = _J0 | list[_J3] | dict[str, _J3]
_J = _J0 | list[_J4] | dict[str, _J4]

# Keys read by the row builders; presence matters for those defaulting to UNSET.
_READ_PRESENT = (
    "type",
    "date",
    "date_unixtime",
    "edited",
    "edited_unixtime",
    "forwarded_from",
    "photo",
    "file",
    "contact_information",
    "location_information",
    "place_name",
    "poll",
    "game_title",
    "invoice_information",
)
_READ_GET = (
    "id",
    "from",
    "from_id",
    "text",
    "media_type",
    "reply_to_message_id",
    "reactions",
    "actor",
    "actor_id",
    "action",
    "members",
    "information_text",
    "title",
    "inviter",
)
# Other keys Telegram Desktop writes (validated, not read); any key outside these lists sends the file to ijson.
_OTHER = (
    "text_entities",
    "width",
    "height",
    "photo_file_size",
    "file_name",
    "file_size",
    "thumbnail",
    "thumbnail_file_size",
    "mime_type",
    "duration_seconds",
    "sticker_emoji",
    "performer",
    "author",
    "via_bot",
    "forwarded_from_id",
    "saved_from",
    "saved_from_id",
    "reply_to_peer_id",
    "message_id",
    "game_message_id",
    "game_description",
    "game_link",
    "score",
    "amount",
    "currency",
    "invoice_message_id",
    "discard_reason",
    "reason_domain",
    "self_destruct_period_seconds",
    "live_location_period_seconds",
    "contact_vcard",
    "address",
    "inline_bot_buttons",
    "boosts",
    "message_thread_id",
    "to",
    "to_id",
    "duration",
    "period",
    "emoticon",
    "values",
    "new_title",
    "new_icon_emoji_id",
    "photo_changed",
    "stars",
    "gift_id",
    "is_limited",
    "is_anonymous",
    "gift_text",
    "cost",
    "months",
    "giveaway_information",
    "distance",
)


def _field(key: str) -> str:
    return "from_" if key == "from" else key


_Message: Any = msgspec.defstruct(
    "_Message",
    [(_field(k), _J, msgspec.field(name=k, default=msgspec.UNSET)) for k in _READ_PRESENT]
    + [(_field(k), _J, msgspec.field(name=k, default=None)) for k in _READ_GET]
    + [(_field(k), _J, msgspec.field(name=k, default=None)) for k in _OTHER],
    forbid_unknown_fields=True,
    array_like=False,
)
_READ = _READ_PRESENT + _READ_GET
_DECODE = msgspec.json.Decoder(list[_Message])
_UNSET = msgspec.UNSET

# The messages key of a single-chat export on a line of its own, opening the list (pretty-printed layouts).
_MESSAGES_LINE = re.compile(rb'\n[ \t]*"messages"[ \t]*:[ \t]*\[[ \t]*\r?\n')
_ITEM_START = re.compile(rb"([ \t]*)\{")
_WS = b" \t\r\n"  # JSON's whitespace (bytes.strip() would also drop bytes JSON refuses)
_DECODE_HEAD = msgspec.json.Decoder(dict[str, _J])


def _head(path: Path, data: bytes) -> tuple[dict[str, Any], int, bytes] | None:
    """(root keys before "messages", offset of the first item, its indent) or None if the layout is not known."""
    found = _MESSAGES_LINE.search(data)
    if found is None:
        return None
    head = data[3 if data.startswith(b"\xef\xbb\xbf") else 0 : found.end()].rstrip(_WS)
    try:
        root = _DECODE_HEAD.decode(head + b"]}")
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if "chats" in root or list(root)[-1] != "messages" or root["messages"]:
        return None  # "messages" not at the root, or a full-account export
    if any(not _scalar(root[k]) for k in ("name", "id", "type") if k in root):
        return None  # ijson takes only scalar values; a nested or boolean one is left to it
    item = _ITEM_START.match(data, found.end())
    if item is None:
        return None
    return root, found.end(), item[1]


class Rules(Protocol):
    """How records become rows, the way the ijson path reads them; sent to parse workers, so it must pickle."""

    def base(self, meta: dict[str, Any]) -> dict[str, Any]:
        """The chat's base row from the root keys (name, id, type)."""
        ...

    def general(self, chat: dict[str, Any], record: int, msg: Any, sink: Rejects | None) -> list[tuple[Any, ...]]:
        """The rows of one message record (checks, service messages, rejects)."""
        ...

    def plain(
        self, head: tuple[Any, ...], tail: tuple[Any, ...], private: bool, record: int, msg: Any
    ) -> tuple[Any, ...] | None:
        """The fast row of a plain message, or None (used only to re-check a chunk whose columnar build failed)."""
        ...

    def zone_used(self) -> bool:
        """Whether a time without an offset was read in the configured zone (by this copy)."""
        ...

    def note_zone_used(self) -> None:
        """Record that a worker's copy read a time in the configured zone."""
        ...


def iter_fast_frames(
    path: Path, rules: Rules, rejects: Rejects | None, *, pool: Executor | None = None, in_flight: int = 4
) -> Iterator[tuple[pd.DataFrame, int, int, int]]:
    """(raw frame, records so far, bytes read, file size) per chunk; Unexpected when ijson must take over.

    With ``pool`` the chunks are decoded and built in its worker processes, up to ``in_flight`` chunks at once,
    and yielded in file order; the rows, rejects and errors are the same as in this process.
    """
    with path.open("rb") as fh:
        total = fh.seek(0, 2)
        fh.seek(0)
        data = fh.read(_HEAD_BYTES)
        found = _head(path, data)
        if found is None:
            raise Unexpected(0, "layout")
        root, start, indent = found
        meta = {k: root[k] for k in ("name", "id", "type") if k in root}
        chat = rules.base(meta)
        cut_at = b"\n" + indent + b"{"
        pieces = _pieces(fh, data, start, cut_at, total)
        if pool is None:
            records = 0
            try:
                for piece, read in pieces:
                    frame, count = _chunk_frame(chat, records, piece, rules, rejects)
                    records += count
                    yield frame, records, read, total
            except _Cut as exc:
                raise Unexpected(records, str(exc)) from None
        else:
            yield from _in_workers(chat, pieces, cut_at, total, rules, rejects, pool, in_flight)


class _Cut(Exception):
    """The items cannot be cut at line boundaries (the layout breaks off)."""


class _InOrder(Exception):
    """A chunk holds a record without an id: its content id counts repeats across the file, so the chunks from
    this one on are read in this process, in order."""


def _pieces(fh: BinaryIO, data: bytes, start: int, cut_at: bytes, total: int) -> Iterator[tuple[Any, int]]:
    """The message items as pieces ``[item, item, ...]`` of about CHUNK_BYTES, cut at lines starting an item, with
    the bytes read so far; _Cut when the layout breaks off. A piece is a view valid until the next is asked for.

    The buffer always starts with "[": a piece's closing "]" is written over its trailing comma, so each piece is
    decoded in place as one JSON array (no copy)."""
    buf = bytearray(b"[") + data[start:]
    done = len(data)
    eof = False
    while True:
        if not eof and len(buf) < CHUNK_BYTES:
            more = fh.read(CHUNK_BYTES)
            done += len(more)
            eof = not more
            buf += more
            continue
        if eof:
            rest = buf.rstrip(_WS)
            if not rest.endswith(b"}"):
                raise _Cut("trailer")
            whole = rest[:-1].rstrip(_WS)  # "[" + the last items + "]"
            if not whole.endswith(b"]"):
                raise _Cut("trailer")
            yield whole, total
            return
        cut = buf.rfind(cut_at)
        if cut <= 0:
            if len(buf) > 16 * CHUNK_BYTES:
                raise _Cut("no item boundary")
            more = fh.read(CHUNK_BYTES)
            done += len(more)
            eof = not more
            buf += more
            continue
        end = cut
        while buf[end - 1] in _WS:
            end -= 1
        if buf[end - 1] != _COMMA:
            raise _Cut("separator")
        buf[end - 1] = _CLOSE
        with memoryview(buf) as view, view[:end] as piece:
            yield piece, min(done, total)
        buf = bytearray(b"[") + buf[cut + 1 :]


_COMMA, _CLOSE = ord(","), ord("]")


def _in_workers(
    chat: dict[str, Any],
    pieces: Iterator[tuple[Any, int]],
    cut_at: bytes,
    total: int,
    rules: Rules,
    rejects: Rejects | None,
    pool: Executor,
    in_flight: int,
) -> Iterator[tuple[pd.DataFrame, int, int, int]]:
    """The chunks decoded in ``pool``'s workers, yielded in order. Each chunk's first record number is known
    before it is decoded (items are counted by the lines that start them; a worker checks the count), so the
    workers number records as this process would. After a record without an id (see _InOrder) or a failed pool,
    the chunks from there on are read here, in order, as without a pool."""
    waiting: deque[tuple[Future[Any] | None, int, bytes, int]] = deque()
    records = 0  # records yielded so far
    counted = 0  # records in the chunks submitted so far (by their item lines)
    here = False  # read in this process from now on

    def settle() -> tuple[pd.DataFrame, int, int, int]:
        nonlocal records, here
        future, first, piece, read = waiting.popleft()
        if not here and future is not None:
            try:
                frame, count, local, used = future.result()
            except (Unexpected, SentimentError):
                raise  # what this process would raise too (the ijson path takes over, or the file's error)
            except Exception as exc:  # a broken pool, or a job that cannot pickle: read here (a bug fails here too)
                if not isinstance(exc, _InOrder):
                    log.warning("%s: parse workers failed (%s); reading here", chat["source_file"], exc)
                here = True
                for other, *_ in waiting:
                    if other is not None:
                        other.cancel()
            else:
                if first != records:  # pragma: no cover - every earlier chunk's count was checked
                    raise AssertionError(f"chunk numbered from {first}, {records} records read")
                if used:
                    rules.note_zone_used()
                if rejects is not None and local:
                    rejects.extend(local)
                records += count
                return frame, records, read, total
        frame, count = _chunk_frame(chat, records, piece, rules, rejects)
        records += count
        return frame, records, read, total

    cut: str | None = None
    try:
        try:
            for view, read in pieces:
                piece = bytes(view)
                count = piece.count(cut_at) + 1
                job = None
                if not here:
                    try:
                        job = pool.submit(_chunk_job, chat, counted, piece, count, rules, rejects is not None)
                    except (BrokenExecutor, RuntimeError) as exc:  # broken, or shut down
                        log.warning("%s: parse workers unavailable (%s); reading here", chat["source_file"], exc)
                        here = True
                waiting.append((job, counted, piece, read))
                counted += count
                while len(waiting) > in_flight:
                    yield settle()
        except _Cut as exc:
            cut = str(exc)
        while waiting:
            yield settle()
    finally:
        for future, *_ in waiting:
            if future is not None:
                future.cancel()
    if cut is not None:
        raise Unexpected(records, cut)


def _chunk_job(
    chat: dict[str, Any], before: int, piece: bytes, count: int, rules: Rules, keep_rejects: bool
) -> tuple[pd.DataFrame, int, Rejects | None, bool]:
    """In a parse worker: the raw frame of one chunk of ``count`` items (Unexpected if it holds another number),
    the records read, their rejects, and whether a time was read in the configured zone."""
    local: Rejects | None = [] if keep_rejects else None
    frame, read = _chunk_frame(chat, before, piece, rules, local, expect=count)
    return frame, read, local, rules.zone_used()


def _scalar(value: Any) -> bool:
    return value is None or (type(value) in (str, int, float))


def _chunk_frame(
    chat: dict[str, Any],
    before: int,
    piece: bytes | bytearray | memoryview,
    rules: Rules,
    rejects: Rejects | None,
    *,
    expect: int | None = None,
) -> tuple[pd.DataFrame, int]:
    enabled = gc.isenabled()
    gc.disable()  # millions of small containers: the cyclic collector would rescan them all for nothing
    try:
        try:
            items = _DECODE.decode(piece)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise Unexpected(before, str(exc)) from exc
        if not items:
            raise Unexpected(before, "empty chunk")  # a trailing comma before the list's end
        if expect is not None:
            if len(items) != expect:
                raise Unexpected(before, "items do not start lines")
            if any(m.id is None for m in items):
                raise _InOrder
        first = before + 1
        try:
            columns, special = _columns(chat, first, items)
        except (TypeError, ValueError, AttributeError, OverflowError):
            columns, special = None, list(range(len(items)))
        if not special:
            return raw_columns_frame(columns, len(items)), len(items)
        # Records the columnar build did not take: the ijson path's own per-record functions, in record order.
        head = (chat["platform"], chat["chat_id"], chat["chat_name"])
        tail = (chat["source_file"],)
        private = chat["chat_private"]
        local: Rejects | None = [] if rejects is not None else None
        extra: list[tuple[int, list[tuple[Any, ...]]]] = []
        raw: list[Any] | None = None
        for i in special:
            msg = _as_dict(items[i])
            record = first + i
            row = None
            try:
                row = rules.plain(head, tail, private, record, msg)
            except (TypeError, ValueError, AttributeError):
                row = None
            if row is not None:
                extra.append((i, [row]))
                continue
            if local is not None:
                mark = len(local)
                extra.append((i, rules.general(chat, record, msg, local)))
                if len(local) > mark:
                    # The reject keeps the record's raw JSON: decode the chunk without the structs once.
                    raw = raw if raw is not None else msgspec.json.decode(piece)
                    number, _, reason = local[-1]
                    local[-1] = (number, json.dumps(raw[i], ensure_ascii=False, default=str), reason)
            else:
                extra.append((i, rules.general(chat, record, msg, None)))
        merged, rows = _merge(columns, len(items) - len(special), extra)
        if rejects is not None and local:
            rejects.extend(local)
        return raw_columns_frame(merged, rows), len(items)
    finally:
        if enabled:
            gc.enable()


def _merge(
    columns: dict[str, Any] | None, plain: int, extra: list[tuple[int, list[tuple[Any, ...]]]]
) -> tuple[dict[str, list[Any]], int]:
    """The plain messages' columns with the other records' rows spliced in at their places (record order)."""
    lists = {c: (v if isinstance(v, list) else [v] * plain) for c, v in (columns or {}).items()}
    out: dict[str, Any] = {c: [] for c in RAW_COLUMNS}
    # A column holding one value in every row stays a scalar (cheap to convert).
    for k, col in enumerate(RAW_COLUMNS):
        value = (columns or {}).get(col, [])
        if not isinstance(value, list) and all(row[k] is value or row[k] == value for _, r in extra for row in r):
            out[col] = value
    rows_out = plain + sum(len(r) for _, r in extra)
    taken = 0  # plain rows copied so far
    for n, (i, rows) in enumerate(extra):
        upto = i - n  # plain records before record index i
        for k, col in enumerate(RAW_COLUMNS):
            target = out[col]
            if not isinstance(target, list):
                continue
            if upto > taken:
                target.extend(lists[col][taken:upto])
            target.extend(row[k] for row in rows)
        taken = upto
    if plain > taken:
        for col in RAW_COLUMNS:
            if isinstance(out[col], list):
                out[col].extend(lists[col][taken:plain])
    return out, rows_out


def _as_dict(item: Any) -> dict[str, Any]:
    out = {}
    for key in _READ:
        value = getattr(item, _field(key))
        if value is not _UNSET:
            out[key] = value
    return out


def _columns(chat: dict[str, Any], first: int, items: list[Any]) -> tuple[dict[str, Any] | None, list[int]]:
    """The rows of the chunk's plain messages (type message, an id, a digit date_unixtime in range) built
    column by column, and the indexes of the other records (for the per-record path)."""
    special = [
        i
        for i, m in enumerate(items)
        if m.type != "message"
        or m.id is None
        or type(m.date_unixtime) is not str
        or not m.date_unixtime.isdigit()
        or int(m.date_unixtime) > _MAX_SECONDS
    ]
    if special:
        skip = set(special)
        plain = [m for i, m in enumerate(items) if i not in skip]
        numbers = [first + i for i in range(len(items)) if i not in skip]
    else:
        plain = items
        numbers = list(range(first, first + len(items)))
    if not plain:
        return None, special
    media = _media(plain)
    reactions = [
        None
        if (r := m.reactions) is None
        else (sum(int(x.get("count", 0)) for x in r if isinstance(x, dict)) if isinstance(r, list) else None)
        for m in plain
    ]
    columns: dict[str, Any] = {
        "platform": chat["platform"],
        "chat_id": chat["chat_id"],
        "chat_name": chat["chat_name"],
        "message_id": [str(m.id) for m in plain],
        "ts": [int(m.date_unixtime) for m in plain],
        "author_key": [
            str(m.from_id) if m.from_id is not None else (None if m.from_ is None else str(m.from_)) for m in plain
        ],
        "author_name": [m.from_ for m in plain],
        "kind": ["media" if x else "message" for x in media],
        "join_method": None,
        "inviter_key": None,
        "media_type": media,
        "text": [(t if type(t := m.text) is str else _text(t)) or None for m in plain],
        "reply_to": [None if (r := m.reply_to_message_id) is None else str(r) for m in plain],
        "is_forward": [m.forwarded_from is not _UNSET for m in plain],
        "reactions": reactions,
        "edited": [m.edited is not _UNSET or m.edited_unixtime is not _UNSET for m in plain],
        "source_file": chat["source_file"],
        "source_record": numbers,
        "chat_private": chat["chat_private"],
    }
    return columns, special


_MEDIA_FIELDS = attrgetter(*(key for key, _ in _MEDIA_KEYS))
_NO_MEDIA = (_UNSET,) * len(_MEDIA_KEYS)


def _media(plain: list[Any]) -> list[str | None]:
    """Each message's media label, as the ijson path's: media_type renamed, else the first media key present."""
    media = [_MEDIA_TYPES.get(x, x) if x else None for x in [m.media_type for m in plain]]
    for i in [i for i, m in enumerate(plain) if _MEDIA_FIELDS(m) != _NO_MEDIA]:
        if not media[i]:
            present = _MEDIA_FIELDS(plain[i])
            media[i] = next(
                label for (_, label), value in zip(_MEDIA_KEYS, present, strict=True) if value is not _UNSET
            )
    return media


def check_layout(path: Path) -> bool:
    """Whether the file's head has the layout the fast path reads (used by tests)."""
    with Path(path).open("rb") as fh:
        return _head(Path(path), fh.read(_HEAD_BYTES)) is not None

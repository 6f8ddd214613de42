"""Read Telegram Desktop JSON exports (single chat or full account) into the raw chat-record frame."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import ijson
import pandas as pd

from sentiment.chats.encoding import CheckedUtf8Reader
from sentiment.chats.records import RAW_COLUMNS, Rejects, decode_error, name_chat_id, raw_frame
from sentiment.chats.textio import ContentKeys
from sentiment.errors import ParseError
from sentiment.workers import can_start_workers, worker_context

__all__ = ["iter_telegram_batches", "read_telegram_export"]

PLATFORM = "telegram"
GROUP_TYPES = frozenset(
    {"private_group", "private_supergroup", "public_supergroup", "private_channel", "public_channel"}
)

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


# A message's time must be a real instant (a corrupt date_unixtime would overflow the timestamp column).
_MIN_SECONDS, _MAX_SECONDS = 0, 253_402_300_799
# Telegram's own nesting is < 10 levels; far deeper input is corrupt (and would cost ijson quadratic memory).
MAX_DEPTH = 64
# Above this size a syntax error is located by ijson's byte count alone (re-reading with json would need the RAM).
_EXACT_ERROR_BYTES = 64 << 20
Progress = Callable[[int, int], None]


def read_telegram_export(path: Path, tz: tzinfo, *, rejects: Rejects | None = None) -> pd.DataFrame:
    """All records of a Telegram Desktop result.json; ``tz`` reads ``date`` if ``date_unixtime`` is absent."""
    frames = list(iter_telegram_batches(path, tz, rejects=rejects))
    if not frames:
        return raw_frame([])
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def iter_telegram_batches(
    path: Path,
    tz: tzinfo,
    *,
    batch_rows: int = 20_000,
    rejects: Rejects | None = None,
    progress: Progress | None = None,
    pool: Executor | None = None,
) -> Iterator[pd.DataFrame]:
    """The records of a Telegram export as raw frames of about ``batch_rows`` rows, streamed with ijson.

    Memory stays bounded by the batch size whatever the file size. ``progress(bytes_read, total)`` is called per
    batch. With ``rejects`` a bad message is appended there (record, raw JSON, reason) instead of failing.
    A single-chat export in Telegram Desktop's layout is read by the fast path; from PARALLEL_BYTES on (or with
    ``pool``) its chunks are decoded in worker processes.
    """
    path = Path(path)
    done = 0  # message records the fast path has yielded; ijson reads the rest
    if FAST:
        from sentiment.chats import telegram_fast

        pending: list[pd.DataFrame] = []
        try:
            with _parse_pool(path, pool) as workers:
                for frame, _records, read, total in _fast_frames(path, tz, rejects, workers):
                    pending.append(frame)
                    if sum(map(len, pending)) >= batch_rows:
                        whole = pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]
                        cut = len(whole) - len(whole) % batch_rows
                        for start in range(0, cut, batch_rows):
                            yield whole.iloc[start : start + batch_rows].reset_index(drop=True)
                        pending = [whole.iloc[cut:].reset_index(drop=True)] if cut < len(whole) else []
                        if progress is not None:
                            progress(read, total)
            if pending:
                yield pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]
            if progress is not None:
                progress(path.stat().st_size, path.stat().st_size)
            return
        except telegram_fast.Unexpected as exc:
            done = exc.records
            if pending:  # rows the fast path read before it stopped: ijson goes on after them
                yield pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]
    rows: list[tuple[Any, ...]] = []
    reader = CheckedUtf8Reader(path, "UTF-8 (Telegram exports are UTF-8)", max_depth=MAX_DEPTH)
    sink = rejects if rejects is None or not done else _RejectsAfter(rejects, done)
    try:
        for row in _stream_rows(path, reader, tz, sink):
            if done and row[_SOURCE_RECORD] <= done:
                continue  # already yielded by the fast path
            rows.append(row)
            if len(rows) >= batch_rows:
                yield raw_frame(rows)
                rows = []
                if progress is not None:
                    progress(reader.done, reader.total)
    finally:
        reader.close()
    if rows:
        yield raw_frame(rows)
    if progress is not None:
        progress(reader.total, reader.total)


# Single-chat exports in Telegram Desktop's layouts are read by telegram_fast (the same rows, several times faster).
FAST = True
_SOURCE_RECORD = RAW_COLUMNS.index("source_record")


class _RejectsAfter(list):  # type: ignore[type-arg]
    """Rejects of records after ``done`` go to ``target`` (those before were reported by the fast path)."""

    def __init__(self, target: Rejects, done: int) -> None:
        super().__init__()
        self._target, self._done = target, done

    def append(self, item: tuple[int, str, str]) -> None:
        if item[0] > self._done:
            self._target.append(item)


# Exports from this size are decoded in worker processes (one per core) while this process stages the rows: below
# it, starting the workers costs more than it saves.
PARALLEL_BYTES = 64 << 20
_IN_FLIGHT = 3  # chunks queued per parse worker: keeps each busy, bounds what waits (a few MB each)


@contextmanager
def _parse_pool(path: Path, pool: Executor | None) -> Iterator[tuple[Executor, int] | None]:
    """(pool, chunks in flight) to decode ``path``'s chunks in, or None to decode them here."""
    cores = os.cpu_count() or 1
    if pool is not None:
        yield pool, _IN_FLIGHT * max(2, cores)
        return
    if path.stat().st_size < PARALLEL_BYTES or cores < 2 or not can_start_workers():
        yield None
        return
    started = ProcessPoolExecutor(max_workers=cores, mp_context=worker_context("sentiment.chats.telegram_fast"))
    try:
        yield started, _IN_FLIGHT * cores
    finally:
        started.shutdown(wait=True, cancel_futures=True)


@dataclass
class _Rules:
    """This module's way of reading records, for the fast path (pickled to its parse workers)."""

    path: Path
    tz: tzinfo

    def base(self, meta: dict[str, Any]) -> dict[str, Any]:
        return _chat_base(self.path, meta)

    def general(self, chat: dict[str, Any], record: int, msg: Any, sink: Rejects | None) -> list[tuple[Any, ...]]:
        rows = _guarded(self.path, chat, record, msg, self.tz, sink)
        return [tuple(full.get(c) for c in RAW_COLUMNS) for full in rows]

    def plain(
        self, head: tuple[Any, ...], tail: tuple[Any, ...], private: bool, record: int, msg: Any
    ) -> tuple[Any, ...] | None:
        return _plain_row(head, tail, private, record, msg)

    # A zone that notes its use (the ingest's WallTimeZone) learns of a use in a worker's copy of it.
    def zone_used(self) -> bool:
        return bool(getattr(self.tz, "used", False))

    def note_zone_used(self) -> None:
        if hasattr(self.tz, "used"):
            self.tz.used = True


def _fast_frames(
    path: Path, tz: tzinfo, rejects: Rejects | None, workers: tuple[Executor, int] | None = None
) -> Iterator[tuple[pd.DataFrame, int, int, int]]:
    from sentiment.chats import telegram_fast

    pool, in_flight = workers if workers is not None else (None, 4)
    return telegram_fast.iter_fast_frames(path, _Rules(path, tz), rejects, pool=pool, in_flight=in_flight)


def _stream_rows(
    path: Path, reader: CheckedUtf8Reader, tz: tzinfo, rejects: Rejects | None
) -> Iterator[tuple[Any, ...]]:
    where = "the start of the file"
    try:
        events = ijson.parse(reader, use_float=True)
        meta: dict[str, Any] = {}
        first = next(events, None)
        if first is None or first[1] != "start_map":
            raise ParseError(path, "not a Telegram Desktop export: the root is not a JSON object", line=1)
        for prefix, event, value in events:
            if prefix == "" and event == "map_key" and value == "messages":
                _expect(path, events, "messages", "start_array", "a list of messages")
                # Single-chat export: name/type/id precede "messages" in the writer's order. Let ijson's C code
                # build the message objects from a second handle (much faster than a Python event loop).
                where = "the messages list"
                yield from _single_chat(path, tz, meta, rejects)
                return
            if prefix == "" and event == "map_key" and value == "chats":
                _expect(path, events, "chats", "start_map", "an object holding 'list'")
                where = "the chats list"
                yield from _account_chats(path, events, tz, rejects)
                return
            if prefix in ("name", "id", "type") and event in ("string", "number", "null"):
                meta[prefix] = value
        raise ParseError(path, "not a Telegram Desktop export: the root object has no 'messages' or 'chats' key")
    except ijson.JSONError as exc:
        raise _syntax_error(path, reader, exc, where) from exc


_JSON_KINDS = {"start_map": "an object", "start_array": "a list", "string": "a string", "null": "null"}


def _expect(path: Path, events: Iterator[tuple[str, str, Any]], key: str, event: str, what: str) -> None:
    """Consume the event opening ``key``'s value; ParseError unless it is ``event`` (a string or null would
    otherwise read as an export with nothing in it)."""
    _, got, _ = next(events, ("", "end of file", None))
    if got != event:
        raise ParseError(path, f"'{key}' is {_JSON_KINDS.get(got, got)}, expected {what}")


def _single_chat(path: Path, tz: tzinfo, meta: dict[str, Any], rejects: Rejects | None) -> Iterator[tuple[Any, ...]]:
    base = _chat_base(path, meta)
    head = (base["platform"], base["chat_id"], base["chat_name"])
    tail = (base["source_file"],)
    private = base["chat_private"]
    with CheckedUtf8Reader(path, "UTF-8 (Telegram exports are UTF-8)", max_depth=MAX_DEPTH) as second:
        record = 0
        try:
            for record, msg in enumerate(ijson.items(second, "messages.item", use_float=True), start=1):
                # Plain messages (nearly all records) take the fast path straight to a row tuple.
                try:
                    row = _plain_row(head, tail, private, record, msg)
                except (TypeError, ValueError, AttributeError):
                    row = None  # malformed: the general path reports it
                if row is not None:
                    yield row
                    continue
                for full in _guarded(path, base, record, msg, tz, rejects):
                    yield tuple(full.get(c) for c in RAW_COLUMNS)
        except ijson.JSONError as exc:
            raise _syntax_error(path, second, exc, f"message record {record}") from exc


def _account_chats(
    path: Path, events: Iterator[tuple[str, str, Any]], tz: tzinfo, rejects: Rejects | None
) -> Iterator[tuple[Any, ...]]:
    """Full-account export: walk chats.list / left_chats.list, building one message object at a time."""
    meta: dict[str, Any] = {}
    base: dict[str, Any] | None = None
    builder: ijson.ObjectBuilder | None = None
    depth = 0
    record = 0
    for prefix, event, value in events:
        if builder is not None:
            builder.event(event, value)
            depth += event in ("start_map", "start_array")
            depth -= event in ("end_map", "end_array")
            if depth == 0:
                record += 1
                for full in _guarded(path, base or _chat_base(path, meta), record, builder.value, tz, rejects):
                    yield tuple(full.get(c) for c in RAW_COLUMNS)
                builder = None
            continue
        if prefix in ("chats.list", "left_chats.list") and event not in ("start_array", "end_array"):
            raise ParseError(path, f"'{prefix}' is {_JSON_KINDS.get(event, event)}, expected a list of chats")
        if prefix in ("chats.list.item", "left_chats.list.item"):
            if event == "start_map":
                meta, base, record = {}, None, 0
            elif event not in ("map_key", "end_map"):
                section = prefix.split(".", 1)[0]
                raise ParseError(path, f"an entry of {section}.list is not a JSON object")
        elif prefix.endswith(".list.item.messages.item"):
            if base is None:
                base = _chat_base(path, meta)
            builder = ijson.ObjectBuilder()
            builder.event(event, value)
            depth = 1 if event in ("start_map", "start_array") else 0
            if depth == 0:
                record += 1
                for full in _guarded(path, base, record, builder.value, tz, rejects):
                    yield tuple(full.get(c) for c in RAW_COLUMNS)
                builder = None
        elif prefix.endswith(".list.item.messages") and event not in ("start_array", "end_array", "null"):
            raise ParseError(path, f"chat {meta.get('name')!r}: 'messages' is not a list")
        else:
            for key in ("name", "id", "type"):
                if prefix.endswith(f".list.item.{key}") and event in ("string", "number", "null"):
                    meta[key] = value


_MEDIA_KEY_SET = frozenset(key for key, _ in _MEDIA_KEYS)


def _plain_row(
    head: tuple[Any, ...], tail: tuple[Any, ...], private: bool, record: int, msg: Any
) -> tuple[Any, ...] | None:
    """The raw row of an ordinary message (type message, id, date_unixtime in range) as a tuple in RAW_COLUMNS
    order, or None for anything else (which the general path reads, with its checks and messages)."""
    if type(msg) is not dict or msg.get("type") != "message":
        return None
    ident = msg.get("id")
    unix = msg.get("date_unixtime")
    if ident is None or type(unix) is not str or not unix.isdigit():
        return None
    ts = int(unix)
    if ts > _MAX_SECONDS:
        return None
    keys = msg.keys()
    media = msg.get("media_type")
    if media:
        media = _MEDIA_TYPES.get(media, media)
    elif not keys.isdisjoint(_MEDIA_KEY_SET):
        media = next(label for key, label in _MEDIA_KEYS if key in keys)
    else:
        media = None
    text = msg.get("text")
    if type(text) is not str:
        text = _text(text)
    reply = msg.get("reply_to_message_id")
    reactions = msg.get("reactions")
    if reactions is not None:
        reactions = (
            sum(int(r.get("count", 0)) for r in reactions if isinstance(r, dict))
            if isinstance(reactions, list)
            else None
        )
    from_id = msg.get("from_id")
    name = msg.get("from")
    return (
        *head,
        str(ident),
        ts,
        str(from_id) if from_id is not None else (None if name is None else str(name)),
        name,
        "media" if media else "message",
        None,
        None,
        media,
        text or None,
        None if reply is None else str(reply),
        "forwarded_from" in keys,
        reactions,
        "edited" in keys or "edited_unixtime" in keys,
        *tail,
        record,
        private,
    )


def _chat_base(path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    name = meta.get("name")
    chat_name = None if name is None else str(name)
    chat_id = str(meta["id"]) if meta.get("id") is not None else name_chat_id(chat_name or "")
    # Only group and channel types keep their title; personal, bot and saved chats (or no type) are private.
    private = meta.get("type") not in GROUP_TYPES
    base = {"platform": PLATFORM, "chat_id": chat_id, "chat_name": chat_name, "source_file": path.name}
    return base | {"chat_private": private, "_content_keys": ContentKeys("t:")}


def _guarded(
    path: Path, base: dict[str, Any], record: int, msg: Any, tz: tzinfo, rejects: Rejects | None
) -> Iterator[dict[str, Any]]:
    if rejects is None:
        yield from _message_rows(path, base, record, msg, tz)
        return
    try:
        rows = list(_message_rows(path, base, record, msg, tz))
    except ParseError as exc:
        rejects.append((record, json.dumps(msg, ensure_ascii=False, default=str), exc.reason))
        return
    yield from rows


def _syntax_error(path: Path, reader: CheckedUtf8Reader, exc: Exception, where: str) -> ParseError:
    if reader.total <= _EXACT_ERROR_BYTES:
        _load_json(path)  # raises the exact ParseError/EncodingError (line and column) for files that fit in RAM
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ParseError(path, f"invalid JSON after {where}: {detail} (truncated export?)", line=reader.newlines + 1)


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


def _message_rows(path: Path, base: dict[str, Any], record: int, msg: Any, tz: tzinfo) -> Iterator[dict[str, Any]]:
    where = f"chat {base['chat_name'] or base['chat_id']!r}, message record {record}"
    if not isinstance(msg, dict):
        raise ParseError(path, f"{where}: not a JSON object")
    missing = [k for k in ("type",) if k not in msg]
    if "date" not in msg and "date_unixtime" not in msg:
        missing.append("date")
    if missing:
        raise ParseError(path, f"{where}: missing required key(s) {', '.join(map(repr, missing))}")
    common = {
        **base,
        # Some tools and older exports write no id: a content hash (repeat-numbered) keeps re-ingests idempotent.
        "message_id": str(msg["id"]) if msg.get("id") is not None else _content_key(base, msg),
        "ts": _seconds(path, where, msg, tz),
        "edited": "edited" in msg or "edited_unixtime" in msg,
        "source_record": record,
    }
    try:
        if msg["type"] == "service":
            return iter(list(_service_rows(msg, common)))
        return iter([{**common, **_message_fields(msg)}])
    except (TypeError, ValueError, AttributeError) as exc:
        raise ParseError(path, f"{where}: malformed message ({type(exc).__name__}: {exc})") from exc


def _content_key(base: dict[str, Any], msg: Mapping[str, Any]) -> str:
    parts = (msg.get("type"), msg.get("date_unixtime"), msg.get("date"), msg.get("from_id"), msg.get("from"))
    text = json.dumps([*parts, msg.get("text"), msg.get("actor"), msg.get("action")], ensure_ascii=False, default=str)
    return base["_content_keys"](text)


def _seconds(path: Path, where: str, msg: Mapping[str, Any], tz: tzinfo) -> int:
    try:
        if msg.get("date_unixtime") is not None:
            seconds = int(msg["date_unixtime"])
            if not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
                raise ParseError(path, f"{where}: date_unixtime {seconds} is outside the years 1970-9999")
            return seconds
        # Old exports only carry the exporting PC's wall-clock time, with no offset.
        local = datetime.fromisoformat(str(msg["date"])).replace(tzinfo=tz)
        return int(local.timestamp())
    except (TypeError, ValueError) as exc:
        raise ParseError(path, f"{where}: unreadable date {msg.get('date_unixtime', msg.get('date'))!r}") from exc


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            [p if isinstance(p, str) else str(p.get("text", "")) for p in value if isinstance(p, str | dict)]
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

"""The raw chat-record frame every chat reader returns, and the decoding helpers the readers share."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sentiment.errors import EncodingError

__all__ = [
    "RAW_COLUMNS",
    "Rejects",
    "content_id",
    "decode_error",
    "local_seconds",
    "mark_private_chats",
    "name_chat_id",
    "raw_columns_frame",
    "raw_frame",
]

RAW_COLUMNS: tuple[str, ...] = (
    "platform",
    "chat_id",
    "chat_name",
    "message_id",
    "ts",
    "author_key",
    "author_name",
    "kind",
    "join_method",
    "inviter_key",
    "media_type",
    "text",
    "reply_to",
    "is_forward",
    "reactions",
    "edited",
    "source_file",
    "source_record",
    # True when the chat is one-to-one or named after a person: its id, name and file name are pseudonymised.
    "chat_private",
)

_DEFAULTS: dict[str, Any] = {"is_forward": False, "edited": False, "chat_private": False}
_STRINGS = [
    c for c in RAW_COLUMNS if c not in ("ts", "is_forward", "reactions", "edited", "source_record", "chat_private")
]


def raw_frame(rows: Iterable[Mapping[str, Any]] | Iterable[tuple[Any, ...]]) -> pd.DataFrame:
    """The raw frame of row dicts (or tuples in RAW_COLUMNS order) whose ``ts`` is unix seconds; absent keys are
    null (flags False)."""
    return _typed(pd.DataFrame.from_records(list(rows), columns=list(RAW_COLUMNS)))


def raw_columns_frame(columns: Mapping[str, Any], rows: int) -> pd.DataFrame:
    """The raw frame of ``rows`` rows from one list (or one scalar, repeated) per column of RAW_COLUMNS: the same
    values and types as ``raw_frame`` of the same rows, built column by column (much faster for big batches)."""
    data: dict[str, Any] = {}
    for col in RAW_COLUMNS:
        values = columns[col]
        if not isinstance(values, list):
            if col in _STRINGS:  # one value converted once, then repeated (a chat's ids, names and file)
                data[col] = pd.array([values], dtype="str").take(np.zeros(rows, dtype=np.intp))
                continue
            values = [values] * rows
        if col in _DEFAULTS:
            data[col] = pd.array(values, dtype="boolean").fillna(_DEFAULTS[col]).astype(bool)
        elif col == "ts":
            data[col] = pd.to_datetime(np.asarray(values, dtype="int64"), unit="s", utc=True).astype(
                "datetime64[us, UTC]"
            )
        elif col == "reactions":
            data[col] = pd.array(values, dtype="Int32")
        elif col == "source_record":
            data[col] = np.asarray(values, dtype="int64")
        else:
            data[col] = pd.array(values, dtype="str")
    return pd.DataFrame(data)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    # Typed even when all-null, so frames from different exports concatenate cleanly.
    frame[_STRINGS] = frame[_STRINGS].astype("str")
    for col, default in _DEFAULTS.items():
        frame[col] = frame[col].astype("boolean").fillna(default).astype(bool)
    frame["ts"] = pd.to_datetime(frame["ts"].astype("int64"), unit="s", utc=True).astype("datetime64[us, UTC]")
    frame["reactions"] = frame["reactions"].astype("Int32")
    frame["source_record"] = frame["source_record"].astype("int64")
    return frame


# Events only a group shows; a chat without them and with at most two senders is treated as one-to-one.
_GROUP_EVENTS = ("join", "leave", "remove", "rename")


def mark_private_chats(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``chat_private`` set for chats that look one-to-one (<= 2 senders, no group events).

    For exports that do not say whether a chat is a group: such a chat is usually named after the other person,
    so its id, name and file name must be pseudonymised. A group wrongly taken as private only loses its title.
    """
    if frame.empty:
        return frame
    grouped = frame.groupby("chat_id", sort=False)
    senders = grouped["author_key"].nunique()
    events = frame["kind"].isin(_GROUP_EVENTS).groupby(frame["chat_id"], sort=False).any()
    private = (senders <= 2) & ~events
    frame["chat_private"] = frame["chat_private"] | frame["chat_id"].map(private).fillna(False).astype(bool)
    return frame


def name_chat_id(name: str) -> str:
    """A stable chat id for exports that carry none: a short hash of the chat's name."""
    return "h:" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]


def decode_error(path: Path, data: bytes, offset: int, expected: str) -> EncodingError:
    """An EncodingError naming the line of byte ``offset`` and, where it helps, the likely encoding."""
    line = data.count(b"\n", 0, offset) + 1
    hint = ""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        hint = "; the file starts with a UTF-16 byte-order mark — re-save it as UTF-8"
    else:
        try:
            data.decode("gb18030")
        except UnicodeDecodeError:
            pass
        else:
            hint = "; the bytes decode as GB18030/GBK — convert with `iconv -f GB18030 -t UTF-8`"
    return EncodingError(path, f"invalid {expected} at byte {offset}{hint}", line=line)


# A reader given a list appends (record number, raw record text, reason) to it instead of raising on a bad record.
Rejects = list[tuple[int, str, str]]

_LOCAL_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M")


def local_seconds(text: str, tz: tzinfo) -> int:
    """Unix seconds of a local wall time ``Y-m-d H:M:S``, or Excel's re-saved ``Y/m/d H:M`` (ValueError if neither)."""
    value = text.strip()
    for fmt in _LOCAL_FORMATS:
        try:
            return int(datetime.strptime(value, fmt).replace(tzinfo=tz).timestamp())
        except ValueError:
            continue
    raise ValueError(f"unreadable time {text!r}")


def content_id(*parts: object) -> str:
    """A message id for exports without one: a hash of what identifies the record (h:...)."""
    return "h:" + hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).hexdigest()[:24]

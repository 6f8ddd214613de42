"""Decoding and keying helpers shared by the Discord, WhatsApp, Slack and generic chat readers."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Hashable
from pathlib import Path

from sentiment.chats.records import decode_error

__all__ = ["ContentKeys", "decode_utf8", "media_type_of"]

_EXT_MEDIA = {
    "image": ("jpg", "jpeg", "png", "gif", "webp", "heic", "bmp", "svg"),
    "video": ("mp4", "mov", "webm", "mkv", "avi", "3gp"),
    "voice": ("opus", "ogg", "m4a", "aac", "amr"),
    "audio": ("mp3", "wav", "flac"),
}


def decode_utf8(path: Path, data: bytes, expected: str) -> str:
    """``data`` decoded as UTF-8 (an optional BOM dropped); EncodingError naming the line otherwise."""
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise decode_error(path, data, bom + exc.start, expected) from exc


def media_type_of(file_name: str) -> str:
    """The media type a file name's extension suggests (image, video, voice, audio), else ``file``."""
    ext = file_name.rsplit("?", 1)[0].rsplit(".", 1)[-1].lower() if "." in file_name else ""
    return next((kind for kind, exts in _EXT_MEDIA.items() if ext in exts), "file")


class ContentKeys:
    """Deterministic message ids for exports without one: a hash of the record's content and its repeat count.

    The n-th identical record of a file gets the same id in every export that holds it, so re-ingesting the same
    or an overlapping export adds nothing, while genuine repeats (two "gm" in one minute) stay distinct rows.
    """

    def __init__(self, prefix: str = "c:") -> None:
        self._prefix = prefix
        self._seen: Counter[Hashable] = Counter()

    def __call__(self, *parts: str) -> str:
        self._seen[parts] += 1
        payload = "\x1f".join((*parts, str(self._seen[parts])))
        return self._prefix + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]

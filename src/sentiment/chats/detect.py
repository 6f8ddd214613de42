"""Recognise a chat export by its content and dispatch it to the matching reader."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, tzinfo
from pathlib import Path

import pandas as pd

from sentiment.chats.pywxdump import PYWXDUMP_V2_HEADER, PYWXDUMP_V3_HEADER, read_pywxdump_csv
from sentiment.chats.records import Rejects
from sentiment.chats.telegram import iter_telegram_batches, read_telegram_export
from sentiment.chats.wechat import read_memotrace_csv
from sentiment.chats.wechat_txt import (
    looks_like_wechatexporter_txt,
    looks_like_wechatmsg_txt,
    read_wechatexporter_txt,
    read_wechatmsg_txt,
)
from sentiment.errors import ConfigError, UnknownFormatError

__all__ = ["FORMATS", "detect_format", "iter_chat_export", "read_chat_export"]

Reader = Callable[[Path, tzinfo], pd.DataFrame]

FORMATS: dict[str, tuple[str, Reader]] = {
    "telegram_json": ("Telegram Desktop JSON export (result.json)", read_telegram_export),
    "wechat_memotrace_csv": ("MemoTrace/WeChatMsg CSV export", read_memotrace_csv),
}
FORMATS.update(
    {
        "wechat_pywxdump_csv": ("PyWxDump CSV export (v3 msg/src or v2 JSON content)", read_pywxdump_csv),
        "wechat_wechatmsg_txt": ("WeChatMsg/MemoTrace TXT export", read_wechatmsg_txt),
        "wechat_exporter_txt": ("WechatExporter (iOS) TXT export", read_wechatexporter_txt),
    }
)
# Readers that take ``rejects=`` (--skip-bad-records per record); others are rejected as a whole file.
_REJECTING = frozenset({"telegram_json", "wechat_pywxdump_csv", "wechat_memotrace_csv"})
_PLATFORM_ALIASES = {"telegram": "telegram_json", "wechat": "wechat_memotrace_csv"}

_CHUNK = 1 << 16
_TELEGRAM_KEY = re.compile(rb'"(?:messages|chats)"\s*:')
# DiscordChatExporter JSON also has a top-level "messages" array; its "guild"/"channel" objects give it away.
_DISCORD_KEY = re.compile(rb'"guild"\s*:\s*\{')


def detect_format(path: Path) -> str:
    """The format of the export at ``path``, judged from its bytes (never its name)."""
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(_CHUNK)
        body = head.removeprefix(b"\xef\xbb\xbf").lstrip()
        if body.startswith(b"localId,TalkerId"):
            return "wechat_memotrace_csv"
        if body.startswith(b"{") and not _DISCORD_KEY.search(head):
            # Full-account exports list contacts before "chats", so the key may sit far into the file.
            tail = b""
            chunk = head
            while chunk:
                if _TELEGRAM_KEY.search(tail + chunk):
                    return "telegram_json"
                tail = chunk[-32:]
                chunk = fh.read(_CHUNK)
        wechat = _detect_wechat(body)
        if wechat is not None:
            return wechat
    supported = "; ".join(f"{name} ({label})" for name, (label, _) in FORMATS.items())
    raise UnknownFormatError(path, f"not a recognised chat export; supported formats: {supported}")


def read_chat_export(path: Path, platform: str = "auto", tz: tzinfo = UTC) -> tuple[str, pd.DataFrame]:
    """(format name, raw frame) of ``path``; ``platform`` is "auto", a platform or a format name."""
    path = Path(path)
    if platform == "auto":
        fmt = detect_format(path)
    else:
        fmt = _PLATFORM_ALIASES.get(platform, platform)
        if fmt not in FORMATS:
            choices = ", ".join(["auto", *_PLATFORM_ALIASES, *FORMATS])
            raise ConfigError(f"unknown chat platform {platform!r}; choose one of: {choices}")
    return fmt, FORMATS[fmt][1](path, tz)


def _detect_wechat(body: bytes) -> str | None:
    """The WeChat CSV/TXT variants, from the first bytes (UTF-8, or GB18030 as Excel re-saves them)."""
    for header in (PYWXDUMP_V3_HEADER, PYWXDUMP_V2_HEADER):
        if body.startswith(",".join(header).encode()):
            return "wechat_pywxdump_csv"
    # The head may end inside a multi-byte character: drop at most the last few bytes.
    try:
        text = body[: len(body) - 4 if len(body) == _CHUNK else len(body)].decode("utf-8")
    except UnicodeDecodeError:
        text = body.decode("gb18030", errors="ignore")
    if looks_like_wechatexporter_txt(text):
        return "wechat_exporter_txt"
    if looks_like_wechatmsg_txt(text):
        return "wechat_wechatmsg_txt"
    return None


def iter_chat_export(
    path: Path,
    platform: str = "auto",
    tz: tzinfo = UTC,
    *,
    rejects: Rejects | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[str, Iterator[pd.DataFrame]]:
    """(format name, raw frames) of ``path``: Telegram streams in bounded batches, other formats in one frame.

    With ``rejects``, readers that can skip a bad record do so and append it there.
    """
    path = Path(path)
    if platform == "auto":
        fmt = detect_format(path)
    else:
        fmt = _PLATFORM_ALIASES.get(platform, platform)
        if fmt not in FORMATS:
            return read_chat_export(path, platform, tz)[0], iter(())  # raises the ConfigError listing choices
    if fmt == "telegram_json":
        return fmt, iter_telegram_batches(path, tz, rejects=rejects, progress=progress)
    reader = FORMATS[fmt][1]

    def one() -> Iterator[pd.DataFrame]:
        kwargs = {"rejects": rejects} if rejects is not None and fmt in _REJECTING else {}
        yield reader(path, tz, **kwargs)  # type: ignore[call-arg]

    return fmt, one()

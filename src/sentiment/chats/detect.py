"""Recognise a chat export by its content and dispatch it to the matching reader."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, tzinfo
from pathlib import Path

import pandas as pd

from sentiment.chats.telegram import read_telegram_export
from sentiment.chats.wechat import read_memotrace_csv
from sentiment.errors import ConfigError, UnknownFormatError

__all__ = ["FORMATS", "detect_format", "read_chat_export"]

Reader = Callable[[Path, tzinfo], pd.DataFrame]

FORMATS: dict[str, tuple[str, Reader]] = {
    "telegram_json": ("Telegram Desktop JSON export (result.json)", read_telegram_export),
    "wechat_memotrace_csv": ("MemoTrace/WeChatMsg CSV export", read_memotrace_csv),
}
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

"""Recognise a chat export by its content and dispatch it to the matching reader."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from datetime import UTC, tzinfo
from pathlib import Path

import pandas as pd

from sentiment.chats.discord import CSV_HEADER as _DISCORD_CSV_HEADER
from sentiment.chats.discord import read_discord_csv, read_discord_json
from sentiment.chats.generic import parse_column_map, read_generic_csv, read_generic_jsonl
from sentiment.chats.slack import is_slack_export, read_slack_export
from sentiment.chats.telegram import read_telegram_export
from sentiment.chats.wechat import read_memotrace_csv
from sentiment.chats.whatsapp import parse_header as _whatsapp_header
from sentiment.chats.whatsapp import read_whatsapp_txt
from sentiment.errors import ConfigError, UnknownFormatError

__all__ = ["FORMATS", "detect_format", "read_chat_export"]

Reader = Callable[[Path, tzinfo], pd.DataFrame]

FORMATS: dict[str, tuple[str, Reader]] = {
    "telegram_json": ("Telegram Desktop JSON export (result.json)", read_telegram_export),
    "wechat_memotrace_csv": ("MemoTrace/WeChatMsg CSV export", read_memotrace_csv),
    "discord_json": ("DiscordChatExporter JSON export", read_discord_json),
    "discord_csv": ("DiscordChatExporter CSV export", read_discord_csv),
    "whatsapp_txt": ("WhatsApp 'Export chat' .txt (Android or iOS)", read_whatsapp_txt),
    "slack_export": ("Slack workspace export (folder or .zip)", read_slack_export),
    "generic_csv": ("any CSV chat log, with --map", lambda path, tz: read_generic_csv(path, tz, None)),
    "generic_jsonl": ("any JSON-lines chat log, with --map", lambda path, tz: read_generic_jsonl(path, tz, None)),
}
_PLATFORM_ALIASES = {"telegram": "telegram_json", "wechat": "wechat_memotrace_csv"}
_PLATFORM_ALIASES |= {"whatsapp": "whatsapp_txt", "slack": "slack_export"}
# Formats whose reader also takes the --map column mapping.
_MAPPED = {"generic_csv": read_generic_csv, "generic_jsonl": read_generic_jsonl}
# Platforms with more than one format: the content picks among them.
_SNIFFED_PLATFORMS = {"discord": ("discord_json", "discord_csv"), "generic": ("generic_jsonl", "generic_csv")}

_CHUNK = 1 << 16
_TELEGRAM_KEY = re.compile(rb'"(?:messages|chats)"\s*:')
# DiscordChatExporter JSON also has a top-level "messages" array; its "guild"/"channel" objects give it away.
_DISCORD_KEY = re.compile(rb'"guild"\s*:\s*\{')


def detect_format(path: Path, column_map: str | None = None) -> str:
    """The format of the export at ``path``, judged from its bytes (never its name)."""
    path = Path(path)
    if path.is_dir() or _is_zip(path):
        if is_slack_export(path):
            return "slack_export"
        raise UnknownFormatError(path, f"not a recognised chat export; supported formats: {_supported()}")
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
    found = _sniff_more(head, column_map)
    if found is not None:
        return found
    supported = "; ".join(f"{name} ({label})" for name, (label, _) in FORMATS.items())
    raise UnknownFormatError(path, f"not a recognised chat export; supported formats: {supported}")


def read_chat_export(
    path: Path, platform: str = "auto", tz: tzinfo = UTC, column_map: str | None = None
) -> tuple[str, pd.DataFrame]:
    """(format name, raw frame) of ``path``; ``platform`` is "auto", a platform or a format name."""
    path = Path(path)
    if platform == "auto":
        fmt = detect_format(path, column_map)
    elif platform in _SNIFFED_PLATFORMS:
        fmt = _pick(path, platform, column_map)
    else:
        fmt = _PLATFORM_ALIASES.get(platform, platform)
        if fmt not in FORMATS:
            choices = ", ".join(["auto", *_PLATFORM_ALIASES, *_SNIFFED_PLATFORMS, *FORMATS])
            raise ConfigError(f"unknown chat platform {platform!r}; choose one of: {choices}")
    if fmt in _MAPPED:
        return fmt, _MAPPED[fmt](path, tz, column_map)
    return fmt, FORMATS[fmt][1](path, tz)


def _supported() -> str:
    return "; ".join(f"{name} ({label})" for name, (label, _) in FORMATS.items())


def _is_zip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def _sniff_more(head: bytes, column_map: str | None) -> str | None:
    """Discord, WhatsApp and (given a --map) generic CSV/JSONL, from the first bytes of the file."""
    body = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if body.startswith(b"{") and _DISCORD_KEY.search(head) and b'"messages"' in head:
        return "discord_json"
    first = body.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
    if first.replace('"', "") == ",".join(_DISCORD_CSV_HEADER):
        return "discord_csv"
    if _whatsapp_header(first) is not None:
        return "whatsapp_txt"
    if column_map:
        columns = parse_column_map(column_map).values()
        if body.startswith(b"{"):
            return "generic_jsonl"
        header = next(csv.reader([first]), [])
        if all(c in header for c in columns):
            return "generic_csv"
    return None


def _pick(path: Path, platform: str, column_map: str | None) -> str:
    """The format of an explicitly named multi-format platform: JSON if the file opens with "{", else CSV."""
    json_fmt, csv_fmt = _SNIFFED_PLATFORMS[platform]
    if platform == "generic":
        parse_column_map(column_map)
    with Path(path).open("rb") as fh:
        head = fh.read(_CHUNK).removeprefix(b"\xef\xbb\xbf").lstrip()
    return json_fmt if head.startswith(b"{") else csv_fmt

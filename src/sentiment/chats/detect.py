"""Recognise a chat export by its content and dispatch it to the matching reader."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from datetime import UTC, tzinfo
from pathlib import Path

import pandas as pd

from sentiment.chats.discord import CSV_HEADER as _DISCORD_CSV_HEADER
from sentiment.chats.discord import read_discord_csv, read_discord_json
from sentiment.chats.generic import parse_column_map, read_generic_csv, read_generic_jsonl
from sentiment.chats.pywxdump import PYWXDUMP_V2_HEADER, PYWXDUMP_V3_HEADER, read_pywxdump_csv
from sentiment.chats.records import Rejects, mark_private_chats
from sentiment.chats.slack import is_slack_export, read_slack_export
from sentiment.chats.telegram import iter_telegram_batches, read_telegram_export
from sentiment.chats.telegram_html import export_pages, iter_telegram_html_batches, looks_like_telegram_html
from sentiment.chats.wechat import read_memotrace_csv
from sentiment.chats.wechat_txt import (
    looks_like_wechatexporter_txt,
    looks_like_wechatmsg_txt,
    read_wechatexporter_txt,
    read_wechatmsg_txt,
)
from sentiment.chats.whatsapp import parse_header as _whatsapp_header
from sentiment.chats.whatsapp import read_whatsapp_txt
from sentiment.errors import ConfigError, UnknownFormatError

__all__ = ["FORMATS", "detect_format", "is_telegram_html_export", "iter_chat_export", "read_chat_export"]

Reader = Callable[[Path, tzinfo], pd.DataFrame]


def _read_html(path: Path, tz: tzinfo) -> pd.DataFrame:
    frames = list(iter_telegram_html_batches(path, tz))
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    out.attrs = frames[-1].attrs
    return out


FORMATS: dict[str, tuple[str, Reader]] = {
    "telegram_json": ("Telegram Desktop JSON export (result.json)", read_telegram_export),
    "telegram_html": ("Telegram Desktop HTML export (messages*.html: a folder or any of its pages)", _read_html),
    "wechat_memotrace_csv": ("MemoTrace/WeChatMsg CSV export", read_memotrace_csv),
    "discord_json": ("DiscordChatExporter JSON export", read_discord_json),
    "discord_csv": ("DiscordChatExporter CSV export", read_discord_csv),
    "whatsapp_txt": ("WhatsApp 'Export chat' .txt (Android or iOS)", read_whatsapp_txt),
    "slack_export": ("Slack workspace export (folder or .zip)", read_slack_export),
    "generic_csv": ("any CSV chat log, with --map", lambda path, tz: read_generic_csv(path, tz, None)),
    "generic_jsonl": ("any JSON-lines chat log, with --map", lambda path, tz: read_generic_jsonl(path, tz, None)),
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
_PLATFORM_ALIASES = {"telegram": "telegram_json", "wechat": "wechat_memotrace_csv", "telegram-html": "telegram_html"}
_PLATFORM_ALIASES |= {"whatsapp": "whatsapp_txt", "slack": "slack_export"}
# Formats that do not say whether a chat is a group: judged by content (records.mark_private_chats).
_UNTYPED_CHATS = frozenset({"whatsapp_txt", "wechat_memotrace_csv", "wechat_wechatmsg_txt", "wechat_exporter_txt"})
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
    if path.is_dir() and is_telegram_html_export(path):
        return "telegram_html"
    if path.is_dir() or _is_zip(path):
        if is_slack_export(path):
            return "slack_export"
        raise UnknownFormatError(path, f"not a recognised chat export; supported formats: {_supported()}")
    with path.open("rb") as fh:
        head = fh.read(_CHUNK)
        body = head.removeprefix(b"\xef\xbb\xbf").lstrip()
        if body.startswith(b"localId,TalkerId"):
            return "wechat_memotrace_csv"
        if looks_like_telegram_html(head):
            return "telegram_html"
        if body.startswith(b"{") and not _DISCORD_KEY.search(head):
            # Full-account exports list contacts before "chats", so the key may sit far into the file.
            tail = b""
            chunk = head
            while chunk:
                if _TELEGRAM_KEY.search(tail + chunk):
                    return "telegram_json"
                tail = chunk[-32:]
                chunk = fh.read(_CHUNK)
    found = _detect_wechat(body) or _sniff_more(head, column_map)
    if found is not None:
        return found
    supported = "; ".join(f"{name} ({label})" for name, (label, _) in FORMATS.items())
    raise UnknownFormatError(path, f"not a recognised chat export; supported formats: {supported}")


def _resolve_format(path: Path, platform: str, column_map: str | None) -> str:
    """The format name to read ``path`` with: detected ("auto"), sniffed within a platform, or named."""
    if platform == "auto":
        return detect_format(path, column_map)
    if platform in _SNIFFED_PLATFORMS:
        return _pick(path, platform, column_map)
    fmt = _PLATFORM_ALIASES.get(platform, platform)
    if fmt not in FORMATS:
        choices = ", ".join(["auto", *_PLATFORM_ALIASES, *_SNIFFED_PLATFORMS, *FORMATS])
        raise ConfigError(f"unknown chat platform {platform!r}; choose one of: {choices}")
    return fmt


def read_chat_export(
    path: Path, platform: str = "auto", tz: tzinfo = UTC, column_map: str | None = None
) -> tuple[str, pd.DataFrame]:
    """(format name, raw frame) of ``path``; ``platform`` is "auto", a platform or a format name."""
    path = Path(path)
    fmt = _resolve_format(path, platform, column_map)
    if fmt in _MAPPED:
        return fmt, _MAPPED[fmt](path, tz, column_map)
    frame = FORMATS[fmt][1](path, tz)
    return fmt, mark_private_chats(frame) if fmt in _UNTYPED_CHATS else frame


def is_telegram_html_export(folder: Path) -> bool:
    """True when ``folder`` holds the pages of a Telegram Desktop HTML export (messages.html, messages2.html...)."""
    pages = export_pages(folder) if Path(folder).is_dir() else []
    if not pages:
        return False
    with pages[0].open("rb") as fh:
        return looks_like_telegram_html(fh.read(_CHUNK))


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
    column_map: str | None = None,
    *,
    rejects: Rejects | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[str, Iterator[pd.DataFrame]]:
    """(format name, raw frames) of ``path``: Telegram streams in bounded batches, other formats in one frame.

    With ``rejects``, readers that can skip a bad record do so and append it there.
    """
    path = Path(path)
    fmt = _resolve_format(path, platform, column_map)
    if fmt == "telegram_json":
        return fmt, iter_telegram_batches(path, tz, rejects=rejects, progress=progress)
    if fmt == "telegram_html":
        return fmt, iter_telegram_html_batches(path, tz, progress=progress)

    def one() -> Iterator[pd.DataFrame]:
        if fmt in _MAPPED:
            yield _MAPPED[fmt](path, tz, column_map)
            return
        kwargs = {"rejects": rejects} if rejects is not None and fmt in _REJECTING else {}
        frame = FORMATS[fmt][1](path, tz, **kwargs)  # type: ignore[call-arg]
        yield mark_private_chats(frame) if fmt in _UNTYPED_CHATS else frame

    return fmt, one()

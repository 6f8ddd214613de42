"""Ingest step: chat exports (files or folders) -> pseudonymised ``messages`` rows, all or nothing per run."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from sentiment import privacy
from sentiment.chats.detect import is_telegram_html_export, iter_chat_export
from sentiment.chats.records import Rejects
from sentiment.chats.slack import is_slack_export
from sentiment.chats.telegram_html import PAGE_NAME
from sentiment.errors import ConfigError, EncodingError, InputError, ParseError
from sentiment.lake import Lake
from sentiment.settings import Settings
from sentiment.steps.common import IngestSummary, recorded

__all__ = [
    "CHAT_SUFFIXES",
    "IngestSummary",
    "ParsedExport",
    "chat_files",
    "expand_chat_paths",
    "ingest_chats",
    "local_zone",
    "parse_chat_file",
    "pseudonym_key",
    "write_messages",
    "write_rejects",
]

log = logging.getLogger(__name__)

CHAT_SUFFIXES = (".json", ".csv", ".txt", ".jsonl", ".zip")
_ENCODING_NAMES = {"utf-8-sig": "UTF-8", "gb18030": "GB18030, e.g. re-saved by Excel"}


def local_zone(name: str | None) -> tzinfo:
    """The zone for exports that carry only wall time: the configured one, else this machine's."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"unknown time zone {name!r}") from exc
    return datetime.now().astimezone().tzinfo or ZoneInfo("UTC")


def expand_chat_paths(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, plus the export files found (recursively) inside named folders, in sorted order.

    A folder that is one export (a Slack workspace, a Telegram HTML export's ``messages*.html`` pages) is listed
    once as the folder; a page of a Telegram HTML export stands for its whole folder.
    """
    out: list[Path] = []
    for path in paths:
        if path.is_dir() and (is_slack_export(path) or is_telegram_html_export(path)):
            out.append(path)  # a folder that is one export
        elif path.is_dir():
            folders = sorted(
                p for p in path.rglob("*") if p.is_dir() and (is_slack_export(p) or is_telegram_html_export(p))
            )
            out.extend(folders)
            out.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and p.suffix.lower() in CHAT_SUFFIXES and not any(s in p.parents for s in folders)
                )
            )
        elif path.is_file():
            page = PAGE_NAME.match(path.name) and is_telegram_html_export(path.parent)
            out.append(path.parent if page else path)
        else:
            raise InputError(path, "no such file or folder")
    return list(dict.fromkeys(out))  # a folder named twice (or through two of its pages) is read once


@dataclass(frozen=True)
class ParsedExport:
    """One export read into pseudonymised ``messages`` rows, plus the records it rejected (--skip-bad-records)."""

    path: Path
    label: str
    records: int
    messages: pd.DataFrame
    rejects: pd.DataFrame


@recorded("ingest-chats")
def ingest_chats(
    settings: Settings,
    paths: Sequence[Path],
    *,
    now: pd.Timestamp,
    progress: Callable[[Path, int, int], None] | None = None,
) -> IngestSummary:
    """Parse every export, pseudonymise, and append new messages: all or nothing for the run.

    Readers stream (Telegram in bounded batches); batches are staged and published only after every file parsed,
    so a bad file leaves no new rows. With ``skip_bad_records`` bad records go to ``rejects`` instead.
    ``progress(path, bytes_read, total)`` is called as big files stream.
    """
    lake = Lake(settings.lake)
    files = chat_files(settings, paths)
    key = pseudonym_key(settings)
    report: list[tuple[str, str, int]] = []
    rejected: list[pd.DataFrame] = []
    with lake.staged_append("messages") as staged:
        for path in files:
            tick = None if progress is None else (lambda done, total, p=path: progress(p, done, total))
            label, count, frames, rejects = _export_frames(settings, path, key, now, tick)
            for frame in frames:
                staged.add(frame)
            report.append((str(path), label(), count()))
            rejected.append(_rejects_frame(settings, path, label(), rejects, now))
            log.info("%s: %s, %d records, %d rejected", path, label(), count(), len(rejects))
    n_rejects = write_rejects(settings, rejected)
    return IngestSummary(files=report, rows_written=staged.written, rejects=n_rejects)


def parse_chat_file(settings: Settings, path: Path, *, now: pd.Timestamp) -> ParsedExport:
    """One export parsed, redacted if asked and pseudonymised into ``messages`` rows (nothing written)."""
    label, count, frames, rejects = _export_frames(settings, path, pseudonym_key(settings), now, None)
    parsed = [f for f in frames if not f.empty]
    messages = pd.concat(parsed, ignore_index=True) if parsed else pd.DataFrame()
    return ParsedExport(path, label(), count(), messages, _rejects_frame(settings, path, label(), rejects, now))


def _export_frames(
    settings: Settings,
    path: Path,
    key: bytes,
    now: pd.Timestamp,
    progress: Callable[[int, int], None] | None,
) -> tuple[Callable[[], str], Callable[[], int], Iterator[pd.DataFrame], Rejects]:
    """Stream one export as ``messages`` frames. Returns (format label, records read, frames, rejects): the label
    and count are functions because they are known once the frames have been consumed."""
    rejects: Rejects = []
    state: dict[str, Any] = {"fmt": "?", "count": 0, "encoding": None}

    def frames() -> Iterator[pd.DataFrame]:
        try:
            state["fmt"], raws = iter_chat_export(
                path,
                settings.platform,
                local_zone(settings.tz),
                settings.column_map,
                rejects=rejects if settings.skip_bad_records else None,
                progress=progress,
            )
            for raw in raws:
                state["encoding"] = raw.attrs.get("encoding", state["encoding"])
                state["count"] += len(raw)
                if settings.redact:
                    raw = privacy.redact_messages(raw)
                yield privacy.to_messages(raw, key, keep_names=settings.keep_names, ingested_at=now)
        except (ParseError, EncodingError) as exc:
            if not settings.skip_bad_records or state["fmt"] == "?":
                raise
            # A file-level failure (e.g. a truncated export) under --skip-bad-records: keep what parsed.
            rejects.append((exc.line or 0, "", exc.reason))

    def label() -> str:
        encoding = state["encoding"]
        return state["fmt"] if encoding is None else f"{state['fmt']} ({_ENCODING_NAMES.get(encoding, encoding)})"

    return label, lambda: int(state["count"]), frames(), rejects


def _rejects_frame(settings: Settings, path: Path, label: str, rejects: Rejects, now: pd.Timestamp) -> pd.DataFrame:
    rows = [
        {
            "source_file": path.name,
            "source_record": record,
            "platform": label.split("_", 1)[0],
            # The raw record names people: stored only when names may be stored.
            "raw": text if settings.keep_names and text else None,
            "reason": reason,
            "ingested_at": now,
        }
        for record, text, reason in rejects
    ]
    return pd.DataFrame(rows, columns=["source_file", "source_record", "platform", "raw", "reason", "ingested_at"])


def write_rejects(settings: Settings, frames: Sequence[pd.DataFrame]) -> int:
    """Store rejected records (file, record, reason); returns how many rejects the frames hold."""
    rejected = [f for f in frames if not f.empty]
    if not rejected:
        return 0
    frame = pd.concat(rejected, ignore_index=True)
    frame["ingested_at"] = pd.to_datetime(frame["ingested_at"], utc=True).astype("datetime64[us, UTC]")
    Lake(settings.lake).append("rejects", frame)
    return len(frame)


# ---- the same steps split per file / partition / symbol, for flows that fan them out -------------------------
def chat_files(settings: Settings, paths: Sequence[Path] | None = None) -> list[Path]:
    """The export files under ``paths`` (default ``settings.chats``: files and watched folders); InputError if none."""
    roots = settings.chats if paths is None else paths
    files = expand_chat_paths(roots)
    if not files:
        raise InputError(", ".join(map(str, roots)) or ".", "no chat export files found")
    return files


def pseudonym_key(settings: Settings) -> bytes:
    """The lake's pseudonymisation key, created on first use."""
    return privacy.load_or_create_key(Lake(settings.lake).key_path)


def write_messages(settings: Settings, parsed: Sequence[ParsedExport]) -> int:
    """Append parsed exports' messages in one write (a bad file failed to parse, so nothing was written), and
    their rejects; returns the new message rows."""
    frames = [p.messages for p in parsed if not p.messages.empty]
    written = Lake(settings.lake).append("messages", pd.concat(frames, ignore_index=True)) if frames else 0
    write_rejects(settings, [p.rejects for p in parsed])
    return written

"""Ingest step: chat exports (files or folders) -> pseudonymised ``messages`` rows, all or nothing per run."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta, tzinfo
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
from sentiment.steps.score_ahead import ScoreAhead

__all__ = [
    "CHAT_SUFFIXES",
    "DEFAULT_WALL_TIME_ZONE",
    "IngestSummary",
    "WallTimeZone",
    "chat_files",
    "expand_chat_paths",
    "export_fingerprint",
    "ingest_chats",
    "local_zone",
    "notices",
    "pseudonym_key",
    "write_rejects",
]

log = logging.getLogger(__name__)

CHAT_SUFFIXES = (".json", ".csv", ".txt", ".jsonl", ".zip")
_ENCODING_NAMES = {"utf-8-sig": "UTF-8", "gb18030": "GB18030, e.g. re-saved by Excel"}


# Wall times (exports without offsets) are read in UTC unless a zone is configured: never the machine's zone,
# so a server and a laptop store the same instants for the same files.
DEFAULT_WALL_TIME_ZONE = "UTC"


def local_zone(name: str | None) -> WallTimeZone:
    """The zone for exports that carry only wall time: the configured one, else UTC (never this machine's)."""
    chosen = name or DEFAULT_WALL_TIME_ZONE
    try:
        return WallTimeZone(ZoneInfo(chosen), chosen)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"unknown time zone {name!r}") from exc


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


class WallTimeZone(tzinfo):
    """The zone wall-time exports are read in, noting whether any reader needed it (one instance per file).

    Readers call it only for times written without an offset, so ``used`` says that this file's times depended on
    the zone setting; the CLI names such files instead of warning on every run.
    """

    def __init__(self, zone: tzinfo, name: str) -> None:
        self.zone = zone
        self.name = name
        self.used = False

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        self.used = True
        return self.zone.utcoffset(None if dt is None else dt.replace(tzinfo=None))

    def dst(self, dt: datetime | None) -> timedelta | None:
        return self.zone.dst(None if dt is None else dt.replace(tzinfo=None))

    def tzname(self, dt: datetime | None) -> str | None:
        return self.zone.tzname(None if dt is None else dt.replace(tzinfo=None))

    def fromutc(self, dt: datetime) -> datetime:
        self.used = True
        return self.zone.fromutc(dt.replace(tzinfo=self.zone)).replace(tzinfo=self)

    def __repr__(self) -> str:
        return self.name

    def __reduce__(self) -> tuple[Any, ...]:  # a reader's parse workers get a copy; ``used`` comes back by value
        return (WallTimeZone, (self.zone, self.name))


@recorded("ingest-chats")
def ingest_chats(
    settings: Settings,
    paths: Sequence[Path] | None = None,
    *,
    now: pd.Timestamp,
    progress: Callable[[Path, int, int], None] | None = None,
    score: bool = False,
) -> IngestSummary:
    """Parse every export (default: ``settings.chats``), pseudonymise, and append new messages: all or nothing.

    The one ingest path of the CLI and the flows. Readers stream (Telegram in bounded batches); batches are staged
    and published only after every file parsed, so a bad file leaves no new rows. With ``skip_bad_records`` bad
    records go to ``rejects`` instead. ``progress(path, bytes_read, total)`` is called as big files stream.
    With ``score``, a big ingest scores its staged batches in a worker process while it parses (``scored_at`` =
    ``now``) and writes their scores right after the messages (see :mod:`sentiment.steps.score_ahead`); the
    score step that follows scores whatever is left.
    """
    lake = Lake(settings.lake)
    files = chat_files(settings, paths)
    key = pseudonym_key(settings)
    report: list[tuple[str, str, int]] = []
    rejected: list[pd.DataFrame] = []
    skipped: list[tuple[str, str, int]] = []
    wall_time: list[str] = []
    chats_by_file: dict[Path, set[tuple[str, str]]] = {}
    with ScoreAhead(settings, now, enabled=score) as ahead:
        with lake.staged_append("messages") as staged:
            for path in files:
                tick = None if progress is None else (lambda done, total, p=path: progress(p, done, total))
                export = _Export(settings, path, key, now)
                pairs = chats_by_file.setdefault(path, set())
                for frame in export.frames(tick):
                    if rows := staged.add(frame):
                        ahead.add(staged.files[-1], rows)
                    pairs |= _chat_pairs(frame)
                report.append((str(path), export.label, export.count))
                rejected.append(_rejects_frame(settings, export))
                skipped.extend((str(path), reason, n) for reason, n in export.skipped.items())
                if export.zone.used:
                    wall_time.append(str(path))
                log.info("%s: %s, %d records, %d rejected", path, export.label, export.count, len(export.rejects))
            ahead.drain()  # the workers read the staged files, which the publish removes
        scored = ahead.publish(staged.kept)
    n_rejects = write_rejects(settings, rejected)
    _record_communities(settings, chats_by_file)
    return IngestSummary(
        files=report,
        rows_written=staged.written,
        rejects=n_rejects,
        skipped=skipped,
        wall_time_files=wall_time,
        rows_scored=scored,
        scored_all=ahead.complete,
    )


class _Export:
    """One export streamed as ``messages`` frames; what was read (format, count, skips, rejects) once consumed."""

    def __init__(self, settings: Settings, path: Path, key: bytes, now: pd.Timestamp) -> None:
        self.settings = settings
        self.path = path
        self.key = key
        self.now = now
        self.zone = local_zone(settings.tz)
        self.fmt = "?"
        self.encoding: str | None = None
        self.count = 0
        self.skipped: dict[str, int] = {}
        self.rejects: Rejects = []
        self.private: tuple[str, str] | None = None  # (platform, raw chat id) of a private chat's file

    @property
    def label(self) -> str:
        if self.encoding is None:
            return self.fmt
        return f"{self.fmt} ({_ENCODING_NAMES.get(self.encoding, self.encoding)})"

    def frames(self, progress: Callable[[int, int], None] | None) -> Iterator[pd.DataFrame]:
        settings = self.settings
        try:
            self.fmt, raws = iter_chat_export(
                self.path,
                settings.platform,
                self.zone,
                settings.column_map,
                rejects=self.rejects if settings.skip_bad_records else None,
                progress=progress,
            )
            for raw in raws:
                self.encoding = raw.attrs.get("encoding", self.encoding)
                self.skipped = raw.attrs.get("skipped", self.skipped)
                self.count += len(raw)
                if self.private is None and raw["chat_private"].any():
                    first = raw[raw["chat_private"]].iloc[0]
                    self.private = (str(first["platform"]), str(first["chat_id"]))
                if settings.redact:
                    raw = privacy.redact_messages(raw)
                yield privacy.to_messages(raw, self.key, keep_names=settings.keep_names, ingested_at=self.now)
        except (OverflowError, pd.errors.OutOfBoundsDatetime) as exc:
            # A reader let through a time no timestamp can hold: still one line naming the file.
            raise ParseError(self.path, f"a time is out of range ({exc})") from exc
        except (ParseError, EncodingError) as exc:
            if not settings.skip_bad_records or self.fmt == "?":
                raise
            # A file-level failure (e.g. a truncated export) under --skip-bad-records: keep what parsed.
            self.rejects.append((exc.line or 0, "", exc.reason))

    @property
    def stored_name(self) -> str:
        """The file name as the lake stores it: pseudonymised for a private chat (unless --keep-names)."""
        if self.private is None or self.settings.keep_names:
            return self.path.name
        return privacy.private_file_name(self.key, *self.private, self.path.name)


def _rejects_frame(settings: Settings, export: _Export) -> pd.DataFrame:
    rows = [
        {
            "source_file": export.stored_name,
            "source_record": record,
            "platform": export.label.split("_", 1)[0],
            # The raw record names people: stored only when names may be stored.
            "raw": text if settings.keep_names and text else None,
            "reason": reason,
            "ingested_at": export.now,
        }
        for record, text, reason in export.rejects
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


def export_fingerprint(settings: Settings, paths: Sequence[Path] | None = None) -> list[tuple[str, int, int]]:
    """(path, size, mtime_ns) of every file of every export under ``paths`` (default ``settings.chats``): what an
    orchestrator keys "nothing changed since the last ingest" on. Folders (Telegram HTML, Slack) list their files."""
    out: list[tuple[str, int, int]] = []
    for export in chat_files(settings, paths):
        members = sorted(p for p in export.rglob("*") if p.is_file()) if export.is_dir() else [export]
        for member in members:
            stat = member.stat()
            out.append((str(member.resolve()), stat.st_size, stat.st_mtime_ns))
    return out


def notices(settings: Settings, summary: IngestSummary) -> list[str]:
    """Lines worth telling the user after an ingest: blocks a reader skipped, and exports whose times carry no
    offset when no zone was configured (they were read as UTC)."""
    lines = [f"{path}: skipped {n} block(s): {reason}" for path, reason, n in summary.skipped]
    if summary.wall_time_files and settings.tz is None:
        names = ", ".join(Path(p).name for p in summary.wall_time_files[:3])
        more = f" and {len(summary.wall_time_files) - 3} more" if len(summary.wall_time_files) > 3 else ""
        lines.append(
            f"{len(summary.wall_time_files)} export(s) hold times without an offset ({names}{more}): read as "
            f"{DEFAULT_WALL_TIME_ZONE}; pass --tz ZONE (or set tz in sentiment.toml) if they were exported elsewhere"
        )
    return lines


def _chat_pairs(frame: pd.DataFrame) -> set[tuple[str, str]]:
    """The (platform, chat_id) pairs of a messages frame."""
    if frame.empty:
        return set()
    platforms, chats = frame["platform"].unique(), frame["chat_id"].unique()
    if len(platforms) == 1 and len(chats) == 1:  # a batch of one chat (nearly always): no pairs to build
        return {(str(platforms[0]), str(chats[0]))}
    pairs = frame[["platform", "chat_id"]].drop_duplicates()
    return {(str(p), str(c)) for p, c in pairs.itertuples(index=False)}


def _record_communities(settings: Settings, chats_by_file: dict[Path, set[tuple[str, str]]]) -> None:
    """Which community each file's chats belong to (issue 15), when the run names communities."""
    if settings.communities:
        from sentiment.steps.communities import record_communities  # it imports this module

        record_communities(settings, chats_by_file, now=pd.Timestamp.now(tz="UTC"))

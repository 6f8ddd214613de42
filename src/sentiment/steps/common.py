"""What every step shares: the ``runs`` table record of each step, and SQL string quoting."""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment.errors import InputError, LakeError
from sentiment.lake import Lake
from sentiment.settings import Settings

__all__ = ["IngestSummary", "failure_detail", "panel_dir", "recorded", "report_dir", "sql_quote"]

log = logging.getLogger(__name__)


def recorded(step: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a step taking Settings first: append one row to the lake's ``runs`` table when it ends."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(settings: Settings, *args: Any, **kwargs: Any) -> Any:
            started = pd.Timestamp.now(tz="UTC")
            try:
                result = fn(settings, *args, **kwargs)
            except Exception as exc:
                try:
                    _record_run(settings, step, started, "failed", None, failure_detail(exc, settings.keep_names))
                except LakeError as lake_exc:  # the step's own error is the one to report
                    log.warning("could not record the failed %s run: %s", step, lake_exc)
                raise
            _record_run(settings, step, started, "ok", _rows_of(result), None)
            return result

        return run

    return wrap


def failure_detail(exc: BaseException, keep_names: bool) -> str:
    """What the ``runs`` table keeps of a failure. An input error names the user's file and quotes its record,
    either of which can name a person ("WhatsApp Chat with …"): unless names may be stored, only its kind and
    record number are kept (the CLI printed the whole line to the user)."""
    if isinstance(exc, InputError) and not keep_names:
        where = f" at record {exc.line}" if exc.line is not None else ""
        return f"{type(exc).__name__}{where} (file name and reason withheld: they may name a person)"
    return f"{type(exc).__name__}: {exc}"


def _rows_of(result: object) -> int | None:
    if isinstance(result, bool):
        return None
    if isinstance(result, int):
        return result
    if isinstance(result, IngestSummary):
        return result.rows_written
    if isinstance(result, pd.DataFrame):
        return len(result)
    if isinstance(result, dict) and all(isinstance(v, int) for v in result.values()):
        return sum(result.values())
    return None


def _record_run(
    settings: Settings, step: str, started: pd.Timestamp, status: str, rows: int | None, detail: str | None
) -> None:
    row = {
        "run_id": uuid.uuid4().hex,
        "step": step,
        "started_at": started,
        "finished_at": pd.Timestamp.now(tz="UTC"),
        "status": status,
        "rows_written": rows,
        "detail": detail,
    }
    frame = pd.DataFrame([row]).astype({"rows_written": "Int64"})
    Lake(settings.lake).append("runs", frame)


@dataclass(frozen=True)
class IngestSummary:
    """What one ingest did: per file (path, detected format, records read) and rows added to the lake."""

    files: list[tuple[str, str, int]] = field(default_factory=list)
    rows_written: int = 0
    rejects: int = 0
    # (path, reason, blocks) a reader skipped without failing (e.g. unreadable blocks of an anonymised HTML copy)
    skipped: list[tuple[str, str, int]] = field(default_factory=list)
    # exports holding times without an offset, read in the configured zone (default UTC)
    wall_time_files: list[str] = field(default_factory=list)
    # scores written by the ingest itself (a big ingest scores its batches while it parses)
    rows_scored: int = 0
    # whether every message it wrote has its score (the score step need not look for them)
    scored_all: bool = False

    @property
    def rows_read(self) -> int:
        return sum(n for _, _, n in self.files)


def sql_quote(value: str) -> str:
    """``value`` as the inside of a SQL string literal."""
    return value.replace("'", "''")


def report_dir(reports: Path, symbol: str, today: pd.Timestamp) -> Path:
    """``<reports>/<YYYY-MM-DD>_<symbol with / as ->``."""
    return Path(reports) / f"{today.strftime('%Y-%m-%d')}_{symbol.replace('/', '-')}"


def panel_dir(reports: Path, today: pd.Timestamp) -> Path:
    """``<reports>/<YYYY-MM-DD>_panel``."""
    return Path(reports) / f"{today.strftime('%Y-%m-%d')}_panel"

"""Maintenance step: compact the lake's tables without changing any query result."""

from __future__ import annotations

from sentiment.lake import Lake
from sentiment.settings import Settings
from sentiment.steps.common import recorded

__all__ = ["compact_lake"]


@recorded("compact")
def compact_lake(settings: Settings, table: str | None = None) -> dict[str, tuple[int, int]]:
    """Merge each partition's small files into one (every table, or ``table``); returns files before/after."""
    return Lake(settings.lake).compact(table)

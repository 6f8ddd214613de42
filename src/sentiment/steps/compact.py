"""Maintenance step: compact the lake's tables without changing any query result."""

from __future__ import annotations

from sentiment.lake import DEFAULT_RETENTION_HOURS, Lake
from sentiment.settings import Settings
from sentiment.steps.common import recorded

__all__ = ["compact_lake"]


@recorded("compact")
def compact_lake(
    settings: Settings, table: str | None = None, retention_hours: int = DEFAULT_RETENTION_HOURS
) -> dict[str, tuple[int, int]]:
    """Optimize and vacuum every table (or ``table``), keeping ``retention_hours`` of versions readable; returns
    data files before/after."""
    return Lake(settings.lake).compact(table, retention_hours=retention_hours)

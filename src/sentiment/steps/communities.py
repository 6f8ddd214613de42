"""Communities step: which chats belong to which symbol's community (the ``communities`` table)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from sentiment.lake import Lake
from sentiment.settings import Settings
from sentiment.steps.common import sql_quote
from sentiment.steps.ingest import expand_chat_paths

__all__ = ["chat_filter", "chats_of", "community_rows", "record_communities"]


def community_rows(
    settings: Settings, chats_by_file: Mapping[Path | str, Iterable[tuple[str, str]]], *, now: pd.Timestamp
) -> pd.DataFrame:
    """(symbol, platform, chat_id, recorded_at) for every chat read from a file under a community's paths."""
    read = {Path(f).resolve(): set(pairs) for f, pairs in chats_by_file.items()}
    rows = []
    for symbol, paths in settings.communities.items():
        for file in expand_chat_paths(paths):
            for platform, chat_id in sorted(read.get(file.resolve(), ())):
                rows.append({"symbol": symbol, "platform": platform, "chat_id": chat_id, "recorded_at": now})
    frame = pd.DataFrame(rows, columns=["symbol", "platform", "chat_id", "recorded_at"])
    frame["recorded_at"] = pd.to_datetime(frame["recorded_at"], utc=True).astype("datetime64[us, UTC]")
    return frame.drop_duplicates(["symbol", "platform", "chat_id"])


def record_communities(
    settings: Settings, chats_by_file: Mapping[Path | str, Iterable[tuple[str, str]]], *, now: pd.Timestamp
) -> int:
    """Append the community membership of the chats just read (idempotent); returns the rows new to the lake."""
    if not settings.communities:
        return 0
    frame = community_rows(settings, chats_by_file, now=now)
    return Lake(settings.lake).append("communities", frame) if len(frame) else 0


def chats_of(settings: Settings, symbol: str) -> list[tuple[str, str]] | None:
    """The (platform, chat_id) pairs of ``symbol``'s community, or None when runs name no communities (then
    every chat in the lake is the community of every symbol, the single-community form)."""
    if not settings.communities:
        return None
    rows = Lake(settings.lake).read(
        f"SELECT platform, chat_id FROM communities WHERE symbol = '{sql_quote(symbol)}' ORDER BY platform, chat_id"
    )
    return [(str(p), str(c)) for p, c in rows.itertuples(index=False)]


def chat_filter(pairs: list[tuple[str, str]] | None) -> str:
    """A SQL condition on platform/chat_id selecting ``pairs`` (TRUE for None, FALSE for none)."""
    if pairs is None:
        return "TRUE"
    if not pairs:
        return "FALSE"
    values = ", ".join(f"('{sql_quote(p)}', '{sql_quote(c)}')" for p, c in pairs)
    return f"(platform, chat_id) IN ({values})"

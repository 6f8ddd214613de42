"""Scoring step: score the user messages that have no score yet, rescore those scored by another scorer/version."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack

import duckdb
import pandas as pd
import pyarrow as pa

from sentiment.errors import LakeError
from sentiment.lake import Lake
from sentiment.scoring import BaseScorer, MessageFacts, score_messages, stored_version
from sentiment.scoring.core import scoring_pool
from sentiment.scoring.factory import make_facts, make_scorer
from sentiment.settings import Settings
from sentiment.steps.common import recorded, sql_quote

__all__ = ["message_partitions", "score_new_messages", "score_partition"]

log = logging.getLogger(__name__)

# Messages scored per chunk (memory of the score step is bounded by this, not by the number of new messages).
SCORE_CHUNK_ROWS = 50_000
_STRINGS = {
    pa.string(): pd.StringDtype(na_value=float("nan")),
    pa.large_string(): pd.StringDtype(na_value=float("nan")),
}


@recorded("score-messages")
def score_new_messages(
    settings: Settings,
    *,
    now: pd.Timestamp,
    scorer: BaseScorer | None = None,
    facts: MessageFacts | None = None,
    chat: tuple[str, str] | None = None,
    scored_ingest: pd.Timestamp | None = None,
) -> int:
    """Score the user messages that have no score yet, and rescore those scored by another scorer or version.

    The scorer is ``settings.scorer`` unless one is passed; ``chat`` = (platform, chat_id) limits the work to one
    chat. ``scored_ingest``: the ``ingested_at`` of an ingest that scored every message it wrote (see
    ``IngestSummary.scored_all``): its messages are not looked up again, so the search for unscored messages
    skips the files it wrote rather than joining a million fresh keys with their scores. Returns the number of
    rows written.
    """
    lake = Lake(settings.lake)
    scorer = scorer or make_scorer(settings)
    facts = facts or make_facts(settings)
    version = stored_version(scorer, facts)
    cols = "m.platform, m.chat_id, m.message_id, m.kind, m.media_type, m.text"
    only = "" if chat is None else f" AND m.platform = '{sql_quote(chat[0])}' AND m.chat_id = '{sql_quote(chat[1])}'"
    fresh = "" if scored_ingest is None else f" AND m.ingested_at <> TIMESTAMPTZ '{scored_ingest.isoformat()}'"
    pending_sql = (
        f"SELECT {cols} FROM messages_raw m "
        "LEFT JOIN scores s USING (platform, chat_id, message_id) "
        "WHERE s.message_id IS NULL AND m.kind IN ('message', 'media')" + only + fresh
    )
    stale = lake.read(
        f"SELECT {cols} FROM messages_raw m JOIN scores s USING (platform, chat_id, message_id) "
        f"WHERE m.kind IN ('message', 'media') AND (s.scorer <> '{sql_quote(scorer.name)}' "
        f"OR s.scorer_version <> '{sql_quote(version)}')" + only
    )
    written = 0
    # In bounded chunks: scoring holds per-message intermediates, so a 1M-message first ingest would otherwise
    # need ~1 GB more than one chunk does. A first chunk that is full means a big backlog: its chunks share one
    # set of worker processes (one chunk alone is below the size worth starting them for).
    with ExitStack() as stack:
        pool = None
        for i, pending in enumerate(_chunks(lake, pending_sql, SCORE_CHUNK_ROWS)):
            if i == 0 and len(pending) >= SCORE_CHUNK_ROWS:
                pool = stack.enter_context(scoring_pool(scorer, facts))
            written += lake.append("scores", score_messages(pending, scorer, now, facts, pool=pool))
    if not stale.empty:
        log.info("rescoring %d messages scored by an older scorer or version", len(stale))
        written += lake.replace_rows("scores", score_messages(stale, scorer, now, facts))
    return written


def _chunks(lake: Lake, sql: str, rows: int) -> Iterator[pd.DataFrame]:
    """The result of ``sql`` over the lake in frames of at most ``rows`` rows, streamed from DuckDB."""
    con = lake.connect(sql)
    try:
        try:
            reader = con.sql(sql).to_arrow_reader(rows)
        except duckdb.Error as exc:
            raise LakeError(lake.root, f"query failed: {exc}") from exc
        pending: list[pa.RecordBatch] = []
        size = 0
        for batch in reader:
            pending.append(batch)
            size += batch.num_rows
            if size >= rows:
                yield pa.Table.from_batches(pending).to_pandas(types_mapper=_STRINGS.get)
                pending, size = [], 0
        if size:
            yield pa.Table.from_batches(pending).to_pandas(types_mapper=_STRINGS.get)
    finally:
        con.close()


def message_partitions(settings: Settings) -> list[tuple[str, str]]:
    """The (platform, chat_id) pairs the lake holds messages for, sorted."""
    chats = Lake(settings.lake).read("SELECT DISTINCT platform, chat_id FROM messages_raw ORDER BY platform, chat_id")
    return [(str(p), str(c)) for p, c in chats.itertuples(index=False)]


def score_partition(
    settings: Settings, platform: str, chat_id: str, *, now: pd.Timestamp, scorer: BaseScorer | None = None
) -> int:
    """Score (or rescore) one chat's user messages; return how many rows were written."""
    return score_new_messages(settings, now=now, scorer=scorer, chat=(platform, chat_id))

"""The lake's tables, declared once: column names, Arrow types and one-line meanings (the data dictionary).

Every write goes through :func:`conform`, which orders, casts and checks a DataFrame against its schema.
``KEYS`` names the columns that identify a row; writes are idempotent on them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd
import pyarrow as pa

from sentiment.errors import SchemaMismatchError

__all__ = [
    "KEYS",
    "MESSAGE_KINDS",
    "PARTITIONS",
    "SCHEMA_VERSION",
    "TABLES",
    "Column",
    "conform",
    "data_dictionary_markdown",
    "empty_frame",
    "schema",
]

SCHEMA_VERSION = "1"

UTC_TS = pa.timestamp("us", tz="UTC")

MESSAGE_KINDS = ("message", "media", "join", "leave", "remove", "recall", "rename", "system")
JOIN_METHODS = ("invite", "link", "qr", "self")


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    description: str
    nullable: bool = True


_MESSAGES = (
    Column("platform", pa.string(), "Source app: telegram, wechat, discord, whatsapp, slack, generic.", False),
    Column(
        "chat_id",
        pa.string(),
        "Conversation id from the export (or a hash of its name when it has none).",
        False,
    ),
    Column("chat_name", pa.string(), "Conversation title from the export."),
    Column(
        "message_id",
        pa.string(),
        "Record id within the chat; a content hash (h:...) where the export has none.",
        False,
    ),
    Column("ts", UTC_TS, "When the record was sent, UTC.", False),
    Column("author_id", pa.string(), "Keyed HMAC-SHA256 pseudonym of the sender (null for system records)."),
    Column("author_name", pa.string(), "Display name; null unless ingested with --keep-names."),
    Column("kind", pa.string(), "message | media | join | leave | remove | recall | rename | system.", False),
    Column("join_method", pa.string(), "For kind=join: invite | link | qr | self."),
    Column("inviter_id", pa.string(), "For kind=join: pseudonym of whoever invited or shared the link/QR code."),
    Column("media_type", pa.string(), "For kind=media: sticker | image | voice | video | file | animation | ..."),
    Column("text", pa.string(), "Message text (plain), or the system text for events."),
    Column("reply_to", pa.string(), "message_id this record replies to, where the export has it."),
    Column("is_forward", pa.bool_(), "True when the export marks the record as forwarded."),
    Column("reactions", pa.int32(), "Total reactions on the record, where the export has them."),
    Column("edited", pa.bool_(), "True when the export marks the record as edited."),
    Column("source_file", pa.string(), "Name of the export file the record came from."),
    Column("source_record", pa.int64(), "1-based line (text formats) or record number (JSON) in that file."),
    Column("ingested_at", UTC_TS, "When the record was first written to the lake, UTC."),
)

_SCORES = (
    Column("platform", pa.string(), "Key of the scored message.", False),
    Column("chat_id", pa.string(), "Key of the scored message.", False),
    Column("message_id", pa.string(), "Key of the scored message.", False),
    Column("compound", pa.float64(), "Normalised sentiment in [-1, 1]; null when unscored."),
    Column("pos", pa.float64(), "Positive share of the text; null when unscored."),
    Column("neu", pa.float64(), "Neutral share of the text; null when unscored."),
    Column("neg", pa.float64(), "Negative share of the text; null when unscored."),
    Column(
        "label",
        pa.string(),
        "bullish (compound >= 0.05) | bearish (<= -0.05) | neutral | unscored; the hybrid scorer's learned models "
        "give their most probable class on news-like English and on Indonesian.",
        False,
    ),
    Column("lang", pa.string(), "Detected language, ISO 639-1 (en, zh, ar, ...); und: the text has no letters.", False),
    Column("scorer", pa.string(), "Name of the scorer that produced the row.", False),
    Column("scorer_version", pa.string(), "Version of that scorer; rows of older versions are rescored.", False),
    Column("scored_at", UTC_TS, "When the row was scored, UTC."),
    Column(
        "mentions",
        pa.list_(pa.string()),
        "Configured symbols mentioned by any alias, and other cashtags as $TICKER; sorted.",
    ),
    Column("is_question", pa.bool_(), "The text asks a question (? or ？, or a Chinese question particle)."),
    Column("has_link", pa.bool_(), "The text contains a link (http(s)://, www., t.me/)."),
    Column("has_media", pa.bool_(), "The message is a media post (photo, sticker, voice, ...)."),
)

_PRICES = (
    Column("exchange", pa.string(), "ccxt exchange id (or the name given to import-prices).", False),
    Column("symbol", pa.string(), "Unified symbol, e.g. VIRTUAL/USDT.", False),
    Column("timeframe", pa.string(), "Candle length: 1d, 4h, 1h, ...", False),
    Column("ts", UTC_TS, "Candle open time, UTC.", False),
    Column("open", pa.float64(), "First trade price in the candle.", False),
    Column("high", pa.float64(), "Highest trade price.", False),
    Column("low", pa.float64(), "Lowest trade price.", False),
    Column("close", pa.float64(), "Last trade price.", False),
    Column("volume", pa.float64(), "Traded base-currency volume.", False),
    Column("fetched_at", UTC_TS, "When the candle was fetched, UTC."),
)

_WEEKLY = (
    Column("symbol", pa.string(), "Token symbol the price columns refer to.", False),
    Column("scope", pa.string(), "'all' for the whole community, else platform:chat_id.", False),
    Column("week_start", UTC_TS, "Start of the week (Monday 00:00 UTC by default), UTC.", False),
    Column("messages", pa.int64(), "User messages and media posted in the week."),
    Column("active_authors", pa.int64(), "Distinct authors who posted in the week."),
    Column("messages_per_author", pa.float64(), "messages / active_authors."),
    Column("new_authors", pa.int64(), "Authors posting for the first time in the data."),
    Column("joins", pa.int64(), "Join events in the week."),
    Column("joins_invite", pa.int64(), "Joins by invitation."),
    Column("joins_link", pa.int64(), "Joins through an invite link."),
    Column("joins_qr", pa.int64(), "Joins by scanning a QR code."),
    Column("leaves", pa.int64(), "Leave and removal events."),
    Column("mean_compound", pa.float64(), "Mean compound score of scored messages."),
    Column("bullish_share", pa.float64(), "Share of scored messages labelled bullish."),
    Column("bearish_share", pa.float64(), "Share of scored messages labelled bearish."),
    Column("n_days", pa.int64(), "Daily candles present in the week (7 when complete; gaps are never filled)."),
    Column("close", pa.float64(), "Close of the last daily candle in the week."),
    Column("log_return", pa.float64(), "log(close / previous week's close)."),
    Column("next_log_return", pa.float64(), "The following week's log_return (the prediction target)."),
    Column("volatility", pa.float64(), "Standard deviation of daily log returns in the week."),
    Column("volume", pa.float64(), "Sum of daily base volume."),
    Column("excess_log_return", pa.float64(), "log_return minus the market factor's (BTC/USDT) log_return."),
    # issue 7: fuller community features (sentiment.features documents how each is computed)
    Column("token_mentions", pa.int64(), "Token mentions in posts: the mentions column, else cashtags + aliases."),
    Column("joins_self", pa.int64(), "Joins the member made alone (public group, join request)."),
    Column("net_growth", pa.int64(), "joins - leaves (leaves include removals)."),
    Column("members_known", pa.int64(), "Cumulative joins - leaves since the first week (pre-export members unseen)."),
    Column("retention_1w", pa.float64(), "Share of this week's active authors who post again next week."),
    Column("retention_4w", pa.float64(), "Share of this week's active authors who post in week +4."),
    Column("interactive_posts", pa.int64(), "Posts that ask (text ends in ? or ？) or are polls."),
    Column("content_posts", pa.int64(), "Other posts sharing content: links, media, forwards."),
    Column("passive_posts", pa.int64(), "All other posts (chatter, greetings, one-word replies)."),
    Column("interactive_share", pa.float64(), "interactive_posts / messages."),
    Column("content_share", pa.float64(), "content_posts / messages."),
    Column("passive_share", pa.float64(), "passive_posts / messages."),
    Column("replies_per_message", pa.float64(), "Posts replying to another / messages; null when the export has none."),
    Column("reactions_per_message", pa.float64(), "Reactions / messages; null when the export has no reactions."),
    Column("median_compound", pa.float64(), "Median compound score of scored posts."),
    Column("compound_std", pa.float64(), "Standard deviation of compound scores (mood dispersion)."),
    Column("bullish_count", pa.int64(), "Scored posts labelled bullish."),
    Column("bearish_count", pa.int64(), "Scored posts labelled bearish."),
    Column("bullishness", pa.float64(), "log((1 + bullish_count) / (1 + bearish_count))."),
    Column("unscored_share", pa.float64(), "Share of posts without a usable score (media, Chinese, empty text)."),
    Column("messages_z", pa.float64(), "z-score of messages vs the trailing 8 weeks (this week excluded)."),
    Column("joins_z", pa.float64(), "z-score of joins vs the trailing 8 weeks (this week excluded)."),
    Column("new_authors_z", pa.float64(), "z-score of new_authors vs the trailing 8 weeks (this week excluded)."),
    Column("spike_flag", pa.bool_(), "Coordinated-spike candidate: new_authors_z > 2 and messages_z > 2."),
    # issue 12: language coverage of the mood (appended)
    Column("scored_share", pa.float64(), "Share of posts with a usable mood score (null in weeks without posts)."),
    Column("lang_1", pa.string(), "The week's most written language (ISO 639-1, und: no letters)."),
    Column("lang_1_posts", pa.int64(), "Posts in lang_1."),
    Column("lang_2", pa.string(), "The week's second language (null when fewer)."),
    Column("lang_2_posts", pa.int64(), "Posts in lang_2 (0 when none)."),
    Column("lang_3", pa.string(), "The week's third language (null when fewer)."),
    Column("lang_3_posts", pa.int64(), "Posts in lang_3 (0 when none)."),
)

# The daily table (issue 15, ``--freq 1d``): the whole community of each symbol (no per-chat scopes), one row per
# UTC day. Its columns are the weekly table's, the bar named ``day``; meanings that speak of weeks are restated.
_DAILY_LEFT_OUT = {"symbol", "scope", "week_start", "n_days", "volatility", "scored_share"} | {
    f"lang_{i}{part}" for i in (1, 2, 3) for part in ("", "_posts")
}
_DAILY_MEANINGS = {
    "messages": "User messages and media posted on the day.",
    "active_authors": "Distinct authors who posted on the day.",
    "new_authors": "Authors posting for the first time in the data (null in the community's first 4 weeks).",
    "joins": "Join events on the day.",
    "close": "Close of the day's candle (a candle still open when the table was built is left out).",
    "log_return": "log(close / previous day's close); null when either candle is missing.",
    "next_log_return": "The following day's log_return (the prediction target).",
    "volume": "The day's traded base volume.",
    "excess_log_return": "log_return minus the market factor's (BTC/USDT) log_return of the same day.",
    "members_known": "Cumulative joins - leaves since the first day (pre-export members unseen).",
    "retention_1w": "Share of the day's active authors who post again on the day 7 days later.",
    "retention_4w": "Share of the day's active authors who post again on the day 28 days later.",
    "messages_z": "z-score of messages vs the trailing 8 days (this day excluded).",
    "joins_z": "z-score of joins vs the trailing 8 days (this day excluded).",
    "new_authors_z": "z-score of new_authors vs the trailing 8 days (this day excluded).",
}
_DAILY = (
    Column("symbol", pa.string(), "Token symbol the price columns refer to.", False),
    Column("day", UTC_TS, "The UTC day the row covers (00:00 UTC).", False),
    *(
        replace(c, description=_DAILY_MEANINGS.get(c.name, c.description))
        for c in _WEEKLY
        if c.name not in _DAILY_LEFT_OUT
    ),
)

_RUNS = (
    Column("run_id", pa.string(), "Random id of one run of one step (uuid4 hex).", False),
    Column("step", pa.string(), "Step name: ingest-chats, score-messages, fetch-prices, build-weekly, ...", False),
    Column("started_at", UTC_TS, "When the step started, UTC.", False),
    Column("finished_at", UTC_TS, "When the step ended (succeeded or failed), UTC.", False),
    Column("status", pa.string(), "ok | failed (a killed step leaves no row).", False),
    Column("rows_written", pa.int64(), "Rows the step added to the lake; null when it writes no count."),
    Column("detail", pa.string(), "For failed runs the error class and message; else null."),
)

_REJECTS = (
    Column("source_file", pa.string(), "Name of the export file the bad record came from.", False),
    Column("source_record", pa.int64(), "1-based line (text formats) or record number (JSON); 0 = whole file.", False),
    Column("platform", pa.string(), "Source app of the export (from its detected format).", False),
    Column("raw", pa.string(), "The record as it appears in the export (JSON or CSV text); may name people."),
    Column("reason", pa.string(), "Why it was rejected (the error the strict mode would have raised).", False),
    Column("ingested_at", UTC_TS, "When the reject was stored, UTC."),
)

_COMMUNITIES = (
    Column("symbol", pa.string(), "Token symbol whose community the chat belongs to (run --community).", False),
    Column("platform", pa.string(), "Source app of the chat (as in messages).", False),
    Column("chat_id", pa.string(), "Chat id as stored in messages (pseudonymised where messages' is).", False),
    Column("recorded_at", UTC_TS, "When the chat was first recorded as part of the community, UTC."),
)

TABLES: dict[str, tuple[Column, ...]] = {
    "messages": _MESSAGES,
    "scores": _SCORES,
    "prices": _PRICES,
    "weekly": _WEEKLY,
    "daily": _DAILY,
    "runs": _RUNS,
    "rejects": _REJECTS,
    "communities": _COMMUNITIES,
}

KEYS: dict[str, tuple[str, ...]] = {
    "messages": ("platform", "chat_id", "message_id"),
    "scores": ("platform", "chat_id", "message_id"),
    "prices": ("exchange", "symbol", "timeframe", "ts"),
    "weekly": ("symbol", "scope", "week_start"),
    "daily": ("symbol", "day"),
    "runs": ("run_id",),
    "rejects": ("source_file", "source_record"),
    "communities": ("symbol", "platform", "chat_id"),
}


# Partition columns of each Delta table, outermost first (a table absent here is stored unpartitioned). Chosen for
# the queries people run: one chat's messages (scoring), one symbol's prices or weekly rows (build, report); time
# ranges are pruned by the per-file min/max statistics Delta keeps, so no month folders are needed.
PARTITIONS: dict[str, tuple[str, ...]] = {
    "messages": ("platform", "chat_id"),
    "scores": ("platform",),
    "prices": ("exchange", "symbol", "timeframe"),
    "weekly": ("symbol",),
    "daily": ("symbol",),
    "runs": ("step",),
    "rejects": ("platform",),
}


def schema(table: str) -> pa.Schema:
    """The Arrow schema of ``table``, with descriptions and the schema version as metadata."""
    cols = TABLES[table]
    fields = [pa.field(c.name, c.type, nullable=c.nullable, metadata={"description": c.description}) for c in cols]
    return pa.schema(fields, metadata={"sentiment.table": table, "sentiment.schema_version": SCHEMA_VERSION})


def empty_frame(table: str) -> pd.DataFrame:
    """A zero-row DataFrame with ``table``'s columns and dtypes."""
    return schema(table).empty_table().to_pandas()


def conform(frame: pd.DataFrame, table: str) -> pa.Table:
    """Order, cast and check ``frame`` against ``table``'s schema; raise SchemaMismatchError on any misfit."""
    target = schema(table)
    missing = [n for n in target.names if n not in frame.columns]
    extra = [c for c in frame.columns if c not in target.names]
    if missing or extra:
        raise SchemaMismatchError(table, f"columns missing {missing}, unexpected {extra}")
    loose = pa.schema([f.with_nullable(True) for f in target.remove_metadata()])
    try:
        arrow = pa.Table.from_pandas(frame[list(target.names)], preserve_index=False).cast(loose)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, ValueError) as exc:
        raise SchemaMismatchError(table, f"cannot cast to the declared schema: {exc}") from exc
    for col in TABLES[table]:
        if not col.nullable and arrow.column(col.name).null_count:
            raise SchemaMismatchError(table, f"column {col.name!r} has nulls but is declared not null")
    return pa.Table.from_arrays(arrow.columns, schema=target)


def data_dictionary_markdown() -> str:
    """The data dictionary as Markdown tables, generated from the declarations above (README embeds it)."""
    out: list[str] = []
    for name, cols in TABLES.items():
        parts = PARTITIONS.get(name, ())
        where = f"; partitioned by {', '.join(parts)}" if parts else ""
        out.append(f"### `{name}` (key: {', '.join(KEYS[name])}{where})\n")
        out.append("| column | type | null | meaning |\n|---|---|---|---|")
        for c in cols:
            out.append(f"| `{c.name}` | {c.type} | {'yes' if c.nullable else 'no'} | {c.description} |")
        out.append("")
    return "\n".join(out)

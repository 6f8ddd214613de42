"""Build step: community features joined with each symbol's bars: weekly bars into the ``weekly`` table, and
with frequency 1d daily bars into the ``daily`` table."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sentiment.errors import AnalysisError, LakeError
from sentiment.features import (
    FEATURE_ROW_COLUMNS,
    LANGUAGE_COLUMNS,
    feature_rows,
    weekly_community_features,
    weekly_language_coverage,
)
from sentiment.lake import Lake
from sentiment.prices.weekly import daily_bars, weekly_bars
from sentiment.schemas import schema
from sentiment.settings import Settings
from sentiment.steps.common import recorded, sql_quote

__all__ = [
    "build_daily",
    "build_daily_symbol",
    "build_weekly",
    "build_weekly_symbol",
    "community_features",
    "daily_rows",
]


@recorded("build-weekly")
def build_weekly(settings: Settings) -> pd.DataFrame:
    """Join weekly community features (whole community and per chat) with each symbol's weekly bars."""
    features = community_features(settings)
    frames = [_weekly_of_symbol(settings, features, symbol) for symbol in settings.symbols]
    lake = Lake(settings.lake)
    for frame in frames:
        lake.replace("weekly", frame)
    return pd.concat(frames, ignore_index=True)


def community_features(settings: Settings, symbol: str | None = None) -> pd.DataFrame:
    """Weekly community features (scope "all" and per chat) of every scored message in the lake, or only of
    ``symbol``'s community's chats when the run names communities (``settings.communities``)."""
    from sentiment.steps.communities import chat_filter, chats_of

    chats = None if symbol is None else chats_of(settings, symbol)
    messages = _feature_rows(Lake(settings.lake), chat_filter(chats), _aliases(settings))
    if messages.empty:
        whose = "" if chats is None else f" of {symbol}'s community"
        raise AnalysisError(f"the lake holds no messages{whose}: ingest chat exports first")
    features = weekly_community_features(messages, week_starts_on=settings.week_starts_on)
    languages = weekly_language_coverage(messages, week_starts_on=settings.week_starts_on)
    merged = features.merge(languages, on=["scope", "week_start"], how="left")
    return merged.fillna({c: 0 for c in LANGUAGE_COLUMNS if c.endswith("_posts")})


def _aliases(settings: Settings) -> tuple[str, ...]:
    """token_mentions of unscored posts: cashtags, base names and the configured aliases (scored posts carry them)."""
    configured = [name for names in settings.aliases.values() for name in names]
    return tuple(dict.fromkeys([*(sym.split("/")[0] for sym in settings.symbols), *configured]))


# What the weekly features read of each message: no names, ids or file positions; of its score only compound,
# label, lang and the number of mentions, taken from ``scores`` before the join (so the join's hash table holds
# four small values per score, not its lists).
_FEATURE_INPUT = (
    "SELECT m.platform, m.chat_id, m.ts, m.author_id, m.kind, m.join_method, m.media_type, m.text, m.reply_to, "
    "m.is_forward, m.reactions, s.compound, s.label, s.lang, s.mention_count FROM messages_raw m LEFT JOIN ("
    "SELECT platform, chat_id, message_id, compound, label, lang, len(mentions) AS mention_count FROM scores"
    ") s USING (platform, chat_id, message_id)"
)
_STR = pd.StringDtype(na_value=float("nan"))  # what DataFrame reads of the lake give strings
_STRINGS = {pa.string(): _STR, pa.large_string(): _STR, pa.string_view(): _STR}
FEATURE_CHUNK_ROWS = 50_000  # messages turned into feature rows at a time
FEATURE_JOIN_ROWS = 250_000  # messages joined with their scores per pass


def _feature_rows(lake: Lake, where: str, aliases: tuple[str, ...]) -> pd.DataFrame:
    """The :func:`~sentiment.features.feature_rows` of the messages matching ``where``, read from DuckDB in chunks:
    each chunk's text is read (mentions, engagement) and dropped, so memory holds one chunk's text and the small
    rows of all messages (~60 bytes each; the whole frame of texts peaked at ~1.3 GB for 1M messages).

    The join with the scores runs in passes over slices of the message ids (one pass per ``FEATURE_JOIN_ROWS``
    messages): each pass's hash table holds a slice of the scores, not all of them."""
    count = lake.read(f"SELECT count(*) AS n FROM messages_raw WHERE {where}")["n"].iloc[0]
    passes = max(1, -(-int(count) // FEATURE_JOIN_ROWS))
    parts: list[pa.Table] = []
    for k in range(passes):
        sliced = "" if passes == 1 else f" AND hash(message_id) % {passes} = {k}"
        sql = f"{_FEATURE_INPUT} WHERE {where}{sliced}"
        con = lake.connect(sql)
        try:
            for batch in _batches(con, sql, lake):
                chunk = pa.Table.from_batches([batch]).to_pandas(types_mapper=_STRINGS.get)
                rows = pa.Table.from_pandas(feature_rows(chunk, aliases), preserve_index=False)
                # strings as dictionary codes (scope, kind, author, label, lang repeat across rows)
                parts.append(rows.from_arrays([_encoded(c) for c in rows.columns], names=rows.column_names))
        finally:
            con.close()
    if not parts:
        return pd.DataFrame(columns=FEATURE_ROW_COLUMNS)
    return pa.concat_tables(parts).unify_dictionaries().to_pandas()


def _encoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Strings as dictionary codes; other columns copied. Nothing kept may view the DuckDB batch: its buffers are
    released together, so one column kept would keep the batch's texts alive."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return pc.dictionary_encode(column.cast(pa.string()))
    return pa.chunked_array([pa.concat_arrays([chunk]) for chunk in column.chunks], type=column.type)


def _batches(con: duckdb.DuckDBPyConnection, sql: str, lake: Lake) -> Iterator[pa.RecordBatch]:
    try:
        reader = con.sql(sql).to_arrow_reader(FEATURE_CHUNK_ROWS)
    except duckdb.Error as exc:
        raise LakeError(lake.root, f"query failed: {exc}") from exc
    yield from reader


def build_weekly_symbol(settings: Settings, features: pd.DataFrame, symbol: str) -> int:
    """Join ``features`` with one symbol's weekly bars and replace its ``weekly`` partition; return the rows."""
    return Lake(settings.lake).replace("weekly", _weekly_of_symbol(settings, features, symbol))


def _weekly_of_symbol(settings: Settings, features: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """``features`` joined with one symbol's weekly bars (excess returns over the market factor), schema columns.

    With communities, ``features`` of the whole lake are replaced by those of the symbol's own community."""
    if settings.communities:
        features = community_features(settings, symbol)
    prices = _prices_of(settings, symbol, settings.timeframe)
    bars = weekly_bars(prices, market_symbol=settings.market_symbol, week_starts_on=settings.week_starts_on)
    weekly = features.merge(bars[bars["symbol"] == symbol], on="week_start", how="inner")
    return weekly[[c for c in schema("weekly").names if c in weekly.columns]]


def _prices_of(settings: Settings, symbol: str, timeframe: str) -> pd.DataFrame:
    """The lake's ``timeframe`` candles of ``symbol`` and the market factor on the configured exchange."""
    names = list(dict.fromkeys((symbol, settings.market_symbol)))
    wanted = ", ".join(f"upper('{sql_quote(s)}')" for s in names)
    prices = Lake(settings.lake).read(
        f"SELECT * FROM prices WHERE exchange = '{sql_quote(settings.exchange)}' "
        f"AND timeframe = '{sql_quote(timeframe)}' AND upper(symbol) IN ({wanted})"
    )
    # Symbols match in any case, as the fetch does ("virtual/usdt" finds VIRTUAL/USDT); the configured
    # spelling is kept so the rows and reports carry the name the user asked for.
    by_upper = {s.upper(): s for s in names}
    prices["symbol"] = prices["symbol"].map(lambda s: by_upper.get(str(s).upper(), s))
    if prices[prices["symbol"] == symbol].empty:
        kind = "daily (1d) " if timeframe == "1d" else ""
        raise AnalysisError(f"the lake holds no {settings.exchange} {kind}prices of {symbol}: fetch prices first")
    return prices


# ---- daily (frequency 1d) ----------------------------------------------------------------------------------
@recorded("build-daily")
def build_daily(settings: Settings, *, now: pd.Timestamp | None = None) -> pd.DataFrame:
    """Each symbol's ``daily`` rows (see :func:`daily_rows`), its partition replaced: a re-run adds no rows."""
    frames = [daily_rows(settings, symbol, now=now) for symbol in settings.symbols]
    lake = Lake(settings.lake)
    for frame in frames:
        lake.replace("daily", frame)
    return pd.concat(frames, ignore_index=True)


def build_daily_symbol(settings: Settings, symbol: str, *, now: pd.Timestamp | None = None) -> int:
    """Replace ``symbol``'s ``daily`` partition by :func:`daily_rows`; return the rows."""
    return Lake(settings.lake).replace("daily", daily_rows(settings, symbol, now=now))


def daily_rows(settings: Settings, symbol: str, *, now: pd.Timestamp | None = None) -> pd.DataFrame:
    """The ``daily`` rows of ``symbol``: the day features of its community (every chat in the lake when the run
    names no communities; scope all only) joined with its daily candles and the market factor's, in the table's
    columns. A candle still open at ``now`` (default: the current time) is an incomplete bar and is left out."""
    from sentiment.steps.communities import chat_filter, chats_of

    chats = chats_of(settings, symbol)
    messages = _feature_rows(Lake(settings.lake), chat_filter(chats), _aliases(settings))
    if messages.empty:
        whose = "" if chats is None else f" of {symbol}'s community"
        raise AnalysisError(f"the lake holds no messages{whose}: ingest chat exports first")
    features = weekly_community_features(messages, per_chat=False, freq="1d")
    prices = _prices_of(settings, symbol, "1d")
    bars = daily_bars(prices, market_symbol=settings.market_symbol, now=now or pd.Timestamp.now(tz="UTC"))
    daily = features.merge(bars[bars["symbol"] == symbol], on="day", how="inner").sort_values("day")
    return daily[schema("daily").names].reset_index(drop=True)

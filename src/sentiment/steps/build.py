"""Build step: community features joined with each symbol's bars: weekly bars into the ``weekly`` table, and
with frequency 1d daily bars into the ``daily`` table."""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa

from sentiment.errors import AnalysisError, LakeError
from sentiment.features import LANGUAGE_COLUMNS, weekly_community_features, weekly_language_coverage
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
    messages = _read_lean(Lake(settings.lake), f"{_FEATURE_INPUT} WHERE {chat_filter(chats)}")
    if messages.empty:
        whose = "" if chats is None else f" of {symbol}'s community"
        raise AnalysisError(f"the lake holds no messages{whose}: ingest chat exports first")
    features = weekly_community_features(messages, week_starts_on=settings.week_starts_on, aliases=_aliases(settings))
    languages = weekly_language_coverage(messages, week_starts_on=settings.week_starts_on)
    merged = features.merge(languages, on=["scope", "week_start"], how="left")
    return merged.fillna({c: 0 for c in LANGUAGE_COLUMNS if c.endswith("_posts")})


def _aliases(settings: Settings) -> tuple[str, ...]:
    """token_mentions of unscored posts: cashtags, base names and the configured aliases (scored posts carry them)."""
    configured = [name for names in settings.aliases.values() for name in names]
    return tuple(dict.fromkeys([*(sym.split("/")[0] for sym in settings.symbols), *configured]))


# What the weekly features read of ``messages``: names, file positions and score details stay out, and the mentions
# lists come as their lengths (1M rows of list objects cost GBs in pandas).
_UNREAD = "chat_name, author_name, inviter_id, source_file, source_record, ingested_at, pos, neu, neg, scorer, "
_UNREAD += "scorer_version, scored_at, mentions"
_FEATURE_INPUT = f"SELECT * EXCLUDE ({_UNREAD}), len(mentions) AS mention_count FROM messages"
_STR = pd.StringDtype(na_value=float("nan"))  # what DataFrame reads of the lake give strings
_STRINGS = {pa.string(): _STR, pa.large_string(): _STR, pa.string_view(): _STR}


def _read_lean(lake: Lake, sql: str) -> pd.DataFrame:
    """``sql`` over the lake as a DataFrame via Arrow (DuckDB's own DataFrame conversion peaks at ~4x the data)."""
    con = lake.connect(sql)
    try:
        table = con.sql(sql).to_arrow_table()
    except duckdb.Error as exc:
        raise LakeError(lake.root, f"query failed: {exc}") from exc
    finally:
        con.close()
    return table.to_pandas(types_mapper=_STRINGS.get)


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
    messages = _read_lean(Lake(settings.lake), f"{_FEATURE_INPUT} WHERE {chat_filter(chats)}")
    if messages.empty:
        whose = "" if chats is None else f" of {symbol}'s community"
        raise AnalysisError(f"the lake holds no messages{whose}: ingest chat exports first")
    features = weekly_community_features(messages, aliases=_aliases(settings), per_chat=False, freq="1d")
    prices = _prices_of(settings, symbol, "1d")
    bars = daily_bars(prices, market_symbol=settings.market_symbol, now=now or pd.Timestamp.now(tz="UTC"))
    daily = features.merge(bars[bars["symbol"] == symbol], on="day", how="inner").sort_values("day")
    return daily[schema("daily").names].reset_index(drop=True)

"""Build step: weekly community features joined with each symbol's weekly bars into the ``weekly`` table."""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa

from sentiment.errors import AnalysisError, LakeError
from sentiment.features import LANGUAGE_COLUMNS, weekly_community_features, weekly_language_coverage
from sentiment.lake import Lake
from sentiment.prices.weekly import weekly_bars
from sentiment.schemas import schema
from sentiment.settings import Settings
from sentiment.steps.common import recorded, sql_quote

__all__ = ["build_weekly", "build_weekly_symbol", "community_features"]


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
    # token_mentions of unscored posts: cashtags, base names and the configured aliases (scored posts carry them).
    configured = [name for names in settings.aliases.values() for name in names]
    aliases = tuple(dict.fromkeys([*(sym.split("/")[0] for sym in settings.symbols), *configured]))
    features = weekly_community_features(messages, week_starts_on=settings.week_starts_on, aliases=aliases)
    languages = weekly_language_coverage(messages, week_starts_on=settings.week_starts_on)
    merged = features.merge(languages, on=["scope", "week_start"], how="left")
    return merged.fillna({c: 0 for c in LANGUAGE_COLUMNS if c.endswith("_posts")})


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
    names = list(dict.fromkeys((symbol, settings.market_symbol)))
    wanted = ", ".join(f"upper('{sql_quote(s)}')" for s in names)
    prices = Lake(settings.lake).read(
        f"SELECT * FROM prices WHERE exchange = '{sql_quote(settings.exchange)}' "
        f"AND timeframe = '{sql_quote(settings.timeframe)}' AND upper(symbol) IN ({wanted})"
    )
    # Symbols match in any case, as the fetch does ("virtual/usdt" finds VIRTUAL/USDT); the configured
    # spelling is kept so the weekly rows and reports carry the name the user asked for.
    by_upper = {s.upper(): s for s in names}
    prices["symbol"] = prices["symbol"].map(lambda s: by_upper.get(str(s).upper(), s))
    if prices[prices["symbol"] == symbol].empty:
        raise AnalysisError(f"the lake holds no {settings.exchange} prices of {symbol}: fetch prices first")
    bars = weekly_bars(prices, market_symbol=settings.market_symbol, week_starts_on=settings.week_starts_on)
    weekly = features.merge(bars[bars["symbol"] == symbol], on="week_start", how="inner")
    return weekly[[c for c in schema("weekly").names if c in weekly.columns]]

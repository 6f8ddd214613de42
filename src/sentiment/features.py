"""Weekly community features (activity, growth, churn and mood) per chat and for the whole community."""

from __future__ import annotations

import pandas as pd

from sentiment.weeks import week_start

__all__ = ["FEATURE_COLUMNS", "weekly_community_features"]

POSTING_KINDS = ("message", "media")

FEATURE_COLUMNS = [
    "messages",
    "active_authors",
    "messages_per_author",
    "new_authors",
    "joins",
    "joins_invite",
    "joins_link",
    "joins_qr",
    "leaves",
    "mean_compound",
    "bullish_share",
    "bearish_share",
]
_COUNT_COLUMNS = [
    c
    for c in FEATURE_COLUMNS
    if c not in ("messages_per_author", "mean_compound", "bullish_share", "bearish_share")
]
_OUTPUT_COLUMNS = ["scope", "week_start", *FEATURE_COLUMNS]


def weekly_community_features(messages: pd.DataFrame, *, week_starts_on: str = "monday") -> pd.DataFrame:
    """One row per (scope, week_start): scope "all" and each "platform:chat_id".

    ``messages`` holds the messages-schema columns with the scores' compound and label merged in.
    messages counts kind message/media; active_authors counts their distinct author_id; new_authors counts
    authors whose first post (in that scope) falls in the week; leaves = leave + remove events. Mood columns
    average posts whose label is not 'unscored' and whose compound is known (NaN when none). Every week
    between a scope's first and last active week is present; quiet weeks have zero counts and NaN mood.
    """
    frame = messages.copy()
    if frame.empty:
        return _empty()
    frame["week_start"] = week_start(frame["ts"], week_starts_on)
    frame["scope"] = frame["platform"].astype(str) + ":" + frame["chat_id"].astype(str)
    parts = [_scope_features(frame.assign(scope="all"))]
    parts += [_scope_features(group) for _, group in frame.groupby("scope", sort=True)]
    out = pd.concat(parts, ignore_index=True)
    return out[_OUTPUT_COLUMNS]


def _scope_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Features of one scope's rows (all carrying the same ``scope``)."""
    scope = str(frame["scope"].iloc[0])
    weeks = frame["week_start"]
    # Weeks are 7 days apart in UTC, so a fixed 7-day grid from the first to the last week fills the gaps.
    index = pd.DatetimeIndex(pd.date_range(weeks.min(), weeks.max(), freq="7D"), name="week_start")

    kind = frame["kind"].astype(str)
    posts = frame[kind.isin(POSTING_KINDS)]
    authored = posts[posts["author_id"].notna()]

    out = pd.DataFrame(index=index)
    out["messages"] = posts.groupby("week_start").size()
    out["active_authors"] = authored.groupby("week_start")["author_id"].nunique()
    first_week = authored.groupby("author_id")["week_start"].min()
    out["new_authors"] = first_week.value_counts()

    joins = frame[kind == "join"]
    out["joins"] = joins.groupby("week_start").size()
    method = joins["join_method"].astype("string")
    for name in ("invite", "link", "qr"):
        out[f"joins_{name}"] = joins[method == name].groupby("week_start").size()
    out["leaves"] = frame[kind.isin(("leave", "remove"))].groupby("week_start").size()
    out[_COUNT_COLUMNS] = out[_COUNT_COLUMNS].fillna(0).astype("int64")
    # No authors means no posting intensity: 0 rather than 0/0, so quiet weeks stay usable as regressors.
    out["messages_per_author"] = (
        out["messages"] / out["active_authors"].where(out["active_authors"] > 0)
    ).fillna(0.0)

    # Mood is measured on posts only: join/leave notices carry system text, not the community's mood.
    compound = pd.to_numeric(posts["compound"], errors="coerce")
    label = posts["label"].astype("string")
    scored = posts[(label != "unscored").fillna(False) & compound.notna()]
    scored_label = scored["label"].astype("string")
    by_week = pd.DataFrame(
        {
            "compound": pd.to_numeric(scored["compound"], errors="coerce").astype(float),
            "bullish": (scored_label == "bullish").astype(float),
            "bearish": (scored_label == "bearish").astype(float),
            "week_start": scored["week_start"],
        }
    ).groupby("week_start")
    out["mean_compound"] = by_week["compound"].mean()
    out["bullish_share"] = by_week["bullish"].mean()
    out["bearish_share"] = by_week["bearish"].mean()
    out[["mean_compound", "bullish_share", "bearish_share"]] = out[
        ["mean_compound", "bullish_share", "bearish_share"]
    ].astype(float)

    out = out.reset_index()
    out.insert(0, "scope", scope)
    return out


def _empty() -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series(dtype="int64") for c in _OUTPUT_COLUMNS})
    out["scope"] = pd.Series(dtype="string")
    out["week_start"] = pd.Series(dtype="datetime64[us, UTC]")
    for col in ("messages_per_author", "mean_compound", "bullish_share", "bearish_share"):
        out[col] = pd.Series(dtype="float64")
    return out[_OUTPUT_COLUMNS]

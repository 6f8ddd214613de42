"""Weekly community features (activity, growth, retention, engagement, mood, anomalies) per chat and overall."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from sentiment.weeks import week_start

__all__ = [
    "ANOMALY_WINDOW",
    "BURN_IN_WEEKS",
    "FEATURE_COLUMNS",
    "FEATURE_ROW_COLUMNS",
    "LANGUAGE_COLUMNS",
    "count_token_mentions",
    "engagement_class",
    "feature_rows",
    "token_mention_counts",
    "weekly_community_features",
    "weekly_language_coverage",
]

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
    # issue 7: the fuller feature set (appended; the columns above keep their meaning)
    "token_mentions",
    "joins_self",
    "net_growth",
    "members_known",
    "retention_1w",
    "retention_4w",
    "interactive_posts",
    "content_posts",
    "passive_posts",
    "interactive_share",
    "content_share",
    "passive_share",
    "replies_per_message",
    "reactions_per_message",
    "median_compound",
    "compound_std",
    "bullish_count",
    "bearish_count",
    "bullishness",
    "unscored_share",
    "messages_z",
    "joins_z",
    "new_authors_z",
    "spike_flag",
]
_FLOAT_COLUMNS = (
    "messages_per_author",
    "mean_compound",
    "bullish_share",
    "bearish_share",
    "retention_1w",
    "retention_4w",
    "interactive_share",
    "content_share",
    "passive_share",
    "replies_per_message",
    "reactions_per_message",
    "median_compound",
    "compound_std",
    "bullishness",
    "unscored_share",
    "messages_z",
    "joins_z",
    "new_authors_z",
)
_BOOL_COLUMNS = ("spike_flag",)
_COUNT_COLUMNS = [c for c in FEATURE_COLUMNS if c not in _FLOAT_COLUMNS and c not in _BOOL_COLUMNS]
_OUTPUT_COLUMNS = ["scope", "week_start", *FEATURE_COLUMNS]

# Trailing window (weeks, current week excluded) for the anomaly z-scores; at least half of it must be known.
ANOMALY_WINDOW = 8
SPIKE_Z = 2.0
# The first weeks of a scope's data: every author already in the group posts "for the first time" there, so
# new_authors (and the z-score and spike flag built on it) are left undefined until these weeks have passed.
BURN_IN_WEEKS = 4
_CASHTAG = r"\$[A-Za-z][A-Za-z0-9]{1,9}\b"
_LINK = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_QUESTION_END = ("?", "？")


def count_token_mentions(text: pd.Series, aliases: Sequence[str] = ()) -> pd.Series:
    """Per text: cashtags ($XYZ) plus whole-word, case-insensitive matches of ``aliases`` (e.g. VIRTUAL).

    A cashtag that is also an alias ($VIRTUAL) counts once. Null text counts 0.
    """
    words = [re.escape(a) for a in dict.fromkeys(a.strip() for a in aliases) if a]
    alias_part = rf"|(?<![\w$])(?:{'|'.join(words)})(?!\w)" if words else ""
    pattern = re.compile(rf"{_CASHTAG}{alias_part}", re.IGNORECASE if words else 0)
    filled = text.astype("string").fillna("")
    return filled.str.count(pattern).astype("int64")


def token_mention_counts(frame: pd.DataFrame, aliases: Sequence[str] = ()) -> pd.Series:
    """Token mentions per row: the length of its ``mentions`` list (the scorer's configured symbols by any alias,
    plus other cashtags; or that length as ``mention_count``) where the row was scored, else cashtags and
    ``aliases`` counted in its text."""
    text = frame["text"] if "text" in frame.columns else pd.Series(None, index=frame.index, dtype="string")
    fallback = count_token_mentions(text, aliases)
    if "mention_count" in frame.columns:  # the list's length computed by the query (no per-row list objects)
        counts = pd.to_numeric(frame["mention_count"], errors="coerce").astype("float64")
        return counts.fillna(fallback).astype("int64")
    if "mentions" not in frame.columns:
        return fallback
    # A list column arrives as lists or arrays (DuckDB/Arrow), null for unscored rows; never coerce it to a number.
    sizes = frame["mentions"].map(lambda v: len(v) if isinstance(v, list | tuple | np.ndarray) else np.nan)
    return sizes.astype("float64").fillna(fallback).astype("int64")


def engagement_class(posts: pd.DataFrame) -> pd.Series:
    """interactive | content | passive for each post (kind message/media), first match wins.

    interactive: a question (text ending in ? or ？) or a poll; content: a link in the text, any other media
    (photo, sticker, file, ...) or a forward; passive: everything else (greetings, reactions in words, chatter).
    """
    text = posts["text"].astype("string").fillna("").str.strip() if "text" in posts else pd.Series("", posts.index)
    media = posts["media_type"].astype("string") if "media_type" in posts else pd.Series(pd.NA, posts.index)
    kind = posts["kind"].astype(str)
    forward = posts["is_forward"].astype("boolean").fillna(False) if "is_forward" in posts else False
    question = text.str.endswith(_QUESTION_END[0]) | text.str.endswith(_QUESTION_END[1])
    interactive = question | (media == "poll").fillna(False)
    content = text.str.contains(_LINK) | (kind == "media") | forward
    out = np.where(interactive, "interactive", np.where(content, "content", "passive"))
    return pd.Series(out, index=posts.index, dtype="string")


# What the weekly features read of each message, once its text was read (see :func:`feature_rows`).
FEATURE_ROW_COLUMNS = [
    "scope",
    "ts",
    "kind",
    "author_id",
    "join_method",
    "reactions",
    "compound",
    "label",
    "lang",
    "_mentions",
    "_engagement",
    "_replied",
]


def feature_rows(messages: pd.DataFrame, aliases: Sequence[str] = ()) -> pd.DataFrame:
    """Per message, what :func:`weekly_community_features` and :func:`weekly_language_coverage` use of it, with
    the text already read: its scope (``platform:chat_id``), token mentions (``_mentions``, see
    :func:`token_mention_counts`), engagement class of a post (``_engagement``) and whether it replies
    (``_replied``). No text, ids or names: a million messages fit in tens of MB, and a caller can compute the
    rows chunk by chunk and concatenate them (the features of the concatenation equal those of ``messages``)."""
    index = messages.index
    scope = messages["platform"].astype(str) + ":" + messages["chat_id"].astype(str)
    out = pd.DataFrame({"scope": scope, "ts": messages["ts"]}, index=index)
    for col in ("kind", "author_id", "join_method", "label", "lang"):
        out[col] = messages[col].astype("string") if col in messages else pd.Series(pd.NA, index, dtype="string")
    for col in ("reactions", "compound"):
        values = messages[col] if col in messages else pd.Series(np.nan, index)
        out[col] = pd.to_numeric(values, errors="coerce").astype("float64")
    out["_mentions"] = token_mention_counts(messages, aliases)
    posts = messages["kind"].astype(str).isin(POSTING_KINDS)
    engagement = engagement_class(messages[posts]).reindex(index)
    out["_engagement"] = engagement.astype("string")
    replied = messages["reply_to"].notna() if "reply_to" in messages else pd.Series(False, index)
    out["_replied"] = replied.to_numpy(dtype=bool)
    return out[FEATURE_ROW_COLUMNS]


def weekly_community_features(
    messages: pd.DataFrame,
    *,
    week_starts_on: str = "monday",
    aliases: Sequence[str] = (),
    per_chat: bool = True,
    burn_in_weeks: int = BURN_IN_WEEKS,
    freq: str = "1w",
) -> pd.DataFrame:
    """One row per (scope, week_start): scope "all" and each "platform:chat_id".

    ``messages`` holds the messages-schema columns with the scores' compound and label merged in, or is already
    their :func:`feature_rows` (what the build step reads from the lake chunk by chunk; ``aliases`` then unused).
    messages counts kind message/media; active_authors counts their distinct author_id; new_authors counts
    authors whose first post (in that scope) falls in the week; leaves = leave + remove events. Mood columns
    average posts whose label is not 'unscored' and whose compound is known (NaN when none). Every week
    between a scope's first and last active week is present; quiet weeks have zero counts and NaN mood.

    token_mentions sums per post the entries of its ``mentions`` list (scored posts), else counts cashtags and
    ``aliases`` in its text (:func:`token_mention_counts`). The README's definitions table documents every column.

    Left censoring: an export starts in the middle of a group's life, so in its first weeks every regular
    posts "for the first time". new_authors, new_authors_z and spike_flag are therefore null in each scope's
    first ``burn_in_weeks`` weeks, and new_authors_z's trailing baseline only uses weeks after them.

    ``freq="1d"`` gives one row per (scope, day) instead, the bar column named ``day`` (UTC midnight); every
    definition is the same per day (the z-scores' trailing window is 8 days, the burn-in still 4 weeks,
    retention_1w/4w still look 7/28 days ahead).
    """
    if freq not in ("1w", "1d"):
        raise ValueError(f"unknown frequency {freq!r}: use 1w or 1d")
    if messages.empty:
        return _empty()
    # ``messages`` may already be feature rows (read chunk by chunk from the lake); else they are made here.
    frame = messages.copy() if "_engagement" in messages else feature_rows(messages, aliases)
    # The bar start lives in "week_start" while computing; daily output renames it to "day".
    if freq == "1w":
        frame["week_start"] = week_start(frame["ts"], week_starts_on)
    else:
        frame["week_start"] = frame["ts"].dt.tz_convert("UTC").dt.floor("D")
    step = "7D" if freq == "1w" else "1D"
    parts = [_scope_features(frame.assign(scope="all"), burn_in_weeks, step)]
    if per_chat:
        scopes = frame["scope"].astype(str)
        parts += [_scope_features(group, burn_in_weeks, step) for _, group in frame.groupby(scopes, sort=True)]
    out = pd.concat(parts, ignore_index=True)[_OUTPUT_COLUMNS]
    return out if freq == "1w" else out.rename(columns={"week_start": "day"})


def _scope_features(frame: pd.DataFrame, burn_in_weeks: int = BURN_IN_WEEKS, step: str = "7D") -> pd.DataFrame:
    """Features of one scope's rows (all carrying the same ``scope``)."""
    scope = str(frame["scope"].iloc[0])
    weeks = frame["week_start"]
    # Weeks are 7 days apart in UTC, so a fixed 7-day grid from the first to the last week fills the gaps.
    index = pd.DatetimeIndex(pd.date_range(weeks.min(), weeks.max(), freq=step), name="week_start")

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
    out["joins_self"] = joins[method == "self"].groupby("week_start").size()
    out["token_mentions"] = posts.groupby("week_start")["_mentions"].sum()
    engagement = posts["_engagement"]
    for name in ("interactive", "content", "passive"):
        out[f"{name}_posts"] = posts[engagement == name].groupby("week_start").size()
    base = [c for c in _COUNT_COLUMNS if c not in ("net_growth", "members_known", "bullish_count", "bearish_count")]
    out[base] = out[base].fillna(0).astype("int64")
    out["net_growth"] = out["joins"] - out["leaves"]
    # Only joins and leaves inside the data are seen: members from before the export are not counted.
    out["members_known"] = out["net_growth"].cumsum()
    has_posts = out["messages"].where(out["messages"] > 0)
    for name in ("interactive", "content", "passive"):
        out[f"{name}_share"] = out[f"{name}_posts"] / has_posts
    # An export either carries replies/reactions or not (WeChat has neither): NaN when the scope never has them.
    if posts["_replied"].any():
        out["replies_per_message"] = posts[posts["_replied"]].groupby("week_start").size()
        out["replies_per_message"] = out["replies_per_message"].fillna(0) / has_posts
    else:
        out["replies_per_message"] = np.nan
    if posts["reactions"].notna().any():
        reactions = pd.to_numeric(posts["reactions"], errors="coerce").fillna(0).astype(float)
        out["reactions_per_message"] = reactions.groupby(posts["week_start"]).sum() / has_posts
    else:
        out["reactions_per_message"] = np.nan
    out = out.join(_retention(authored, index))
    # No authors means no posting intensity: 0 rather than 0/0, so quiet weeks stay usable as regressors.
    out["messages_per_author"] = (out["messages"] / out["active_authors"].where(out["active_authors"] > 0)).fillna(0.0)

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
    out["median_compound"] = by_week["compound"].median()
    out["compound_std"] = by_week["compound"].std()  # sample std (ddof 1): NaN with a single scored post
    out["bullish_count"] = by_week["bullish"].sum()
    out["bearish_count"] = by_week["bearish"].sum()
    out[["bullish_count", "bearish_count"]] = out[["bullish_count", "bearish_count"]].fillna(0).astype("int64")
    # Counts, not shares, with +1 smoothing: 0 in a quiet or neutral week, larger in a week with many voices.
    out["bullishness"] = np.log((1.0 + out["bullish_count"]) / (1.0 + out["bearish_count"]))
    out["unscored_share"] = (out["messages"] - scored.groupby("week_start").size().reindex(index).fillna(0)) / has_posts

    burn_in = index < index.min() + pd.Timedelta(weeks=burn_in_weeks)
    out["new_authors"] = out["new_authors"].astype("Int64").mask(burn_in)
    out["messages_z"] = _trailing_z(out["messages"])
    out["joins_z"] = _trailing_z(out["joins"])
    out["new_authors_z"] = _trailing_z(out["new_authors"].astype("Float64").astype(float))
    spike = (out["new_authors_z"] > SPIKE_Z) & (out["messages_z"] > SPIKE_Z)
    out["spike_flag"] = spike.astype("boolean").mask(burn_in)
    out[list(_FLOAT_COLUMNS)] = out[list(_FLOAT_COLUMNS)].astype(float)

    out = out.reset_index()
    out.insert(0, "scope", scope)
    return out


def _retention(authored: pd.DataFrame, index: pd.DatetimeIndex) -> pd.DataFrame:
    """retention_1w / retention_4w: share of week w's active authors who post again in week w+1 / w+4.

    NaN when week w had no authors or week w+k lies after the scope's last week (not yet observable).
    """
    pairs = authored[["week_start", "author_id"]].drop_duplicates()
    cohort = pairs.groupby("week_start").size().reindex(index)
    out = pd.DataFrame(index=index)
    for k, name in ((1, "retention_1w"), (4, "retention_4w")):
        later = pairs.assign(week_start=pairs["week_start"] - pd.Timedelta(weeks=k))
        back = pairs.merge(later, on=["week_start", "author_id"]).groupby("week_start").size()
        share = back.reindex(index).fillna(0) / cohort.where(cohort > 0)
        out[name] = share.where(index + pd.Timedelta(weeks=k) <= index.max())
    return out


def _trailing_z(counts: pd.Series) -> pd.Series:
    """(x_t - mean) / std over the trailing ANOMALY_WINDOW weeks, week t excluded; NaN when std is 0 or unknown."""
    x = counts.astype(float)
    past = x.shift(1).rolling(ANOMALY_WINDOW, min_periods=ANOMALY_WINDOW // 2)
    sd = past.std()
    return (x - past.mean()) / sd.where(sd > 0)


def _empty() -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series(dtype="int64") for c in _OUTPUT_COLUMNS})
    out["scope"] = pd.Series(dtype="string")
    out["week_start"] = pd.Series(dtype="datetime64[us, UTC]")
    for col in _FLOAT_COLUMNS:
        out[col] = pd.Series(dtype="float64")
    out["new_authors"] = pd.Series(dtype="Int64")
    for col in _BOOL_COLUMNS:
        out[col] = pd.Series(dtype="boolean")
    return out[_OUTPUT_COLUMNS]


# issue 12: language coverage of the mood, per scope and week (new columns of the weekly table, appended)
TOP_LANGS = 3
LANGUAGE_COLUMNS = [
    "scored_share",
    *[c for i in range(1, TOP_LANGS + 1) for c in (f"lang_{i}", f"lang_{i}_posts")],
]


def weekly_language_coverage(messages: pd.DataFrame, *, week_starts_on: str = "monday") -> pd.DataFrame:
    """Per (scope, week_start), scope "all" and each "platform:chat_id": the share of posts with a usable mood
    score (``scored_share``), and the week's most written languages (``lang`` of the scores) with their post
    counts (``lang_1``/``lang_1_posts`` the most, ties by code). Only weeks with posts have a row."""
    cols = ["scope", "week_start", *LANGUAGE_COLUMNS]
    posts = messages[messages["kind"].isin(POSTING_KINDS)] if "kind" in messages else messages.iloc[0:0]
    if posts.empty:
        return pd.DataFrame(columns=cols)
    label = posts["label"].astype("string") if "label" in posts else pd.Series(pd.NA, index=posts.index)
    lang = posts["lang"].astype("string") if "lang" in posts else pd.Series(pd.NA, index=posts.index)
    scope = (
        posts["scope"] if "scope" in posts else posts["platform"].astype(str) + ":" + posts["chat_id"].astype(str)
    ).astype("category")
    week = pd.Series(week_start(posts["ts"], week_starts_on).to_numpy(), name="week_start")
    scored = pd.Series((label.notna() & (label != "unscored")).to_numpy(dtype=bool), name="scored")
    lang = pd.Series(lang.fillna("und").astype("category").to_numpy(), name="lang")
    scope = pd.Series(scope.to_numpy(), name="scope")
    # scope "all" and each chat, grouped on codes (no per-row strings: a million posts stay a few MB)
    shares, tallies = [], []
    for by in ([week], [scope, week]):
        shares.append(scored.groupby(by, observed=True, sort=False).mean().rename("scored_share").reset_index())
        tallies.append(scored.groupby([*by, lang], observed=True, sort=False).size().rename("posts").reset_index())
    keys = ["scope", "week_start"]
    out, counts = (
        pd.concat([parts[0].assign(scope="all"), parts[1]], ignore_index=True).astype({"scope": str})
        for parts in (shares, tallies)
    )
    counts = counts.astype({"lang": str})
    out = out.sort_values(keys, kind="mergesort", ignore_index=True)
    counts = counts.sort_values([*keys, "posts", "lang"], ascending=[True, True, False, True], kind="mergesort")
    counts["rank"] = counts.groupby(keys).cumcount() + 1
    for i in range(1, TOP_LANGS + 1):
        top = counts[counts["rank"] == i].rename(columns={"lang": f"lang_{i}", "posts": f"lang_{i}_posts"})
        out = out.merge(top[[*keys, f"lang_{i}", f"lang_{i}_posts"]], on=keys, how="left")
        out[f"lang_{i}_posts"] = out[f"lang_{i}_posts"].fillna(0).astype("int64")
        out[f"lang_{i}"] = out[f"lang_{i}"].astype(object).where(out[f"lang_{i}"].notna(), None)
    return out[cols]

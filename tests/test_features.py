"""Tests for sentiment.features."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from sentiment.features import FEATURE_COLUMNS, weekly_community_features

NAN = math.nan
# platform, chat_id, ts (UTC), author_id, kind, join_method, compound, label
ROWS = [
    ("telegram", "c1", "2024-01-01 10:00", "a1", "message", None, 0.5, "bullish"),
    ("telegram", "c1", "2024-01-02 10:00", "a2", "media", None, NAN, "unscored"),
    ("telegram", "c1", "2024-01-03 10:00", "a1", "message", None, -0.6, "bearish"),
    # A scored join notice: it counts as a join, never as a post or as mood.
    ("telegram", "c1", "2024-01-04 10:00", "a3", "join", "qr", 0.0, "neutral"),
    ("telegram", "c1", "2024-01-07 23:59", "a4", "join", "link", NAN, "unscored"),  # Sunday: still week 1
    ("telegram", "c1", "2024-01-08 00:00", "a3", "message", None, 0.0, "neutral"),
    ("telegram", "c1", "2024-01-09 10:00", "a2", "leave", None, NAN, "unscored"),
    ("telegram", "c1", "2024-01-22 10:00", "a1", "message", None, 0.2, "bullish"),
    ("telegram", "c1", "2024-01-22 11:00", None, "system", None, NAN, "unscored"),
    ("wechat", "w1", "2024-01-08 09:00", "a5", "message", None, 0.9, "bullish"),
    ("wechat", "w1", "2024-01-08 09:30", "a1", "message", None, 0.01, "neutral"),
    ("wechat", "w1", "2024-01-09 10:00", "a6", "join", "invite", NAN, "unscored"),
    ("wechat", "w1", "2024-01-10 10:00", "a6", "remove", None, NAN, "unscored"),
]


def messages() -> pd.DataFrame:
    frame = pd.DataFrame(
        ROWS, columns=["platform", "chat_id", "ts", "author_id", "kind", "join_method", "compound", "label"]
    )
    frame["ts"] = pd.to_datetime(frame["ts"]).dt.tz_localize("UTC")
    frame["message_id"] = [str(i) for i in range(len(frame))]
    frame["lang"] = "en"
    return frame


def week(out: pd.DataFrame, scope: str, day: str) -> dict[str, object]:
    rows = out[(out["scope"] == scope) & (out["week_start"] == pd.Timestamp(day, tz="UTC"))]
    assert len(rows) == 1
    return rows.iloc[0].to_dict()


def test_exact_counts_for_the_whole_community() -> None:
    """It counts posts, authors, newcomers, joins by method, leaves and mood per week for scope all."""
    out = weekly_community_features(messages(), burn_in_weeks=0)
    w1 = week(out, "all", "2024-01-01")
    assert {
        k: w1[k]
        for k in (
            "messages",
            "active_authors",
            "new_authors",
            "joins",
            "joins_invite",
            "joins_link",
            "joins_qr",
            "leaves",
        )
    } == {
        "messages": 3,
        "active_authors": 2,
        "new_authors": 2,
        "joins": 2,
        "joins_invite": 0,
        "joins_link": 1,
        "joins_qr": 1,
        "leaves": 0,
    }
    assert w1["messages_per_author"] == 1.5
    assert w1["mean_compound"] == pytest.approx(-0.05)  # the unscored media and the join notice are left out
    assert (w1["bullish_share"], w1["bearish_share"]) == (0.5, 0.5)

    w2 = week(out, "all", "2024-01-08")
    # a1 posts again (in another chat): active, but not new to the community.
    assert (w2["messages"], w2["active_authors"], w2["new_authors"]) == (3, 3, 2)
    assert (w2["joins"], w2["joins_invite"], w2["leaves"]) == (1, 1, 2)  # leave + remove
    assert w2["mean_compound"] == pytest.approx(0.91 / 3)
    assert w2["bullish_share"] == pytest.approx(1 / 3)
    assert w2["bearish_share"] == 0.0

    w4 = week(out, "all", "2024-01-22")
    assert (w4["messages"], w4["active_authors"], w4["new_authors"]) == (1, 1, 0)  # the system row is no post


def test_quiet_weeks_are_filled_with_zeros_and_nan_mood() -> None:
    """It includes weeks with no activity between the first and last week, with zero counts and NaN mood."""
    out = weekly_community_features(messages(), burn_in_weeks=0)
    assert list(out.loc[out["scope"] == "all", "week_start"].dt.strftime("%Y-%m-%d")) == [
        "2024-01-01",
        "2024-01-08",
        "2024-01-15",
        "2024-01-22",
    ]
    quiet = week(out, "all", "2024-01-15")
    # The skeleton's columns; the issue-7 columns (cumulative members, retention, z-scores) are tested below.
    counts = [c for c in FEATURE_COLUMNS[:12] if c not in ("mean_compound", "bullish_share", "bearish_share")]
    assert all(quiet[c] == 0 for c in counts)
    assert all(math.isnan(quiet[c]) for c in ("mean_compound", "bullish_share", "bearish_share"))


def test_per_chat_scopes() -> None:
    """It adds one scope per platform:chat_id, with new authors counted within that chat."""
    out = weekly_community_features(messages(), burn_in_weeks=0)
    assert out.groupby("scope").size().to_dict() == {"all": 4, "telegram:c1": 4, "wechat:w1": 1}
    tg = week(out, "telegram:c1", "2024-01-08")
    assert (tg["messages"], tg["active_authors"], tg["new_authors"], tg["leaves"]) == (1, 1, 1, 1)
    wx = week(out, "wechat:w1", "2024-01-08")
    # a1 is new to this chat although the community has seen it before.
    assert (wx["messages"], wx["new_authors"], wx["joins_invite"], wx["leaves"]) == (2, 2, 1, 1)
    assert wx["mean_compound"] == pytest.approx(0.455)


def test_columns_and_dtypes() -> None:
    """It returns scope, week_start (UTC) and the feature columns, with integer counts."""
    out = weekly_community_features(messages(), burn_in_weeks=0)
    assert list(out.columns) == ["scope", "week_start", *FEATURE_COLUMNS]
    assert str(out["week_start"].dt.tz) == "UTC"
    assert out["messages"].dtype == "int64" and str(out["new_authors"].dtype) == "Int64"  # null in the burn-in


def test_week_anchor_is_configurable() -> None:
    """It moves a Sunday-night post into the next week when weeks start on Sunday."""
    out = weekly_community_features(messages(), week_starts_on="sunday", burn_in_weeks=0)
    w = week(out, "all", "2024-01-07")
    assert w["joins_link"] == 1
    assert week(out, "all", "2023-12-31")["joins"] == 1


def test_empty_input_gives_empty_frame() -> None:
    """It returns an empty frame with the output columns for no messages."""
    out = weekly_community_features(messages().iloc[0:0])
    assert out.empty and list(out.columns) == ["scope", "week_start", *FEATURE_COLUMNS]


def test_new_authors_are_censored_in_each_scopes_burn_in() -> None:
    """It leaves new_authors, new_authors_z and spike_flag null in a scope's first weeks (every regular is
    "new" there) and builds the z-score's baseline only from later weeks."""
    rows = []
    regulars = [f"r{i}" for i in range(30)]
    for w in range(20):
        start = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(weeks=w)
        newcomers = [f"n{w}_{i}" for i in range(w % 3 + 1)]
        for i, author in enumerate(regulars + newcomers):
            rows.append(("telegram", "c1", start + pd.Timedelta(hours=i), author, "message", None, 0.1, "bullish"))
    frame = pd.DataFrame(
        rows, columns=["platform", "chat_id", "ts", "author_id", "kind", "join_method", "compound", "label"]
    )
    frame["message_id"] = [str(i) for i in range(len(frame))]
    out = weekly_community_features(frame, per_chat=False)
    first4, later = out.iloc[:4], out.iloc[4:]
    assert first4["new_authors"].isna().all() and first4["spike_flag"].isna().all()
    assert first4["new_authors_z"].isna().all()
    assert later["new_authors"].notna().all() and (later["new_authors"] <= 3).all()
    # Without the burn-in, week 1 counts all 30 regulars as new and inflates the next weeks' baseline.
    raw = weekly_community_features(frame, per_chat=False, burn_in_weeks=0)
    assert raw["new_authors"].iloc[0] >= 31
    assert out["new_authors_z"].iloc[8:].notna().all()
    assert not np.allclose(out["new_authors_z"].iloc[8:12], raw["new_authors_z"].iloc[8:12])


def test_daily_bars_count_per_day() -> None:
    """freq 1d gives one row per scope and UTC day, the bar column named day, quiet days filled."""
    out = weekly_community_features(messages(), per_chat=False, burn_in_weeks=0, freq="1d")
    assert "day" in out.columns and "week_start" not in out.columns
    days = out.set_index("day")
    assert len(days) == 22  # 2024-01-01 .. 2024-01-22
    assert days.loc[pd.Timestamp("2024-01-08", tz="UTC"), "messages"] == 3
    assert days.loc[pd.Timestamp("2024-01-15", tz="UTC"), "messages"] == 0
    assert days.loc[pd.Timestamp("2024-01-07", tz="UTC"), "joins_link"] == 1


# ---- every weekly column, defined on one hand-built chat over six weeks -------------------------------------
# (week, author, kind, join_method, text, compound, label, mentions, reply_to, reactions, media_type)
NEWCOMERS = ("a6", "a7", "a8", "a9")  # four first posts in the last week: a spike
WEEKS = ("2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22", "2024-01-29", "2024-02-05")
DEFINED = [
    (0, "a1", "message", None, "gm $MOON?", 0.6, "bullish", ["MOON/USDT"], None, 2, None),
    (0, "a2", "media", None, None, NAN, "unscored", None, None, None, "image"),
    (0, "a2", "message", None, "see https://x.io", -0.4, "bearish", [], "1", 0, None),
    (0, "a3", "join", "invite", None, NAN, "unscored", None, None, None, None),
    (0, "a4", "join", "self", None, NAN, "unscored", None, None, None, None),
    (1, "a1", "message", None, "MOON and $PEPE pumping", 0.0, "neutral", ["$PEPE", "MOON/USDT"], None, 1, None),
    (1, "a3", "message", None, "wen moon", NAN, "unscored", None, None, None, None),  # unscored: text fallback
    (1, "a2", "leave", None, None, NAN, "unscored", None, None, None, None),
    (3, "a1", "message", None, "ok", 0.2, "bullish", [], None, None, None),
    (3, "a5", "join", "link", None, NAN, "unscored", None, None, None, None),
    (4, "a3", "message", None, "lol", -0.3, "bearish", [], None, None, None),
    (4, "a4", "remove", None, None, NAN, "unscored", None, None, None, None),
    *[
        (5, a, "message", None, "gm", 0.1, "bullish", [], None, None, None)
        for a in ("a1", "a3", "a6", "a7", "a8", "a9")
    ],
]


def _defined_frame() -> pd.DataFrame:
    cols = ["w", "author_id", "kind", "join_method", "text", "compound", "label", "mentions", "reply_to"]
    frame = pd.DataFrame(DEFINED, columns=[*cols, "reactions", "media_type"])
    frame["ts"] = [pd.Timestamp(WEEKS[w], tz="UTC") + pd.Timedelta(hours=i + 1) for i, w in enumerate(frame["w"])]
    frame["platform"], frame["chat_id"], frame["is_forward"], frame["lang"] = "telegram", "c1", False, "en"
    frame["message_id"] = [str(i) for i in range(len(frame))]
    return frame.drop(columns="w")


def _z(series: list[float], t: int) -> float:
    """(x_t - mean) / sample std of the up-to-8 weeks before t; NaN with fewer than 4 of them."""
    past = series[max(0, t - 8) : t]
    if len(past) < 4:
        return NAN
    return (series[t] - statistics.mean(past)) / statistics.stdev(past)


def test_every_weekly_column_by_its_definition() -> None:
    """Each feature column, week by week, against values worked out by hand from the rows above."""
    out = weekly_community_features(_defined_frame(), aliases=("MOON",), per_chat=False, burn_in_weeks=0).set_index(
        "week_start"
    )
    assert list(out.index.strftime("%Y-%m-%d")) == list(WEEKS)
    messages = [3, 2, 0, 1, 1, 6]
    new_authors = [2, 1, 0, 0, 0, 4]
    joins = [2, 0, 0, 1, 0, 0]
    log = math.log
    expected: dict[str, list[float]] = {
        "messages": messages,
        "active_authors": [2, 2, 0, 1, 1, 6],
        "messages_per_author": [1.5, 1.0, 0.0, 1.0, 1.0, 1.0],
        "new_authors": new_authors,
        "joins": joins,
        "joins_invite": [1, 0, 0, 0, 0, 0],
        "joins_link": [0, 0, 0, 1, 0, 0],
        "joins_qr": [0] * 6,
        "joins_self": [1, 0, 0, 0, 0, 0],
        "leaves": [0, 1, 0, 0, 1, 0],
        "net_growth": [2, -1, 0, 1, -1, 0],
        "members_known": [2, 1, 1, 2, 1, 1],
        # scored posts: entries of the mentions list; the unscored "wen moon": the alias MOON in its text
        "token_mentions": [1, 3, 0, 0, 0, 0],
        "mean_compound": [0.1, 0.0, NAN, 0.2, -0.3, 0.1],
        "bullish_share": [0.5, 0.0, NAN, 1.0, 0.0, 1.0],
        "bearish_share": [0.5, 0.0, NAN, 0.0, 1.0, 0.0],
        "median_compound": [0.1, 0.0, NAN, 0.2, -0.3, 0.1],
        "compound_std": [math.sqrt(0.5), NAN, NAN, NAN, NAN, 0.0],
        "bullish_count": [1, 0, 0, 1, 0, 6],
        "bearish_count": [1, 0, 0, 0, 1, 0],
        "bullishness": [0.0, 0.0, 0.0, log(2), log(0.5), log(7)],
        "unscored_share": [1 / 3, 0.5, NAN, 0.0, 0.0, 0.0],
        "interactive_posts": [1, 0, 0, 0, 0, 0],  # "gm $MOON?" asks
        "content_posts": [2, 0, 0, 0, 0, 0],  # the photo and the link
        "passive_posts": [0, 2, 0, 1, 1, 6],
        "interactive_share": [1 / 3, 0.0, NAN, 0.0, 0.0, 0.0],
        "content_share": [2 / 3, 0.0, NAN, 0.0, 0.0, 0.0],
        "passive_share": [0.0, 1.0, NAN, 1.0, 1.0, 1.0],
        "replies_per_message": [1 / 3, 0.0, NAN, 0.0, 0.0, 0.0],
        "reactions_per_message": [2 / 3, 0.5, NAN, 0.0, 0.0, 0.0],
        # W0 {a1,a2} -> W1 {a1,a3}: 1/2; W1 -> W2 (nobody): 0; W2 had nobody; W3 {a1} -> W4 {a3}: 0; W4 {a3} -> W5
        "retention_1w": [0.5, 0.0, NAN, 0.0, 1.0, NAN],
        "retention_4w": [0.0, 1.0, NAN, NAN, NAN, NAN],  # W0 -> W4 {a3}: 0; W1 {a1,a3} -> W5: both
        "messages_z": [_z(messages, t) for t in range(6)],
        "joins_z": [_z(joins, t) for t in range(6)],
        "new_authors_z": [_z(new_authors, t) for t in range(6)],
        "spike_flag": [False, False, False, False, False, True],  # W5: both z-scores above 2
    }
    assert set(expected) == set(FEATURE_COLUMNS)
    for column, values in expected.items():
        assert out[column].tolist() == pytest.approx(values, nan_ok=True, abs=1e-12), column


def test_token_mentions_never_coerce_the_mentions_list() -> None:
    """A scored frame's list column counts its entries (it once became NaN -> 0 for every week)."""
    frame = _defined_frame()
    frame["mentions"] = frame["mentions"].map(lambda v: None if v is None else np.array(v))
    out = weekly_community_features(frame, aliases=("MOON",), per_chat=False)
    assert out["token_mentions"].tolist()[:2] == [1, 3]


def test_weekly_language_coverage() -> None:
    """Per scope and week: the scored share of posts and the top languages by posts (joins and system rows are
    not posts)."""
    from sentiment.features import LANGUAGE_COLUMNS, weekly_language_coverage

    frame = messages()
    frame.loc[frame["message_id"] == "1", "lang"] = "und"  # the media post
    frame.loc[frame["message_id"] == "9", "lang"] = "zh"
    frame.loc[frame["message_id"] == "10", "lang"] = "zh"
    out = weekly_language_coverage(frame)
    assert list(out.columns) == ["scope", "week_start", *LANGUAGE_COLUMNS]
    first = week(out, "all", "2024-01-01")  # a1 bullish, a2 media unscored, a1 bearish
    assert first["scored_share"] == pytest.approx(2 / 3)
    assert (first["lang_1"], first["lang_1_posts"], first["lang_2"], first["lang_2_posts"]) == ("en", 2, "und", 1)
    assert first["lang_3"] is None and first["lang_3_posts"] == 0
    second = week(out, "all", "2024-01-08")  # telegram neutral (en), two wechat posts (zh)
    assert (second["lang_1"], second["lang_1_posts"], second["lang_2"], second["lang_2_posts"]) == ("zh", 2, "en", 1)
    assert second["scored_share"] == 1.0
    assert week(out, "wechat:w1", "2024-01-08")["lang_1"] == "zh"

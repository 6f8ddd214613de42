"""Scoring adapter: language routing, labels, distinct-text reuse."""

from __future__ import annotations

import pandas as pd
import pytest

from sentiment.scoring import VaderScorer, detect_lang, label_for, score_messages


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("VIRTUAL looks strong", "en"),
        ("要涨了", "zh"),
        ("gm 涨", "zh"),
        ("", "und"),
        ("привет всем", "ru"),
        ("🚀🚀", "und"),
        (None, "und"),
    ],
)
def test_detect_lang(text: str | None, lang: str) -> None:
    """ISO 639-1 codes: any Han character is Chinese, Latin words without another language's clues English, no
    letters ``und``."""
    assert detect_lang(text) == lang


def test_labels_use_the_vader_thresholds() -> None:
    """compound >= 0.05 is bullish, <= -0.05 bearish, between neutral, missing unscored."""
    assert [label_for(x) for x in (0.05, 0.049, -0.05, None)] == ["bullish", "neutral", "bearish", "unscored"]


def test_chinese_is_unscored_not_neutral() -> None:
    """Chinese text gets null scores and label unscored instead of VADER's fake 0.0."""
    out = VaderScorer().score_texts(pd.Series(["这个项目要起飞了", "great project, love it"]))
    assert out.loc[0, "label"] == "unscored" and pd.isna(out.loc[0, "compound"])
    assert out.loc[1, "label"] == "bullish" and out.loc[1, "compound"] > 0.5


def test_each_distinct_text_is_scored_once() -> None:
    """Repeated texts are scored once and the result fanned out to every row."""
    scorer = VaderScorer()
    calls: list[str] = []
    original = scorer.score_one

    def counting(text: str) -> dict[str, object]:
        calls.append(text)
        return original(text)

    scorer.score_one = counting  # type: ignore[method-assign]
    out = scorer.score_texts(pd.Series(["gm", "gm", "rekt", "gm"], index=[10, 11, 12, 13]))
    assert sorted(calls) == ["gm", "rekt"]
    assert list(out.index) == [10, 11, 12, 13]


def test_score_messages_skips_system_events() -> None:
    """Only message and media rows get a score row, carrying the scorer name and version."""
    msgs = pd.DataFrame(
        {
            "platform": ["telegram"] * 3,
            "chat_id": ["1"] * 3,
            "message_id": ["1", "2", "3"],
            "kind": ["message", "join", "media"],
            "text": ["awesome pump", "Alice joined", ""],
        }
    )
    now = pd.Timestamp("2024-01-01", tz="UTC")
    out = score_messages(msgs, VaderScorer(), now)
    assert list(out["message_id"]) == ["1", "3"]
    assert list(out["label"]) == ["bullish", "unscored"]
    assert set(out["scorer"]) == {"vader"}

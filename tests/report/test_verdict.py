"""Tests for sentiment.report.verdict: the verdict text on seeded synthetic worlds and on hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sentiment.analysis.suite import analyse_weekly
from sentiment.analysis.validation import LEAD_FEATURES, MARKET, SYMBOL, planted_effect_found, weekly_from_messages
from sentiment.report.verdict import build_verdict, feature_label, language_coverage, split_testable
from sentiment.sandbox.simulate import simulate_world, world_messages, world_prices
from sentiment.scoring import VaderScorer

TARGET = "excess_log_return"
MIN_WEEKS = 26


def world_weekly(seed: int, effect: float, weeks: int = 104) -> pd.DataFrame:
    world = simulate_world(weeks, seed, effect, chat_scale=0.3)
    now = pd.Timestamp("2030-01-01", tz="UTC")
    return weekly_from_messages(world_messages(world), world_prices(world, SYMBOL, MARKET), VaderScorer(), now)


def analyse(weekly: pd.DataFrame) -> dict[str, object]:
    return analyse_weekly(weekly, target=TARGET, predict=False, granger_tests=False, min_weeks=MIN_WEEKS)


def verdict_of(result: dict[str, object]):  # type: ignore[no-untyped-def]
    return build_verdict(
        result["relations"],  # type: ignore[arg-type]
        None,
        n_weeks=int(result["n_weeks"]),  # type: ignore[call-overload]
        min_weeks=MIN_WEEKS,
        target=TARGET,
        skipped_features=result["skipped_features"],  # type: ignore[arg-type]
        coverage={"synthetic": True},
    )


@pytest.fixture(scope="module")
def planted() -> pd.DataFrame:
    return world_weekly(seed=1, effect=0.6)


def test_planted_world_verdict_names_the_planted_feature(planted: pd.DataFrame) -> None:
    """On a world with a planted traffic lead, the first sentence names a traffic feature that leads by 1 week."""
    result = analyse(planted)
    relations = result["relations"]
    assert planted_effect_found(relations), "precondition: the analysis finds the planted lead on this seed"
    verdict = verdict_of(result)
    assert verdict.leaders and set(verdict.leaders) & set(LEAD_FEATURES)
    top = verdict.strongest
    assert top is not None and top["feature"] in LEAD_FEATURES and top["lag_weeks"] == 1
    headline = verdict.headline
    assert feature_label(top["feature"]) in headline and "1 week ahead" in headline
    assert "No community feature" not in verdict.text
    assert (
        f"n = {top['n']} weeks" in headline and "q " in headline and "% interval" in headline
    )  # the level is the row's ci_level
    assert "synthetic" in verdict.text
    assert verdict.text.count("No out-of-sample forecast") == 1


def test_null_world_verdict_says_no_community_feature_leads() -> None:
    """On a world without a planted lead, the verdict says no community feature leads and names none as a leader."""
    result = analyse(world_weekly(seed=101, effect=0.0))
    relations = result["relations"]
    lead = relations[relations["lag_weeks"] > 0]
    assert not lead["significant"].any(), "precondition: no lead relation is significant on this seed"
    verdict = verdict_of(result)
    assert verdict.leaders == []
    assert verdict.headline.startswith("No community feature leads")
    assert "after the multiple-testing correction" in verdict.headline


def test_short_run_says_so_in_its_first_sentence(planted: pd.DataFrame) -> None:
    """Seven weeks: the first sentence says the run is too short, and every relation is not testable."""
    result = analyse(planted.head(7))
    verdict = verdict_of(result)
    assert verdict.short
    assert verdict.headline.startswith(f"This run has only {result['n_weeks']} weeks")
    assert f"fewer than the {MIN_WEEKS} needed" in verdict.headline
    testable, untestable = split_testable(result["relations"], min_n=MIN_WEEKS)
    assert testable.empty and len(untestable) == len(result["relations"])
    assert untestable["reason"].str.contains("paired weeks|constant|no data").all()


def test_split_testable_lists_empty_features_and_short_pairs() -> None:
    """Features with no data and pairs below the minimum are not testable, each with its reason."""
    relations = pd.DataFrame(
        {
            "feature": ["a", "a", "empty", "empty", "flat"],
            "lag_weeks": [0, 1, 0, 1, 0],
            "estimate": [0.3, 0.2, np.nan, np.nan, np.nan],
            "ci_low": np.nan,
            "ci_high": np.nan,
            "p_value": [0.01, 0.5, 1.0, 1.0, 1.0],
            "q_value": [0.02, 0.5, 1.0, 1.0, 1.0],
            "significant": False,
            "n": [40, 3, 0, 0, 40],
        }
    )
    testable, untestable = split_testable(relations, min_n=26, skipped_features=["gone"])
    assert list(zip(testable["feature"], testable["lag_weeks"], strict=True)) == [("a", 0)]
    reasons = {
        (r.feature, None if pd.isna(r.lag_weeks) else int(r.lag_weeks)): r.reason for r in untestable.itertuples()
    }
    assert reasons[("gone", None)].startswith("no data")
    assert reasons[("empty", None)].startswith("no data")
    assert reasons[("a", 1)] == "only 3 paired weeks (minimum 26)"
    assert reasons[("flat", 0)].startswith("constant")


def test_language_coverage_reads_the_scoring_summary() -> None:
    """It reads the scoring step's per-language rows, largest first, with the scored share."""
    languages = {
        "posts": 100,
        "scored": 80,
        "by_lang": [{"lang": "zh", "posts": 20, "scored": 20}, {"lang": "en", "posts": 80, "scored": 60}],
    }
    rows = language_coverage({"languages": languages})
    assert [r["language"] for r in rows] == ["en", "zh"]
    assert rows[0]["share"] == pytest.approx(0.75) and rows[1]["share"] == pytest.approx(1.0)
    assert language_coverage({}) == [] and language_coverage({"languages": "odd"}) == []


@pytest.mark.parametrize(
    ("level", "words"), [(0.95, "95%"), (0.975, "97.5%"), (0.99948, "99.95%"), (0.9999, "99.99%"), (1.0, "100%")]
)
def test_interval_level_never_rounds_up_to_100_percent(level: float, words: str) -> None:
    """A multiplicity-widened level below 1 reads as such ("99.95%"), never as a "100% interval"."""
    from sentiment.report.verdict import level_words

    assert level_words(level) == words

"""Tests for sentiment.analysis.leadlag."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from sentiment.analysis.leadlag import RELATION_COLUMNS, lead_lag
from sentiment.errors import AnalysisError

WEEKS = pd.date_range("2023-01-02", periods=104, freq="7D", tz="UTC")


def planted(seed: int = 0, n: int = 104, strength: float = 0.7) -> pd.DataFrame:
    """A weekly frame where buzz of week t drives the return of week t+1 (the community leads by one week)."""
    rng = np.random.default_rng(seed)
    buzz = rng.normal(size=n)
    ret = 0.5 * rng.normal(size=n)
    ret[1:] += strength * buzz[:-1]
    return pd.DataFrame({"week_start": WEEKS[:n], "buzz": buzz, "log_return": ret})


def row(out: pd.DataFrame, feature: str, lag: int) -> pd.Series:
    return out[(out["feature"] == feature) & (out["lag_weeks"] == lag)].iloc[0]


def test_planted_lead_shows_at_positive_lag_only() -> None:
    """It finds a feature that leads the price by one week at lag_weeks = +1, not at -1 or 0."""
    out = lead_lag(planted(), ["buzz"])
    assert list(out.columns) == RELATION_COLUMNS
    assert sorted(out["lag_weeks"]) == list(range(-4, 5))
    lead = row(out, "buzz", 1)
    assert lead["significant"]
    assert lead["estimate"] > 0.5
    assert lead["ci_low"] < lead["estimate"] < lead["ci_high"]
    assert lead["ci_low"] > 0
    assert lead["n"] == 103
    assert set(out.loc[out["significant"], "lag_weeks"]) == {1}


def test_price_leading_community_shows_at_negative_lag() -> None:
    """It puts a relation where the return of week t drives buzz of week t+1 at lag_weeks = -1."""
    rng = np.random.default_rng(5)
    ret = rng.normal(size=104)
    buzz = 0.5 * rng.normal(size=104)
    buzz[1:] += 0.7 * ret[:-1]
    frame = pd.DataFrame({"week_start": WEEKS, "buzz": buzz, "log_return": ret})
    out = lead_lag(frame, ["buzz"])
    assert set(out.loc[out["significant"], "lag_weeks"]) == {-1}


def test_pairs_on_calendar_weeks_when_weeks_are_missing() -> None:
    """It pairs week t with week t+k by date, so a missing week drops pairs instead of shifting them."""
    frame = planted().drop(index=[50, 51, 52]).sample(frac=1.0, random_state=0)  # holes, and shuffled rows
    out = lead_lag(frame, ["buzz"], lags=[1])
    lead = row(out, "buzz", 1)
    # 101 weeks left; pairs (t, t+1) need both present: 103 pairs minus the 4 that touch weeks 50-52.
    assert lead["n"] == 99
    assert lead["estimate"] > 0.5
    assert lead["significant"]


def test_independent_noise_is_rarely_significant() -> None:
    """It calls nothing significant on independent noise for most seeds."""
    clean = 0
    for seed in range(5):
        rng = np.random.default_rng(100 + seed)
        frame = pd.DataFrame(
            {
                "week_start": WEEKS,
                "a": rng.normal(size=104),
                "b": rng.normal(size=104),
                "log_return": rng.normal(size=104),
            }
        )
        out = lead_lag(frame, ["a", "b"])
        clean += not out["significant"].any()
    assert clean >= 4


def test_min_n_guard() -> None:
    """It never calls a relation significant when fewer than min_n pairs back it, however small q is."""
    frame = planted(n=20, strength=3.0)
    out = lead_lag(frame, ["buzz"], lags=[1], min_n=26)
    lead = row(out, "buzz", 1)
    assert lead["p_value"] < 0.001  # strong, but too few pairs: not tested
    assert np.isnan(lead["q_value"]) and not lead["significant"]
    assert lead["ci_level"] == pytest.approx(0.95)
    out = lead_lag(frame, ["buzz"], lags=[1], min_n=10)
    assert row(out, "buzz", 1)["significant"]


def test_constant_feature_gives_nan_and_p_one_quietly() -> None:
    """It reports NaN estimate and interval, p = 1, not significant for a constant feature, warning-free."""
    frame = planted().assign(flat=3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = lead_lag(frame, ["flat", "buzz"])
    flat = out[out["feature"] == "flat"]
    assert flat["estimate"].isna().all() and flat["ci_low"].isna().all()
    assert (flat["p_value"] == 1.0).all()
    assert not flat["significant"].any()


def test_q_values_adjust_across_all_rows() -> None:
    """It computes q over every feature and lag of a family together, so q >= p everywhere."""
    out = lead_lag(planted().assign(other=np.random.default_rng(9).normal(size=104)), ["buzz", "other"])
    assert len(out) == 18
    assert (out["q_value"] >= out["p_value"] - 1e-15).all()


def test_flag_and_interval_agree_on_every_row() -> None:
    """Flagged rows' intervals exclude 0 and unflagged rows' include it, in every family, at the row's level."""
    from sentiment.analysis.leadlag import agrees

    for seed in range(6):
        frame = planted(seed=seed, strength=0.25 * seed)
        frame["echo"] = frame["log_return"] + np.random.default_rng(seed).normal(size=104)  # same-week link
        frame["noise"] = np.random.default_rng(50 + seed).normal(size=104)
        out = lead_lag(frame, ["buzz", "echo", "noise"])
        assert out["q_value"].notna().all()
        assert agrees(out).all()
        # The interval is the one of the flagged rows' level: a flagged row's p sits below 1 - ci_level.
        assert (out.loc[out["significant"], "p_value"] < 1 - out.loc[out["significant"], "ci_level"]).all()
        assert (out.loc[~out["significant"], "p_value"] >= 1 - out.loc[~out["significant"], "ci_level"]).all()


def test_families_are_labelled_and_the_lead_family_is_primary() -> None:
    """Rows carry their direction family; only the community-leads family is the primary question."""
    out = lead_lag(planted(), ["buzz"])
    fam = dict(zip(out["lag_weeks"], out["family"], strict=True))
    assert fam[2] == "community_leads" and fam[0] == "same_period" and fam[-3] == "price_leads"
    assert set(out.loc[out["primary"], "lag_weeks"]) == {1, 2, 3, 4}


def test_interval_is_wider_than_the_plain_95_when_many_rows_are_tested() -> None:
    """The FCR-adjusted level of an unflagged family is 1 - alpha_f / m, far above 95%."""
    out = lead_lag(planted(seed=1, strength=0.0), ["buzz"])
    lead = out[out["family"] == "community_leads"]
    assert not lead["significant"].any()
    assert np.allclose(lead["ci_level"], 1 - 0.05 * 0.5 / 4)


def test_rejects_repeated_weeks() -> None:
    """It raises AnalysisError when a week appears twice (several scopes or symbols mixed)."""
    frame = planted()
    with pytest.raises(AnalysisError, match="repeated week_start"):
        lead_lag(pd.concat([frame, frame]), ["buzz"])


def test_family_qvalues_keep_a_strong_same_week_family_from_loosening_leads() -> None:
    """Real same-week relations do not make lead tests easier to pass; families are Bonferroni-combined."""
    from sentiment.analysis.leadlag import family_qvalues
    from sentiment.analysis.stats import bh_qvalues

    same_week = np.full(10, 1e-6)  # ten real co-movements at k = 0
    leads = np.array([0.004] + [0.5] * 9)  # one borderline lead among nulls
    p = np.concatenate([same_week, leads])
    fam = np.concatenate([np.zeros(10), np.ones(10)])
    pooled = bh_qvalues(p)
    by_family = family_qvalues(p, fam)
    assert pooled[10] < 0.05  # pooled BH would call the borderline lead significant
    assert by_family[10] >= 0.05  # within its own family (x2 families) it is not
    assert np.allclose(by_family[10:], np.minimum(1, bh_qvalues(leads) * 2))


def test_daily_frequency_names_the_lag_in_days() -> None:
    """freq 1d pairs day t with day t+k on a daily grid and calls the column lag_days."""
    frame = planted().rename(columns={"week_start": "day"})
    frame["day"] = pd.date_range("2024-01-01", periods=104, freq="D", tz="UTC")
    out = lead_lag(frame, ["buzz"], freq="1d", time_col="day")
    assert "lag_days" in out.columns and "lag_weeks" not in out.columns
    assert set(out.loc[out["significant"], "lag_days"]) == {1}
    with pytest.raises(AnalysisError, match="not on one 1w grid"):
        lead_lag(frame.rename(columns={"day": "week_start"}), ["buzz"])

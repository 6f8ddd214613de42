"""Tests for sentiment.analysis.walkforward."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sentiment.analysis.walkforward import walk_forward
from sentiment.errors import AnalysisError


def frame(n: int = 80, seed: int = 0, slope: float = 0.8) -> pd.DataFrame:
    """Weekly rows where next_log_return = slope * signal + noise, plus an irrelevant feature."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    return pd.DataFrame(
        {
            "week_start": pd.date_range("2023-01-02", periods=n, freq="7D", tz="UTC"),
            "signal": signal,
            "noise": rng.normal(size=n),
            "next_log_return": 0.01 + slope * signal + 0.4 * rng.normal(size=n),
        }
    )


def test_beats_baselines_on_planted_linear_relation() -> None:
    """It beats both the zero and the historical-mean forecast when the target is linear in a feature."""
    out = walk_forward(frame(), ["signal", "noise"], min_train=20)
    assert out["n_test"] == 60
    model = out["model"]
    assert model["oos_r2"] > 0.5
    assert model["oos_r2_vs_zero"] > 0.5
    assert model["hit_rate"] > 0.75
    assert model["mae"] < out["baselines"]["mean"]["mae"]
    assert model["mae"] < out["baselines"]["zero"]["mae"]
    assert out["baselines"]["mean"]["oos_r2"] == pytest.approx(0.0)
    assert out["test"]["p_value"] < 0.01
    assert list(out["predictions"].columns[:4]) == ["week_start", "actual", "predicted", "baseline_mean"]


def test_no_edge_on_pure_noise() -> None:
    """It does not claim an edge when features are unrelated to the target."""
    out = walk_forward(frame(slope=0.0, seed=1), ["signal", "noise"], min_train=20)
    assert out["model"]["oos_r2"] < 0.1
    assert out["test"]["p_value"] > 0.05


def test_predictions_never_use_future_rows() -> None:
    """It leaves every earlier prediction unchanged when a later week's target or features change."""
    base = frame()
    ref = walk_forward(base, ["signal", "noise"])["predictions"]

    last = base.copy()
    last.loc[last.index[-1], "next_log_return"] += 50.0
    out = walk_forward(last, ["signal", "noise"])["predictions"]
    pd.testing.assert_series_equal(out["predicted"], ref["predicted"])
    pd.testing.assert_series_equal(out["baseline_mean"], ref["baseline_mean"])

    j = 50  # change week j's target and features: predictions up to and including week j must not move
    mid = base.copy()
    mid.loc[j, ["next_log_return", "signal", "noise"]] = [9.0, -7.0, 5.0]
    out = walk_forward(mid, ["signal", "noise"])["predictions"]
    upto = ref["week_start"] < base.loc[j, "week_start"]
    np.testing.assert_array_equal(out.loc[upto, "predicted"], ref.loc[upto, "predicted"])
    at_j = ref["week_start"] == base.loc[j, "week_start"]
    # Week j's own prediction uses its (changed) features, but not its target.
    assert out.loc[at_j, "baseline_mean"].item() == ref.loc[at_j, "baseline_mean"].item()
    after = ref["week_start"] > base.loc[j, "week_start"]
    assert not np.allclose(out.loc[after, "baseline_mean"], ref.loc[after, "baseline_mean"])


def test_first_prediction_trains_on_exactly_min_train_earlier_weeks() -> None:
    """It first forecasts the week right after min_train usable weeks, with their mean as baseline."""
    base = frame()
    out = walk_forward(base, ["signal"], min_train=20)
    first = out["predictions"].iloc[0]
    assert first["week_start"] == base.loc[20, "week_start"]
    assert first["baseline_mean"] == pytest.approx(base.loc[:19, "next_log_return"].mean())


def test_rows_with_unknown_values_are_skipped() -> None:
    """It drops weeks whose target (e.g. the last, not yet realised) or features are unknown."""
    base = frame()
    base.loc[base.index[-1], "next_log_return"] = np.nan
    base.loc[30, "noise"] = np.nan
    out = walk_forward(base, ["signal", "noise"], min_train=20)
    assert out["n_test"] == 58
    assert out["predictions"]["predicted"].notna().all()


def test_too_few_rows_raise() -> None:
    """It raises AnalysisError with fewer than min_train + 5 usable weeks."""
    with pytest.raises(AnalysisError, match="at least 25"):
        walk_forward(frame(n=24), ["signal"], min_train=20)
    assert walk_forward(frame(n=25), ["signal"], min_train=20)["n_test"] == 5


def test_guard_counts_out_of_sample_forecasts_not_weeks() -> None:
    """With 30 usable weeks and min_train 20 there are 10 forecasts: under 20, nothing is significant, and the
    result says how many forecasts there were."""
    out = walk_forward(frame(n=30, slope=3.0), ["signal"], min_train=20, min_weeks=26, n_permutations=200)
    assert out["n_forecasts"] == 10 and out["min_forecasts"] == 20
    assert out["guard"] is not None and "10 out-of-sample forecasts" in out["guard"]
    assert not any(m["significant"] for m in out["models"].values())
    full = walk_forward(frame(n=60, slope=3.0), ["signal"], min_train=20, min_weeks=26, n_permutations=200)
    assert full["n_forecasts"] == 40 and full["guard"] is None
    assert full["models"]["ridge"]["significant"]


def test_significance_flags_use_the_level_not_the_ridge_penalty() -> None:
    """Every model's and baseline's flag is min(hit p, AUC p) < alpha/2; the chosen ridge penalty plays no part.

    (The penalty once shadowed the level: with a penalty of ~100 every row, even p = 0.99, was flagged.)
    """
    out = walk_forward(frame(n=70, seed=4, slope=0.0), ["signal", "noise"], min_train=20, extra_models=True)
    assert out["model"]["median_alpha"] > 0.5  # a penalty far above any sensible level: the bug would show
    rows = {**out["models"], **{k: v for k, v in out["baselines"].items() if "hit_rate_p" in v}}
    assert set(rows) >= {"ridge", "logistic", "tree", "momentum", "majority"}
    for name, row in rows.items():
        p = np.nanmin([row["hit_rate_p"], row["auc_p"] if row["auc_p"] is not None else np.nan])
        assert row["significant"] == bool(p < 0.05 / 2), name
    assert not all(row["significant"] for row in rows.values())

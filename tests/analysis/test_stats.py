"""Tests for sentiment.analysis.stats."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from sentiment.analysis.stats import (
    bh_qvalues,
    block_bootstrap_indices,
    clark_west,
    default_block_len,
    spearman,
)


def test_bh_matches_hand_computation() -> None:
    """It gives the hand-computed BH q-values, in the input's order."""
    # m = 5; sorted p: .005 .01 .03 .04 .20 -> p*m/rank: .025 .025 .05 .05 .20 (already monotone).
    q = bh_qvalues([0.01, 0.04, 0.03, 0.005, 0.20])
    np.testing.assert_allclose(q, [0.025, 0.05, 0.05, 0.025, 0.20])


def test_bh_is_monotone_by_step_up() -> None:
    """It lowers a q-value to the smallest one ranked above it, keeping q monotone in p."""
    # m = 3: .040*3/1 = .12, .041*3/2 = .0615, .8*3/3 = .8 -> the first is pulled down to .0615.
    q = bh_qvalues([0.040, 0.041, 0.8])
    np.testing.assert_allclose(q, [0.0615, 0.0615, 0.8])


def test_bh_keeps_nan_and_caps_at_one() -> None:
    """It leaves NaN p-values as NaN, counts only the others in m, and never exceeds 1."""
    q = bh_qvalues([np.nan, 0.5, 1.0, 0.9])
    assert np.isnan(q[0])
    np.testing.assert_allclose(q[1:], [1.0, 1.0, 1.0])
    rng = np.random.default_rng(3)
    p = rng.uniform(size=50)
    q = bh_qvalues(p)
    assert (q <= 1).all() and (q >= p).all()
    order = np.argsort(p)
    assert (np.diff(q[order]) >= 0).all()


def test_bh_agrees_with_statsmodels() -> None:
    """It agrees with statsmodels' fdr_bh on random p-values."""
    from statsmodels.stats.multitest import multipletests

    p = np.random.default_rng(1).uniform(0, 0.2, size=40)
    np.testing.assert_allclose(bh_qvalues(p), multipletests(p, method="fdr_bh")[1])


def test_default_block_len() -> None:
    """It uses round(n^(1/3)) with a floor of 2."""
    assert default_block_len(104) == 5
    assert default_block_len(27) == 3
    assert default_block_len(5) == 2
    assert default_block_len(1) == 2


def test_block_bootstrap_draws_consecutive_blocks() -> None:
    """It returns n indices per resample made of runs of block_len consecutive rows inside [0, n)."""
    idx = block_bootstrap_indices(20, 50, 4, np.random.default_rng(0))
    assert idx.shape == (50, 20)
    assert idx.min() >= 0 and idx.max() < 20
    runs = idx.reshape(50, 5, 4)
    assert (np.diff(runs, axis=2) == 1).all()


def test_spearman_matches_scipy() -> None:
    """It returns scipy's rho and t-approximation p-value, ties included."""
    rng = np.random.default_rng(2)
    x = rng.integers(0, 5, size=40).astype(float)
    y = x + rng.normal(size=40)
    rho, p = spearman(x, y)
    ref = sps.spearmanr(x, y)
    assert rho == pytest.approx(ref.statistic)
    assert p == pytest.approx(ref.pvalue)


def test_spearman_constant_series_is_nan_with_p_one() -> None:
    """It reports NaN and p = 1 for a constant series, without warnings."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rho, p = spearman(np.ones(30), np.arange(30.0))
    assert np.isnan(rho) and p == 1.0


def test_clark_west_detects_real_forecast_gain() -> None:
    """It gives a small p when the model tracks the target and a large one when it is pure noise."""
    rng = np.random.default_rng(4)
    signal = rng.normal(size=80)
    y = signal + 0.5 * rng.normal(size=80)
    bench = np.zeros(80)
    _, p_good = clark_west(y, bench, 0.8 * signal)
    _, p_bad = clark_west(y, bench, 0.8 * rng.normal(size=80))
    assert p_good < 0.01
    assert p_bad > 0.05

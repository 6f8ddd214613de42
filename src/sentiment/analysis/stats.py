"""Small statistical tools the analyses share: BH q-values, moving-block bootstrap, Spearman, Clark-West."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

__all__ = [
    "bh_qvalues",
    "block_bootstrap_indices",
    "clark_west",
    "default_block_len",
    "hac_spearman",
    "newey_west_variance",
    "spearman",
    "spearman_rows",
]


def bh_qvalues(p_values: np.ndarray | list[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values): monotone in p, capped at 1; NaN p stays NaN.

    q_(i) = min over j >= i of p_(j) * m / j, with p sorted ascending and m the number of non-NaN p-values.
    """
    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return q
    pv = p[ok]
    order = np.argsort(pv, kind="mergesort")
    ranked = pv[order] * m / np.arange(1, m + 1)
    # The running minimum from the largest p down makes q monotone in p (the "step-up" part of BH).
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(ranked, 1.0)
    q[ok] = adjusted
    return q


def default_block_len(n: int) -> int:
    """Block length for a moving-block bootstrap of n dependent points: round(n^(1/3)), at least 2."""
    return max(2, round(n ** (1 / 3)))


def block_bootstrap_indices(n: int, n_boot: int, block_len: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) row indices of moving-block bootstrap resamples (Kunsch 1989).

    Each resample glues ceil(n / block_len) blocks of consecutive rows, each starting uniformly in
    [0, n - block_len], and cuts the result to n rows; blocks keep the short-range autocorrelation that an
    i.i.d. bootstrap would destroy.
    """
    if n < 1:
        raise ValueError("n must be positive")
    block_len = max(1, min(block_len, n))
    n_blocks = math.ceil(n / block_len)
    starts = rng.integers(0, n - block_len + 1, size=(n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(block_len)[None, None, :]).reshape(n_boot, n_blocks * block_len)
    return idx[:, :n]


def _row_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of a with the same row of b; NaN where either row is constant."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    num = (a * b).sum(axis=1)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    out = np.full(num.shape, np.nan)
    # Ranks are multiples of 0.5, so a constant row has exactly zero spread: no tolerance games needed.
    nz = den > 0
    out[nz] = num[nz] / den[nz]
    return np.clip(out, -1.0, 1.0)


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row of x with the same row of y (average ranks for ties)."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    y = np.atleast_2d(np.asarray(y, dtype=float))
    return _row_pearson(sps.rankdata(x, axis=1), sps.rankdata(y, axis=1))


def spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Spearman's rho and a two-sided p-value; (NaN, 1.0) when either series is constant or n < 3.

    The p-value uses the usual t approximation, t = rho * sqrt((n - 2) / (1 - rho^2)) on n - 2 degrees of
    freedom (what scipy.stats.spearmanr reports). It treats pairs as independent: serial dependence in
    weekly series makes it somewhat optimistic, which is why lead-lag uses :func:`hac_spearman` instead.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = x.size
    if n < 3:
        return math.nan, 1.0
    rho = float(spearman_rows(x, y)[0])
    if math.isnan(rho):
        return math.nan, 1.0
    if abs(rho) >= 1.0:
        return rho, 0.0
    t = rho * math.sqrt((n - 2) / (1.0 - rho * rho))
    return rho, float(2.0 * sps.t.sf(abs(t), df=n - 2))


def hac_spearman(x: np.ndarray, y: np.ndarray, lags: int | None = None) -> tuple[float, float]:
    """Spearman's rho and a serial-correlation-robust standard error; (NaN, NaN) when constant or n < 4.

    rho is the slope of the standardised ranks of y on those of x. Its standard error is the larger of two:
    the Newey-West (Bartlett kernel) one, from the long-run variance of the scores zx_t * (zy_t - rho * zx_t)
    (lags as :func:`newey_west_variance`), and the independent-pairs one, sqrt((1 - rho^2) / (n - 2)), which
    with n - 2 degrees of freedom is scipy's t approximation. Newey-West widens the error when neighbouring
    weeks resemble each other; alone it is biased down at n ~ 100 (on 20,000 null draws, AR(1) feature and
    t(4) returns, n = 104, it rejected 6.7% at 5% and 0.57% at 0.2%); the larger of the two rejected 4.4% and
    0.16%.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = x.size
    if n < 4:
        return math.nan, math.nan
    rx, ry = sps.rankdata(x), sps.rankdata(y)
    sx, sy = rx.std(), ry.std()
    if sx == 0 or sy == 0:
        return math.nan, math.nan
    zx, zy = (rx - rx.mean()) / sx, (ry - ry.mean()) / sy
    rho = float(np.clip(np.mean(zx * zy), -1.0, 1.0))
    independent = (1.0 - rho * rho) / (n - 2)
    var = max(newey_west_variance(zx * (zy - rho * zx), lags) / n, independent)
    return rho, math.sqrt(var) if var > 0 else math.nan


def newey_west_variance(d: np.ndarray, lags: int | None = None) -> float:
    """Newey-West (Bartlett kernel) long-run variance of a series; lags default floor(4 (n/100)^(2/9))."""
    d = np.asarray(d, dtype=float)
    n = d.size
    if lags is None:
        lags = math.floor(4 * (n / 100) ** (2 / 9))
    e = d - d.mean()
    var = float(e @ e) / n
    for k in range(1, min(lags, n - 1) + 1):
        weight = 1.0 - k / (lags + 1)
        var += 2.0 * weight * float(e[k:] @ e[:-k]) / n
    return var


def clark_west(actual: np.ndarray, benchmark: np.ndarray, model: np.ndarray) -> tuple[float, float]:
    """Clark-West (2007) test that a larger model beats a nested benchmark out of sample; (statistic, p).

    f_t = (y - b)^2 - [(y - m)^2 - (b - m)^2] adjusts the model's squared-error gain for the noise of
    estimating extra parameters that are zero under the null; the statistic is mean(f) / sqrt(NW var / n),
    compared one-sided with the standard normal (H1: the model's MSPE is lower). Plain Diebold-Mariano is
    undersized for nested models (the historical mean is ridge with all slopes at zero), hence this choice.
    """
    y = np.asarray(actual, dtype=float)
    b = np.asarray(benchmark, dtype=float)
    m = np.asarray(model, dtype=float)
    f = (y - b) ** 2 - ((y - m) ** 2 - (b - m) ** 2)
    n = f.size
    if n < 3:
        return math.nan, math.nan
    var = newey_west_variance(f)
    if not var > 0:
        return math.nan, math.nan
    stat = float(f.mean() / math.sqrt(var / n))
    return stat, float(sps.norm.sf(stat))

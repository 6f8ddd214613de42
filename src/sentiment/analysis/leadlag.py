"""Lead-lag Spearman correlations between weekly community features and returns, with honest uncertainty."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from sentiment.analysis.stats import (
    bh_qvalues,
    block_bootstrap_indices,
    default_block_len,
    spearman,
    spearman_rows,
)
from sentiment.errors import AnalysisError

__all__ = ["LAG_CONVENTION", "RELATION_COLUMNS", "lead_lag", "weekly_grid"]

LAG_CONVENTION = (
    "lag_weeks = k pairs the community feature of week t with the return of week t+k; "
    "k > 0 means the community leads the price"
)
RELATION_COLUMNS = [
    "feature",
    "lag_weeks",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "q_value",
    "significant",
    "n",
]
WEEK = pd.Timedelta(days=7)


def weekly_grid(weekly: pd.DataFrame) -> pd.DataFrame:
    """``weekly`` indexed by week_start on a complete 7-day grid (missing weeks become all-NaN rows).

    Shifting by position on this grid is shifting by calendar weeks, which a frame with holes would get wrong.
    """
    if "week_start" not in weekly.columns:
        raise AnalysisError("weekly table has no week_start column")
    if weekly.empty:
        raise AnalysisError("weekly table is empty")
    weeks = pd.DatetimeIndex(weekly["week_start"])
    if weeks.has_duplicates:
        raise AnalysisError("weekly table has repeated week_start values; pass one scope and one symbol")
    first = weeks.min()
    if ((weeks - first) % WEEK != pd.Timedelta(0)).any():
        raise AnalysisError("week_start values are not on one weekly grid")
    grid = pd.date_range(first, weeks.max(), freq=WEEK, name="week_start")
    return weekly.set_index(weeks.rename("week_start")).drop(columns="week_start").reindex(grid)


# Share of alpha per direction family (sign of lag_weeks): "does the community lead the price" is the question
# the report exists to answer, so it gets half; same-week co-movement and the price leading share the rest.
FAMILY_WEIGHTS: dict[int, float] = {1: 0.5, 0: 0.25, -1: 0.25}


def lead_lag(
    weekly: pd.DataFrame,
    features: list[str],
    *,
    target: str = "log_return",
    lags: Iterable[int] = range(-4, 5),
    n_boot: int = 2000,
    block_len: int | None = None,
    seed: int = 0,
    min_n: int = 26,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Spearman correlation of feature[t] with target[t + k] for every feature and lag k.

    Pairs are formed on consecutive calendar weeks (by week_start), pairs with a NaN are dropped and n counts
    the rest. ci_low/ci_high are a 95% percentile interval from a moving-block bootstrap of the pairs;
    p_value is Spearman's t approximation; q_value is Benjamini-Hochberg within each direction family (k > 0:
    the community leads; k = 0: same week; k < 0: the price leads), divided by the family's share of alpha
    (FAMILY_WEIGHTS: half to the lead family, the product's primary question, a quarter to each other; a
    weighted Bonferroni across families, capped at 1). Why families: a real same-week relation (mood moves
    with the week's price, as it does in most communities) makes BH over one pooled family lenient for every
    other test, and the false-alarm rate on lead claims then exceeds alpha.
    significant means q_value < alpha and n >= min_n. Constant series give NaN estimates and p = 1.
    """
    missing = [c for c in [*features, target] if c not in weekly.columns]
    if missing:
        raise AnalysisError(f"weekly table lacks columns {missing}")
    grid = weekly_grid(weekly)
    y_all = pd.to_numeric(grid[target], errors="coerce").astype(float)
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    for feature in features:
        x_all = pd.to_numeric(grid[feature], errors="coerce").astype(float)
        for k in lags:
            # shift(-k) brings week t+k's target onto week t's row.
            pair = pd.DataFrame({"x": x_all, "y": y_all.shift(-int(k))}).dropna()
            x = pair["x"].to_numpy()
            y = pair["y"].to_numpy()
            rho, p = spearman(x, y)
            lo, hi = _bootstrap_ci(x, y, rho, n_boot, block_len, rng)
            rows.append(
                {
                    "feature": feature,
                    "lag_weeks": int(k),
                    "estimate": rho,
                    "ci_low": lo,
                    "ci_high": hi,
                    "p_value": p,
                    "n": len(pair),
                }
            )
    out = pd.DataFrame(rows, columns=[c for c in RELATION_COLUMNS if c not in ("q_value", "significant")])
    families = np.sign(out["lag_weeks"].to_numpy())
    out["q_value"] = family_qvalues(out["p_value"].to_numpy(dtype=float), families, FAMILY_WEIGHTS)
    out["significant"] = (out["q_value"] < alpha) & (out["n"] >= min_n)
    out = out.astype({"feature": str, "lag_weeks": "int64", "n": "int64", "significant": bool})
    return out[RELATION_COLUMNS]


def family_qvalues(
    p_values: np.ndarray, families: np.ndarray, weights: Mapping[int, float] | None = None
) -> np.ndarray:
    """BH q-values within each family divided by the family's share of alpha (weighted Bonferroni across the
    families; equal shares when ``weights`` is None), capped at 1. Shares of the families present must sum to
    at most 1."""
    labels = [int(v) for v in np.unique(families)]
    shares = {f: 1 / len(labels) for f in labels} if weights is None else {f: weights[f] for f in labels}
    if sum(shares.values()) > 1 + 1e-9:
        raise AnalysisError(f"family shares of alpha sum to more than 1: {shares}")
    q = np.ones_like(p_values, dtype=float)
    for label in labels:
        mask = families == label
        q[mask] = np.minimum(1.0, bh_qvalues(p_values[mask]) / shares[label])
    return q


def _bootstrap_ci(
    x: np.ndarray, y: np.ndarray, rho: float, n_boot: int, block_len: int | None, rng: np.random.Generator
) -> tuple[float, float]:
    """95% percentile interval of Spearman's rho over moving-block resamples of the (x, y) pairs."""
    n = x.size
    if math.isnan(rho) or n < 4 or n_boot < 1:
        return math.nan, math.nan
    idx = block_bootstrap_indices(n, n_boot, block_len or default_block_len(n), rng)
    boots = spearman_rows(x[idx], y[idx])
    # A resample can come out constant (NaN); the interval is taken over the others.
    boots = boots[~np.isnan(boots)]
    if boots.size < max(10, n_boot // 10):
        return math.nan, math.nan
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return float(lo), float(hi)

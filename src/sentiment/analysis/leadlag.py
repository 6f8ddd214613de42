"""Lead-lag Spearman correlations between community features and returns, with one significance rule."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
from scipy import stats as sps

from sentiment.analysis.stats import bh_qvalues, hac_spearman
from sentiment.errors import AnalysisError

__all__ = [
    "FAMILY_LABELS",
    "FAMILY_WEIGHTS",
    "FREQUENCIES",
    "LAG_CONVENTION",
    "LAG_CONVENTION_DAILY",
    "RELATION_COLUMNS",
    "SIGNIFICANCE_RULE",
    "agrees",
    "bar_grid",
    "family_qvalues",
    "lag_column",
    "lag_convention",
    "lead_lag",
    "shifted",
    "significance_and_intervals",
    "weekly_grid",
]

LAG_CONVENTION = (
    "lag_weeks = k pairs the community feature of week t with the return of week t+k; "
    "k > 0 means the community leads the price"
)
LAG_CONVENTION_DAILY = (
    "lag_days = k pairs the community feature of day t with the return of day t+k; "
    "k > 0 means the community leads the price"
)
# Bar sizes the analyses run at: the grid step of each.
FREQUENCIES: dict[str, pd.Timedelta] = {"1w": pd.Timedelta(days=7), "1d": pd.Timedelta(days=1)}
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
    # issue 15: which family a row belongs to, whether that family is the primary question, the interval's level
    "family",
    "primary",
    "ci_level",
]
WEEK = FREQUENCIES["1w"]

# Share of alpha per direction family (sign of the lag): "does the community lead the price" is the question
# the report exists to answer (the primary family), so it gets half; same-period co-movement and the price
# leading are exploratory and share the rest.
FAMILY_WEIGHTS: dict[int, float] = {1: 0.5, 0: 0.25, -1: 0.25}
FAMILY_LABELS: dict[int, str] = {1: "community_leads", 0: "same_period", -1: "price_leads"}
SIGNIFICANCE_RULE = (
    "Spearman rho with a Newey-West (HAC) standard error of the rank regression, Student t reference on n - 2 "
    "degrees of freedom. Within each direction family (community leads: the primary question; same period and "
    "price leads: exploratory) Benjamini-Hochberg q-values divided by the family's share of alpha (1/2, 1/4, "
    "1/4); significant = q < alpha and n >= the minimum. The interval is the false-coverage-rate adjusted one "
    "(Benjamini-Yekutieli 2005) of the same t statistic: level 1 - max(R, 1) * alpha_f / m, with R the rows "
    "flagged among the family's m tested rows and alpha_f its share of alpha. So a flagged row's interval "
    "excludes 0 and an unflagged row's includes it; ci_level says the level. Rows below the minimum n are not "
    "tested (q empty) and carry the plain 1 - alpha interval."
)


def lag_column(freq: str = "1w") -> str:
    """Name of the lag column at a bar size: lag_weeks (1w) or lag_days (1d)."""
    return {"1w": "lag_weeks", "1d": "lag_days"}[_check_freq(freq)]


def lag_convention(freq: str = "1w") -> str:
    """The lag convention sentence at a bar size."""
    return LAG_CONVENTION if _check_freq(freq) == "1w" else LAG_CONVENTION_DAILY


def _check_freq(freq: str) -> str:
    if freq not in FREQUENCIES:
        raise AnalysisError(f"unknown frequency {freq!r}: use 1w or 1d")
    return freq


def bar_grid(frame: pd.DataFrame, freq: str = "1w", *, time_col: str = "week_start") -> pd.DataFrame:
    """``frame`` indexed by ``time_col`` on a complete grid of its bar size (missing bars become all-NaN rows).

    Shifting by position on this grid is shifting by calendar bars, which a frame with holes would get wrong.
    """
    step = FREQUENCIES[_check_freq(freq)]
    if time_col not in frame.columns:
        raise AnalysisError(f"table has no {time_col} column")
    if frame.empty:
        raise AnalysisError("table is empty")
    bars = pd.DatetimeIndex(frame[time_col])
    if bars.has_duplicates:
        raise AnalysisError(f"table has repeated {time_col} values; pass one scope and one symbol")
    first = bars.min()
    if ((bars - first) % step != pd.Timedelta(0)).any():
        raise AnalysisError(f"{time_col} values are not on one {freq} grid")
    grid = pd.date_range(first, bars.max(), freq=step, name=time_col)
    return frame.set_index(bars.rename(time_col)).drop(columns=time_col).reindex(grid)


def weekly_grid(weekly: pd.DataFrame) -> pd.DataFrame:
    """``weekly`` indexed by week_start on a complete 7-day grid (see :func:`bar_grid`); bars under week_start
    that are not 7 days apart (a daily table laid out under week_start) go on a 1-day grid instead."""
    if "week_start" in weekly.columns and len(weekly) > 1:
        bars = pd.DatetimeIndex(weekly["week_start"])
        if ((bars - bars.min()) % WEEK != pd.Timedelta(0)).any():
            return bar_grid(weekly, "1d")
    return bar_grid(weekly, "1w")


def lead_lag(
    weekly: pd.DataFrame,
    features: list[str],
    *,
    target: str = "log_return",
    lags: Iterable[int] = range(-4, 5),
    min_n: int = 26,
    alpha: float = 0.05,
    freq: str = "1w",
    time_col: str = "week_start",
) -> pd.DataFrame:
    """Spearman correlation of feature[t] with target[t + k] for every feature and lag k, with one rule.

    Pairs are formed on consecutive calendar bars (weeks, or days with ``freq="1d"``), pairs with a NaN are
    dropped and n counts the rest. Estimate, p-value, q-value, flag and interval all come from one method
    (:data:`SIGNIFICANCE_RULE`): the HAC t statistic of the rank correlation, BH within direction families
    with weighted Bonferroni across them, and the matching false-coverage-rate adjusted interval. Why
    families: a real same-week relation (mood moves with the week's price, as in most communities) makes BH
    over one pooled family lenient for every other test, and the false-alarm rate on lead claims then exceeds
    alpha. Daily output names the lag column lag_days instead of lag_weeks. Constant series give NaN
    estimates and p = 1.
    """
    missing = [c for c in [*features, target] if c not in weekly.columns]
    if missing:
        raise AnalysisError(f"table lacks columns {missing}")
    grid = bar_grid(weekly, freq, time_col=time_col)
    y_all = pd.to_numeric(grid[target], errors="coerce").to_numpy(dtype=float)
    rows: list[dict[str, object]] = []
    for feature in features:
        x_all = pd.to_numeric(grid[feature], errors="coerce").to_numpy(dtype=float)
        for k in lags:
            # Row t pairs bar t's feature with bar t+k's target; the grid is complete, so rows are bars.
            y = shifted(y_all, int(k))
            ok = np.isfinite(x_all) & np.isfinite(y)
            rho, se = hac_spearman(x_all[ok], y[ok])
            rows.append({"feature": feature, "lag": int(k), "estimate": rho, "se": se, "n": int(ok.sum())})
    frame = pd.DataFrame(rows, columns=["feature", "lag", "estimate", "se", "n"])
    out = significance_and_intervals(frame, alpha=alpha, min_n=min_n)
    out = out.rename(columns={"lag": lag_column(freq)})
    columns = [lag_column(freq) if c == "lag_weeks" else c for c in RELATION_COLUMNS]
    return out.astype({"feature": str, lag_column(freq): "int64", "n": "int64", "significant": bool})[columns]


def shifted(values: np.ndarray, k: int) -> np.ndarray:
    """values moved k places earlier (out[t] = values[t + k]), NaN where t + k falls outside."""
    out = np.full_like(values, np.nan)
    if k >= 0:
        out[: max(len(values) - k, 0)] = values[k:]
    else:
        out[-k:] = values[: len(values) + k]
    return out


def significance_and_intervals(
    frame: pd.DataFrame,
    *,
    alpha: float = 0.05,
    min_n: int = 26,
    df: np.ndarray | None = None,
    guard_n: np.ndarray | None = None,
) -> pd.DataFrame:
    """Add p_value, q_value, significant, ci_low/ci_high, ci_level, family and primary to estimate/se rows.

    ``frame`` has columns lag, estimate, se, n (one row per test). The statistic is t = estimate / se on
    ``df`` degrees of freedom (default n - 2 per row); rows whose ``guard_n`` (default n) is below ``min_n``
    are not tested. The rule is :data:`SIGNIFICANCE_RULE`. Shared by the
    single-community lead-lag and the panel, so both flag and bound rows the same way.
    """
    out = frame.copy()
    est = out["estimate"].to_numpy(dtype=float)
    se = out["se"].to_numpy(dtype=float)
    n = out["n"].to_numpy(dtype=float)
    dof = np.maximum(n - 2, 1) if df is None else np.asarray(df, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = est / se
    p = np.where(np.isfinite(t), 2 * sps.t.sf(np.abs(t), dof), np.nan)
    p = np.where(np.isnan(est) | ~(se > 0), 1.0, p)
    out["p_value"] = p
    guard = n if guard_n is None else np.asarray(guard_n, dtype=float)
    tested = (guard >= min_n) & np.isfinite(est) & (se > 0)
    families = np.sign(out["lag"].to_numpy())
    q = np.full(len(out), np.nan)
    q[tested] = family_qvalues(p[tested], families[tested], FAMILY_WEIGHTS)
    significant = tested & (np.nan_to_num(q, nan=1.0) < alpha)
    # The level of each row's interval: FCR-adjusted within its family for tested rows, plain otherwise.
    tail = np.full(len(out), alpha)
    for label in (1, 0, -1):
        in_family = tested & (families == label)
        m = int(in_family.sum())
        if m:
            flagged = int((significant & in_family).sum())
            tail[in_family] = max(flagged, 1) * alpha * FAMILY_WEIGHTS[label] / m
    crit = sps.t.isf(tail / 2, dof)
    half = crit * se
    out["ci_low"] = est - half
    out["ci_high"] = est + half
    out["q_value"] = q
    out["significant"] = significant
    out["family"] = [FAMILY_LABELS[int(f)] for f in families]
    out["primary"] = families == 1
    out["ci_level"] = 1.0 - tail
    return out


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


def agrees(relations: pd.DataFrame) -> pd.Series:
    """Per row: the flag agrees with the interval (flagged <=> the interval excludes 0); untested rows pass."""
    excludes = (relations["ci_low"] > 0) | (relations["ci_high"] < 0)
    tested = relations["q_value"].notna()
    return ~tested | (excludes.fillna(False) == relations["significant"].astype(bool))

"""Granger causality in both directions between weekly community features and returns, on stationary series."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from statsmodels.tools.sm_exceptions import InfeasibleTestError
from statsmodels.tsa.api import VAR
from statsmodels.tsa.stattools import adfuller

from sentiment.analysis.leadlag import FREQUENCIES, bar_grid
from sentiment.analysis.stats import bh_qvalues
from sentiment.errors import AnalysisError

__all__ = ["GRANGER_COLUMNS", "granger", "stationary"]

GRANGER_COLUMNS = [
    "feature",
    "direction",
    "transform",
    "lag_order",
    "f_stat",
    "p_value",
    "q_value",
    "significant",
    "n",
]
ADF_ALPHA = 0.05


def stationary(series: pd.Series) -> tuple[pd.Series, str]:
    """``series`` if an ADF test (constant, AIC lag) rejects a unit root at 5%, else its first difference.

    Returns the series and the transform used ("level" or "diff"); constant or very short series stay levels.
    """
    x = series.dropna()
    if len(x) < 12 or x.nunique() < 3:
        return series, "level"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = float(adfuller(x.to_numpy(dtype=float), autolag="AIC")[1])
    return (series, "level") if p < ADF_ALPHA else (series.diff(), "diff")


def granger(
    weekly: pd.DataFrame,
    features: list[str],
    *,
    target: str = "log_return",
    max_lag: int = 4,
    min_n: int = 26,
    alpha: float = 0.05,
    freq: str = "1w",
    time_col: str = "week_start",
) -> pd.DataFrame:
    """F-tests that feature's past helps predict target beyond target's own past, and the reverse.

    For each feature: both series made stationary (:func:`stationary`), consecutive complete weeks kept,
    a VAR's lag order chosen by AIC among 1..max_lag (at least 1), then statsmodels' Wald-F test of the
    causing variable's lags in the caused variable's equation. Rows: direction "feature->target" (the
    community leads) and "target->feature". q_value is Benjamini-Hochberg over the rows returned here, a
    family separate from the lead-lag one (a different question with its own multiplicity); significant
    means q < alpha and n >= min_n. n is the number of weeks in the fitted VAR (after lags). Series that
    cannot be tested (constant, too short) get p = NaN and are left out of the BH family.
    """
    missing = [c for c in [*features, target] if c not in weekly.columns]
    if missing:
        raise AnalysisError(f"weekly table lacks columns {missing}")
    grid = bar_grid(weekly, freq, time_col=time_col)
    y, y_transform = stationary(pd.to_numeric(grid[target], errors="coerce").astype(float))
    rows: list[dict[str, object]] = []
    for feature in features:
        x, x_transform = stationary(pd.to_numeric(grid[feature], errors="coerce").astype(float))
        pair = pd.DataFrame({"x": x, "y": y}).dropna()
        result = _var_tests(pair, max_lag, FREQUENCIES[freq])
        for direction, (f_stat, p, order, n) in zip(("feature->target", "target->feature"), result, strict=True):
            rows.append(
                {
                    "feature": feature,
                    "direction": direction,
                    "transform": f"{feature}:{x_transform}, {target}:{y_transform}",
                    "lag_order": order,
                    "f_stat": f_stat,
                    "p_value": p,
                    "n": n,
                }
            )
    out = pd.DataFrame(rows, columns=[c for c in GRANGER_COLUMNS if c not in ("q_value", "significant")])
    out["q_value"] = bh_qvalues(out["p_value"].to_numpy(dtype=float))
    out["significant"] = (out["q_value"] < alpha).fillna(False) & (out["n"] >= min_n)
    return out.astype({"lag_order": "int64", "n": "int64", "significant": bool})[GRANGER_COLUMNS]


def _var_tests(pair: pd.DataFrame, max_lag: int, step: pd.Timedelta) -> list[tuple[float, float, int, int]]:
    """(F, p, lag order, n) for x->y and y->x; NaN p when the pair cannot carry a VAR."""
    nan = (math.nan, math.nan, 0, 0)
    # Consecutive weeks only: a VAR on a series with holes would treat non-adjacent weeks as adjacent.
    if len(pair) < 3 * max_lag + 8 or pair["x"].nunique() < 3 or pair["y"].nunique() < 3:
        return [nan, nan]
    steps = pair.index.to_series().diff().dropna()
    if (steps != steps.iloc[0]).any():
        pair = _longest_run(pair, step)
        if len(pair) < 3 * max_lag + 8:
            return [nan, nan]
    data = pair[["x", "y"]].to_numpy(dtype=float)
    data = (data - data.mean(axis=0)) / data.std(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = VAR(data)
            order = int(model.select_order(maxlags=max_lag, trend="c").aic) or 1
            fitted = model.fit(order, trend="c")
            tests = [fitted.test_causality(1, [0], kind="f"), fitted.test_causality(0, [1], kind="f")]
        except (np.linalg.LinAlgError, ValueError, InfeasibleTestError):
            return [nan, nan]
    n = int(fitted.nobs)
    return [(float(t.test_statistic), float(t.pvalue), order, n) for t in tests]


def _longest_run(pair: pd.DataFrame, step: pd.Timedelta) -> pd.DataFrame:
    """The longest stretch of consecutive rows (``step`` apart) in ``pair``."""
    breaks = (pair.index.to_series().diff() != step).cumsum()
    longest = breaks.value_counts().idxmax()
    return pair[breaks.to_numpy() == longest]

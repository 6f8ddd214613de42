"""Walk-forward (expanding window) ridge forecast of next week's return, scored against naive baselines."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.model_selection import TimeSeriesSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sentiment.analysis.leadlag import weekly_grid
from sentiment.analysis.stats import clark_west
from sentiment.errors import AnalysisError

__all__ = ["ALPHAS", "OOS_TEST", "walk_forward"]

ALPHAS = np.logspace(-2, 4, 13)
OOS_TEST = (
    "Clark-West (2007) one-sided test of equal out-of-sample MSPE against the expanding historical mean "
    "(nested), Newey-West variance, standard normal reference"
)


def walk_forward(
    weekly: pd.DataFrame, features: list[str], *, target: str = "next_log_return", min_train: int = 20
) -> dict[str, Any]:
    """Expanding-window ridge on ``features`` of week t predicting ``target`` of week t (next week's return).

    Returns {"n_test", "model", "baselines": {"zero", "mean"}, "test", "features", "target", "min_train",
    "predictions": DataFrame(week_start, actual, predicted, baseline_mean, alpha)}. oos_r2 is
    1 - SSE_model / SSE_mean (the historical-mean baseline), oos_r2_vs_zero the same against predicting 0.
    Raises AnalysisError with fewer than min_train + 5 usable rows (all features and the target known).
    """
    missing = [c for c in [*features, target] if c not in weekly.columns]
    if missing:
        raise AnalysisError(f"weekly table lacks columns {missing}")
    if not features:
        raise AnalysisError("walk-forward needs at least one feature")
    grid = weekly_grid(weekly)
    data = grid[[*features, target]].apply(pd.to_numeric, errors="coerce").astype(float).dropna()
    if len(data) < min_train + 5:
        raise AnalysisError(
            f"walk-forward needs at least {min_train + 5} weeks with all features and {target} known, "
            f"got {len(data)}"
        )
    x = data[features].to_numpy()
    y = data[target].to_numpy()
    weeks = data.index

    records: list[dict[str, Any]] = []
    for i in range(min_train, len(data)):
        # Row s holds features of week s and the return of week s+1, which is known at the end of week s+1.
        # Predicting at the end of week t, a row may train only if s+1 <= t, i.e. s < t: every row strictly
        # before t. Rows are on distinct calendar weeks in order, so that is exactly rows[:i].
        x_train, y_train = x[:i], y[:i]
        alpha = _choose_alpha(x_train, y_train)
        model = make_pipeline(StandardScaler(), Ridge(alpha=alpha))
        model.fit(x_train, y_train)
        records.append(
            {
                "week_start": weeks[i],
                "actual": y[i],
                "predicted": float(model.predict(x[i : i + 1])[0]),
                "baseline_mean": float(y_train.mean()),
                "alpha": alpha,
            }
        )
    predictions = pd.DataFrame(records)
    actual = predictions["actual"].to_numpy()
    pred = predictions["predicted"].to_numpy()
    mean_pred = predictions["baseline_mean"].to_numpy()
    zero_pred = np.zeros_like(actual)
    stat, p_value = clark_west(actual, mean_pred, pred)
    n_test = len(predictions)
    return {
        "n_test": n_test,
        "features": list(features),
        "target": target,
        "min_train": min_train,
        "model": {
            **_metrics(actual, pred, mean_pred),
            "p_value": p_value,
            "median_alpha": float(np.median(predictions["alpha"])),
        },
        "baselines": {
            "zero": {**_metrics(actual, zero_pred, mean_pred), "hit_rate": math.nan},
            "mean": _metrics(actual, mean_pred, mean_pred),
        },
        "test": {"name": "clark_west", "description": OOS_TEST, "statistic": stat, "p_value": p_value},
        "predictions": predictions,
    }


def _metrics(actual: np.ndarray, pred: np.ndarray, mean_pred: np.ndarray) -> dict[str, float | int]:
    sse = float(np.sum((actual - pred) ** 2))
    sse_mean = float(np.sum((actual - mean_pred) ** 2))
    sse_zero = float(np.sum(actual**2))
    return {
        "n_test": int(actual.size),
        "oos_r2": 1.0 - sse / sse_mean if sse_mean > 0 else math.nan,
        "oos_r2_vs_zero": 1.0 - sse / sse_zero if sse_zero > 0 else math.nan,
        # A zero forecast or a flat week has no direction; those count as misses, not as hits.
        "hit_rate": float(np.mean(np.sign(pred) == np.sign(actual))),
        "mae": float(np.mean(np.abs(actual - pred))),
        "rmse": math.sqrt(sse / actual.size),
    }


def _choose_alpha(x: np.ndarray, y: np.ndarray) -> float:
    """Ridge penalty with the lowest mean squared error over TimeSeriesSplit folds of the training window.

    Each fold standardises with its own training part and solves ridge for the whole grid at once by SVD
    (the same objective as StandardScaler + Ridge), so nothing from the validation part leaks in.
    """
    n = len(y)
    n_splits = min(5, max(2, n // 8))
    errors = np.zeros(ALPHAS.size)
    for train, valid in TimeSeriesSplit(n_splits=n_splits).split(x):
        xt, yt = x[train], y[train]
        mu, sd = xt.mean(axis=0), xt.std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)
        zt = (xt - mu) / sd
        zv = (x[valid] - mu) / sd
        y_mean = yt.mean()
        u, s, vt = np.linalg.svd(zt, full_matrices=False)
        uty = u.T @ (yt - y_mean)
        shrink = s[None, :] / (s[None, :] ** 2 + ALPHAS[:, None])  # (alphas, k)
        coefs = (shrink * uty[None, :]) @ vt  # (alphas, features)
        preds = y_mean + zv @ coefs.T  # (valid, alphas)
        errors += ((preds - y[valid][:, None]) ** 2).mean(axis=0)
    return float(ALPHAS[int(np.argmin(errors))])

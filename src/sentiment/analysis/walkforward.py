"""Walk-forward (expanding window) forecasts of next week's return and direction, scored against naive baselines."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import TimeSeriesSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sentiment.analysis.leadlag import bar_grid
from sentiment.analysis.stats import clark_west
from sentiment.errors import AnalysisError

__all__ = [
    "ALPHAS",
    "MIN_FORECASTS",
    "N_PERMUTATIONS",
    "OOS_TEST",
    "PERMUTATION_TEST",
    "logistic_prob_up",
    "permutation_pvalues",
    "walk_forward",
]

ALPHAS = np.logspace(-2, 4, 13)
OOS_TEST = (
    "Clark-West (2007) one-sided test of equal out-of-sample MSPE against the expanding historical mean "
    "(nested), Newey-West variance, standard normal reference"
)


N_PERMUTATIONS = 2000
# A claim about forecasts rests on the forecasts made, not on the weeks read: below this many out-of-sample
# forecasts nothing is called significant (at 26 weeks and min_train 20 there would be 6).
MIN_FORECASTS = 20
TREE_REFIT = 4
PERMUTATION_TEST = (
    "permutation test of hit rate and AUC: the realised outcomes are shuffled against the fixed out-of-sample "
    "forecasts (no refit), p = (1 + #permuted >= observed) / (1 + permutations)"
)


def walk_forward(
    weekly: pd.DataFrame,
    features: list[str],
    *,
    target: str = "next_log_return",
    min_train: int = 20,
    n_permutations: int = N_PERMUTATIONS,
    seed: int = 0,
    min_weeks: int = 26,
    alpha: float = 0.05,
    extra_models: bool = True,
    min_forecasts: int = MIN_FORECASTS,
    freq: str = "1w",
    time_col: str = "week_start",
) -> dict[str, Any]:
    """Expanding-window ridge on ``features`` of week t predicting ``target`` of week t (next week's return).

    Returns {"n_test", "model", "baselines": {"zero", "mean"}, "test", "features", "target", "min_train",
    "predictions": DataFrame(week_start, actual, predicted, baseline_mean, alpha)}. oos_r2 is
    1 - SSE_model / SSE_mean (the historical-mean baseline), oos_r2_vs_zero the same against predicting 0.
    Raises AnalysisError with fewer than min_train + 5 usable rows (all features and the target known).

    With ``extra_models`` (issue 7) it also fits, on the same expanding windows, a logistic regression for the
    direction (up = target > 0) and a shallow gradient-boosted tree ensemble for the return, and adds the
    momentum (last week's return) and majority-direction baselines; every forecast gets hit rate and AUC with
    permutation p-values (:func:`permutation_pvalues`). Results land in "models" and "baselines"; "significant"
    is p < alpha with at least ``min_weeks`` usable weeks and at least ``min_forecasts`` out-of-sample
    forecasts, else False with the reason in "guard"; "n_forecasts" says how many forecasts there were.
    ``freq="1d"`` runs the same on daily bars (``time_col`` names the bar column).
    """
    missing = [c for c in [*features, target] if c not in weekly.columns]
    if missing:
        raise AnalysisError(f"weekly table lacks columns {missing}")
    if not features:
        raise AnalysisError("walk-forward needs at least one feature")
    grid = bar_grid(weekly, freq, time_col=time_col)
    data = grid[[*features, target]].apply(pd.to_numeric, errors="coerce").astype(float).dropna()
    if len(data) < min_train + 5:
        raise AnalysisError(
            f"walk-forward needs at least {min_train + 5} weeks with all features and {target} known, got {len(data)}"
        )
    x = data[features].to_numpy()
    y = data[target].to_numpy()
    weeks = data.index
    # Last week's realised return: the target of the previous calendar week (0 when that week is unknown).
    momentum = grid[target].astype(float).shift(1).reindex(weeks).fillna(0.0).to_numpy()

    records: list[dict[str, Any]] = []
    for i in range(min_train, len(data)):
        # Row s holds features of week s and the return of week s+1, which is known at the end of week s+1.
        # Predicting at the end of week t, a row may train only if s+1 <= t, i.e. s < t: every row strictly
        # before t. Rows are on distinct calendar weeks in order, so that is exactly rows[:i].
        x_train, y_train = x[:i], y[:i]
        # The ridge penalty has its own name: `alpha` is the significance level the flags below use.
        penalty = _choose_alpha(x_train, y_train)
        model = make_pipeline(StandardScaler(), Ridge(alpha=penalty))
        model.fit(x_train, y_train)
        record = {
            time_col: weeks[i],
            "actual": y[i],
            "predicted": float(model.predict(x[i : i + 1])[0]),
            "baseline_mean": float(y_train.mean()),
            "alpha": penalty,
        }
        if extra_models:
            # The tree ensemble is the slow part: refit every TREE_REFIT weeks, always on earlier weeks only.
            if (i - min_train) % TREE_REFIT == 0:
                tree = _fit_tree(x_train, y_train, seed)
            record |= _extra_forecasts(x_train, y_train, x[i : i + 1], momentum[i], tree)
        records.append(record)
    predictions = pd.DataFrame(records)
    actual = predictions["actual"].to_numpy()
    pred = predictions["predicted"].to_numpy()
    mean_pred = predictions["baseline_mean"].to_numpy()
    zero_pred = np.zeros_like(actual)
    stat, p_value = clark_west(actual, mean_pred, pred)
    n_test = len(predictions)
    out: dict[str, Any] = {
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
    if extra_models:
        out |= _extended_summary(predictions, len(data), n_permutations, seed, min_weeks, alpha, min_forecasts)
        out["baselines"] = {**out["baselines"], **out.pop("_extra_baselines")}
    return out


def _fit_tree(x: np.ndarray, y: np.ndarray, seed: int) -> GradientBoostingRegressor:
    # Shallow and heavily shrunk: with 20-100 weekly rows a deep tree would only memorise noise.
    tree = GradientBoostingRegressor(
        n_estimators=40, max_depth=2, learning_rate=0.05, subsample=0.8, min_samples_leaf=5, random_state=seed
    )
    return tree.fit(x, y)


def logistic_prob_up(x_train: np.ndarray, up: np.ndarray, x_now: np.ndarray, c: float = 1.0) -> float:
    """P(up) from an L2 logistic regression on standardised features (scikit-learn's C, intercept unpenalised).

    Newton-Raphson in numpy: the same objective as StandardScaler + LogisticRegression(C=c), two orders of
    magnitude faster for the few hundred small fits a walk-forward makes. One class only: its share (0 or 1).
    """
    up = np.asarray(up, dtype=float)
    if up.min() == up.max():
        return float(up.mean())
    mu, sd = x_train.mean(axis=0), x_train.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    z = np.column_stack([np.ones(len(up)), (x_train - mu) / sd])
    penalty = np.full(z.shape[1], 1.0 / c)
    penalty[0] = 0.0
    w = np.zeros(z.shape[1])
    for _ in range(50):
        prob = 1.0 / (1.0 + np.exp(-(z @ w)))
        grad = z.T @ (prob - up) + penalty * w
        hess = (z * (prob * (1 - prob))[:, None]).T @ z + np.diag(penalty) + 1e-9 * np.eye(z.shape[1])
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    z_now = np.concatenate([[1.0], (x_now.ravel() - mu) / sd])
    return float(1.0 / (1.0 + np.exp(-(z_now @ w))))


def _extra_forecasts(
    x_train: np.ndarray, y_train: np.ndarray, x_now: np.ndarray, momentum: float, tree: GradientBoostingRegressor
) -> dict[str, float]:
    """Logistic P(up), tree forecast and the momentum / majority baselines for one walk-forward step."""
    up = y_train > 0
    prob_up = logistic_prob_up(x_train, up, x_now)
    return {
        "prob_up_logistic": prob_up,
        "predicted_tree": float(tree.predict(x_now)[0]),
        "baseline_momentum": float(momentum),
        # +1 / -1: the direction seen most often in training (ties: up), for hit rate only.
        "baseline_majority": 1.0 if up.mean() >= 0.5 else -1.0,
    }


def _extended_summary(
    predictions: pd.DataFrame,
    n_weeks: int,
    n_permutations: int,
    seed: int,
    min_weeks: int,
    alpha: float,
    min_forecasts: int = MIN_FORECASTS,
) -> dict[str, Any]:
    actual = predictions["actual"].to_numpy()
    mean_pred = predictions["baseline_mean"].to_numpy()
    up = actual > 0
    guard = None
    if n_weeks < min_weeks:
        guard = f"only {n_weeks} usable weeks (< {min_weeks}): nothing is significant"
    elif actual.size < min_forecasts:
        guard = f"only {actual.size} out-of-sample forecasts (< {min_forecasts}): nothing is significant"
    rng = np.random.default_rng(seed)
    forecasts = {
        "ridge": ("regression", predictions["predicted"].to_numpy()),
        "logistic": ("direction", predictions["prob_up_logistic"].to_numpy() - 0.5),
        "tree": ("regression", predictions["predicted_tree"].to_numpy()),
        "momentum": ("regression", predictions["baseline_momentum"].to_numpy()),
        "majority": ("direction", predictions["baseline_majority"].to_numpy()),
    }
    summary: dict[str, dict[str, Any]] = {}
    for name, (kind, score) in forecasts.items():
        row: dict[str, Any] = {"n_test": int(actual.size), "kind": kind}
        if kind == "regression":
            row |= _metrics(actual, score, mean_pred)
            # Clark-West against the historical mean: exact nesting for ridge, conservative for the others.
            row["clark_west_p"] = clark_west(actual, mean_pred, score)[1]
        else:
            row["hit_rate"] = float(np.mean((score > 0) == up))
        row["auc"] = _auc(up, score)
        p_hit, p_auc = permutation_pvalues(up, score, n_permutations, rng)
        row |= {"hit_rate_p": p_hit, "auc_p": p_auc}
        row["significant"] = bool(guard is None and min(p_hit, p_auc) < alpha / 2)  # Bonferroni over 2 metrics
        summary[name] = row
    return {
        "models": {k: summary[k] for k in ("ridge", "logistic", "tree")},
        "_extra_baselines": {k: summary[k] for k in ("momentum", "majority")},
        "n_weeks": n_weeks,
        "n_forecasts": int(actual.size),
        "min_forecasts": min_forecasts,
        "guard": guard,
        "permutation_test": {"description": PERMUTATION_TEST, "n_permutations": n_permutations},
        "up_share": float(up.mean()),
    }


def _auc(up: np.ndarray, score: np.ndarray) -> float:
    if up.all() or not up.any() or np.ptp(score) == 0:
        return 0.5 if up.any() and not up.all() else math.nan
    return float(roc_auc_score(up, score))


def permutation_pvalues(
    up: np.ndarray, score: np.ndarray, n_permutations: int, rng: np.random.Generator
) -> tuple[float, float]:
    """One-sided permutation p-values of hit rate and AUC of ``score`` (> 0 means "up") for outcomes ``up``.

    Valid without refitting: each forecast was made before its week's outcome was seen, so under the null of
    no association the outcomes are exchangeable against the fixed forecasts (weekly return signs are close to
    serially independent; strong autocorrelation in the outcomes would make the test approximate).
    Both statistics come from the same permutations: hit rate directly, AUC through the Mann-Whitney U of
    the score's ranks (ties averaged), vectorised over permutations.
    """
    up = np.asarray(up, dtype=bool)
    score = np.asarray(score, dtype=float)
    n = up.size
    if n < 3 or n_permutations < 1:
        return math.nan, math.nan
    perms = np.argsort(rng.random((n_permutations, n)), axis=1)
    shuffled = up[perms]  # (B, n)
    call = score > 0
    hit_obs = float(np.mean(call == up))
    hit_perm = (shuffled == call[None, :]).mean(axis=1)
    p_hit = (1 + int(np.sum(hit_perm >= hit_obs - 1e-12))) / (1 + n_permutations)
    n_up = int(up.sum())
    if n_up in (0, n) or np.ptp(score) == 0:
        return p_hit, math.nan
    ranks = rankdata(score)
    auc_obs = (ranks[up].sum() - n_up * (n_up + 1) / 2) / (n_up * (n - n_up))
    auc_perm = ((shuffled * ranks[None, :]).sum(axis=1) - n_up * (n_up + 1) / 2) / (n_up * (n - n_up))
    p_auc = (1 + int(np.sum(auc_perm >= auc_obs - 1e-12))) / (1 + n_permutations)
    return p_hit, float(p_auc)


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

"""The report's analyses in one pure call: lead-lag, Granger, walk-forward and flagged weeks on one weekly table."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from sentiment.analysis.granger import granger
from sentiment.analysis.leadlag import bar_grid, lead_lag
from sentiment.analysis.walkforward import walk_forward
from sentiment.errors import AnalysisError

__all__ = [
    "ACTIVITY_FEATURES",
    "COMMUNITY_FEATURES",
    "PREDICTION_FEATURES",
    "TEXT_FEATURES",
    "add_model_features",
    "analyse_weekly",
    "flagged_weeks",
]

# Counts are tested as log1p levels: see add_model_features for why levels, not differences.
ACTIVITY_FEATURES = (
    "log_messages",
    "log_active_authors",
    "log_new_authors",
    "log_joins",
    "net_growth",
    "retention_1w_known",
)
# Derived from message text (scores, wording, links): these inherit any same-week mood-price link.
TEXT_FEATURES = (
    "log_token_mentions",
    "mean_compound",
    "bullish_share",
    "bullishness",
    "compound_std",
    "interactive_share",
    "content_share",
)
COMMUNITY_FEATURES = (*ACTIVITY_FEATURES, *TEXT_FEATURES)
PREDICTION_FEATURES = (
    "log_messages",
    "log_active_authors",
    "log_new_authors",
    "log_joins",
    "mean_compound",
    "bullish_share",
)
_LOG_COUNTS = ("messages", "active_authors", "new_authors", "joins", "token_mentions")


def add_model_features(weekly: pd.DataFrame, time_col: str = "week_start") -> pd.DataFrame:
    """The weekly table plus the transforms the analyses test (pure; rows must be one scope, one symbol).

    Counts become log1p levels (log_<count>). Levels, not log-differences: the question is whether an unusually
    busy week precedes a move, which differencing turns into "busier than last week" and largely destroys
    (for an AR(1) activity with persistence 0.6 the correlation left after differencing is ~0.45 of the level
    one). The Spearman lead-lag test stays valid on a trending level because its null only needs the return
    series to be serially independent, which weekly returns nearly are; Granger, which does need stationary
    inputs, differences any series an ADF test cannot call stationary (sentiment.analysis.granger).
    retention_1w_known is retention_1w moved to the week it becomes known (w+1): the cohort value of week w
    needs week w+1's posts, so using it at w would peek one week ahead. ``time_col`` names the bar column
    (``day`` for daily tables; retention still looks one week ahead, so it is moved by 7 days there too).
    """
    out = weekly.copy()
    for col in _LOG_COUNTS:
        if col in out.columns:
            out[f"log_{col}"] = np.log1p(pd.to_numeric(out[col], errors="coerce").astype("float64"))
    if "retention_1w" in out.columns and time_col in out.columns:
        known = out.set_index(time_col)["retention_1w"].astype("float64")
        known.index = known.index + pd.Timedelta(weeks=1)
        out["retention_1w_known"] = out[time_col].map(known).astype("float64")
    return out


def flagged_weeks(weekly: pd.DataFrame, time_col: str = "week_start") -> pd.DataFrame:
    """Weeks (bars named by ``time_col``: days in a daily table) with spike_flag set, beside that bar's and the
    next bar's return (pump-and-dump candidates)."""
    cols = [time_col, "messages", "new_authors", "messages_z", "new_authors_z", "log_return", "next_log_return"]
    if "spike_flag" not in weekly.columns:
        return pd.DataFrame(columns=cols)
    flagged = weekly[weekly["spike_flag"].astype("boolean").fillna(False).astype(bool)]
    return flagged.reindex(columns=cols).sort_values(time_col).reset_index(drop=True)


def analyse_weekly(
    weekly: pd.DataFrame,
    *,
    features: Iterable[str] = COMMUNITY_FEATURES,
    target: str = "log_return",
    prediction_features: Iterable[str] = PREDICTION_FEATURES,
    lags: Iterable[int] = range(-4, 5),
    seed: int = 0,
    min_weeks: int = 26,
    alpha: float = 0.05,
    granger_max_lag: int = 4,
    n_permutations: int = 2000,
    predict: bool = True,
    granger_tests: bool = True,
    freq: str = "1w",
) -> dict[str, Any]:
    """Every analysis of one symbol's weekly table (scope all): relations, granger, prediction, flagged, guards.

    ``weekly`` must already carry :func:`add_model_features`' columns. Features absent from the table or never
    known are skipped (and listed in "skipped_features"). "guards" lists plain-language reasons why results
    are withheld (too few weeks; no forecast possible). ``freq="1d"`` runs every analysis on a daily table
    (bar column ``day``; relations carry lag_days; min_weeks then counts days).
    """
    time_col = "week_start" if freq == "1w" else "day"
    grid = bar_grid(weekly, freq, time_col=time_col)
    n_weeks = int(grid[target].notna().sum()) if target in grid.columns else 0
    wanted = list(dict.fromkeys(features))
    usable = [f for f in wanted if f in grid.columns and pd.to_numeric(grid[f], errors="coerce").notna().any()]
    guards: list[str] = []
    if n_weeks < min_weeks:
        unit = "weeks" if freq == "1w" else "days"
        guards.append(
            f"Only {n_weeks} {unit} with a known return: below the minimum of {min_weeks}, no relation, "
            "Granger test or forecast is called significant; relations with too few paired periods are listed "
            "as not testable, without p or q."
        )
    relations = lead_lag(
        weekly, usable, target=target, lags=lags, min_n=min_weeks, alpha=alpha, freq=freq, time_col=time_col
    )
    causality = (
        granger(
            weekly,
            usable,
            target=target,
            max_lag=granger_max_lag,
            min_n=min_weeks,
            alpha=alpha,
            freq=freq,
            time_col=time_col,
        )
        if granger_tests
        else None
    )
    prediction: dict[str, Any] | None = None
    if predict:
        pred_features = [f for f in prediction_features if f in usable]
        try:
            prediction = walk_forward(
                weekly,
                pred_features,
                target="next_log_return",
                n_permutations=n_permutations,
                seed=seed,
                min_weeks=min_weeks,
                alpha=alpha,
                freq=freq,
                time_col=time_col,
            )
        except AnalysisError as exc:
            guards.append(f"No out-of-sample forecast: {exc}.")
    return {
        "n_weeks": n_weeks,
        "features": usable,
        "skipped_features": [f for f in wanted if f not in usable],
        "relations": relations,
        "granger": causality,
        "prediction": prediction,
        "flagged": flagged_weeks(weekly, time_col),
        "guards": guards,
    }

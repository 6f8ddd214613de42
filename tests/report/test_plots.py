"""Tests for sentiment.report.plots."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sentiment.report.plots import heatmap_png, leadlag_png, predictions_png, scatter_png, timeline_png

PNG = b"\x89PNG\r\n\x1a\n"


def test_figures_are_png_bytes() -> None:
    """It draws each figure to PNG bytes, including the empty cases."""
    weeks = pd.date_range("2024-01-01", periods=10, freq="7D", tz="UTC")
    weekly = pd.DataFrame(
        {
            "week_start": weeks,
            "close": np.arange(10.0),
            "messages": 5,
            "mean_compound": np.linspace(-0.1, 0.1, 10),
        }
    )
    relations = pd.DataFrame(
        {
            "feature": ["a", "a", "b", "b"],
            "lag_weeks": [0, 1, 0, 1],
            "estimate": [0.1, np.nan, 0.2, -0.1],
            "ci_low": [0.0, np.nan, 0.1, -0.3],
            "ci_high": [0.2, np.nan, 0.3, 0.1],
        }
    )
    preds = pd.DataFrame({"week_start": weeks, "actual": 0.1, "predicted": 0.0, "baseline_mean": 0.05})
    for png in (
        timeline_png(weekly, "X/USDT"),
        leadlag_png(relations),
        predictions_png(preds),
        timeline_png(weekly.iloc[0:0], "X/USDT"),
        leadlag_png(relations.iloc[0:0]),
        predictions_png(None),
        heatmap_png(relations.assign(n=[30, 30, 3, 30], significant=[True, False, False, False]), min_n=26),
        scatter_png(weekly, "messages", 1, "mean_compound"),
        scatter_png(weekly.head(2), "messages", 1, "mean_compound"),
        scatter_png(weekly, "absent", 1, "mean_compound"),
    ):
        assert png.startswith(PNG) and len(png) > 1000

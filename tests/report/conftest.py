"""Shared inputs of the report tests: a 60-week weekly table with a planted lead, its relations and forecast."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sentiment.analysis import lead_lag, walk_forward


@pytest.fixture(scope="module")
def inputs() -> dict[str, object]:
    rng = np.random.default_rng(0)
    n = 60
    messages = rng.poisson(50, size=n).astype(float)
    mood = rng.normal(0.1, 0.05, size=n)
    ret = 0.05 * rng.normal(size=n)
    ret[1:] += 0.002 * (messages[:-1] - 50)
    weekly = pd.DataFrame(
        {
            "symbol": "VIRTUAL/USDT",
            "scope": "all",
            "week_start": pd.date_range("2024-01-01", periods=n, freq="7D", tz="UTC"),
            "messages": messages,
            "mean_compound": mood,
            "flat": 1.0,  # a constant feature: NaN estimates must come out as null
            "close": np.exp(np.cumsum(ret)),
            "log_return": ret,
        }
    )
    weekly["next_log_return"] = weekly["log_return"].shift(-1)
    relations = lead_lag(weekly, ["messages", "mean_compound", "flat"], lags=range(-2, 3))
    prediction = walk_forward(weekly, ["messages", "mean_compound"], min_train=20)
    return {"weekly": weekly, "relations": relations, "prediction": prediction}

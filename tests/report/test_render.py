"""Tests for sentiment.report.render."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentiment.analysis import LAG_CONVENTION, lead_lag, walk_forward
from sentiment.report.render import METRICS_KEYS, json_safe, write_report


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
    relations = lead_lag(weekly, ["messages", "mean_compound", "flat"], lags=range(-2, 3), n_boot=100)
    prediction = walk_forward(weekly, ["messages", "mean_compound"], min_train=20)
    return {"weekly": weekly, "relations": relations, "prediction": prediction}


def write(tmp_path: Path, inputs: dict[str, object], **over: object) -> dict[str, Path]:
    kwargs: dict[str, object] = {
        "symbol": "VIRTUAL/USDT",
        "weekly": inputs["weekly"],
        "relations": inputs["relations"],
        "prediction": inputs["prediction"],
        "coverage": {"synthetic": True, "chats": 2, "messages": 3000},
        "caveats": ["Chat A was only exported from March on."],
        "generated_at": pd.Timestamp("2025-01-01T12:00", tz="UTC"),
    }
    kwargs.update(over)
    return write_report(tmp_path, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, inputs: dict[str, object]) -> dict[str, Path]:
    return write(tmp_path_factory.mktemp("report"), inputs)


def test_writes_the_three_files(written: dict[str, Path]) -> None:
    """It writes report.html, report.md and metrics.json and returns their paths."""
    paths = written
    assert {k: p.name for k, p in paths.items()} == {
        "html": "report.html",
        "md": "report.md",
        "metrics": "metrics.json",
    }
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths.values())


def test_metrics_json_has_exact_keys_and_no_nan(written: dict[str, Path]) -> None:
    """It writes strict JSON with exactly the contract's keys, NaN as null and no predictions frame."""
    text = written["metrics"].read_text()

    def reject(token: str) -> None:
        raise AssertionError(f"non-JSON constant {token}")

    metrics = json.loads(text, parse_constant=reject)
    assert tuple(metrics) == METRICS_KEYS
    assert metrics["lag_convention"] == LAG_CONVENTION
    assert metrics["generated_at"].startswith("2025-01-01T12:00")
    assert len(metrics["relations"]) == 15
    assert set(metrics["relations"][0]) >= {
        "feature",
        "lag_weeks",
        "estimate",
        "ci_low",
        "ci_high",
        "p_value",
        "q_value",
        "significant",
        "n",
    }
    flat = [r for r in metrics["relations"] if r["feature"] == "flat"]
    assert flat and all(r["estimate"] is None for r in flat)
    qs = [r["q_value"] for r in metrics["relations"]]
    tested = [q for q in qs if q is not None]
    assert qs == sorted(tested) + [None] * (len(qs) - len(tested))  # untested rows (constant feature) last
    pred = metrics["prediction"]
    assert "predictions" not in pred
    assert set(pred["baselines"]) == {"zero", "mean", "momentum", "majority"}  # issue 7 added the last two
    assert pred["baselines"]["zero"]["hit_rate"] is None
    assert {"oos_r2", "hit_rate", "mae", "p_value"} <= set(pred["model"])
    assert metrics["caveats"][0] == "Chat A was only exported from March on."
    assert any("synthetic" in c for c in metrics["caveats"])


def test_html_is_self_contained(written: dict[str, Path]) -> None:
    """It references no external resource and inlines its six figures as base64 PNGs."""
    page = written["html"].read_text()
    assert not re.search(r"https?://", page)
    assert not re.search(r"<(script|link)\b", page)
    images = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(images) == 6  # timeline, lead-lag, predictions + (issue 7) joins, engagement, anomalies
    assert all(src.startswith("data:image/png;base64,iVBORw0KGgo") for src in images)


@pytest.mark.parametrize("kind", ["html", "md"])
def test_text_reports_state_the_essentials(written: dict[str, Path], kind: str) -> None:
    """It states coverage, n, the lag convention, the relations and prediction tables and plain caveats."""
    text = written[kind].read_text()
    if kind == "html":
        text = html.unescape(text)
    assert LAG_CONVENTION in text
    assert "weeks in analysis (n)" in text and "60" in text
    assert "2024-01-01" in text  # first week covered
    assert "historical mean" in text and "ridge model" in text
    assert "Benjamini-Hochberg" in text
    assert "Correlation is not causation" in text
    assert "These data are synthetic" in text
    assert "Short sample" in text


def test_real_data_gets_no_synthetic_caveat(tmp_path: Path, inputs: dict[str, object]) -> None:
    """It adds the synthetic-data caveat only when coverage says the data are synthetic."""
    metrics = json.loads(write(tmp_path, inputs, coverage={"synthetic": False})["metrics"].read_text())
    assert not any("synthetic" in c for c in metrics["caveats"])


def test_without_prediction(tmp_path: Path, inputs: dict[str, object]) -> None:
    """It still writes all files when there was too little data for a forecast or for any relation."""
    paths = write(tmp_path, inputs, prediction=None, relations=pd.DataFrame())
    metrics = json.loads(paths["metrics"].read_text())
    assert metrics["prediction"] is None and metrics["relations"] == []
    assert "no prediction was made" in paths["md"].read_text()
    assert paths["html"].read_text().count("data:image/png;base64,") == 6


def test_json_safe() -> None:
    """It turns NaN/inf into None and numpy/pandas scalars into plain Python values."""
    value = {
        "a": np.float64("nan"),
        "b": [np.int64(3), np.inf],
        "c": pd.Timestamp("2024-01-01", tz="UTC"),
        "d": np.bool_(True),
        "e": pd.DataFrame({"x": [1]}),
    }
    assert json_safe(value) == {"a": None, "b": [3, None], "c": "2024-01-01T00:00:00+00:00", "d": True}

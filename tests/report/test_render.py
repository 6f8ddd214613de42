"""Tests for sentiment.report.render."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentiment.analysis import LAG_CONVENTION, lead_lag
from sentiment.report.render import METRICS_KEYS, json_safe, write_report


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
    """It references no external resource and inlines its six figures as base64 PNGs, each with alt text."""
    page = written["html"].read_text()
    assert not re.search(r"https?://", page)
    assert not re.search(r"<(script|link)\b", page)
    images = re.findall(r'<img [^>]*src="([^"]+)"', page)
    # heatmap, strongest-relation scatter, price/activity/mood, predictions, joins, engagement (issue 16)
    assert len(images) == 6
    assert all(src.startswith("data:image/png;base64,iVBORw0KGgo") for src in images)
    alts = re.findall(r'<img alt="([^"]*)"', page)
    assert len(alts) == 6 and all(len(a) > 40 for a in alts)


@pytest.mark.parametrize("kind", ["html", "md"])
def test_text_reports_state_the_essentials(written: dict[str, Path], kind: str) -> None:
    """It states coverage, n, the lag convention, the relations and prediction tables and plain caveats."""
    text = written[kind].read_text()
    if kind == "html":
        text = html.unescape(text)
    assert LAG_CONVENTION in text
    assert "weeks analysed (n)" in text and "60" in text
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
    # no relation to draw or scatter, no forecast to plot: timeline, joins and engagement stay
    assert paths["html"].read_text().count("data:image/png;base64,") == 3


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


def test_report_opens_with_the_verdict_which_is_the_summary(written: dict[str, Path]) -> None:
    """The first text after the title is the verdict, and metrics.json's summary is the same text."""
    metrics = json.loads(written["metrics"].read_text())
    page = written["html"].read_text()
    body = html.unescape(re.sub(r"<[^>]+>", " ", page.split("<body>", 1)[1]))
    words = " ".join(body.split())
    first = metrics["summary"].split(". ")[0]
    assert words.index(first) < words.index("Data coverage")
    assert first[0].isupper()
    lead = [r for r in metrics["relations"] if r["lag_weeks"] > 0 and r["significant"]]
    if lead:
        assert "leads" in first or "lead " in first
    else:
        assert first.startswith("No community feature leads")


def test_coverage_is_shown_once(written: dict[str, Path]) -> None:
    """No coverage item appears twice under two spellings, and no raw list is dumped."""
    page = html.unescape(written["html"].read_text())
    for raw in ("first_week", "last_week", "missing_weeks", "weeks in analysis", "in_words"):
        assert raw not in page
    assert page.count("weeks analysed (n)") == 1


def test_short_run_lists_relations_as_not_testable(tmp_path: Path, inputs: dict[str, object]) -> None:
    """Eight weeks: the first sentence says the run is too short; relations are not testable, with no p or q."""
    weekly = inputs["weekly"].head(8)  # type: ignore[union-attr]
    relations = lead_lag(weekly, ["messages", "mean_compound"], lags=range(-2, 3))
    paths = write(tmp_path, inputs, weekly=weekly, relations=relations, prediction=None)
    metrics = json.loads(paths["metrics"].read_text())
    assert metrics["summary"].startswith("This run has only 8 weeks")
    assert len(metrics["relations"]) == 10  # the contract keeps every row in metrics.json
    assert len(metrics["not_testable"]) == 10 and all("paired weeks" in r["reason"] for r in metrics["not_testable"])
    page = html.unescape(paths["html"].read_text())
    not_testable = page.split("<h2>Not testable</h2>", 1)[1].split("<h2>", 1)[0]
    assert "too few paired weeks (minimum 26)" in not_testable
    assert "0.0" not in not_testable.replace("0.0%", "")  # no estimate, p or q printed
    lead_lag_section = page.split("<h2>Lead-lag relations</h2>", 1)[1].split("<h2>", 1)[0]
    assert "No relation had enough paired weeks" in lead_lag_section and "<table>" not in lead_lag_section
    assert "Heatmap" not in page  # a grid of n/a cells says nothing


def test_long_tables_are_collapsed(tmp_path: Path, inputs: dict[str, object]) -> None:
    """Beyond the top 15 rows, the relations table sits in a <details> element."""
    relations = lead_lag(inputs["weekly"], ["messages", "mean_compound"], lags=range(-6, 7))  # type: ignore[arg-type]
    page = write(tmp_path, inputs, relations=relations)["html"].read_text()
    section = page.split("<h2>Lead-lag relations</h2>", 1)[1].split("<h2>", 1)[0]
    shown, hidden = section.split("<details>", 1)
    assert shown.count("<tr") == 1 + 15  # header + top rows
    assert "Show the other 11 relations" in hidden and hidden.count("<tr") == 1 + 11


def test_language_and_chat_coverage(tmp_path: Path, inputs: dict[str, object]) -> None:
    """Coverage by language and by chat is rendered when the step supplies it, and said to be missing when not."""
    coverage = {
        "synthetic": False,
        "scored_share": 0.8,
        "languages": {
            "by_lang": [{"lang": "en", "posts": 70, "scored": 66}, {"lang": "und", "posts": 10, "scored": 0}]
        },
        "per_chat": [
            {"chat": "telegram: Alpha", "messages": 80, "scored": 66, "first": "2024-01-01", "last": "2024-03-01"}
        ],
    }
    page = html.unescape(write(tmp_path / "a", inputs, coverage=coverage)["html"].read_text())
    assert "English (en)" in page and "94%" in page and "telegram: Alpha" in page and "82%" in page
    bare = html.unescape(write(tmp_path / "b", inputs, coverage={"synthetic": False})["html"].read_text())
    assert "split by language is unavailable" in bare


def test_a_daily_table_is_reported_in_days(tmp_path: Path, inputs: dict[str, object]) -> None:
    """Given a ``day`` column and ``lag_days`` relations (a --freq 1d run), every label counts days and
    metrics.json keeps the daily names: no table header, caption or sentence speaks of weeks."""
    daily = inputs["weekly"].drop(columns="week_start")  # type: ignore[attr-defined]
    daily.insert(2, "day", pd.date_range("2024-01-01", periods=len(daily), freq="1D", tz="UTC"))
    daily["spike_flag"] = daily.index == 40
    for col in ("new_authors", "messages_z", "new_authors_z"):
        daily[col] = 1.0
    relations = lead_lag(daily, ["messages", "mean_compound"], lags=range(-2, 3), freq="1d", time_col="day")
    flagged = daily.loc[daily["spike_flag"], ["day", "messages", "new_authors", "messages_z", "new_authors_z"]]
    flagged = flagged.assign(log_return=0.01, next_log_return=0.02)
    paths = write(tmp_path, inputs, weekly=daily, relations=relations, prediction=None, flagged=flagged, frequency="1d")
    metrics = json.loads(paths["metrics"].read_text())
    assert metrics["lag_convention"].startswith("lag_days = k")
    assert metrics["relations"] and all("lag_days" in r and "lag_weeks" not in r for r in metrics["relations"])
    assert [r["day"][:10] for r in metrics["flagged_weeks"]] == ["2024-02-10"]
    text = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r'src="data:[^"]+"', "", paths["html"].read_text())))
    assert "60 days analysed" in " ".join(text.split()) and "lag (days)" in text and "Flagged days" in text
    assert "the strongest is messages 1 day ahead" in metrics["summary"] and "n = 59 days" in metrics["summary"]
    for page in (text, paths["md"].read_text()):
        assert not re.search(r"\bweeks?\b", page), re.search(r".{60}\bweeks?\b.{40}", page)

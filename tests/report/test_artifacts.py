"""Tests for sentiment.report.artifacts: the Prefect artifacts' contents built from a report's metrics."""

from __future__ import annotations

import re
from pathlib import Path

from sentiment.report.artifacts import artifact_key, report_artifacts

METRICS = {
    "symbol": "VIRTUAL/USDT",
    "generated_at": "2026-12-02T10:00:00+00:00",
    "summary": "Joins lead the token's return. Caveats: synthetic.",
    "relations": [
        {
            "feature": "log_joins",
            "lag_weeks": 1,
            "estimate": 0.41234567,
            "ci_low": 0.2,
            "ci_high": 0.6,
            "p_value": 0.0001,
            "q_value": 0.004,
            "significant": True,
            "n": 50,
        },
        {
            "feature": "log_messages",
            "lag_weeks": 2,
            "estimate": float("nan"),
            "ci_low": None,
            "ci_high": None,
            "p_value": 1.0,
            "q_value": 1.0,
            "significant": False,
            "n": 3,
        },
        {
            "feature": "log_token_mentions",
            "lag_weeks": 1,
            "estimate": None,
            "ci_low": None,
            "ci_high": None,
            "p_value": 1.0,
            "q_value": 1.0,
            "significant": False,
            "n": 0,
        },
    ],
    "not_testable": [
        {"feature": "log_messages", "lag_weeks": 2, "n": 3, "reason": "only 3 paired weeks (minimum 26)"},
        {"feature": "log_token_mentions", "lag_weeks": None, "n": 0, "reason": "no data"},
    ],
}


def test_keys_are_stable_and_valid_prefect_keys() -> None:
    """Keys hold only lowercase letters, digits and dashes, and depend only on the symbol and the kind."""
    made = report_artifacts(METRICS, Path("/r/2026-12-02_VIRTUAL-USDT/report.html"))
    later = report_artifacts({**METRICS, "generated_at": "2027-01-01"}, Path("/r/2027-01-01_VIRTUAL-USDT/report.html"))
    assert made.keys == later.keys
    assert made.keys["summary"] == "report-virtual-usdt-summary"
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", k) for k in made.keys.values())
    assert artifact_key("1000PEPE/USDT:USDT", "link") == "report-1000pepe-usdt-usdt-link"


def test_contents_hold_the_verdict_and_only_testable_relations() -> None:
    """The Markdown opens with the summary; the table has the testable relations only; the link is a file URI."""
    made = report_artifacts(METRICS, Path("/r/2026-12-02_VIRTUAL-USDT/report.html"))
    assert METRICS["summary"] in made.markdown
    assert "joins (log_joins)" in made.markdown and "log_messages" not in made.markdown
    assert [r["feature"] for r in made.table] == ["log_joins"]
    assert made.table[0]["estimate"] == 0.4123
    assert made.link == "file:///r/2026-12-02_VIRTUAL-USDT/report.html"
    assert "2 feature/lag rows were not testable" in made.markdown

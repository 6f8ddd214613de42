"""Writes the report: a self-contained report.html, a report.md and a JSON-safe metrics.json."""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sentiment.analysis.leadlag import LAG_CONVENTION, RELATION_COLUMNS
from sentiment.report.plots import (
    engagement_png,
    flagged_png,
    joins_png,
    leadlag_png,
    predictions_png,
    timeline_png,
)

__all__ = ["METRICS_KEYS", "standard_caveats", "write_report"]

METRICS_KEYS = ("symbol", "generated_at", "lag_convention", "coverage", "relations", "prediction", "caveats")
TOP_RELATIONS = 15
GRANGER_NOTE = (
    "Does a feature's past improve the forecast of the return beyond the return's own past (feature->target), "
    "and the reverse? F-test in a two-variable VAR, lag order chosen by AIC (1-4), each series differenced "
    "when an ADF test cannot call it stationary; q-values are Benjamini-Hochberg within this table (a family "
    "separate from the lead-lag one)."
)
FLAG_NOTE = (
    "Weeks where both new authors and messages jumped more than 2 standard deviations above their trailing "
    "8 weeks, shown beside that week's and the next week's log return. A flag is a reason to look, not evidence "
    "of manipulation."
)
_PREDICTION_ROWS = (
    ("ridge model", ("model",)),
    ("historical mean", ("baselines", "mean")),
    ("zero", ("baselines", "zero")),
    ("logistic (direction)", ("models", "logistic")),
    ("gradient-boosted trees", ("models", "tree")),
    ("momentum (last week)", ("baselines", "momentum")),
    ("majority direction", ("baselines", "majority")),
)
_METRIC_COLUMNS = ("n_test", "oos_r2", "oos_r2_vs_zero", "hit_rate", "mae", "rmse", "auc", "hit_rate_p", "auc_p")

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f2f2f2; }
img { max-width: 100%; display: block; margin: 0.5em 0 1.5em; }
.convention { background: #f7f7e8; padding: 0.5em 0.8em; border-left: 4px solid #c9c06b; }
"""


def write_report(
    out_dir: Path,
    *,
    symbol: str,
    weekly: pd.DataFrame,
    relations: pd.DataFrame,
    prediction: Mapping[str, Any] | None,
    coverage: Mapping[str, Any],
    caveats: list[str],
    generated_at: pd.Timestamp | None = None,
    granger: pd.DataFrame | None = None,
    flagged: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """Write report.html, report.md and metrics.json into ``out_dir``; return their paths by kind.

    ``prediction`` is :func:`walk_forward`'s result (None when there was too little data); its predictions
    frame feeds the plot, never the JSON. ``granger`` (sentiment.analysis.granger) and ``flagged`` (weeks with
    a coordinated-spike flag) extend metrics.json under "granger" and "flagged_weeks".
    The standard caveats (sample length, multiple testing, causation,
    and synthetic data when ``coverage["synthetic"]`` is true) are added to ``caveats``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = (generated_at or pd.Timestamp.now(tz="UTC")).tz_convert("UTC").isoformat()
    weekly = _one_scope(weekly)
    relations = relations.reindex(columns=RELATION_COLUMNS)
    ranked = relations.sort_values(["q_value", "p_value"], na_position="last", kind="mergesort")
    all_caveats = list(dict.fromkeys([*caveats, *standard_caveats(weekly, relations, coverage)]))
    pred_metrics = None if prediction is None else {k: v for k, v in prediction.items() if k != "predictions"}
    predictions = None if prediction is None else prediction.get("predictions")

    metrics = {
        "symbol": symbol,
        "generated_at": stamp,
        "lag_convention": LAG_CONVENTION,
        "coverage": dict(coverage),
        "relations": ranked.to_dict(orient="records"),
        "prediction": pred_metrics,
        "caveats": all_caveats,
    }
    if granger is not None:
        metrics["granger"] = granger.to_dict(orient="records")
    if flagged is not None:
        metrics["flagged_weeks"] = flagged.to_dict(orient="records")
    paths = {
        "html": out_dir / "report.html",
        "md": out_dir / "report.md",
        "metrics": out_dir / "metrics.json",
    }
    paths["metrics"].write_text(json.dumps(json_safe(metrics), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    figures = {
        "timeline": timeline_png(weekly, symbol),
        "leadlag": leadlag_png(relations),
        "predictions": predictions_png(predictions),
        "joins": joins_png(weekly),
        "engagement": engagement_png(weekly),
        "flagged": flagged_png(weekly),
    }
    context = _Context(
        symbol,
        stamp,
        weekly,
        ranked.head(TOP_RELATIONS),
        len(relations),
        pred_metrics,
        dict(coverage),
        all_caveats,
        granger,
        flagged,
    )
    paths["html"].write_text(_html(context, figures), encoding="utf-8")
    paths["md"].write_text(_markdown(context), encoding="utf-8")
    return paths


def standard_caveats(weekly: pd.DataFrame, relations: pd.DataFrame, coverage: Mapping[str, Any]) -> list[str]:
    """The caveats every report carries, worded for a reader who is not a statistician."""
    n_weeks = len(weekly)
    out = [
        f"Short sample: {n_weeks} weeks. Weekly correlations over so few points have wide intervals; "
        "read every relation here as a hypothesis to re-check on new data, not a finding.",
        f"Multiple testing: {len(relations)} feature/lag pairs were tested, so some look strong by chance. "
        "The q-values (Benjamini-Hochberg) account for that; only rows with a small q-value and enough weeks "
        "are marked significant.",
        "Correlation is not causation: a community feature that moves before the price may share a cause "
        "with it (news, listings, the whole market moving) rather than drive it.",
        "The Spearman p-values assume independent weeks; the block-bootstrap intervals allow for weeks that "
        "resemble their neighbours and are the better guide.",
    ]
    if coverage.get("synthetic"):
        out.insert(
            0,
            "These data are synthetic (simulated chats and prices): the numbers show how the pipeline "
            "works and say nothing about any real community or token.",
        )
    return out


def json_safe(value: Any) -> Any:
    """``value`` with NaN/inf as None, numpy and pandas scalars as Python ones, timestamps as ISO strings."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items() if not isinstance(v, pd.DataFrame)}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | int | str):
        return value
    return str(value)


def _one_scope(weekly: pd.DataFrame) -> pd.DataFrame:
    if "scope" in weekly.columns and weekly["scope"].nunique() > 1:
        weekly = weekly[weekly["scope"] == "all"]
    return weekly.sort_values("week_start") if "week_start" in weekly.columns else weekly


class _Context:
    """What both text renderings show, computed once."""

    def __init__(
        self,
        symbol: str,
        stamp: str,
        weekly: pd.DataFrame,
        top: pd.DataFrame,
        n_relations: int,
        prediction: Mapping[str, Any] | None,
        coverage: dict[str, Any],
        caveats: list[str],
        granger: pd.DataFrame | None = None,
        flagged: pd.DataFrame | None = None,
    ) -> None:
        self.granger = granger
        self.flagged = flagged
        self.symbol = symbol
        self.stamp = stamp
        self.top = top
        self.n_relations = n_relations
        self.prediction = prediction
        self.caveats = caveats
        self.coverage = {"weeks in analysis (n)": len(weekly)}
        if len(weekly) and "week_start" in weekly.columns:
            weeks = pd.to_datetime(weekly["week_start"])
            self.coverage["first week"] = weeks.min().strftime("%Y-%m-%d")
            self.coverage["last week"] = weeks.max().strftime("%Y-%m-%d")
        self.coverage.update(coverage)

    def relation_rows(self) -> tuple[list[str], list[list[str]]]:
        head = ["feature", "lag_weeks", "rho", "95% CI", "p", "q", "significant", "n"]
        rows = [
            [
                str(r.feature),
                str(int(r.lag_weeks)),
                _fmt(r.estimate),
                f"[{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]",
                _fmt(r.p_value, 4),
                _fmt(r.q_value, 4),
                "yes" if bool(r.significant) else "no",
                str(int(r.n)),
            ]
            for r in self.top.itertuples(index=False)
        ]
        return head, rows

    def granger_rows(self) -> tuple[list[str], list[list[str]]]:
        head = ["feature", "direction", "transform", "lag order (AIC)", "F", "p", "q", "significant", "n"]
        if self.granger is None:
            return head, []
        rows = [
            [
                str(r.feature),
                str(r.direction),
                str(r.transform),
                str(int(r.lag_order)),
                _fmt(r.f_stat),
                _fmt(r.p_value, 4),
                _fmt(r.q_value, 4),
                "yes" if bool(r.significant) else "no",
                str(int(r.n)),
            ]
            for r in self.granger.sort_values("p_value", na_position="last").itertuples(index=False)
        ]
        return head, rows

    def flagged_rows(self) -> tuple[list[str], list[list[str]]]:
        head = ["week", "messages", "new authors", "messages z", "new authors z", "log return", "next week"]
        if self.flagged is None:
            return head, []
        rows = [
            [
                pd.Timestamp(r.week_start).strftime("%Y-%m-%d"),
                _fmt(r.messages, 0),
                _fmt(r.new_authors, 0),
                _fmt(r.messages_z, 2),
                _fmt(r.new_authors_z, 2),
                _fmt(r.log_return),
                _fmt(r.next_log_return),
            ]
            for r in self.flagged.itertuples(index=False)
        ]
        return head, rows

    def prediction_rows(self) -> tuple[list[str], list[list[str]]]:
        head = [
            "forecast",
            "n_test",
            "OOS R² vs mean",
            "OOS R² vs zero",
            "hit rate",
            "MAE",
            "RMSE",
            "AUC",
            "hit-rate p (perm.)",
            "AUC p (perm.)",
        ]
        rows: list[list[str]] = []
        if self.prediction is None:
            return head, rows
        for name, path in _PREDICTION_ROWS:
            node: Any = self.prediction
            for key in path:
                node = node.get(key, {}) if isinstance(node, Mapping) else {}
            if not node:
                continue
            rows.append(
                [
                    name,
                    *(_fmt(node.get(c)) if c != "n_test" else str(node.get(c, "")) for c in _METRIC_COLUMNS),
                ]
            )
        return head, rows

    def prediction_note(self) -> str:
        if self.prediction is None:
            return "Too few weeks for an out-of-sample forecast; no prediction was made."
        test = self.prediction.get("test", {})
        return (
            "Each week's forecast is fitted only on earlier weeks (expanding window, ridge penalty chosen "
            "inside the training window). OOS R² vs mean = 1 − SSE(model) / SSE(historical mean); a positive "
            f"value means the model beat the mean. p = {_fmt(test.get('p_value'), 4)} "
            f"({test.get('description', 'out-of-sample test')})."
        )

    def coverage_rows(self) -> list[list[str]]:
        # a nested item (coverage.languages) shows its sentence
        return [[str(k), _plain(v.get("in_words", v) if isinstance(v, dict) else v)] for k, v in self.coverage.items()]


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "—" if not math.isfinite(number) else f"{number:.{digits}f}"


def _plain(value: Any) -> str:
    safe = json_safe(value)
    return safe if isinstance(safe, str) else json.dumps(safe)


def _html_table(head: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "<p><em>No rows.</em></p>"
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _md_table(head: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "_No rows._"

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(map(cell, head)) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    return "\n".join(lines)


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _html(ctx: _Context, figures: dict[str, bytes]) -> str:
    esc = html.escape
    rel_head, rel_rows = ctx.relation_rows()
    pred_head, pred_rows = ctx.prediction_rows()
    caveats = "".join(f"<li>{esc(c)}</li>" for c in ctx.caveats)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{esc(ctx.symbol)} community sentiment report</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{esc(ctx.symbol)}: does the community lead the price?</h1>
<p>Generated {esc(ctx.stamp)}.</p>
<h2>Data coverage</h2>
{_html_table(["item", "value"], ctx.coverage_rows())}
{_img(figures["timeline"], "Weekly close, messages and mean compound")}
<h2>Lead-lag relations</h2>
<p class="convention">{esc(LAG_CONVENTION)}.</p>
<p>Top {len(rel_rows)} of {ctx.n_relations} feature/lag pairs, ordered by q-value (Spearman rho, 95%
moving-block bootstrap interval; q: Benjamini-Hochberg within each direction family (community leads,
same week, price leads), Bonferroni across the families).</p>
{_html_table(rel_head, rel_rows)}
{_img(figures["leadlag"], "Lead-lag correlations with confidence intervals")}
<h2>Out-of-sample prediction</h2>
<p>{esc(ctx.prediction_note())}</p>
{_html_table(pred_head, pred_rows)}
{_img(figures["predictions"], "Out-of-sample predicted vs actual returns")}
<h2>Granger causality</h2>
<p>{esc(GRANGER_NOTE)}</p>
{_html_table(*ctx.granger_rows())}
<h2>Growth and engagement</h2>
{_img(figures["joins"], "Joins by method")}
{_img(figures["engagement"], "Engagement mix")}
<h2>Flagged weeks (coordinated-spike candidates)</h2>
<p>{esc(FLAG_NOTE)}</p>
{_html_table(*ctx.flagged_rows())}
{_img(figures["flagged"], "Anomaly z-scores and flagged weeks")}
<h2>Caveats</h2>
<ul>{caveats}</ul>
</body>
</html>
"""


def _markdown(ctx: _Context) -> str:
    rel_head, rel_rows = ctx.relation_rows()
    pred_head, pred_rows = ctx.prediction_rows()
    parts = [
        f"# {ctx.symbol}: does the community lead the price?",
        f"Generated {ctx.stamp}. Figures are in report.html.",
        "## Data coverage",
        _md_table(["item", "value"], ctx.coverage_rows()),
        "## Lead-lag relations",
        f"> {LAG_CONVENTION}.",
        f"Top {len(rel_rows)} of {ctx.n_relations} feature/lag pairs, ordered by q-value (Spearman rho, 95% "
        "moving-block bootstrap interval; q: Benjamini-Hochberg within each direction family (community leads, "
        "same week, price leads), Bonferroni across the families).",
        _md_table(rel_head, rel_rows),
        "## Out-of-sample prediction",
        ctx.prediction_note(),
        _md_table(pred_head, pred_rows),
        "## Granger causality",
        GRANGER_NOTE,
        _md_table(*ctx.granger_rows()),
        "## Flagged weeks (coordinated-spike candidates)",
        FLAG_NOTE,
        _md_table(*ctx.flagged_rows()),
        "## Caveats",
        "\n".join(f"- {c}" for c in ctx.caveats),
    ]
    return "\n\n".join(parts) + "\n"

"""Writes the report: a self-contained report.html, a report.md and a JSON-safe metrics.json."""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sentiment.analysis.leadlag import RELATION_COLUMNS, lag_convention
from sentiment.report.index import frequency_words
from sentiment.report.plots import (
    engagement_png,
    heatmap_png,
    joins_png,
    predictions_png,
    scatter_png,
    timeline_png,
)
from sentiment.report.verdict import (
    FEATURE_LABELS,
    NOT_TESTABLE_COLUMNS,
    Verdict,
    build_verdict,
    feature_label,
    feature_unit,
    language_coverage,
    language_name,
    level_words,
    scored_share,
    split_testable,
    target_words,
)

__all__ = ["METRICS_KEYS", "bar_unit", "standard_caveats", "write_report"]

METRICS_KEYS = (
    "symbol",
    "generated_at",
    "lag_convention",
    "coverage",
    "relations",
    "prediction",
    "caveats",
    "summary",
    "not_testable",
)
TOP_RELATIONS = 15
GRANGER_NOTE = (
    "Does a feature's past improve the forecast of the return beyond the return's own past (feature->target), "
    "and the reverse? F-test in a two-variable VAR, lag order chosen by AIC (1-4), each series differenced "
    "when an ADF test cannot call it stationary; q-values are Benjamini-Hochberg within this table (a family "
    "separate from the lead-lag one)."
)


def flag_note(unit: str = "week") -> str:
    """What a coordinated-spike flag means, at the bar size ``unit``."""
    return (
        f"{unit.capitalize()}s where both new authors and messages jumped more than 2 standard deviations above "
        f"their trailing 8 {unit}s, shown beside that {unit}'s and the next {unit}'s log return. A flag is a "
        "reason to look, not evidence of manipulation."
    )


FLAG_NOTE = flag_note()
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
:root { --price: #1f4e79; --flag: #c0392b; --muted: #666; --line: #d9d9d9; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; line-height: 1.45; max-width: 1080px;
  margin: 1.5em auto; padding: 0 1.2em; color: #1d1d1d; }
h1 { font-size: 1.6em; margin: 0.2em 0; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid var(--line); }
.meta { color: var(--muted); font-size: 0.9em; margin-top: 0; }
.answer { background: #f3f6fa; border-left: 5px solid var(--price); padding: 0.8em 1.1em; margin: 1em 0; }
.answer p { margin: 0.35em 0; } .answer .headline { font-size: 1.12em; font-weight: 600; }
.facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 0.6em; margin: 1em 0; }
.facts div { border: 1px solid var(--line); border-radius: 6px; padding: 0.45em 0.7em; }
.facts b { display: block; font-size: 1.2em; } .facts span { color: var(--muted); font-size: 0.85em; }
.table-wrap { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border-bottom: 1px solid var(--line); padding: 0.3em 0.65em; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
td.text, th.text { text-align: left; white-space: normal; }
th { background: #f4f4f4; white-space: normal; vertical-align: bottom; } tr.sig td { font-weight: 600; }
details { margin: 0.3em 0 1.2em; } summary { cursor: pointer; color: var(--price); }
figure { margin: 0.8em 0 1.6em; } figure img { max-width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 0.88em; }
.convention { background: #f7f7e8; padding: 0.5em 0.8em; border-left: 4px solid #c9c06b; }
.note { color: var(--muted); font-size: 0.92em; }
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
    min_weeks: int = 26,
    alpha: float = 0.05,
    skipped_features: list[str] | tuple[str, ...] = (),
    frequency: str | None = None,
) -> dict[str, Path]:
    """Write report.html, report.md and metrics.json into ``out_dir``; return their paths by kind.

    ``prediction`` is :func:`walk_forward`'s result (None when there was too little data); its predictions
    frame feeds the plot, never the JSON. ``granger`` (sentiment.analysis.granger) and ``flagged`` (weeks with
    a coordinated-spike flag) extend metrics.json under "granger" and "flagged_weeks".
    The standard caveats (sample length, multiple testing, causation,
    and synthetic data when ``coverage["synthetic"]`` is true) are added to ``caveats``.
    The verdict (:func:`sentiment.report.verdict.build_verdict`) opens the report and is metrics.json's
    "summary"; relations with fewer than ``min_weeks`` paired weeks and ``skipped_features`` (no data) are
    listed under "not_testable" and shown as such, never as results. ``frequency`` (e.g. "1w", "1d") is shown
    in the header; metrics.json gets it from the caller that owns the key.

    A daily run (``frequency`` "1d") passes its table with a ``day`` column and relations with ``lag_days``:
    every label then speaks of days, and metrics.json's relations, not_testable and flagged rows keep the
    names ``lag_days`` and ``day``. (The layout below works on week_start / lag_weeks internally.)
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = (generated_at or pd.Timestamp.now(tz="UTC")).tz_convert("UTC").isoformat()
    frequency = frequency or coverage.get("frequency")
    unit = bar_unit(frequency)
    internal = {"day": "week_start", "lag_days": "lag_weeks"}
    weekly = _one_scope(weekly.rename(columns=internal))
    relations = relations.rename(columns=internal)
    if flagged is not None:
        flagged = flagged.rename(columns=internal)
    if prediction is not None and isinstance(prediction.get("predictions"), pd.DataFrame):
        prediction = {**prediction, "predictions": prediction["predictions"].rename(columns=internal)}
    extra = [c for c in relations.columns if c not in RELATION_COLUMNS]
    relations = relations.reindex(columns=[*RELATION_COLUMNS, *extra])
    ranked = relations.sort_values(["q_value", "p_value"], na_position="last", kind="mergesort")
    all_caveats = list(dict.fromkeys([*caveats, *standard_caveats(weekly, relations, coverage, unit)]))
    pred_metrics = None if prediction is None else {k: v for k, v in prediction.items() if k != "predictions"}
    predictions = None if prediction is None else prediction.get("predictions")
    target = coverage.get("relations_target")
    n_weeks = _weeks_with_return(weekly, target)
    verdict = build_verdict(
        relations,
        pred_metrics,
        n_weeks=n_weeks,
        min_weeks=min_weeks,
        alpha=alpha,
        target=target,
        skipped_features=skipped_features,
        coverage=coverage,
        granger=granger,
        unit=unit,
    )
    testable, not_testable = split_testable(ranked, min_n=min_weeks, skipped_features=skipped_features, unit=unit)
    public = {v: k for k, v in internal.items()} if unit == "day" else {}

    metrics = {
        "symbol": symbol,
        "generated_at": stamp,
        "lag_convention": lag_convention("1d" if unit == "day" else "1w"),
        "coverage": dict(coverage),
        "relations": ranked.rename(columns=public).to_dict(orient="records"),
        "prediction": pred_metrics,
        "caveats": all_caveats,
        "summary": verdict.text,
        "not_testable": not_testable.rename(columns=public).to_dict(orient="records"),
    }
    if granger is not None:
        metrics["granger"] = granger.to_dict(orient="records")
    if flagged is not None:
        metrics["flagged_weeks"] = flagged.rename(columns=public).to_dict(orient="records")
    paths = {
        "html": out_dir / "report.html",
        "md": out_dir / "report.md",
        "metrics": out_dir / "metrics.json",
    }
    paths["metrics"].write_text(json.dumps(json_safe(metrics), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    context = _Context(
        symbol,
        stamp,
        weekly,
        testable,
        len(relations),
        pred_metrics,
        dict(coverage),
        all_caveats,
        granger,
        flagged,
        verdict=verdict,
        not_testable=not_testable,
        min_weeks=min_weeks,
        frequency=frequency,
    )
    figures = _figures(context, weekly, relations, predictions, symbol, min_weeks)
    paths["html"].write_text(_html(context, figures), encoding="utf-8")
    paths["md"].write_text(_markdown(context), encoding="utf-8")
    return paths


def bar_unit(frequency: Any) -> str:
    """The bar a report counts in words: "day" for a daily run ("1d"), else "week"."""
    return "day" if frequency == "1d" else "week"


def _weeks_with_return(weekly: pd.DataFrame, target: Any) -> int:
    column = target if isinstance(target, str) and target in weekly.columns else "log_return"
    if column not in weekly.columns:
        return len(weekly)
    return int(pd.to_numeric(weekly[column], errors="coerce").notna().sum())


@dataclass(frozen=True)
class _Figure:
    png: bytes
    alt: str
    caption: str


def _figures(
    ctx: _Context,
    weekly: pd.DataFrame,
    relations: pd.DataFrame,
    predictions: pd.DataFrame | None,
    symbol: str,
    min_weeks: int,
) -> dict[str, _Figure]:
    """Every figure with a text alternative written from the same numbers it draws."""
    target = str(ctx.coverage.get("relations_target") or "log_return")
    unit = ctx.unit
    n_sig = int(relations["significant"].fillna(False).astype(bool).sum()) if not relations.empty else 0
    figures = {
        "heatmap": _Figure(
            heatmap_png(relations, min_n=min_weeks, labels=FEATURE_LABELS, unit=unit),
            f"Heatmap of Spearman rho for {relations['feature'].nunique() if not relations.empty else 0} features "
            f"by lag; {n_sig} significant cells are starred and outlined{_cells(ctx.top, unit)}; cells with fewer than "
            f"{min_weeks} paired {unit}s are hatched and marked n/a.",
            "Blue: the feature and the later return move in opposite directions; red: in the same direction. "
            "Columns right of the black line are the community leading the price.",
        ),
        "timeline": _Figure(
            timeline_png(weekly, symbol, unit=unit),
            _timeline_alt(weekly, symbol, unit),
            f"Three panels share one {unit} axis. "
            + (
                f"Red bands mark coordinated-spike {unit}s (see Flagged {unit}s)."
                if ctx.flagged is not None and not ctx.flagged.empty
                else f"No {unit} was flagged as a coordinated spike."
            ),
        ),
        "predictions": _Figure(
            predictions_png(predictions, unit=unit),
            f"Line chart of out-of-sample forecasts of next {unit}'s log return against the actual return and the "
            "historical-mean baseline. " + ctx.prediction_note(),
            f"Each forecast uses only the {unit}s before it.",
        ),
        "joins": _Figure(
            joins_png(weekly, unit=unit),
            f"Stacked area chart of joins per {unit} by method (invite, link, QR code, self). "
            + _totals(weekly, "joins"),
            "",
        ),
        "engagement": _Figure(
            engagement_png(weekly, unit=unit),
            f"Stacked area chart of posts per {unit} by engagement class (interactive, content sharing, passive). "
            + _totals(weekly, "interactive_posts", "content_posts", "passive_posts"),
            "Interactive: questions and polls; content sharing: links, media, forwards; passive: everything else.",
        ),
    }
    if predictions is None or predictions.empty:
        del figures["predictions"]  # the text says no forecast was made; an empty chart adds nothing
    if ctx.top.empty:
        del figures["heatmap"]  # every cell would read "n/a": the Not testable section says why instead
    top = ctx.verdict.strongest if ctx.verdict is not None else None
    if top is not None and top.get("feature") in weekly.columns and target in weekly.columns:
        feature, lag = str(top["feature"]), int(top["lag_weeks"])
        figures["scatter"] = _Figure(
            scatter_png(
                weekly,
                feature,
                lag,
                target,
                title=f"Strongest lead: {FEATURE_LABELS.get(feature, feature)} in {unit} t vs return in {unit} "
                f"t{lag:+d} (n = {top.get('n')})",
                xlabel=f"{feature_unit(feature)}, {unit} t",
                ylabel=f"{target}, {unit} t{lag:+d}\n(log return)",
                unit=unit,
            ),
            f"Scatter plot of {feature} in {unit} t against {target} in {unit} t{lag:+d}, one dot per {unit}, with a "
            f"least-squares line; Spearman rho {_fmt(top.get('estimate'), 2)}, n = {top.get('n')}.",
            "The strongest lead relation. The line guides the eye; the test itself is Spearman's rank correlation.",
        )
    return figures


def _cells(testable: pd.DataFrame, unit: str = "week") -> str:
    """ ": mean mood at lag 0 (+0.62), ..." for the significant cells, so the alt text carries the finding."""
    if testable.empty:
        return ""
    sig = testable[testable["significant"].astype(bool)].head(6)
    cells = [
        f"{feature_label(str(r.feature), unit).split(' (')[0]} at lag {_lag(int(r.lag_weeks))} ({r.estimate:+.2f})"
        for r in sig.itertuples(index=False)
    ]
    return ": " + ", ".join(cells) if cells else ""


def _lag(k: int) -> str:
    return f"{k:+d}" if k else "0"


def _timeline_alt(weekly: pd.DataFrame, symbol: str, unit: str = "week") -> str:
    parts = [f"Three aligned panels by {unit} for {symbol}: close price, messages per {unit} and mean mood."]
    if "close" in weekly.columns and len(weekly):
        close = pd.to_numeric(weekly["close"], errors="coerce").dropna()
        if len(close):
            parts.append(
                f"Close runs from {close.iloc[0]:.4g} to {close.iloc[-1]:.4g} (low {close.min():.4g}, "
                f"high {close.max():.4g})."
            )
    if "messages" in weekly.columns and len(weekly):
        msgs = pd.to_numeric(weekly["messages"], errors="coerce")
        parts.append(f"Messages per {unit} range {msgs.min():.0f} to {msgs.max():.0f}.")
    if "spike_flag" in weekly.columns:
        n = int(weekly["spike_flag"].astype("boolean").fillna(False).astype(bool).sum())
        parts.append(f"{n} flagged {unit}{'s' if n != 1 else ''} shaded red.")
    return " ".join(parts)


def _totals(weekly: pd.DataFrame, *columns: str) -> str:
    present = [c for c in columns if c in weekly.columns]
    if not present or weekly.empty:
        return "No data."
    sums = ", ".join(f"{c.replace('_', ' ')} {pd.to_numeric(weekly[c], errors='coerce').sum():,.0f}" for c in present)
    return f"Totals over the period: {sums}."


def standard_caveats(
    weekly: pd.DataFrame, relations: pd.DataFrame, coverage: Mapping[str, Any], unit: str = "week"
) -> list[str]:
    """The caveats every report carries, worded for a reader who is not a statistician (bars: ``unit``)."""
    n_weeks = len(weekly)
    per = "Weekly" if unit == "week" else "Daily"
    out = [
        f"Short sample: {n_weeks} {unit}s. {per} correlations over so few points have wide intervals; "
        "read every relation here as a hypothesis to re-check on new data, not a finding.",
        f"Multiple testing: {len(relations)} feature/lag pairs were tested, so some look strong by chance. "
        f"The q-values (Benjamini-Hochberg) account for that; only rows with a small q-value and enough {unit}s "
        "are marked significant.",
        "Correlation is not causation: a community feature that moves before the price may share a cause "
        "with it (news, listings, the whole market moving) rather than drive it.",
        "One rule flags and bounds every relation: the p-value, the q-value, the flag and the interval come from "
        "the same serial-correlation-robust (Newey-West) t statistic, and the interval is widened for the number "
        "of tests (its level is in ci_level), so a flagged relation's interval excludes 0 and an unflagged "
        "one's includes it. The community-leads family is the primary question; same-{unit} and price-leads "
        "rows are exploratory.",
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
        *,
        verdict: Verdict | None = None,
        not_testable: pd.DataFrame | None = None,
        min_weeks: int = 26,
        frequency: Any = None,
    ) -> None:
        self.frequency = frequency
        self.unit = bar_unit(frequency)
        self.convention = lag_convention("1d" if self.unit == "day" else "1w")
        self.granger = granger
        self.flagged = flagged
        self.symbol = symbol
        self.stamp = stamp
        self.top = top  # the testable relations, ranked by q
        self.n_relations = n_relations
        self.prediction = prediction
        self.caveats = caveats
        self.verdict = verdict
        self.not_testable = not_testable if not_testable is not None else pd.DataFrame(columns=NOT_TESTABLE_COLUMNS)
        self.min_weeks = min_weeks
        self.coverage = dict(coverage)
        self.n_weeks = len(weekly)
        self.first = self.last = None
        if len(weekly) and "week_start" in weekly.columns:
            weeks = pd.to_datetime(weekly["week_start"])
            self.first = weeks.min().strftime("%Y-%m-%d")
            self.last = weeks.max().strftime("%Y-%m-%d")

    # ---- coverage, once ----------------------------------------------------------------------------------
    def coverage_words(self) -> str:
        """One paragraph saying what the report rests on."""
        cov = self.coverage
        missing = cov.get("missing_weeks")
        n_missing = len(missing) if isinstance(missing, list) else 0
        unit = self.unit
        parts = [f"{self.n_weeks} {unit}s ({self.first or '?'} to {self.last or '?'})"]
        if cov.get("chats") is not None:
            parts.append(f"from {_count(cov.get('chats'))} chat{'s' if cov.get('chats') != 1 else ''}")
        if cov.get("messages") is not None:
            parts.append(f"with {_count(cov.get('messages'))} messages")
        text = " ".join(parts) + "."
        text += f" {n_missing} {unit}{'s' if n_missing != 1 else ''} missing inside the range" + (
            f" ({', '.join(map(str, missing[:6]))}{', …' if n_missing > 6 else ''})." if n_missing else "."
        )
        share = scored_share(cov)
        if share is not None:
            text += f" Mood is measured on {share:.0%} of messages"
            langs = language_coverage(cov)
            if langs:
                text += (
                    " ("
                    + ", ".join(
                        f"{language_name(r['language'])}: {_count(r['messages'])} messages"
                        + (f", {r['share']:.0%} scored" if r["share"] is not None else "")
                        for r in langs[:4]
                    )
                    + ")"
                )
            text += "."
        else:
            text += " How much of the chat was scored for mood is not recorded in this lake."
        if cov.get("relations_target"):
            text += f" Relations are tested against {target_words(str(cov['relations_target']))}."
        if cov.get("synthetic"):
            text += " The data are synthetic."
        return text

    def fact_cards(self) -> list[tuple[str, str]]:
        cov = self.coverage
        cards = [(f"{self.n_weeks}", f"{self.unit}s analysed")]
        if cov.get("messages") is not None:
            cards.append((_count(cov["messages"]), "messages"))
        if cov.get("chats") is not None:
            cards.append((_count(cov["chats"]), "chats"))
        share = scored_share(cov)
        if share is not None:
            cards.append((f"{share:.0%}", "messages scored for mood"))
        lead_tested = int((self.top["lag_weeks"] > 0).sum()) if not self.top.empty else 0
        cards.append((f"{lead_tested}", "lead tests (feature, lag)"))
        leaders = len(self.verdict.leaders) if self.verdict is not None else 0
        cards.append((f"{leaders}", "features that lead"))
        return cards

    def coverage_rows(self) -> list[list[str]]:
        cov = self.coverage
        missing = cov.get("missing_weeks")
        rows = [
            ["period", f"{self.first or '—'} to {self.last or '—'}"],
            [f"{self.unit}s analysed (n)", str(self.n_weeks)],
            [f"{self.unit}s missing inside the period", str(len(missing)) if isinstance(missing, list) else "—"],
        ]
        for key, label in (("chats", "chats"), ("messages", "messages (posts and media)"), ("records", "records")):
            if cov.get(key) is not None:
                rows.append([label, _count(cov[key])])
        if cov.get("scored_messages") is not None:
            rows.append(["messages scored for mood", _count(cov["scored_messages"])])
        if cov.get("relations_target"):
            rows.append(["relations tested against", str(cov["relations_target"])])
        rows.append(["data", "synthetic" if cov.get("synthetic") else "real"])
        shown = {
            "weeks",
            "first_week",
            "last_week",
            "missing_weeks",
            "chats",
            "messages",
            "records",
            "synthetic",
            "relations_target",
            "in_words",
            "scored_messages",
            "scored_share",
            "languages",
            "per_chat",
        }
        # Keys other steps add (e.g. table versions) are listed once, by their own name.
        rows += [[str(k).replace("_", " "), _plain(v)] for k, v in cov.items() if k not in shown]
        return rows

    def language_rows(self) -> tuple[list[str], list[list[str]]]:
        head = ["language", "messages", "scored for mood", "scored share"]
        rows = [
            [
                r["language"],
                _count(r["messages"]),
                _count(r["scored"]) if r["scored"] is not None else "—",
                f"{r['share']:.0%}" if r["share"] is not None else "—",
            ]
            for r in language_coverage(self.coverage)
        ]
        for row in rows:
            row[0] = language_name(row[0])
        return head, rows

    def language_words(self) -> str:
        """The scoring step's own sentence about language coverage, when it wrote one."""
        languages = self.coverage.get("languages")
        words = languages.get("in_words") if isinstance(languages, Mapping) else None
        return words if isinstance(words, str) else ""

    def chat_rows(self) -> tuple[list[str], list[list[str]]]:
        head = ["chat", "messages", "scored for mood", "scored share", "first message", "last message"]
        chats = self.coverage.get("per_chat")
        if not isinstance(chats, list):
            return head, []
        rows = []
        for c in chats:
            if not isinstance(c, Mapping):
                continue
            messages, scored = c.get("messages"), c.get("scored")
            share = f"{scored / messages:.0%}" if isinstance(scored, int) and messages else "—"
            rows.append(
                [
                    str(c.get("chat", "?")),
                    _count(messages),
                    _count(scored),
                    share,
                    str(c.get("first", "—")),
                    str(c.get("last", "—")),
                ]
            )
        return head, rows

    # ---- results -----------------------------------------------------------------------------------------
    def relation_rows(self) -> tuple[list[str], list[list[str]], list[bool]]:
        # An analysis that widens intervals for the number of tests says each row's level (ci_level).
        levels = "ci_level" in self.top.columns
        head = [
            "feature",
            f"lag ({self.unit}s)",
            "rho",
            "interval (level)" if levels else "95% CI",
            "p",
            "q",
            "significant",
            "n",
        ]
        rows, sig = [], []
        for r in self.top.itertuples(index=False):
            level = f" ({_level(getattr(r, 'ci_level', None))})" if levels else ""
            rows.append(
                [
                    feature_label(str(r.feature), self.unit),
                    _lag(int(r.lag_weeks)),
                    _fmt(r.estimate),
                    f"[{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]{level}",
                    _pq(r.p_value),
                    _pq(r.q_value),
                    "yes" if bool(r.significant) else "no",
                    str(int(r.n)),
                ]
            )
            sig.append(bool(r.significant))
        return head, rows, sig

    def not_testable_rows(self) -> tuple[list[str], list[list[str]]]:
        head = ["feature", f"lag ({self.unit}s)", f"paired {self.unit}s", "reason"]
        rows = []
        frame = self.not_testable
        # One row per feature when every lag of it is untestable for the same reason: fewer, clearer rows.
        for feature, group in frame.groupby("feature", sort=False):
            reasons = group["reason"].str.replace(r"only \d+ paired", "too few paired", regex=True).unique()
            if len(group) > 1 and len(reasons) == 1:
                lags = [int(v) for v in group["lag_weeks"].dropna()]
                span = f"{min(lags):+d} to {max(lags):+d}" if lags else "all"
                ns = [int(v) for v in group["n"]]
                n_text = f"{min(ns)}–{max(ns)}" if min(ns) != max(ns) else str(ns[0])
                rows.append([feature_label(str(feature), self.unit), span, n_text, str(reasons[0])])
                continue
            for r in group.itertuples(index=False):
                lag = "all" if pd.isna(r.lag_weeks) else f"{int(r.lag_weeks):+d}"
                rows.append([feature_label(str(feature), self.unit), lag, str(int(r.n)), str(r.reason)])
        return head, rows

    def granger_split(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        if self.granger is None or self.granger.empty:
            return pd.DataFrame(), pd.DataFrame()
        n = pd.to_numeric(self.granger["n"], errors="coerce").fillna(0)
        ok = n >= self.min_weeks
        return self.granger[ok], self.granger[~ok]

    def granger_rows(self) -> tuple[list[str], list[list[str]]]:
        head = ["feature", "direction", "feature series", "lag order (AIC)", "F", "p", "q", "significant", "n"]
        testable, _ = self.granger_split()
        if testable.empty:
            return head, []
        rows = [
            [
                feature_label(str(r.feature), self.unit),
                "feature → return" if str(r.direction) == "feature->target" else "return → feature",
                _transform_of(str(r.transform), str(r.feature)),
                str(int(r.lag_order)) if pd.notna(r.lag_order) else "—",
                _fmt(r.f_stat),
                _pq(r.p_value),
                _pq(r.q_value),
                "yes" if bool(r.significant) else "no",
                str(int(r.n)),
            ]
            for r in testable.sort_values("p_value", na_position="last").itertuples(index=False)
        ]
        return head, rows

    def granger_note(self) -> str:
        testable, untestable = self.granger_split()
        note = GRANGER_NOTE
        target = str(self.coverage.get("relations_target") or "log_return")
        if not testable.empty:
            forms = {_transform_of(str(t), target) for t in testable["transform"]}
            if len(forms) == 1:
                note += f" The return ({target}) enters as {forms.pop()} in every test."
        if not untestable.empty:
            note += (
                f" {len(untestable)} tests had fewer than {self.min_weeks} usable {self.unit}s and are not testable "
                "(not shown)."
            )
        return note

    def flagged_rows(self) -> tuple[list[str], list[list[str]]]:
        unit = self.unit
        head = [unit, "messages", "new authors", "messages z", "new authors z", "log return", f"next {unit}"]
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
                    name.replace("last week", f"last {self.unit}"),
                    *(_fmt(node.get(c)) if c != "n_test" else str(node.get(c, "")) for c in _METRIC_COLUMNS),
                ]
            )
        return head, rows

    def prediction_note(self) -> str:
        if self.prediction is None:
            return f"Too few {self.unit}s for an out-of-sample forecast; no prediction was made."
        test = self.prediction.get("test", {})
        return (
            f"Each {self.unit}'s forecast is fitted only on earlier {self.unit}s (expanding window, ridge penalty "
            "chosen inside the training window). OOS R² vs mean = 1 − SSE(model) / SSE(historical mean); a positive "
            f"value means the model beat the mean. p = {_fmt(test.get('p_value'), 4)} "
            f"({test.get('description', 'out-of-sample test')})."
        )


def _level(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "—"
    return level_words(number) if math.isfinite(number) else "—"


def _stamp_words(stamp: str) -> str:
    try:
        return pd.Timestamp(stamp).tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")
    except (ValueError, TypeError):
        return stamp


def _transform_of(transform: str, name: str) -> str:
    """``"log_messages:level, excess_log_return:diff"`` -> the named series' part, in words."""
    for part in transform.split(","):
        key, _, form = part.strip().rpartition(":")
        if key == name:
            return {"diff": "first difference", "level": "level"}.get(form, form)
    return transform


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "—" if not math.isfinite(number) else f"{number:.{digits}f}"


def _pq(value: Any) -> str:
    """A p or q value: 4 decimals, and "< 0.0001" rather than a misleading 0.0000."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(number):
        return "—"
    return "< 0.0001" if number < 0.0001 else f"{number:.4f}"


def _count(value: Any) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return "—"


def _plain(value: Any) -> str:
    safe = json_safe(value)
    return safe if isinstance(safe, str) else json.dumps(safe)


def _html_table(
    head: list[str],
    rows: list[list[str]],
    *,
    show: int = 0,
    what: str = "rows",
    strong: list[bool] | None = None,
    text_cols: tuple[int, ...] = (),
) -> str:
    """A table; with ``show`` > 0 only its first ``show`` rows are open and the rest sit in a <details>."""
    if not rows:
        return "<p><em>No rows.</em></p>"
    strong = strong or [False] * len(rows)

    def body(part: list[list[str]], flags: list[bool]) -> str:
        return "".join(
            ('<tr class="sig">' if flag else "<tr>")
            + "".join(
                f'<td class="text">{html.escape(c)}</td>' if i in text_cols else f"<td>{html.escape(c)}</td>"
                for i, c in enumerate(row)
            )
            + "</tr>"
            for row, flag in zip(part, flags, strict=True)
        )

    th = "".join(
        f'<th class="text">{html.escape(h)}</th>' if i in text_cols else f"<th>{html.escape(h)}</th>"
        for i, h in enumerate(head)
    )

    def table(part: list[list[str]], flags: list[bool]) -> str:
        rows_html = body(part, flags)
        return f'<div class="table-wrap"><table><thead><tr>{th}</tr></thead><tbody>{rows_html}</tbody></table></div>'

    if show <= 0 or len(rows) <= show + 2:
        return table(rows, strong)
    rest = len(rows) - show
    return (
        table(rows[:show], strong[:show])
        + f"<details><summary>Show the other {rest} {what}</summary>{table(rows[show:], strong[show:])}</details>"
    )


def _md_table(head: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "_No rows._"

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(map(cell, head)) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    return "\n".join(lines)


def _img(fig: _Figure | None) -> str:
    if fig is None:
        return ""
    data = base64.b64encode(fig.png).decode("ascii")
    caption = f"<figcaption>{html.escape(fig.caption)}</figcaption>" if fig.caption else ""
    return f'<figure><img alt="{html.escape(fig.alt)}" src="data:image/png;base64,{data}">{caption}</figure>'


def _relations_intro(ctx: _Context, shown: int) -> str:
    # Rows that carry their interval's level come from an analysis that widens intervals for the number of
    # tests (the level matching the flag); rows without one carry the 95% block-bootstrap interval.
    interval = (
        "interval at the level given in brackets, which matches the significance flag"
        if "ci_level" in ctx.top.columns
        else "95% moving-block bootstrap interval"
    )
    return (
        f"{len(ctx.top)} of {ctx.n_relations} feature/lag pairs had at least {ctx.min_weeks} paired {ctx.unit}s and "
        f"were tested; ordered by q-value, the top {shown} are open below (Spearman rho, {interval}; q: "
        f"Benjamini-Hochberg within each direction family (community leads, same {ctx.unit}, price leads), "
        "Bonferroni across the families). Bold rows are significant."
    )


def _html(ctx: _Context, figures: dict[str, _Figure]) -> str:
    esc = html.escape
    verdict = ctx.verdict or Verdict(["No verdict."])
    rel_head, rel_rows, rel_sig = ctx.relation_rows()
    pred_head, pred_rows = ctx.prediction_rows()
    nt_head, nt_rows = ctx.not_testable_rows()
    lang_head, lang_rows = ctx.language_rows()
    chat_head, chat_rows = ctx.chat_rows()
    caveats = "".join(f"<li>{esc(c)}</li>" for c in ctx.caveats)
    answer = f'<p class="headline">{esc(verdict.headline)}</p>' + "".join(
        f"<p>{esc(s)}</p>" for s in verdict.sentences[1:]
    )
    cards = "".join(f"<div><b>{esc(v)}</b><span>{esc(k)}</span></div>" for v, k in ctx.fact_cards())
    lang_words = f"<p>{esc(ctx.language_words())}</p>" if ctx.language_words() else ""
    languages = lang_words + (
        _html_table(lang_head, lang_rows)
        if lang_rows
        else '<p class="note">The lake records no language per message, so the split by language is unavailable.</p>'
    )
    not_testable = (
        "<p>These are not results: no estimate, p or q is given for them.</p>"
        + _html_table(nt_head, nt_rows, show=8, what="not-testable rows", text_cols=(3,))
        if nt_rows
        else "<p>Every feature and lag had enough data to test.</p>"
    )
    relations = (
        f"<p>{esc(_relations_intro(ctx, min(TOP_RELATIONS, len(rel_rows))))}</p>"
        + _html_table(rel_head, rel_rows, show=TOP_RELATIONS, what="relations", strong=rel_sig)
        if rel_rows
        else f"<p>No relation had enough paired {ctx.unit}s to be tested (see Not testable).</p>"
    )
    granger_head, granger_rows = ctx.granger_rows()
    granger_table = (
        _html_table(granger_head, granger_rows, show=10, what="Granger tests")
        if granger_rows
        else f"<p>No Granger test had enough {ctx.unit}s to run.</p>"
    )
    flag_head, flag_rows = ctx.flagged_rows()
    chats = (
        _html_table(chat_head, chat_rows, show=8, what="chats")
        if chat_rows
        else "<p class='note'>No per-chat counts recorded.</p>"
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(ctx.symbol)} community sentiment report</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{esc(ctx.symbol)}: does the community lead the price?</h1>
<p class="meta">Generated {esc(_stamp_words(ctx.stamp))} · data {esc(ctx.first or "?")} to {esc(ctx.last or "?")} ·
{esc(frequency_words(ctx.frequency))} · {esc(target_words(ctx.coverage.get("relations_target")))}</p>
<section class="answer" aria-label="Verdict">{answer}</section>
<div class="facts">{cards}</div>
{_img(figures.get("heatmap"))}
{_img(figures.get("scatter"))}
<h2>Data coverage</h2>
<p>{esc(ctx.coverage_words())}</p>
{_html_table(["item", "value"], ctx.coverage_rows())}
<h3>Sentiment coverage by language</h3>
{languages}
<h3>Sentiment coverage by chat</h3>
{chats}
{_img(figures.get("timeline"))}
<h2>Lead-lag relations</h2>
<p class="convention">{esc(ctx.convention)}.</p>
{relations}
<h2>Not testable</h2>
{not_testable}
<h2>Out-of-sample prediction</h2>
<p>{esc(ctx.prediction_note())}</p>
{_html_table(pred_head, pred_rows) if pred_rows else ""}
{_img(figures.get("predictions"))}
<h2>Granger causality</h2>
<p>{esc(ctx.granger_note())}</p>
{granger_table}
<h2>Growth and engagement</h2>
{_img(figures.get("joins"))}
{_img(figures.get("engagement"))}
<h2>Flagged {ctx.unit}s (coordinated-spike candidates)</h2>
<p>{esc(flag_note(ctx.unit))} They are shaded red on the price chart above.</p>
{_html_table(flag_head, flag_rows) if flag_rows else f"<p>No {ctx.unit} was flagged.</p>"}
<h2>Caveats</h2>
<ul>{caveats}</ul>
</body>
</html>
"""


def _markdown(ctx: _Context) -> str:
    verdict = ctx.verdict or Verdict(["No verdict."])
    rel_head, rel_rows, _ = ctx.relation_rows()
    pred_head, pred_rows = ctx.prediction_rows()
    nt_head, nt_rows = ctx.not_testable_rows()
    lang_head, lang_rows = ctx.language_rows()
    chat_head, chat_rows = ctx.chat_rows()
    parts = [
        f"# {ctx.symbol}: does the community lead the price?",
        f"Generated {_stamp_words(ctx.stamp)}. Figures are in report.html.",
        "\n".join(f"> {s}" + ("  " if i < len(verdict.sentences) - 1 else "") for i, s in enumerate(verdict.sentences)),
        "## Data coverage",
        ctx.coverage_words(),
        _md_table(["item", "value"], ctx.coverage_rows()),
        "### Sentiment coverage by language",
        _md_table(lang_head, lang_rows) if lang_rows else "_No language recorded per message._",
        "### Sentiment coverage by chat",
        _md_table(chat_head, chat_rows),
        "## Lead-lag relations",
        f"> {ctx.convention}.",
        _relations_intro(ctx, min(TOP_RELATIONS, len(rel_rows))) if rel_rows else "No relation could be tested.",
        _md_table(rel_head, rel_rows[:TOP_RELATIONS]),
        "## Not testable",
        "These are not results: no estimate, p or q is given for them." if nt_rows else "Nothing.",
        _md_table(nt_head, nt_rows),
        "## Out-of-sample prediction",
        ctx.prediction_note(),
        _md_table(pred_head, pred_rows),
        "## Granger causality",
        ctx.granger_note(),
        _md_table(*ctx.granger_rows()),
        f"## Flagged {ctx.unit}s (coordinated-spike candidates)",
        flag_note(ctx.unit),
        _md_table(*ctx.flagged_rows()),
        "## Caveats",
        "\n".join(f"- {c}" for c in ctx.caveats),
    ]
    return "\n\n".join(parts) + "\n"

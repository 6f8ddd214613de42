"""What a report run shows in Prefect's UI (pure): a Markdown verdict, a relations table and a link, per symbol."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentiment.report.verdict import feature_label

__all__ = ["ReportArtifacts", "artifact_key", "report_artifacts", "report_artifacts_of"]

TOP_IN_MARKDOWN = 10
_TABLE_COLUMNS = ("feature", "lag_weeks", "estimate", "ci_low", "ci_high", "p_value", "q_value", "significant", "n")
# A daily report's rows name their lag lag_days (metrics.json "frequency" "1d"); the table keeps that name.
_UNITS = {"1d": ("lag_days", "day")}


@dataclass(frozen=True)
class ReportArtifacts:
    """Contents of the three artifacts and their keys (stable per symbol, so the UI keeps their history)."""

    keys: dict[str, str]  # "summary", "relations", "link" -> artifact key
    markdown: str
    table: list[dict[str, Any]]
    link: str
    link_text: str
    descriptions: dict[str, str] = field(default_factory=dict)


def artifact_key(subject: str, kind: str) -> str:
    """``report-virtual-usdt-summary``: Prefect keys allow only lowercase letters, digits and dashes."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"report-{subject}-{kind}".lower()).strip("-")
    return re.sub(r"-{2,}", "-", slug)


def report_artifacts_of(folder: Path) -> ReportArtifacts:
    """The Prefect artifacts' contents for the report in ``folder`` (read from its metrics.json)."""
    metrics = json.loads((Path(folder) / "metrics.json").read_text(encoding="utf-8"))
    return report_artifacts(metrics, Path(folder) / "report.html")


def report_artifacts(metrics: Mapping[str, Any], html_path: Path) -> ReportArtifacts:
    """The artifacts of one report from its metrics.json content and the path of its report.html."""
    subject = str(metrics.get("symbol") or metrics.get("panel") or html_path.parent.name)
    lag, unit = _UNITS.get(str(metrics.get("frequency")), ("lag_weeks", "week"))
    columns = tuple(lag if c == "lag_weeks" else c for c in _TABLE_COLUMNS)
    untestable = {
        (r.get("feature"), r.get(lag))
        for r in metrics.get("not_testable") or []
        if isinstance(r, Mapping) and r.get(lag) is not None
    }
    empty = {
        r.get("feature") for r in metrics.get("not_testable") or [] if isinstance(r, Mapping) and r.get(lag) is None
    }
    testable = [
        r
        for r in metrics.get("relations") or []
        if isinstance(r, Mapping) and (r.get("feature"), r.get(lag)) not in untestable and r.get("feature") not in empty
    ]
    table = [{c: _round(r.get(c)) for c in columns} for r in testable]
    n_untestable = len(metrics.get("not_testable") or [])
    summary = str(metrics.get("summary") or "No summary was written for this report.")
    date = str(metrics.get("generated_at") or "")[:10]
    lines = [f"# {subject}: does the community lead the price? ({date})", "", summary, ""]
    if table:
        lines += [
            f"## Top {min(TOP_IN_MARKDOWN, len(table))} relations by q-value",
            "",
            f"| feature | lag ({unit}s) | rho | 95% CI | q | n | significant |",
            "|---|---:|---:|---|---:|---:|---|",
        ]
        for r in table[:TOP_IN_MARKDOWN]:
            lines.append(
                f"| {feature_label(str(r['feature']), unit)} | {r[lag]} | {_txt(r['estimate'], 2)} | "
                f"[{_txt(r['ci_low'], 2)}, {_txt(r['ci_high'], 2)}] | {_txt(r['q_value'], 4)} | {r['n']} | "
                f"{'yes' if r['significant'] else 'no'} |"
            )
    else:
        lines.append(f"No relation had enough paired {unit}s to be tested.")
    if n_untestable:
        lines += ["", f"{n_untestable} feature/lag rows were not testable (see the report)."]
    lines += ["", f"Full report: `{html_path}`"]
    return ReportArtifacts(
        keys={kind: artifact_key(subject, kind) for kind in ("summary", "relations", "link")},
        markdown="\n".join(lines) + "\n",
        table=table,
        link=html_path.resolve().as_uri(),
        link_text=f"{subject} report ({date})",
        descriptions={
            "summary": f"Verdict and top relations for {subject}",
            "relations": f"Testable lead-lag relations for {subject}, ranked by q-value ({n_untestable} not testable)",
            "link": f"The self-contained HTML report for {subject}",
        },
    )


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    return value


def _txt(value: Any, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"

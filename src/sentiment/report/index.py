"""reports/index.html: every report folder (symbol or panel) with its date, frequency and headline, newest first."""

from __future__ import annotations

import html
import json
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["IndexEntry", "frequency_words", "headline", "index_entries", "render_index", "write_index"]

# Pandas-style frequency codes a report may record, in words; a report without one is weekly (the default).
_FREQUENCIES = {
    "1w": "weekly",
    "W": "weekly",
    "7d": "weekly",
    "weekly": "weekly",
    "1d": "daily",
    "D": "daily",
    "daily": "daily",
}
_DATED = re.compile(r"^(\d{4}-\d{2}-\d{2})_(.+)$")
# A sentence ends at . ! or ? followed by a space and a capital letter or digit (so "0.05" never splits).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


@dataclass(frozen=True)
class IndexEntry:
    folder: str  # the report folder's name, relative to the reports folder
    page: str  # the report's HTML page, relative to the reports folder
    date: str
    kind: str  # "symbol" or "panel"
    subject: str  # the symbol, or the panel's name
    frequency: str
    headline: str
    generated_at: str


def frequency_words(code: Any) -> str:
    """``"1d"`` -> ``"daily"``; None (a report written before frequencies existed) -> ``"weekly"``."""
    return _FREQUENCIES.get(str(code or "1w"), str(code))


def headline(summary: Any) -> str:
    """The first sentence of a report's summary ("" when there is none)."""
    if not isinstance(summary, str) or not summary.strip():
        return ""
    return _SENTENCE_END.split(summary.strip(), maxsplit=1)[0]


def index_entries(reports: Iterable[tuple[str, Mapping[str, Any], str]]) -> list[IndexEntry]:
    """Entries from (folder name, metrics, page) triples, newest first (date, then generation time, then name)."""
    entries = []
    for folder, metrics, page in reports:
        match = _DATED.match(folder)
        stamp = str(metrics.get("generated_at") or "")
        date = match.group(1) if match else stamp[:10]
        rest = match.group(2) if match else folder
        kind = "panel" if rest == "panel" or rest.endswith("_panel") or "panel" in metrics else "symbol"
        subject = metrics.get("symbol") or metrics.get("community") or rest
        symbols = metrics.get("symbols")
        if kind == "panel" and isinstance(symbols, list) and symbols:
            subject = "panel: " + ", ".join(map(str, symbols))
        if not isinstance(subject, str):
            subject = rest
        entries.append(
            IndexEntry(
                folder=folder,
                page=page,
                date=date,
                kind=kind,
                subject=subject,
                frequency=frequency_words(metrics.get("frequency")),
                headline=headline(metrics.get("summary")) or "(this report has no summary)",
                generated_at=stamp,
            )
        )
    # Three stable sorts, least significant key first: name, then generation time, then date (all descending).
    entries.sort(key=lambda e: e.folder)
    entries.sort(key=lambda e: e.generated_at, reverse=True)
    entries.sort(key=lambda e: e.date, reverse=True)
    return entries


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1080px; margin: 1.5em auto;
  padding: 0 1.2em; color: #1d1d1d; line-height: 1.45; }
table { border-collapse: collapse; width: 100%; font-size: 0.93em; }
th, td { border-bottom: 1px solid #d9d9d9; padding: 0.4em 0.6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.nowrap { white-space: nowrap; }
a { color: #1f4e79; }
.muted { color: #666; }
"""


def render_index(entries: list[IndexEntry]) -> str:
    """The index page (pure): one row per report, linking to its page."""
    esc = html.escape
    rows = "".join(
        "<tr>"
        f'<td class="nowrap">{esc(e.date)}</td>'
        f'<td class="nowrap"><a href="{esc(e.page, quote=True)}">{esc(e.subject)}</a></td>'
        f"<td>{esc(e.kind)}</td>"
        f"<td>{esc(e.frequency)}</td>"
        f"<td>{esc(e.headline)}</td>"
        "</tr>"
        for e in entries
    )
    body = (
        "<table><thead><tr><th>date</th><th>report</th><th>kind</th><th>frequency</th><th>headline</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>"
        if entries
        else "<p>No reports yet.</p>"
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Community sentiment reports</title>
<style>{_CSS}</style>
</head>
<body>
<h1>Community sentiment reports</h1>
<p class="muted">{len(entries)} report{"s" if len(entries) != 1 else ""}, newest first. Each headline is the first
sentence of that report's verdict.</p>
{body}
</body>
</html>
"""


def write_index(reports: Path) -> Path:
    """Rewrite ``<reports>/index.html`` from every sub-folder holding a readable metrics.json; return its path."""
    reports = Path(reports)
    reports.mkdir(parents=True, exist_ok=True)
    found: list[tuple[str, Mapping[str, Any], str]] = []
    for metrics_path in sorted(reports.glob("*/metrics.json")):
        try:
            metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a half-written or foreign file is left out, not allowed to break every other entry
        if not isinstance(metrics, Mapping):
            continue
        folder = metrics_path.parent
        pages = [folder / "report.html", *sorted(folder.glob("*.html"))]
        page = next((p for p in pages if p.is_file()), folder / "report.html")
        found.append((folder.name, metrics, f"{folder.name}/{page.name}"))
    out = reports / "index.html"
    # A private temporary name per writer: reports of several symbols may finish at the same moment.
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=reports, suffix=".tmp", delete=False) as tmp:
        tmp.write(render_index(index_entries(found)))
    Path(tmp.name).chmod(0o644)  # as readable as the reports beside it (mkstemp makes it owner-only)
    Path(tmp.name).replace(out)  # readers never see a half-written index
    return out

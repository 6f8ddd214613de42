"""Tests for sentiment.report.index: reports/index.html lists every report folder, newest first."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from sentiment.report.index import headline, write_index


def make(reports: Path, folder: str, metrics: dict[str, object]) -> None:
    (reports / folder).mkdir(parents=True)
    (reports / folder / "metrics.json").write_text(json.dumps(metrics))
    (reports / folder / "report.html").write_text("<html></html>")


def rows(page: str) -> list[list[str]]:
    body = page.split("<tbody>", 1)[1]
    return [
        [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)]
        for tr in re.findall(r"<tr>(.*?)</tr>", body)
    ]


def test_index_lists_symbol_and_panel_reports_newest_first(tmp_path: Path) -> None:
    """It lists each folder with a metrics.json (date, kind, frequency defaulting to weekly, headline)."""
    make(tmp_path, "2026-01-05_VIRTUAL-USDT", {"symbol": "VIRTUAL/USDT", "summary": "Joins lead it. More text."})
    make(tmp_path, "2026-02-02_panel", {"frequency": "1d", "summary": "No community feature leads (q = 0.35)."})
    make(tmp_path, "2026-01-26_panel", {"symbols": ["A/USDT", "B/USDT"], "relations": []})
    make(tmp_path, "2026-01-19_ETH-USDT", {"symbol": "ETH/USDT", "generated_at": "2026-01-19T01:00:00+00:00"})
    (tmp_path / "not-a-report").mkdir()
    (tmp_path / "2026-03-01_broken").mkdir()
    (tmp_path / "2026-03-01_broken" / "metrics.json").write_text("{truncated")
    page = write_index(tmp_path).read_text()
    table = rows(page)
    assert [r[0] for r in table] == ["2026-02-02", "2026-01-26", "2026-01-19", "2026-01-05"]
    assert table[0][1:4] == ["panel", "panel", "daily"]
    assert table[0][4] == "No community feature leads (q = 0.35)."
    assert table[1][1:5] == ["panel: A/USDT, B/USDT", "panel", "weekly", "(this report has no summary)"]
    assert table[2][1:4] == ["ETH/USDT", "symbol", "weekly"]
    assert table[3][4] == "Joins lead it."
    assert 'href="2026-01-05_VIRTUAL-USDT/report.html"' in page
    assert not re.search(r"https?://|<script|<link", page)


def test_index_is_rewritten_on_every_run(tmp_path: Path) -> None:
    """A folder removed since the last run disappears from the rewritten index; a new one appears."""
    make(tmp_path, "2026-01-05_A-USDT", {"symbol": "A/USDT", "summary": "First."})
    write_index(tmp_path)
    (tmp_path / "2026-01-05_A-USDT" / "metrics.json").unlink()
    make(tmp_path, "2026-01-12_B-USDT", {"symbol": "B/USDT", "summary": "Second."})
    page = write_index(tmp_path).read_text()
    assert "B/USDT" in page and "A/USDT" not in page
    assert not list(tmp_path.glob("*.tmp"))


def test_headline_is_the_first_sentence() -> None:
    """It cuts at the first sentence end, never inside a number such as 0.05."""
    assert headline("Rho = 0.42 (q < 0.05). Then more.") == "Rho = 0.42 (q < 0.05)."
    assert headline(None) == "" and headline("   ") == ""

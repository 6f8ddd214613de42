"""The report and the index as a reader sees them: loaded in headless Chromium (Debian's package) at 1280 px."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from sentiment.analysis.suite import flagged_weeks
from sentiment.report.index import write_index
from sentiment.report.render import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WIDTH = 1280
# Flags for a sandboxed, offline machine: no GPU, no network chatter, no first-run or sync UI.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("no chromium binary (apt-get install chromium); .ci/run installs it", allow_module_level=True)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One Chromium with a fresh profile folder, driven by Playwright (which never downloads a browser here)."""
    assert CHROMIUM is not None, "CI must have chromium: .ci/run installs it"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            args=FLAGS,
            headless=True,
            viewport={"width": WIDTH, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


def inspect(context: object, page_path: Path, screenshot: Path) -> dict[str, object]:
    """Load ``page_path``; return console errors, image decode state and overflow, after saving a screenshot."""
    page = context.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(page_path.as_uri(), wait_until="load")
    facts = page.evaluate(
        """() => ({
            images: Array.from(document.images).map(i => ({alt: i.alt, w: i.naturalWidth, ok: i.complete,
                right: i.getBoundingClientRect().right})),
            scrollWidth: document.documentElement.scrollWidth,
            clientWidth: document.documentElement.clientWidth,
            wide: Array.from(document.querySelectorAll('body *'))
                .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1
                             && !e.closest('.table-wrap'))
                .map(e => e.tagName),
            links: Array.from(document.querySelectorAll('a')).map(a => a.href),
        })"""
    )
    page.screenshot(path=str(screenshot), full_page=False)
    page.close()
    return {**facts, "errors": errors, "requests": [u for u in requests if not u.startswith(("file:", "data:"))]}


def test_report_and_index_render_cleanly_in_chromium(
    tmp_path: Path, inputs: dict[str, object], browser: object
) -> None:
    """No console errors, every image decodes, nothing wider than 1280 px, no request leaves the machine."""
    weekly = inputs["weekly"].copy()  # type: ignore[union-attr]
    weekly["spike_flag"] = False
    weekly.loc[weekly.index[[10, 30]], "spike_flag"] = True
    for col in ("new_authors", "messages_z", "new_authors_z"):
        weekly[col] = 1.0
    coverage = {
        "synthetic": True,
        "chats": 2,
        "messages": 3000,
        "scored_share": 0.9,
        "languages": {
            "by_lang": [{"lang": "en", "posts": 2000, "scored": 2000}, {"lang": "zh", "posts": 1000, "scored": 700}]
        },
        "per_chat": [
            {
                "chat": "telegram: A long community name " * 3,
                "messages": 2000,
                "scored": 1900,
                "first": "2024-01-01",
                "last": "2025-02-01",
            },
        ],
        "relations_target": "log_return",
    }
    folder = tmp_path / "reports" / "2025-01-01_VIRTUAL-USDT"
    paths = write_report(
        folder,
        symbol="VIRTUAL/USDT",
        weekly=weekly,
        relations=inputs["relations"],  # type: ignore[arg-type]
        prediction=inputs["prediction"],  # type: ignore[arg-type]
        coverage=coverage,
        caveats=[],
        generated_at=pd.Timestamp("2025-01-01T12:00", tz="UTC"),
        flagged=flagged_weeks(weekly),
    )
    index = write_index(tmp_path / "reports")

    report = inspect(browser, paths["html"], tmp_path / "report.png")
    assert report["errors"] == [] and report["requests"] == []
    images = report["images"]
    assert len(images) >= 5
    assert all(i["ok"] and i["w"] > 0 and i["alt"] for i in images), images
    assert report["scrollWidth"] <= report["clientWidth"] == WIDTH
    assert report["wide"] == []
    assert all(i["right"] <= WIDTH for i in images)
    assert (tmp_path / "report.png").stat().st_size > 10_000

    listing = inspect(browser, index, tmp_path / "index.png")
    assert listing["errors"] == [] and listing["scrollWidth"] <= WIDTH
    assert listing["links"] == [paths["html"].as_uri()]
    assert (tmp_path / "index.png").is_file()

"""End to end: the real Prefect flow on the bundled sample, through real ccxt against the loopback replay server."""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from sentiment.cli import run_cli
from sentiment.lake import Lake

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"

pytestmark = pytest.mark.flow


def test_demo_end_to_end_twice(tmp_path: Path, prefect_harness: None, capfd: pytest.CaptureFixture[str]) -> None:
    """The demo writes a lake DuckDB reads and the three report files; a second run adds no rows."""
    lake, reports = tmp_path / "lake", tmp_path / "reports"
    argv = ["--lake", str(lake), "--reports", str(reports), "demo", "--sample", str(SAMPLE)]
    before = {k: sum(a.key == k for a in artifacts()) for k in KEYS}  # other flow tests share the Prefect API
    assert run_cli(argv) == 0, capfd.readouterr().err
    report = Path(capfd.readouterr().out.strip().splitlines()[-1])
    assert report.parent == reports and report.name.endswith("_VIRTUAL-USDT")
    for name in ("report.html", "report.md", "metrics.json"):
        assert (report / name).stat().st_size > 0

    counts = {t: Lake(lake).count(t) for t in ("messages", "prices", "weekly", "scores")}
    con = duckdb.connect()
    glob = str(lake / "messages" / "**" / "*.parquet")
    platforms = {
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT platform FROM read_parquet('{glob}', hive_partitioning = true)"
        ).fetchall()
    }
    assert platforms == {"telegram", "wechat"}
    symbols = {
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT symbol FROM read_parquet('{lake}/prices/**/*.parquet', hive_partitioning = true)"
        ).fetchall()
    }
    assert symbols == {"VIRTUAL/USDT", "BTC/USDT"}
    assert counts["weekly"] >= 40

    metrics = json.loads((report / "metrics.json").read_text())
    assert "lag_convention" in metrics and metrics["relations"]
    rel = metrics["relations"][0]
    assert set(rel) >= {
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
    assert metrics["prediction"]

    assert metrics["summary"] and metrics["summary"][0].isupper()  # issue 16: the verdict in words
    coverage = metrics["coverage"]
    assert {"en", "zh"} <= {r["lang"] for r in coverage["languages"]["by_lang"]} and len(coverage["per_chat"]) == 2
    assert sum(c["messages"] for c in coverage["per_chat"]) == coverage["messages"]
    assert 0 < coverage["scored_share"] <= 1
    index = html.unescape((reports / "index.html").read_text())
    assert f'href="{report.name}/report.html"' in index and metrics["summary"].split(". ")[0][:40] in index

    # One ingest path: the flow's messages are exactly what `sentiment ingest-chat` writes for the same exports,
    # and no message text sits in Prefect's result storage (tasks pass summaries, never message frames).
    direct = tmp_path / "direct"
    key = Lake(direct).key_path  # the same pseudonymisation key, so the same authors get the same ids
    key.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(Lake(lake).key_path, key)
    assert run_cli(["--lake", str(direct), "ingest-chat", str(SAMPLE / "chats"), "--tz", "Asia/Shanghai"]) == 0
    query = "SELECT * EXCLUDE (ingested_at) FROM messages_raw ORDER BY platform, chat_id, message_id"
    assert Lake(lake).read(query).equals(Lake(direct).read(query))
    texts = Lake(lake).read("SELECT DISTINCT text FROM messages WHERE length(text) >= 12 LIMIT 50")["text"]
    from prefect.settings import get_current_settings

    storage = Path(get_current_settings().results.local_storage_path)
    stored = b"".join(p.read_bytes() for p in storage.rglob("*") if p.is_file())
    assert stored  # the cached tasks did persist their (small) results there
    assert len(texts) == 50 and not [t for t in texts if t.encode() in stored]

    assert run_cli(argv) == 0
    assert {t: Lake(lake).count(t) for t in counts} == counts
    # Each run published the verdict, the relations and the link under keys stable per symbol: one more version each.
    found = artifacts()
    assert {k: sum(a.key == k for a in found) for k in KEYS} == {k: before.get(k, 0) + 2 for k in KEYS}
    latest = {a.key: a for a in sorted(found, key=lambda a: a.created)}
    assert latest[KEYS[1]].type == "table"
    assert metrics["summary"].split(". ")[0] in str(latest[KEYS[0]].data)
    assert (report / "report.html").as_uri() in str(latest[KEYS[2]].data)  # Prefect stores links as Markdown


KEYS = ["report-virtual-usdt-summary", "report-virtual-usdt-relations", "report-virtual-usdt-link"]


def artifacts() -> list[object]:
    """Every stored version of the VIRTUAL/USDT report artifacts in the test Prefect API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=KEYS)))

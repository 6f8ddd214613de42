"""Orchestration library: prefect.yaml agrees with the served deployments; cache keys follow the lake's partitions."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from sentiment import orchestration
from sentiment.lake import Lake
from sentiment.settings import load_settings

REPO = Path(__file__).resolve().parents[1]


def test_prefect_yaml_declares_the_served_deployments() -> None:
    """prefect.yaml and `sentiment schedule` deploy the same flows on the same crons, in UTC."""
    declared = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
    got = {d["name"]: (d["entrypoint"], [(s["cron"], s["timezone"]) for s in d["schedules"]]) for d in declared}
    want = {s.name: (s.file_entrypoint, [(s.cron, orchestration.TIMEZONE)]) for s in orchestration.DEPLOYMENTS}
    assert got == want
    assert want["weekly-report"] == ("pipelines/weekly.py:weekly_pipeline", [("0 1 * * 1", "UTC")])
    for spec in orchestration.DEPLOYMENTS:
        assert callable(orchestration.load_flow(spec.entrypoint))


def _scores(platform: str, chat_id: str, ids: list[str]) -> pd.DataFrame:
    from sentiment.scoring import VaderScorer, score_messages

    frame = pd.DataFrame(
        {"platform": platform, "chat_id": chat_id, "message_id": ids, "kind": "message", "text": ["gm"] * len(ids)}
    )
    return score_messages(frame, VaderScorer(), pd.Timestamp("2024-06-01", tz="UTC"))


def test_partition_cache_key_changes_only_with_the_pinned_partition(tmp_path: Path) -> None:
    """A new file in the task's own partition changes the key; one in another partition, or a new `now`, does not."""
    settings = load_settings(lake=tmp_path / "lake")
    key = orchestration.partition_cache_key(scores=("platform",))
    ctx = SimpleNamespace(task=SimpleNamespace(name="score-chat"))
    params = {"settings": settings, "platform": "telegram", "now": pd.Timestamp("2024-06-01", tz="UTC")}
    empty = key(ctx, params)
    assert key(ctx, {**params, "now": pd.Timestamp("2024-06-02", tz="UTC")}) == empty

    lake = Lake(settings.lake)
    lake.append("scores", _scores("wechat", "g1", ["1", "2"]))
    assert key(ctx, params) == empty
    lake.append("scores", _scores("telegram", "c1", ["1"]))
    filled = key(ctx, params)
    assert filled != empty
    assert key(ctx, {**params, "platform": "wechat"}) not in {empty, filled}
    assert key(SimpleNamespace(task=SimpleNamespace(name="other")), params) != filled
    # A different replay port is the same work; a different analysis setting is not.
    assert key(ctx, {**params, "settings": settings.model_copy(update={"api_url": "http://127.0.0.1:1"})}) == filled
    assert key(ctx, {**params, "settings": settings.model_copy(update={"alpha": 0.01})}) != filled
    # n_boot is deprecated and unused: changing it recomputes nothing.
    assert key(ctx, {**params, "settings": settings.model_copy(update={"n_boot": 500})}) == filled


def test_chat_file_cache_key_follows_size_mtime_and_lake(tmp_path: Path) -> None:
    """Touching an export (also a page inside an HTML export folder), adding one, or ingesting into another lake
    misses the cache; nothing else does."""
    import os

    exports = tmp_path / "exports"
    (exports / "html").mkdir(parents=True)
    export = exports / "result.json"
    export.write_text('{"messages": []}')
    page = exports / "html" / "messages.html"
    page.write_text("<!DOCTYPE html><html><title>Exported Data</title></html>")
    ctx = SimpleNamespace(task=SimpleNamespace(name="ingest-chat-exports"))
    settings = load_settings(lake=tmp_path / "lake", chats=(exports,))
    first = orchestration.chat_file_cache_key(ctx, {"settings": settings, "now": None})
    assert orchestration.chat_file_cache_key(ctx, {"settings": settings, "now": 1}) == first
    other_lake = load_settings(lake=tmp_path / "lake2", chats=(exports,))
    assert orchestration.chat_file_cache_key(ctx, {"settings": other_lake}) != first
    for touched in (export, page):
        stat = touched.stat()
        os.utime(touched, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        assert orchestration.chat_file_cache_key(ctx, {"settings": settings}) != first
        first = orchestration.chat_file_cache_key(ctx, {"settings": settings})
    (exports / "html" / "messages2.html").write_text(page.read_text())
    assert orchestration.chat_file_cache_key(ctx, {"settings": settings}) != first


def test_unknown_partition_column_is_an_error(tmp_path: Path) -> None:
    """Pinning a column the table is not partitioned by first fails loudly instead of caching too broadly."""
    from sentiment.errors import OrchestrationError

    key = orchestration.partition_cache_key(prices=("symbol",))
    ctx = SimpleNamespace(task=SimpleNamespace(name="t"))
    with pytest.raises(OrchestrationError, match="partitioned by"):
        key(ctx, {"settings": load_settings(lake=tmp_path), "symbol": "BTC/USDT"})


def test_feature_cache_keys_follow_the_communities_table(tmp_path: Path) -> None:
    """Mapping unchanged exports to another community changes the keys of the tasks that read the mapping."""
    from pipelines.weekly import community_features, weekly_table

    settings = load_settings(lake=tmp_path / "lake")
    ctx = SimpleNamespace(task=SimpleNamespace(name="community-features"))
    params = {"settings": settings, "symbol": "VIRTUAL/USDT"}
    keys = [task.cache_key_fn for task in (community_features, weekly_table)]
    before = [key(ctx, params) for key in keys]
    row = {
        "symbol": "VIRTUAL/USDT",
        "platform": "telegram",
        "chat_id": "c1",
        "recorded_at": pd.Timestamp("2024-06-01", tz="UTC"),
    }
    Lake(settings.lake).append("communities", pd.DataFrame([row]))
    assert all(key(ctx, params) != old for key, old in zip(keys, before, strict=True))


def test_a_lake_rebuilt_at_the_same_path_gets_new_keys(tmp_path: Path) -> None:
    """A table deleted and written again reaches the same Delta version with other rows: the keys of the tasks
    that read the whole table (by version) must not serve the old lake's cached results."""
    import shutil

    settings = load_settings(lake=tmp_path / "lake")
    key = orchestration.partition_cache_key(scores=())
    ctx = SimpleNamespace(task=SimpleNamespace(name="community-features"))
    Lake(settings.lake).append("scores", _scores("telegram", "c1", ["1"]))
    first = key(ctx, {"settings": settings})
    assert key(ctx, {"settings": settings}) == first
    shutil.rmtree(tmp_path / "lake")
    Lake(settings.lake).append("scores", _scores("telegram", "c2", ["9"]))
    assert Lake(settings.lake).version("scores") is not None
    assert key(ctx, {"settings": settings}) != first

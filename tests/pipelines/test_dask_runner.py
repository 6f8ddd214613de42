"""Scale-out: the weekly flow on a two-worker Dask cluster gives the default thread-pool runner's results."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from sentiment.lake import Lake
from sentiment.sandbox.replay import serve_recorded
from sentiment.settings import Settings, load_settings

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"

pytestmark = pytest.mark.flow


def _in(settings: Settings, folder: Path, **update: object) -> Settings:
    return settings.model_copy(update={"lake": folder / "lake", "reports": folder / "reports", **update})


def test_dask_cluster_matches_thread_pool(tmp_path: Path, prefect_harness: None) -> None:
    """Same weekly table and same metrics from the thread pool and from two Dask worker processes."""
    from distributed import Client, LocalCluster

    from pipelines.weekly import weekly_pipeline

    with serve_recorded(SAMPLE / "exchange") as url:
        base = load_settings(
            chats=(SAMPLE / "chats",), api_url=url, tz="Asia/Shanghai", since=date(2024, 1, 1), n_boot=200
        )
        [threads_report] = weekly_pipeline(_in(base, tmp_path / "threads"), synthetic=True)
        with (
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            on_dask = _in(base, tmp_path / "dask", runner="dask", dask_address=cluster.scheduler_address)
            [dask_report] = weekly_pipeline(on_dask, synthetic=True)
            ran = {str(prefix) for prefix in cluster.scheduler.task_prefixes}
            transitions = client.run(lambda dask_worker: dask_worker.state.transition_counter)

    assert len(transitions) == 2 and all(n > 0 for n in transitions.values()), transitions
    assert {"score_chat", "community_features", "weekly_table", "report"} <= ran, ran

    query = "SELECT * FROM weekly ORDER BY symbol, scope, week_start"
    threads_weekly = Lake(tmp_path / "threads" / "lake").read(query)
    assert len(threads_weekly) >= 40
    pd.testing.assert_frame_equal(threads_weekly, Lake(tmp_path / "dask" / "lake").read(query))

    threads_metrics = json.loads((Path(threads_report) / "metrics.json").read_text())
    dask_metrics = json.loads((Path(dask_report) / "metrics.json").read_text())
    # Dask workers pin BLAS to one thread, so float sums may differ in the last bits: equal to 1e-9, not bitwise.
    for part in ("relations", "prediction", "coverage"):
        _assert_close(threads_metrics[part], dask_metrics[part], part)


def _assert_close(expected: object, got: object, where: str) -> None:
    """Nested JSON values equal, floats to 1e-9 relative."""
    if isinstance(expected, dict) and isinstance(got, dict):
        assert expected.keys() == got.keys(), where
        for key in expected:
            _assert_close(expected[key], got[key], f"{where}.{key}")
    elif isinstance(expected, list) and isinstance(got, list):
        assert len(expected) == len(got), where
        for i, (a, b) in enumerate(zip(expected, got, strict=True)):
            _assert_close(a, b, f"{where}[{i}]")
    elif isinstance(expected, float) and isinstance(got, float):
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12), where
    else:
        assert expected == got, where

"""`sentiment schedule`: a real Prefect server serves the deployments; a run triggered via the API completes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sentiment.sandbox.replay import serve_recorded

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample"

pytestmark = pytest.mark.flow

# The analyst's side, in its own process so its PREFECT_API_URL cannot leak into the session's test harness.
ANALYST = """
import json, os, sys, time, urllib.request
deadline = time.monotonic() + 180
while True:  # the analyst opens the UI once the server answers
    try:
        urllib.request.urlopen(os.environ["PREFECT_API_URL"] + "/health", timeout=2).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.5)
from prefect import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound

name, params = "weekly-pipeline/weekly-report", json.loads(sys.argv[1])
with get_client(sync_client=True) as client:
    deadline = time.monotonic() + 120
    while True:
        try:
            deployment = client.read_deployment_by_name(name)
            break
        except ObjectNotFound:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    run = run_deployment(name, parameters=params, timeout=300, poll_interval=1)
    scheduled = client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
    )
print(json.dumps({
    "state": run.state.type.value,
    "result": run.state.message,
    "schedules": [[s.schedule.cron, s.schedule.timezone] for s in deployment.schedules],
    "scheduled_starts": [r.expected_start_time.isoformat() for r in scheduled if r.state.type.value == "SCHEDULED"],
}))
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_schedule_serves_a_deployment_an_analyst_can_run(tmp_path: Path) -> None:
    """The weekly-report deployment is on its Monday 01:00 UTC cron; a run triggered via the API writes the report."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SENTIMENT_"))}
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="2",
        SENTIMENT_CONFIG=str(tmp_path / "no-config.toml"),
        PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO), env.get("PYTHONPATH", "")]),
    )
    lake, reports = tmp_path / "lake", tmp_path / "reports"
    log = (tmp_path / "schedule.log").open("wb")
    schedule = subprocess.Popen(
        [sys.executable, "-m", "sentiment", "--lake", str(lake), "--reports", str(reports),
         "schedule", "--chat", str(SAMPLE / "chats"), "--port", str(port)],
        env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        with serve_recorded(SAMPLE / "exchange") as prices_url:
            settings = {"lake": str(lake), "reports": str(reports), "chats": [str(SAMPLE / "chats")],
                        "api_url": prices_url, "tz": "Asia/Shanghai", "since": "2024-01-01", "n_boot": 200}  # fmt: skip
            analyst = subprocess.run(
                [sys.executable, "-c", ANALYST, json.dumps({"settings": settings, "synthetic": True})],
                env={**env, "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"},
                capture_output=True, text=True, timeout=420,
            )  # fmt: skip
        assert analyst.returncode == 0, analyst.stderr[-3000:] + (tmp_path / "schedule.log").read_text()[-3000:]
        seen = json.loads(analyst.stdout.strip().splitlines()[-1])
    finally:
        schedule.send_signal(signal.SIGTERM)
        try:
            code = schedule.wait(timeout=60)
        except subprocess.TimeoutExpired:
            schedule.kill()
            raise
        log.close()

    assert seen["state"] == "COMPLETED", seen
    assert seen["schedules"] == [["0 1 * * 1", "UTC"]]
    from datetime import datetime

    starts = [datetime.fromisoformat(t) for t in seen["scheduled_starts"]]  # what the server's scheduler queued
    assert all((t.weekday(), t.hour, t.minute, t.utcoffset().total_seconds()) == (0, 1, 0, 0) for t in starts)
    [report] = list(reports.glob("*_VIRTUAL-USDT"))
    for name in ("report.html", "report.md", "metrics.json"):
        assert (report / name).stat().st_size > 0
    assert json.loads((report / "metrics.json").read_text())["relations"]
    assert code == 0, (tmp_path / "schedule.log").read_text()[-3000:]
    with socket.socket() as probe:  # the server was stopped with the schedule, not left behind
        assert probe.connect_ex(("127.0.0.1", port)) != 0

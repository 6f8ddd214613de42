"""Two writer processes appending overlapping rows to one table at the same moment: on a local lake and on S3 (a
moto server on loopback), no row is lost and none is stored twice; the loser of each race retried its commit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import sentiment
from sentiment.lake import Lake

SRC = Path(sentiment.__file__).resolve().parents[1]

# Each writer stages its rows, says it is ready, waits for the go file, then publishes them (one commit).
WRITER = """
import sys, time, pandas as pd
from pathlib import Path
from sentiment.lake import Lake
lake, start, go = Lake(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
n = 40_000
ids = pd.RangeIndex(start, start + n)
frame = pd.DataFrame({
    "platform": "telegram", "chat_id": [f"c{i % 4}" for i in ids], "chat_name": "chat",
    "message_id": [str(i) for i in ids], "ts": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(ids, unit="s"),
    "author_id": "a" * 16, "author_name": None, "kind": "message", "join_method": None, "inviter_id": None,
    "media_type": None, "text": [f"gm {i}" for i in ids], "reply_to": None, "is_forward": False, "reactions": None,
    "edited": False, "source_file": "x.json", "source_record": ids + 1,
    "ingested_at": pd.Timestamp("2024-06-01", tz="UTC"),
})
with lake.staged_append("messages") as staged:
    staged.add(frame)
    Path(sys.argv[3] + f".ready{start}").touch()
    while not go.exists():
        time.sleep(0.005)
print(staged.written, flush=True)
"""


def _race(root: str, tmp_path: Path, env: dict[str, str]) -> list[int]:
    """Two writers, rows 0..39,999 and 20,000..59,999, released at once; returns what each wrote."""
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, root, str(start), str(go)], env=env, stdout=subprocess.PIPE, text=True
        )
        for start in (0, 20_000)
    ]
    deadline = time.monotonic() + 120
    while not all(Path(f"{go}.ready{s}").exists() for s in (0, 20_000)):
        assert all(p.poll() is None for p in procs), "a writer died while staging"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    go.touch()
    outs = [p.communicate(timeout=180)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    return [int(o.strip().splitlines()[-1]) for o in outs]


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, **(extra or {}), "PYTHONPATH": os.pathsep.join([str(SRC), str(SRC.parent)])}


def _check(lake: Lake, written: list[int]) -> None:
    assert sum(written) == 60_000 and min(written) >= 20_000  # the overlap went in once, by one of them
    got = lake.read("SELECT count(*) AS n, count(DISTINCT (platform, chat_id, message_id)) AS k FROM messages_raw")
    assert got.iloc[0].tolist() == [60_000, 60_000]
    commits = [h for h in lake.history("messages") if h["operation"] == "WRITE"]
    assert len(commits) == 2


def test_two_local_writers_store_each_row_once(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    _check(Lake(root), _race(str(root), tmp_path, _env()))


@pytest.fixture
def s3_root(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A moto S3 server in its own process on a free loopback port (in this process, a deltalake call that holds
    the GIL while it waits for the server's answer would wait for ever), and a fresh bucket."""
    pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    creds = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    log = open(tmp_path / "moto.log", "wb")  # noqa: SIM115 - closed below, after the server
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
    )
    saved = {k: os.environ.get(k) for k in creds}
    os.environ.update(creds)
    try:
        client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1")
        bucket = f"lake-{uuid.uuid4().hex[:12]}"
        deadline = time.monotonic() + 30
        while True:
            try:
                client.create_bucket(Bucket=bucket)
                break
            except Exception:
                assert server.poll() is None and time.monotonic() < deadline, "moto server did not start"
                time.sleep(0.2)
        yield f"s3://{bucket}/community?endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1", creds
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_two_s3_writers_store_each_row_once(s3_root: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    """The commit is a conditional PUT of the next log entry (delta-rs's default on S3): no lock table needed."""
    root, creds = s3_root
    _check(Lake(root, key_dir=tmp_path), _race(root, tmp_path, _env(creds)))

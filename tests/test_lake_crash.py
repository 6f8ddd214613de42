"""kill -9 at any point: the lake stays readable with every committed row exactly once, and a re-run completes."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import sentiment
from sentiment.cli import run_cli
from sentiment.lake import INTENT, Lake

SRC = Path(sentiment.__file__).resolve().parents[1]
CHATS, MONTHS, PER_MONTH = 12, 12, 20  # 144 partitions, 2,880 messages (each file fsynced: ~15 ms)


def _write_exports(folder: Path) -> int:
    """One Telegram single-chat export per chat, PER_MONTH messages in each of MONTHS months."""
    folder.mkdir()
    start = pd.Timestamp("2023-01-01T08:00:00", tz="UTC")
    total = 0
    for chat in range(CHATS):
        messages = []
        for month in range(MONTHS):
            base = start + pd.DateOffset(months=month)
            for i in range(PER_MONTH):
                ts = base + pd.Timedelta(hours=i)
                messages.append(
                    {
                        "id": month * 1000 + i,
                        "type": "message",
                        "date": ts.strftime("%Y-%m-%dT%H:%M:%S"),
                        "date_unixtime": str(int(ts.timestamp())),
                        "from": f"Member {i % 7}",
                        "from_id": f"user{i % 7}",
                        "text": f"gm chat {chat} month {month} message {i}",
                    }
                )
        export = {"name": f"Chat {chat}", "type": "public_supergroup", "id": 3000 + chat, "messages": messages}
        (folder / f"chat{chat:02d}.json").write_text(json.dumps(export), encoding="utf-8")
        total += len(messages)
    return total


# The killed writers run the library's ingest path (reader -> pseudonymise -> Lake.append) and Lake.compact without
# the CLI: importing the report step (statsmodels, sklearn, matplotlib) takes 5-15 s here, the re-runs use the CLI.
INGEST = """
import sys, pandas as pd
from pathlib import Path
from zoneinfo import ZoneInfo
from sentiment import privacy
from sentiment.chats.detect import read_chat_export
from sentiment.lake import Lake
lake = Lake(sys.argv[1])
key = privacy.load_or_create_key(lake.key_path)
now = pd.Timestamp.now(tz="UTC")
frames = [privacy.to_messages(read_chat_export(p, "auto", ZoneInfo("UTC"))[1], key, keep_names=False, ingested_at=now)
          for p in sorted(Path(sys.argv[2]).glob("*.json"))]
lake.append("messages", pd.concat(frames, ignore_index=True))
"""
COMPACT = "import sys; from sentiment.lake import Lake; Lake(sys.argv[1]).compact(sys.argv[2])"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(SRC.parent)])}


def _lock_is_free(lake: Path) -> bool:
    with open(lake / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


def _kill_when(proc: subprocess.Popen[bytes], ready: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():  # type: ignore[operator]
        assert proc.poll() is None, f"the writer ended before it could be killed (exit {proc.returncode})"
        assert time.monotonic() < deadline, "the writer never reached the point to kill it"
        time.sleep(0.002)


def _direct_duckdb(lake: Path, table: str) -> tuple[int, int]:
    """(rows, distinct keys) read straight off the files with DuckDB's own glob, bypassing the lake."""
    glob = str(lake / table / "**" / "*.parquet")
    sql = (
        f"SELECT count(*), count(DISTINCT (platform, chat_id, message_id)) "
        f"FROM read_parquet('{glob}', hive_partitioning = true)"
    )
    rows, keys = duckdb.sql(sql).fetchall()[0]
    return int(rows), int(keys)


def test_ingest_killed_mid_write_leaves_a_consistent_lake_and_a_rerun_completes(tmp_path: Path) -> None:
    """SIGKILL during an ingest's writes: whole files only, no doubled key, the lock is free, a re-run is exact."""
    exports, lake_dir = tmp_path / "exports", tmp_path / "lake"
    total = _write_exports(exports)
    argv = ["--lake", str(lake_dir), "ingest-chat", str(exports), "--tz", "UTC"]
    proc = subprocess.Popen([sys.executable, "-c", INGEST, str(lake_dir), str(exports)], env=_env())
    try:
        _kill_when(proc, lambda: len(list((lake_dir / "messages").glob("*/*/*/*.parquet"))) >= 20)
        held = not _lock_is_free(lake_dir)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert held, "the writer held the lake lock while writing"
    assert _lock_is_free(lake_dir), "the kernel released the dead writer's flock: no stale lock"

    lake = Lake(lake_dir)
    committed = lake.count("messages")
    assert 0 < committed < total, "killed mid-write: some but not all partitions committed"
    assert _direct_duckdb(lake_dir, "messages") == (committed, committed)
    # A dead writer's temporary (here a torn one) is invisible to every reader and removed by the next writer.
    first_dir = lake.files("messages")[0].parent
    torn = first_dir / ".part-dead.parquet.0123.tmp"
    torn.write_bytes(lake.files("messages")[0].read_bytes()[:100])
    assert lake.count("messages") == committed
    assert _direct_duckdb(lake_dir, "messages") == (committed, committed)
    assert len(pd.read_parquet(lake_dir / "messages")) == committed

    assert run_cli(argv) == 0
    assert lake.count("messages") == total
    assert _direct_duckdb(lake_dir, "messages") == (total, total)
    assert not list(lake_dir.rglob("*.tmp"))
    assert run_cli(argv) == 0  # and once more: nothing new
    assert lake.count("messages") == total
    runs = lake.read("SELECT status, rows_written FROM runs WHERE step = 'ingest-chats' ORDER BY finished_at")
    assert runs.to_dict("list") == {"status": ["ok", "ok"], "rows_written": [total - committed, 0]}


def _messages(chats: int, months: int, per: int, batch: int) -> pd.DataFrame:
    n = chats * months * per
    idx = pd.RangeIndex(n)
    chat = idx % chats
    month = (idx // chats) % months
    ts = pd.to_datetime("2024-01-01", utc=True) + pd.to_timedelta(month * 31, unit="D")
    return pd.DataFrame(
        {
            "platform": "telegram",
            "chat_id": [f"c{c}" for c in chat],
            "chat_name": "chat",
            "message_id": [f"b{batch}-{i}" for i in idx],
            "ts": ts,
            "author_id": "a" * 16,
            "author_name": None,
            "kind": "message",
            "join_method": None,
            "inviter_id": None,
            "media_type": None,
            "text": [f"text {i}" for i in idx],
            "reply_to": None,
            "is_forward": False,
            "reactions": None,
            "edited": False,
            "source_file": "gen.json",
            "source_record": list(range(1, n + 1)),
            "ingested_at": pd.Timestamp("2024-06-01", tz="UTC"),
        }
    )


QUERY = "SELECT chat_id, month, count(*) AS n, sum(source_record) AS s FROM messages GROUP BY ALL ORDER BY ALL"


def test_compaction_killed_midway_never_shows_a_row_twice(tmp_path: Path) -> None:
    """SIGKILL during `sentiment compact`: counts and query results through the lake stay exact; a re-run finishes."""
    lake = Lake(tmp_path)
    for batch in range(3):  # 3 files in each of 60 partitions
        lake.append("messages", _messages(10, 6, 4, batch))
    total, before = lake.count("messages"), lake.read(QUERY)
    files_before = len(lake.files("messages"))
    assert files_before == 3 * 60
    argv = ["--lake", str(tmp_path), "compact", "--table", "messages"]
    proc = subprocess.Popen([sys.executable, "-c", COMPACT, str(tmp_path), "messages"], env=_env())
    try:
        _kill_when(proc, lambda: _few(tmp_path))
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    mid = len(lake.files("messages"))
    assert 60 < mid < files_before, "killed mid-compaction"
    assert lake.count("messages") == total
    pd.testing.assert_frame_equal(lake.read(QUERY), before)

    assert run_cli(argv) == 0
    assert len(lake.files("messages")) == 60
    assert not list(tmp_path.rglob(INTENT)) and not list(tmp_path.rglob("*.tmp"))
    assert _direct_duckdb(tmp_path, "messages") == (total, total)
    pd.testing.assert_frame_equal(lake.read(QUERY), before)


def _few(root: Path) -> bool:
    return len(list(root.glob("messages/*/*/*/*.parquet"))) < 3 * 60 - 10


@pytest.mark.parametrize("stage", ["intent-only", "merged-not-cleaned"])
def test_an_interrupted_compaction_is_resolved_by_readers_and_finished_by_the_next_writer(
    tmp_path: Path, stage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash after the intent (rolled back) or after the merged file (rolled forward) never doubles a row."""
    lake = Lake(tmp_path)
    for batch in range(3):
        lake.append("messages", _messages(1, 1, 5, batch))
    before = lake.read(QUERY)
    store = lake._store

    class Crash(Exception):
        pass

    def crash(*_: object) -> None:
        raise Crash

    if stage == "intent-only":
        monkeypatch.setattr(lake, "_write_table", crash)
    else:
        monkeypatch.setattr(store, "delete", crash)
    with pytest.raises(Crash):
        lake.compact("messages")
    monkeypatch.undo()
    assert list(tmp_path.rglob(INTENT))
    on_disk = len(list(tmp_path.glob("messages/*/*/*/*.parquet")))
    assert on_disk == (3 if stage == "intent-only" else 4)
    assert len(lake.files("messages")) == (3 if stage == "intent-only" else 1)
    pd.testing.assert_frame_equal(lake.read(QUERY), before)
    assert lake.append("messages", _messages(1, 1, 5, 0)) == 0  # the next writer resolves it
    assert not list(tmp_path.rglob(INTENT))
    assert len(list(tmp_path.glob("messages/*/*/*/*.parquet"))) == len(lake.files("messages"))
    pd.testing.assert_frame_equal(lake.read(QUERY), before)

"""kill -9 during an ingest or a compaction: every table reads at its last commit, no row twice, a re-run is exact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from deltalake import DeltaTable

import sentiment
from sentiment.cli import run_cli
from sentiment.lake import Lake

SRC = Path(sentiment.__file__).resolve().parents[1]
CHATS, MONTHS, PER_MONTH = 12, 12, 20  # 12 chat partitions, 2,880 messages


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


# The killed writers run the library's ingest path (reader -> pseudonymise -> staged append, one commit) and
# Lake.compact without the CLI (importing the report step takes seconds here); the re-runs use the CLI. The ingest
# streams its new rows into delta-rs slowly (a pause per batch), so the kill lands while data files are being
# written and before the commit that would list them.
INGEST = """
import sys, time, pandas as pd
from pathlib import Path
from zoneinfo import ZoneInfo
from sentiment import privacy
from sentiment.chats.detect import read_chat_export
from sentiment.lake import Lake, tables
plain = tables.reader_of
def slow(paths, table, keep):
    reader = plain(paths, table, keep)
    def batches():
        for batch in reader:
            time.sleep(0.3)
            yield batch
    return tables.pa.RecordBatchReader.from_batches(reader.schema, batches())
tables.reader_of = slow
lake = Lake(sys.argv[1])
key = privacy.load_or_create_key(lake.key_path)
now = pd.Timestamp.now(tz="UTC")
with lake.staged_append("messages") as staged:
    for p in sorted(Path(sys.argv[2]).glob("*.json")):
        raw = read_chat_export(p, "auto", ZoneInfo("UTC"))[1]
        staged.add(privacy.to_messages(raw, key, keep_names=False, ingested_at=now))
    print("staged", flush=True)
"""
COMPACT = "import sys; from sentiment.lake import Lake; Lake(sys.argv[1]).compact(sys.argv[2], retention_hours=0)"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(SRC.parent)])}


def _kill_when(proc: subprocess.Popen[bytes], ready: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():  # type: ignore[operator]
        assert proc.poll() is None, f"the writer ended before it could be killed (exit {proc.returncode})"
        assert time.monotonic() < deadline, "the writer never reached the point to kill it"
        time.sleep(0.002)


def _on_disk(table_dir: Path) -> set[str]:
    return {p.relative_to(table_dir).as_posix() for p in table_dir.rglob("*.parquet") if "_delta_log" not in p.parts}


def _listed(table_dir: Path) -> set[str]:
    return {Path(u).relative_to(table_dir).as_posix() for u in DeltaTable(table_dir).file_uris()}


def _counts_everywhere(lake_dir: Path, table: str = "messages") -> tuple[int, int, int]:
    """(rows through the lake's DuckDB views, distinct keys there, rows through deltalake's pandas reader)."""
    lake = Lake(lake_dir)
    got = lake.read(f"SELECT count(*) AS n, count(DISTINCT (platform, chat_id, message_id)) AS k FROM {table}").iloc[0]
    return int(got["n"]), int(got["k"]), len(DeltaTable(lake_dir / table).to_pandas())


def test_ingest_killed_mid_write_leaves_the_last_commit_and_a_rerun_completes(tmp_path: Path) -> None:
    """SIGKILL while the ingest's data files are being written: readers see the table at its last commit (none of
    the dead writer's files), the next ingest stores every message once, and one more stores nothing."""
    exports, lake_dir = tmp_path / "exports", tmp_path / "lake"
    total = _write_exports(exports)
    argv = ["--lake", str(lake_dir), "ingest-chat", str(exports), "--tz", "UTC"]
    table_dir = lake_dir / "messages"
    proc = subprocess.Popen(
        [sys.executable, "-c", INGEST, str(lake_dir), str(exports)], env=_env(), stdout=subprocess.PIPE
    )
    try:
        _kill_when(proc, lambda: table_dir.is_dir() and len(_on_disk(table_dir)) >= 1)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    orphans = _on_disk(table_dir) - _listed(table_dir)
    assert orphans, "killed after writing data files and before committing them"
    assert _counts_everywhere(lake_dir) == (0, 0, 0)

    assert run_cli(argv) == 0
    assert _counts_everywhere(lake_dir) == (total, total, total)
    assert run_cli(argv) == 0  # and once more: nothing new
    assert _counts_everywhere(lake_dir) == (total, total, total)
    lake = Lake(lake_dir)
    runs = lake.read("SELECT status, rows_written FROM runs WHERE step = 'ingest-chats' ORDER BY finished_at")
    assert runs.to_dict("list") == {"status": ["ok", "ok"], "rows_written": [total, 0]}
    assert orphans <= _on_disk(table_dir)  # a dead writer's files are deleted only by vacuum, after the retention
    assert run_cli(["--lake", str(lake_dir), "compact", "--table", "messages", "--retain-hours", "0"]) == 0
    assert _on_disk(table_dir) == _listed(table_dir)
    assert _counts_everywhere(lake_dir) == (total, total, total)


def _messages(chats: int, per_chat: int, batch: int) -> pd.DataFrame:
    n = chats * per_chat
    idx = pd.RangeIndex(n)
    return pd.DataFrame(
        {
            "platform": "telegram",
            "chat_id": [f"c{c}" for c in idx % chats],
            "chat_name": "chat",
            "message_id": [f"b{batch}-{i}" for i in idx],
            "ts": pd.to_datetime("2024-01-01", utc=True) + pd.to_timedelta(idx % 365, unit="D"),
            "author_id": "a" * 16,
            "author_name": None,
            "kind": "message",
            "join_method": None,
            "inviter_id": None,
            "media_type": None,
            "text": [f"text {i} " * 8 for i in idx],
            "reply_to": None,
            "is_forward": False,
            "reactions": None,
            "edited": False,
            "source_file": "gen.json",
            "source_record": list(range(1, n + 1)),
            "ingested_at": pd.Timestamp("2024-06-01", tz="UTC"),
        }
    )


QUERY = (
    "SELECT chat_id, count(*) AS n, sum(source_record) AS s, max(ts) AS last FROM messages GROUP BY ALL ORDER BY ALL"
)


def test_compaction_killed_midway_changes_no_result_and_a_rerun_finishes(tmp_path: Path) -> None:
    """SIGKILL while `compact` rewrites files: the table reads as before (same version, same answers), and a
    re-run of `sentiment compact` leaves one file per partition, no stray file, and still the same answers."""
    lake = Lake(tmp_path)
    for batch in range(4):  # 4 files in each of 8 partitions
        lake.append("messages", _messages(8, 8_000, batch))
    total, before, version = lake.count("messages"), lake.read(QUERY), lake.version("messages")
    table_dir = tmp_path / "messages"
    files_before = _on_disk(table_dir)
    assert len(files_before) == 4 * 8
    proc = subprocess.Popen([sys.executable, "-c", COMPACT, str(tmp_path), "messages"], env=_env())
    try:
        _kill_when(proc, lambda: len(_on_disk(table_dir)) > len(files_before))
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert lake.version("messages") == version, "killed before the compaction committed"
    assert _counts_everywhere(tmp_path) == (total, total, total)
    pd.testing.assert_frame_equal(lake.read(QUERY), before)

    argv = ["--lake", str(tmp_path), "compact", "--table", "messages", "--retain-hours", "0"]
    assert run_cli(argv) == 0
    assert len(lake.files("messages")) == 8
    assert _on_disk(table_dir) == _listed(table_dir)
    assert _counts_everywhere(tmp_path) == (total, total, total)
    pd.testing.assert_frame_equal(lake.read(QUERY), before)

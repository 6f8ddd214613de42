"""A lake written by the previous version (hive folders of part-<uuid>.parquet, no Delta log) is converted in place:
every row once, the pseudonymisation key untouched, no old file left; or on the first write, automatically."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from sentiment import schemas
from sentiment.cli import run_cli
from sentiment.errors import LakeError
from sentiment.lake import Lake, legacy

# The previous version's partition folders; "month" was derived from ts and was not a column.
OLD_PARTITIONS = {"messages": ("platform", "chat_id", "month"), "prices": ("exchange", "symbol", "timeframe")}


def write_old_format(root: Path, table: str, frame: pd.DataFrame, name: str | None = None) -> list[Path]:
    """Write ``frame`` the way the previous lake did: one zstd file per partition folder (values URI-encoded,
    partition columns only in the folder names), named part-<uuid hex>.parquet. Returns the files."""
    arrow = schemas.conform(frame, table)
    parts = OLD_PARTITIONS[table]
    if "month" in parts:
        arrow = arrow.append_column("month", pc.strftime(arrow.column("ts"), format="%Y-%m"))
    written = []
    for values in arrow.select(list(parts)).group_by(list(parts)).aggregate([]).to_pylist():
        mask = None
        for col in parts:
            eq = pc.equal(arrow.column(col), values[col])
            mask = eq if mask is None else pc.and_(mask, eq)
        rows = arrow.filter(mask).drop_columns(list(parts))
        folder = root / table / Path(*[f"{c}={quote(str(values[c]), safe='')}" for c in parts])
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (name or f"part-{uuid.uuid4().hex}.parquet")
        pq.write_table(rows, path, compression="zstd")
        written.append(path)
    return written


def _messages(ids: list[int], chat: str = "-1001", month: str = "2024-01") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "platform": "telegram",
            "chat_id": chat,
            "chat_name": "VIRTUAL",
            "message_id": [str(i) for i in ids],
            "ts": pd.to_datetime([f"{month}-{1 + i % 27:02d}T10:00:00" for i in ids], utc=True),
            "author_id": "a" * 16,
            "author_name": None,
            "kind": "message",
            "join_method": None,
            "inviter_id": None,
            "media_type": None,
            "text": [f"gm {i}" for i in ids],
            "reply_to": None,
            "is_forward": False,
            "reactions": pd.array([i % 3 for i in ids], dtype="Int32"),
            "edited": False,
            "source_file": "result.json",
            "source_record": ids,
            "ingested_at": pd.Timestamp("2024-06-01", tz="UTC"),
        }
    )


def _prices(days: list[str], symbol: str = "VIRTUAL/USDT") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "exchange": "gate",
            "symbol": symbol,
            "timeframe": "1d",
            "ts": pd.to_datetime(days, utc=True),
            "open": 1.0,
            "high": 2.0,
            "low": 0.5,
            "close": 1.5,
            "volume": 10.0,
            "fetched_at": pd.Timestamp("2024-06-01", tz="UTC"),
        }
    )


def _old_lake(root: Path) -> dict[str, int]:
    """An old lake with what the previous version could leave: rows over several partitions and files, a row stored
    twice (the S3 race that version had), an interrupted compaction whose merged file superseded two old ones, a
    dead writer's temporary, the writer lock file, and the pseudonymisation key."""
    write_old_format(root, "messages", _messages([1, 2, 3]))
    write_old_format(root, "messages", _messages([4, 5], month="2024-02"))
    write_old_format(root, "messages", _messages([5, 6], month="2024-02"))  # 5 stored twice
    write_old_format(root, "messages", _messages([1], chat="-1002"))  # same id, other chat: another message
    olds = write_old_format(root, "prices", _prices(["2024-01-01", "2024-01-02"]))
    olds += write_old_format(root, "prices", _prices(["2024-01-03"]))
    merged = write_old_format(root, "prices", _prices(["2024-01-01", "2024-01-02", "2024-01-03"]))[0]
    folder = merged.parent
    plan = {"new": [merged.name], "old": [p.name for p in olds]}
    (folder / ".compaction.json").write_text(json.dumps(plan))
    (folder / f".part-{uuid.uuid4().hex}.parquet.1234.tmp").write_bytes(b"PAR1 torn")
    write_old_format(root, "prices", _prices(["2024-01-01"], symbol="BTC/USDT"))
    (root / ".lock").touch()
    (root / ".keys").mkdir()
    (root / ".keys" / "pseudonym.key").write_bytes(b"k" * 32)
    return {"messages": 7, "prices": 4}


def _old_files(root: Path) -> list[Path]:
    """Every file but the Delta tables' own (log, and data files named part-NNNNN-<uuid>-c000.*) and the key."""
    delta = re.compile(r"^part-\d{5}-[0-9a-f-]{36}-c\d{3}\.")
    return [
        p
        for p in root.rglob("*")
        if p.is_file() and "_delta_log" not in p.parts and ".keys" not in p.parts and not delta.match(p.name)
    ]


def test_migrate_converts_an_old_lake_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected = _old_lake(tmp_path)
    key = (tmp_path / ".keys" / "pseudonym.key").read_bytes()
    lake = Lake(tmp_path)
    with pytest.raises(LakeError, match="sentiment migrate"):
        lake.read("SELECT * FROM prices")
    assert set(lake.needs_migration()) == {"messages", "prices"}

    assert run_cli(["--lake", str(tmp_path), "migrate"]) == 0
    assert "messages: 7 rows" in capsys.readouterr().out
    assert (tmp_path / ".keys" / "pseudonym.key").read_bytes() == key
    assert _old_files(tmp_path) == []
    lake = Lake(tmp_path)
    for table, n in expected.items():
        assert lake.count(table) == n
    keys = lake.read("SELECT count(DISTINCT (platform, chat_id, message_id)) AS k FROM messages").iloc[0]["k"]
    assert keys == 7
    back = lake.read("SELECT * FROM messages_raw WHERE message_id = '5'")
    pd.testing.assert_frame_equal(
        back,
        _messages([5], month="2024-02").astype(back.dtypes.to_dict()),
        check_dtype=False,
    )
    prices = lake.read("SELECT symbol, ts FROM prices ORDER BY symbol, ts")
    assert prices["symbol"].tolist() == ["BTC/USDT", "VIRTUAL/USDT", "VIRTUAL/USDT", "VIRTUAL/USDT"]

    assert run_cli(["--lake", str(tmp_path), "migrate"]) == 0
    assert "nothing to migrate" in capsys.readouterr().out
    assert {t: Lake(tmp_path).count(t) for t in expected} == expected


def test_first_write_migrates_every_old_table(tmp_path: Path) -> None:
    """An old lake used without `migrate`: the first write converts all its tables, then appends exactly."""
    expected = _old_lake(tmp_path)
    lake = Lake(tmp_path)
    assert lake.append("prices", _prices(["2024-01-03", "2024-01-04"])) == 1
    assert Lake(tmp_path).count("prices") == expected["prices"] + 1
    assert Lake(tmp_path).count("messages") == expected["messages"]
    assert Lake(tmp_path).needs_migration() == []
    assert (tmp_path / "messages" / "_delta_log").is_dir()


def test_migration_killed_after_its_commit_is_finished_by_a_rerun(tmp_path: Path) -> None:
    """Crash between the Delta commit and the deletion of the old files: readers see each row once meanwhile (the
    old files are not in the log), and a re-run deletes them without inserting anything twice."""
    expected = _old_lake(tmp_path)
    lake = Lake(tmp_path)
    found = legacy.find(lake.location, "messages")
    assert found is not None
    found.delete = lambda: None  # the crash: rows committed, old files still there
    lake._migrate_table(found)
    assert Lake(tmp_path).count("messages") == expected["messages"]
    assert Lake(tmp_path).migrate() == {"messages": 0, "prices": expected["prices"]}
    assert {t: Lake(tmp_path).count(t) for t in expected} == expected
    assert _old_files(tmp_path) == []


def test_old_files_keep_their_columns_types(tmp_path: Path) -> None:
    """Partition values come back as the declared strings (e.g. a numeric-looking chat id), not inferred ints."""
    write_old_format(tmp_path, "messages", _messages([1, 2], chat="-100123"))
    Lake(tmp_path).migrate()
    got = Lake(tmp_path).read("SELECT chat_id, typeof(chat_id) AS t FROM messages_raw LIMIT 1").iloc[0]
    assert got.tolist() == ["-100123", "VARCHAR"]
    assert pa.types.is_string(pa.schema(Lake(tmp_path).snapshot("messages").schema().to_arrow()).field("chat_id").type)


class _Vanishing:
    """A filesystem whose recursive listing fails ``fails`` times as if an entry vanished mid-walk (a concurrent
    writer creating the table), then lists the real one."""

    def __init__(self, real: pafs.FileSystem, fails: int) -> None:
        self.real, self.fails, self.calls = real, fails, 0

    def get_file_info(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        self.calls += 1
        if self.calls <= self.fails:
            raise FileNotFoundError(f"[Errno 2] Cannot list directory '{selector.base_dir}'")
        return self.real.get_file_info(selector)


def test_a_table_being_created_by_another_writer_is_listed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two flow tasks appending to a fresh lake at once: the first write's check for old-format files lists a folder
    the other is creating, and an entry vanishes mid-listing. The listing is retried (it found Delta files only);
    an entry that keeps vanishing is a LakeError naming the table."""
    write_old_format(tmp_path, "prices", _prices(["2024-01-01", "2024-01-02"]))
    real = legacy._filesystem
    flaky = _Vanishing(pafs.LocalFileSystem(), fails=2)
    monkeypatch.setattr(legacy, "_filesystem", lambda loc, table: (flaky, real(loc, table)[1]))
    found = legacy.find(Lake(tmp_path).location, "prices")
    assert found is not None and found.data and flaky.calls == 3
    broken = _Vanishing(pafs.LocalFileSystem(), fails=legacy._LIST_ATTEMPTS)
    monkeypatch.setattr(legacy, "_filesystem", lambda loc, table: (broken, real(loc, table)[1]))
    with pytest.raises(LakeError, match="prices: cannot list"):
        legacy.find(Lake(tmp_path).location, "prices")

"""Tests for Lake.staged_append: bounded batches published all-or-nothing, deduplicated on the key."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sentiment.chats.records import raw_frame
from sentiment.lake import Lake
from sentiment.privacy import to_messages


def _messages(ids: list[int], month: str = "2024-03") -> pd.DataFrame:
    ts = int(pd.Timestamp(f"{month}-04T10:00:00", tz="UTC").timestamp())
    raw = raw_frame(
        {
            "platform": "telegram",
            "chat_id": "1",
            "message_id": str(i),
            "ts": ts,
            "kind": "message",
            "text": f"m{i}",
            "source_file": "result.json",
            "source_record": i,
        }
        for i in ids
    )
    return to_messages(raw, b"k" * 32, keep_names=False, ingested_at=pd.Timestamp("2024-06-01", tz="UTC"))


def test_batches_appear_only_on_success(tmp_path: Path) -> None:
    """Nothing staged is visible until the block ends; then every new key is written once."""
    lake = Lake(tmp_path / "lake")
    with lake.staged_append("messages") as staged:
        staged.add(_messages([1, 2, 3]))
        staged.add(_messages([3, 4], month="2024-04"))  # 3 again, in another month partition
        staged.add(_messages([4, 5], month="2024-04"))
        assert lake.files("messages") == []
    assert staged.written == 5
    assert sorted(lake.read("SELECT message_id FROM messages_raw")["message_id"]) == ["1", "2", "3", "4", "5"]
    assert not any((tmp_path / "lake" / ".staging").iterdir())


def test_failure_leaves_the_table_untouched(tmp_path: Path) -> None:
    """An exception inside the block discards every staged batch."""
    lake = Lake(tmp_path / "lake")
    with pytest.raises(RuntimeError), lake.staged_append("messages") as staged:
        staged.add(_messages([1, 2]))
        raise RuntimeError("parse failed")
    assert lake.files("messages") == []
    assert not any((tmp_path / "lake" / ".staging").iterdir())


def test_dedupes_against_stored_rows(tmp_path: Path) -> None:
    """Keys already in the lake (written by append or an earlier staged run) are skipped."""
    lake = Lake(tmp_path / "lake")
    lake.append("messages", _messages([1, 2]))
    with lake.staged_append("messages") as staged:
        staged.add(_messages([2, 3]))
        staged.add(_messages([1], month="2024-05"))
    assert staged.written == 1
    assert lake.count("messages_raw") == 3

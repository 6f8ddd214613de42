"""Streaming ingest: Telegram in bounded batches, all-or-nothing per run, rejects and redaction on request."""

from __future__ import annotations

import functools
import json
from datetime import UTC
from pathlib import Path

import pandas as pd
import pytest

from sentiment.chats import detect
from sentiment.chats.telegram import iter_telegram_batches, read_telegram_export
from sentiment.cli import run_cli
from sentiment.errors import ParseError
from sentiment.lake import Lake
from sentiment.settings import load_settings
from sentiment.steps import ingest as ingest_step

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "chats"
NOW = pd.Timestamp("2024-06-01T00:00:00", tz="UTC")


def _export(path: Path, n: int, bad: int | None = None) -> Path:
    messages = [
        {
            "id": i,
            "type": "message",
            "date": "2024-03-04T10:00:00",
            "date_unixtime": str(1709546400 + i * 86400) if i != bad else "soon",
            "from": f"user {i % 7}",
            "from_id": f"user{i % 7}",
            "text": f"gm {i}, write me at trader{i}@example.com",
            "text_entities": [],
        }
        for i in range(1, n + 1)
    ]
    path.write_text(json.dumps({"name": "Big", "type": "public_supergroup", "id": 9, "messages": messages}, indent=1))
    return path


def test_batches_match_the_whole_read_and_report_progress(tmp_path: Path) -> None:
    """It yields bounded batches that together equal the one-frame read, with progress up to the file size."""
    path = _export(tmp_path / "result.json", 95)
    seen: list[tuple[int, int]] = []
    batches = list(iter_telegram_batches(path, UTC, batch_rows=20, progress=lambda d, t: seen.append((d, t))))
    assert [len(b) for b in batches] == [20, 20, 20, 20, 15]
    whole = read_telegram_export(path, UTC)
    pd.testing.assert_frame_equal(pd.concat(batches, ignore_index=True), whole)
    assert seen[-1] == (path.stat().st_size, path.stat().st_size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def _small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detect, "iter_telegram_batches", functools.partial(iter_telegram_batches, batch_rows=10))


def test_failure_after_many_batches_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that breaks after several staged batches leaves no rows and no staged files."""
    _small_batches(monkeypatch)
    path = _export(tmp_path / "result.json", 60)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.9)])
    cfg = load_settings(lake=tmp_path / "lake", tz="UTC")
    with pytest.raises(ParseError) as info:
        ingest_step.ingest_chats(cfg, [path], now=NOW)
    assert str(path) in str(info.value)
    assert Lake(cfg.lake).files("messages") == []
    assert not any((cfg.lake / ".staging").iterdir())


def test_batches_ingest_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ingesting the same export twice in small batches adds its rows once."""
    _small_batches(monkeypatch)
    path = _export(tmp_path / "result.json", 45)
    cfg = load_settings(lake=tmp_path / "lake", tz="UTC")
    assert ingest_step.ingest_chats(cfg, [path], now=NOW).rows_written == 45
    assert ingest_step.ingest_chats(cfg, [path], now=NOW).rows_written == 0
    assert Lake(cfg.lake).count("messages_raw") == 45


def test_strict_cli_names_file_and_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """By default a bad record fails the run with one line naming the file and record, writing nothing."""
    path = _export(tmp_path / "result.json", 5, bad=3)
    lake = tmp_path / "lake"
    code = run_cli(["--lake", str(lake), "ingest-chat", str(path), "--tz", "UTC"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1] == f"error: {path}: chat 'Big', message record 3: unreadable date 'soon'"
    assert Lake(lake).files("messages") == []


def test_skip_bad_records_stores_rejects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With --skip-bad-records the good records are written and the bad one lands in rejects, counted."""
    path = _export(tmp_path / "result.json", 5, bad=3)
    lake = tmp_path / "lake"
    code = run_cli(["--lake", str(lake), "ingest-chat", str(path), "--tz", "UTC", "--skip-bad-records"])
    assert code == 0
    assert "1 bad records stored in the rejects table" in capsys.readouterr().out
    rejects = Lake(lake).read("SELECT * FROM rejects")
    assert rejects[["source_file", "source_record", "platform"]].values.tolist() == [["result.json", 3, "telegram"]]
    assert "unreadable date 'soon'" in rejects["reason"].iloc[0]
    assert pd.isna(rejects["raw"].iloc[0])  # the raw record names people: kept only with --keep-names
    assert Lake(lake).count("messages_raw") == 4
    # Again: nothing new in either table.
    assert run_cli(["--lake", str(lake), "ingest-chat", str(path), "--tz", "UTC", "--skip-bad-records"]) == 0
    assert Lake(lake).count("rejects") == 1 and Lake(lake).count("messages_raw") == 4


def test_skip_bad_records_keeps_raw_with_keep_names(tmp_path: Path) -> None:
    """With --keep-names the reject keeps the raw record text."""
    path = _export(tmp_path / "result.json", 4, bad=2)
    cfg = load_settings(lake=tmp_path / "lake", tz="UTC", skip_bad_records=True, keep_names=True)
    summary = ingest_step.ingest_chats(cfg, [path], now=NOW)
    assert summary.rejects == 1
    raw = json.loads(Lake(cfg.lake).read("SELECT raw FROM rejects")["raw"].iloc[0])
    assert raw["id"] == 2 and raw["date_unixtime"] == "soon"


def test_skip_bad_records_whole_file_reject(tmp_path: Path) -> None:
    """A file that cannot be parsed at all under --skip-bad-records becomes one reject; the other files land."""
    bad = tmp_path / "b.csv"
    bad.write_bytes((FIXTURES / "pywxdump_v3_group.csv").read_bytes() + b'110,1,"unterminated')
    cfg = load_settings(lake=tmp_path / "lake", tz="UTC", skip_bad_records=True)
    summary = ingest_step.ingest_chats(cfg, [FIXTURES / "wechatmsg_group.txt", bad], now=NOW)
    assert summary.rejects == 1
    assert Lake(cfg.lake).read("SELECT source_record FROM rejects")["source_record"].tolist() == [15]
    assert summary.rows_written == Lake(cfg.lake).count("messages_raw") > 0


def test_redact_masks_text_in_the_lake(tmp_path: Path) -> None:
    """With --redact the e-mail addresses in message text never reach Parquet."""
    path = _export(tmp_path / "result.json", 3)
    cfg = load_settings(lake=tmp_path / "lake", tz="UTC", redact=True)
    ingest_step.ingest_chats(cfg, [path], now=NOW)
    texts = Lake(cfg.lake).read("SELECT text FROM messages_raw ORDER BY source_record")["text"].tolist()
    assert texts == ["gm 1, write me at [email]", "gm 2, write me at [email]", "gm 3, write me at [email]"]


def test_summary_names_the_encoding(tmp_path: Path) -> None:
    """The per-file format label says which encoding was used."""
    cfg = load_settings(lake=tmp_path / "lake", tz="Asia/Shanghai")
    summary = ingest_step.ingest_chats(cfg, [FIXTURES / "pywxdump_v3_excel_gbk.csv"], now=NOW)
    assert summary.files[0][1] == "wechat_pywxdump_csv (GB18030, e.g. re-saved by Excel)"

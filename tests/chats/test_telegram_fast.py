"""The fast Telegram JSON path (chunked msgspec decode) against the ijson path: the same rows, rejects and errors."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentiment.chats import telegram, telegram_fast
from sentiment.errors import InputError, ParseError
from sentiment.steps.ingest import local_zone
from sentiment.workers import worker_context

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chats"
SAMPLES = Path(__file__).parents[2] / ".." / "shared" / "samples" / "chat" / "telegram"
TELEGRAM_FILES = sorted(FIXTURES.glob("telegram*.json")) + (sorted(SAMPLES.glob("*.json")) if SAMPLES.is_dir() else [])


def _read(
    path: Path, fast: bool, monkeypatch: pytest.MonkeyPatch, rejects: bool = False, pool: Executor | None = None
) -> tuple[Any, ...]:
    """("ok", frame, rejects) or ("error", class, message) of one read with the fast path on or off (its chunks
    decoded in ``pool``'s workers when given)."""
    monkeypatch.setattr(telegram, "FAST", fast)
    sink: list[tuple[int, str, str]] | None = [] if rejects else None
    try:
        frames = list(telegram.iter_telegram_batches(path, UTC, rejects=sink, pool=pool))
    except InputError as exc:  # ParseError, EncodingError
        return ("error", type(exc), str(exc))
    frame = pd.concat(frames, ignore_index=True) if frames else None
    return ("ok", frame, sink)


def _assert_same(
    path: Path, monkeypatch: pytest.MonkeyPatch, rejects: bool = False, pool: Executor | None = None
) -> tuple[Any, ...]:
    slow = _read(path, False, monkeypatch, rejects)
    fast = _read(path, True, monkeypatch, rejects, pool)
    assert fast[0] == slow[0], (fast, slow)
    if slow[0] == "error":
        assert fast[1:] == slow[1:]
        assert path.name in fast[2]
    else:
        if slow[1] is None:
            assert fast[1] is None
        else:
            pd.testing.assert_frame_equal(fast[1], slow[1])
        assert fast[2] == slow[2]
    return fast


def _fast_only(path: Path) -> int:
    """Rows the fast path reads on its own (Unexpected, the hand-over to ijson, fails the test)."""
    frames = telegram._fast_frames(path, UTC, None)
    return sum(len(frame) for frame, *_ in frames)


def _one_per_line(source: Path, target: Path) -> Path:
    """The export rewritten the way the benchmark generator writes it: one message item per line."""
    root = json.loads(source.read_text(encoding="utf-8"))
    head = {k: v for k, v in root.items() if k != "messages"}
    lines = [json.dumps(m, ensure_ascii=False) for m in root["messages"]]
    text = json.dumps(head, ensure_ascii=False, indent=1)[:-2] + ',\n "messages": [\n  ' + ",\n  ".join(lines)
    target.write_text(text + "\n ]\n}\n", encoding="utf-8")
    return target


@pytest.mark.parametrize("path", TELEGRAM_FILES, ids=lambda p: p.name)
def test_fast_path_equals_ijson_on_every_telegram_file(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Telegram JSON fixture and shared sample: identical frames (and rejects) with the fast path on or off."""
    _assert_same(path, monkeypatch)
    _assert_same(path, monkeypatch, rejects=True)


def _single_chat_files() -> Iterator[Path]:
    for path in TELEGRAM_FILES:
        if '"chats"' not in path.read_text(encoding="utf-8")[:4000]:
            yield path


@pytest.mark.parametrize("path", list(_single_chat_files()), ids=lambda p: p.name)
def test_fast_path_reads_desktop_and_one_line_layouts(path: Path, tmp_path: Path) -> None:
    """Single-chat exports in Telegram Desktop's pretty-printed layout and one item per line are read by the fast
    path itself (no hand-over to ijson), with the same number of rows as the ijson path."""
    expected = len(telegram.read_telegram_export(path, UTC))
    assert expected > 0
    assert _fast_only(path) == expected
    flat = _one_per_line(path, tmp_path / path.name)
    assert _fast_only(flat) == expected


def test_small_chunks_cut_only_between_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """Chunks far smaller than a message still cut only between whole items (many chunks, same rows)."""
    monkeypatch.setattr(telegram_fast, "CHUNK_BYTES", 64)
    for path in _single_chat_files():
        _assert_same(path, monkeypatch)
        _assert_same(_one_per_line(path, tmp_path / path.name), monkeypatch, rejects=True)


SINGLE = FIXTURES / "telegram_single_chat.json"
# Byte strings a corruption inserts: JSON structure, deep nesting, numbers past 64 bits, bad escapes and UTF-8.
_TOKENS = [
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b'"',
    b"\n",
    b"\\",
    b"null",
    b"true",
    b"0",
    b"-",
    b"1e400",
    b"123456789012345678901",
    b"9223372036854775808",
    b"-9223372036854775809",
    b'"\\ud800"',
    b"\xed\xa0\x80",
    b"\xff",
    b"\xc0\xaf",
    b'"x": ' + b"[" * 70 + b"]" * 70 + b",",
    b'"text_entities": [[[[[[[1]]]]]]],',
    b'"unknown_key": 1,',
    b'"date_unixtime": "99999999999999",',
    b'"type": "service", "action": "invite_members", "members": ["A", "B"],',
    b'"reactions": [{"count": "x"}],',
    b'"media_type": [],',
    b'"id": null,',
    b'"messages": [',
    b"\t",
    b"\x0c",
]


@st.composite
def _corrupted(draw: st.DrawFn) -> tuple[bool, bytes]:
    one_line = draw(st.booleans())
    data = _ONE_LINE if one_line else SINGLE.read_bytes()
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        if action == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 40)) :]
        else:
            token = draw(st.sampled_from(_TOKENS))
            drop = len(token) if action == "replace" else 0
            data = data[:at] + token + data[at + drop :]
    return one_line, data


_ONE_LINE = b""


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_corrupted(), rejects=st.booleans())
def test_corrupted_exports_same_rows_or_same_error(
    case: tuple[bool, bytes], rejects: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A corrupted export reads to the same rows (and rejects) or fails with the same error naming the file,
    fast path on or off."""
    _, data = case
    path = tmp_path / "result.json"
    path.write_bytes(data)
    with monkeypatch.context() as patch:
        patch.setattr(telegram_fast, "CHUNK_BYTES", 256)  # several chunks even in a small file
        _assert_same(path, patch, rejects)


@pytest.fixture(autouse=True, scope="module")
def _one_line_sample(tmp_path_factory: pytest.TempPathFactory) -> None:
    global _ONE_LINE
    _ONE_LINE = _one_per_line(SINGLE, tmp_path_factory.mktemp("flat") / SINGLE.name).read_bytes()


# ---- chunks decoded in worker processes ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pool() -> Iterator[Executor]:
    with ProcessPoolExecutor(max_workers=2, mp_context=worker_context("sentiment.chats.telegram_fast")) as workers:
        yield workers


@pytest.mark.parametrize("path", TELEGRAM_FILES, ids=lambda p: p.name)
def test_workers_read_what_ijson_reads(path: Path, pool: Executor, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks decoded in worker processes, many per file: the same frames, rejects and errors as the ijson path."""
    monkeypatch.setattr(telegram_fast, "CHUNK_BYTES", 256)
    _assert_same(path, monkeypatch, pool=pool)
    _assert_same(path, monkeypatch, rejects=True, pool=pool)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_corrupted(), rejects=st.booleans())
def test_corrupted_exports_read_in_workers_same_rows_or_same_error(
    case: tuple[bool, bytes], rejects: bool, pool: Executor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A corrupted export read with parse workers: the same rows (and rejects) or the same error as ijson."""
    _, data = case
    path = tmp_path / "result.json"
    path.write_bytes(data)
    with monkeypatch.context() as patch:
        patch.setattr(telegram_fast, "CHUNK_BYTES", 256)
        _assert_same(path, patch, rejects, pool)


def _export(path: Path, messages: list[dict[str, Any]]) -> Path:
    head = '{\n "name": "Workers Group",\n "type": "public_supergroup",\n "id": 4242,\n "messages": [\n'
    body = ",\n".join("  " + json.dumps(m, ensure_ascii=False) for m in messages)
    path.write_text(head + body + "\n ]\n}\n", encoding="utf-8")
    return path


def test_records_without_ids_are_numbered_in_file_order(
    tmp_path: Path, pool: Executor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Identical records without an id, spread over many chunks after chunks the workers read: their content ids
    count repeats across the whole file, as the ijson path numbers them (a worker cannot know earlier chunks)."""
    monkeypatch.setattr(telegram_fast, "CHUNK_BYTES", 256)
    same = {"type": "message", "date_unixtime": "1704067200", "from": "Ann", "from_id": "user7", "text": "gm"}
    messages = [{**same, "id": i, "date_unixtime": str(1_704_067_200 + i)} for i in range(1, 41)]
    messages += [dict(same) for _ in range(30)]
    path = _export(tmp_path / "result.json", messages)
    fast = _assert_same(path, monkeypatch, pool=pool)
    ids = fast[1]["message_id"]
    assert ids.nunique() == len(messages) == 70
    assert ids.iloc[40:].str.startswith("t:").all()


def test_a_worker_reading_wall_times_marks_the_zone_used(
    tmp_path: Path, pool: Executor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A time without an offset read in a worker's copy of the zone marks the caller's zone as used (the CLI names
    such files); times that all carry an offset leave it unused. The times equal the in-process read's."""
    monkeypatch.setattr(telegram_fast, "CHUNK_BYTES", 256)
    base = {"type": "message", "from": "Ann", "from_id": "user7", "text": "gm"}
    absolute = [{**base, "id": i, "date_unixtime": str(1_704_067_200 + i)} for i in range(1, 30)]
    wall = [{**base, "id": 100 + i, "date": f"2024-01-02T10:00:{i:02d}"} for i in range(30)]
    for name, messages, used in (("absolute.json", absolute, False), ("wall.json", absolute + wall, True)):
        path = _export(tmp_path / name, messages)
        zone = local_zone("Asia/Shanghai")
        frames = list(telegram.iter_telegram_batches(path, zone, pool=pool))
        assert zone.used is used
        here = local_zone("Asia/Shanghai")
        expected = pd.concat(list(telegram.iter_telegram_batches(path, here)), ignore_index=True)
        pd.testing.assert_frame_equal(pd.concat(frames, ignore_index=True), expected)
        assert here.used is used


def test_broken_workers_leave_the_reading_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Workers that die at start: the chunks are read in this process, the same rows, and a warning says so."""
    monkeypatch.setattr(telegram_fast, "CHUNK_BYTES", 256)
    with ProcessPoolExecutor(max_workers=2, mp_context=worker_context(), initializer=os._exit, initargs=(3,)) as dying:
        _assert_same(SINGLE, monkeypatch, rejects=True, pool=dying)
    assert "parse workers" in caplog.text


def test_big_exports_start_their_own_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From PARALLEL_BYTES on, a read starts its parse workers itself (the ingest's zone goes to them pickled)."""
    monkeypatch.setattr(telegram_fast, "CHUNK_BYTES", 256)
    monkeypatch.setattr(telegram, "PARALLEL_BYTES", 0)
    started: list[int] = []
    real = telegram.ProcessPoolExecutor

    def counting(*args: Any, **kwargs: Any) -> ProcessPoolExecutor:
        started.append(kwargs["max_workers"])
        return real(*args, **kwargs)

    monkeypatch.setattr(telegram, "ProcessPoolExecutor", counting)
    zone = local_zone("UTC")
    frames = list(telegram.iter_telegram_batches(SINGLE, zone))
    assert started == [max(2, os.cpu_count() or 1)] or (os.cpu_count() or 1) < 2
    expected = telegram.read_telegram_export(SINGLE, UTC)
    pd.testing.assert_frame_equal(pd.concat(frames, ignore_index=True), expected)


def test_an_error_in_a_worker_names_the_file_and_record(tmp_path: Path, pool: Executor) -> None:
    """A bad record in a chunk a worker reads fails as in this process: ParseError naming the file and record."""
    good = [{"id": i, "type": "message", "date_unixtime": str(1_704_067_200 + i), "text": "gm"} for i in range(1, 9)]
    bad = {"id": 9, "type": "message", "date_unixtime": "99999999999999", "text": "gm"}
    path = _export(tmp_path / "result.json", [*good, bad])
    with pytest.raises(ParseError, match=r"result\.json.*message record 9"):
        list(telegram.iter_telegram_batches(path, UTC, pool=pool))


def test_a_job_that_cannot_go_to_the_workers_is_read_here(
    tmp_path: Path, pool: Executor, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A zone that cannot be pickled (a caller's own tzinfo) cannot reach the workers: the chunks are read in this
    process with it, the same rows as without workers."""
    monkeypatch.setattr(telegram_fast, "CHUNK_BYTES", 256)

    class Plus8(tzinfo):  # defined here: pickle cannot find it by name
        def utcoffset(self, dt: datetime | None) -> timedelta:
            return timedelta(hours=8)

        def dst(self, dt: datetime | None) -> timedelta:
            return timedelta(0)

    base = {"type": "message", "from": "Ann", "from_id": "user7", "text": "gm"}
    path = _export(tmp_path / "wall.json", [{**base, "id": i, "date": f"2024-01-02T10:00:{i:02d}"} for i in range(40)])
    frames = list(telegram.iter_telegram_batches(path, Plus8(), pool=pool))
    expected = pd.concat(list(telegram.iter_telegram_batches(path, Plus8())), ignore_index=True)
    pd.testing.assert_frame_equal(pd.concat(frames, ignore_index=True), expected)
    assert expected["ts"].iloc[0] == pd.Timestamp("2024-01-02T02:00:00", tz="UTC")
    assert "parse workers failed" in caplog.text

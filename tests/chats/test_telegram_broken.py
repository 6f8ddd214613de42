"""Broken or minimal Telegram JSON exports through the installed CLI: minimal records get content ids; broken
shapes exit 1 with one line naming the file, no traceback, and leave the lake's data as it was."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sentiment.lake import Lake

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chats"
CLI = Path(sys.executable).parent / "sentiment"


def _cli(lake: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "--lake", str(lake), "ingest-chat", *args, "--tz", "UTC", "--scorer", "lexicon"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _chat(messages: object) -> dict[str, object]:
    return {"name": "Alpha Group", "type": "private_supergroup", "id": 42, "messages": messages}


def test_minimal_records_without_id_get_content_ids(tmp_path: Path) -> None:
    """type/date_unixtime/from/text and no id: read, repeats kept apart, and a re-ingest adds nothing."""
    minimal = [
        {"type": "message", "date_unixtime": "1700000000", "from": "Ann", "text": "gm"},
        {"type": "message", "date_unixtime": "1700000000", "from": "Ann", "text": "gm"},
        {"type": "message", "date_unixtime": "1700000060", "from": "Bo", "text": "wagmi"},
    ]
    export = tmp_path / "minimal.json"
    export.write_text(json.dumps(_chat(minimal)), encoding="utf-8")
    lake = tmp_path / "lake"
    assert _cli(lake, str(export)).returncode == 0
    ids = Lake(lake).read("SELECT message_id FROM messages")["message_id"]
    assert len(ids) == 3 and ids.nunique() == 3 and all(i.startswith("t:") for i in ids)
    assert _cli(lake, str(export)).returncode == 0
    assert Lake(lake).count("messages") == 3


BROKEN = {
    "messages_string.json": json.dumps(_chat("not a list")),
    "messages_null.json": json.dumps(_chat(None)),
    "chats_list_object.json": json.dumps({"about": "", "chats": {"about": "", "list": {"0": _chat([])}}}),
    "chats_string.json": json.dumps({"about": "", "chats": "none"}),
    "huge_date.json": json.dumps(
        _chat([{"id": 1, "type": "message", "date_unixtime": "9" * 20, "from": "Ann", "text": "hi"}])
    ),
    "deep.json": '{"name": "g", "messages": [{"id": 1, "type": "message", "date_unixtime": "1700000000", "text": '
    + "[" * 100_000
    + "]" * 100_000
    + "}]}",
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("broken") / "lake"
    assert _cli(lake, str(FIXTURES / "telegram_single_chat.json")).returncode == 0
    return lake


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_shape_fails_cleanly(name: str, seeded: Path, tmp_path: Path) -> None:
    export = tmp_path / name
    export.write_text(BROKEN[name], encoding="utf-8")
    before = sorted(p.relative_to(seeded) for p in (seeded / "messages").rglob("*") if p.is_file())
    rows = Lake(seeded).count("messages")
    result = _cli(seeded, str(export))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr + result.stdout
    assert Lake(seeded).count("messages") == rows
    assert sorted(p.relative_to(seeded) for p in (seeded / "messages").rglob("*") if p.is_file()) == before


@pytest.mark.parametrize(
    ("data", "depth"),
    [
        (b'{"a": "[[[[[[\\\\", "b": [[1]]}', 3),  # brackets in a string ending in an escaped backslash
        (b'{"a": "x\\"[[[[", "b": 1}', 1),  # an escaped quote does not end the string
        (b'[{"k": [{"k": []}]}]', 5),
    ],
)
def test_json_depth_guard_respects_strings_at_every_chunk_cut(data: bytes, depth: int) -> None:
    """The streaming depth check counts only brackets outside strings, wherever the chunks are cut."""
    from sentiment.chats.encoding import _JsonDepth

    for cut in range(len(data) + 1):
        exact, under = _JsonDepth(depth), _JsonDepth(depth - 1)
        assert exact.ok(data[:cut]) and exact.ok(data[cut:]), cut
        assert not (under.ok(data[:cut]) and under.ok(data[cut:])), cut

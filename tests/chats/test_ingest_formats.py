"""End-to-end ingest of the Discord, WhatsApp, Slack and generic formats through the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sentiment.cli import run_cli
from sentiment.lake import Lake

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chats"
NEW_FORMATS = ("discord_channel.json", "discord_old_dates.csv", "whatsapp_android_24h.txt", "whatsapp_ios_brackets.txt")


def test_ingest_folder_of_new_formats_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder of new-format exports ingests (formats reported), and a second run adds 0 rows."""
    exports = tmp_path / "exports"
    exports.mkdir()
    for name in NEW_FORMATS:
        shutil.copy(FIXTURES / name, exports / name)
    lake = tmp_path / "lake"
    assert run_cli(["--lake", str(lake), "ingest-chat", str(exports), "--tz", "Europe/Berlin"]) == 0
    out = capsys.readouterr().out
    for fmt in ("discord_json", "discord_csv", "whatsapp_txt"):
        assert fmt in out
    first = Lake(lake).count("messages")
    assert first > 0
    assert run_cli(["--lake", str(lake), "ingest-chat", str(exports), "--tz", "Europe/Berlin"]) == 0
    assert Lake(lake).count("messages") == first
    blob = b"".join(p.read_bytes() for p in lake.rglob("*.parquet"))
    assert b"Dr: Who" not in blob and b"Erin" not in blob


def test_ingest_generic_with_map(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--map threads through to the generic reader; without it the CLI exits 1 with a one-line reason."""
    lake = tmp_path / "lake"
    src = str(FIXTURES / "generic_chat.jsonl")
    assert run_cli(["--lake", str(lake), "ingest-chat", src, "--tz", "UTC", "--platform", "generic"]) == 1
    assert "--map" in capsys.readouterr().err
    mapping = "ts=time,author=from.name,text=message"
    assert run_cli(["--lake", str(lake), "ingest-chat", src, "--tz", "UTC", "--map", mapping]) == 0
    assert "generic_jsonl" in capsys.readouterr().out
    assert Lake(lake).count("messages") == 3

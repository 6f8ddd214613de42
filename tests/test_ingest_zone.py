"""Wall-time exports: read in the configured zone, else UTC (never the machine's), and named only when read."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from sentiment.cli import run_cli
from sentiment.lake import Lake

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "chats"
WALL = FIXTURES / "whatsapp_android_24h.txt"
ABSOLUTE = FIXTURES / "discord_channel.json"


def _first_ts(lake: Path) -> pd.Timestamp:
    return Lake(lake).read("SELECT min(ts) AS t FROM messages WHERE platform = 'whatsapp'")["t"].iloc[0]


def test_machine_zone_is_never_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same file ingested on a 'Shanghai' machine and a 'UTC' machine stores the same instants (UTC wall)."""
    stamps = []
    for zone in ("Asia/Shanghai", "UTC"):
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        lake = tmp_path / zone.replace("/", "_")
        assert run_cli(["--lake", str(lake), "ingest-chat", str(WALL), "--scorer", "lexicon"]) == 0
        stamps.append(_first_ts(lake))
    time.tzset()
    assert stamps[0] == stamps[1]
    shanghai = tmp_path / "tz"
    assert run_cli(["--lake", str(shanghai), "ingest-chat", str(WALL), "--tz", "Asia/Shanghai"]) == 0
    assert _first_ts(shanghai) == stamps[0] - pd.Timedelta(hours=8)


def test_notice_only_when_a_wall_time_file_was_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lake = str(tmp_path / "lake")
    assert run_cli(["--lake", lake, "ingest-chat", str(ABSOLUTE)]) == 0
    assert "without an offset" not in capsys.readouterr().err  # every time in it is absolute
    assert run_cli(["--lake", lake, "ingest-chat", str(ABSOLUTE), str(WALL)]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "1 export(s) hold times without an offset" in err and WALL.name in err and "--tz" in err
    assert run_cli(["--lake", lake, "ingest-chat", str(WALL), "--tz", "Europe/Berlin"]) == 0
    assert "without an offset" not in capsys.readouterr().err  # a zone was given

"""in_child_process: a step run in a child process returns its result, raises its own errors, logs here."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd
import pytest

from sentiment.errors import InputError
from sentiment.lake import Lake
from sentiment.settings import load_settings
from sentiment.steps import ingest as ingest_step
from sentiment.steps.isolated import in_child_process

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "chats"
NOW = pd.Timestamp("2024-06-01T00:00:00", tz="UTC")


def test_a_step_in_a_child_returns_its_result_and_logs_here(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(lake=tmp_path / "lake", tz="UTC")
    caplog.set_level(logging.INFO, logger="sentiment")
    summary = in_child_process(ingest_step.ingest_chats, settings, [FIXTURES / "telegram_single_chat.json"], now=NOW)
    assert summary.rows_written == Lake(tmp_path / "lake").count("messages_raw") > 0
    child_records = [r for r in caplog.records if r.name == "sentiment.steps.ingest" and r.process != os.getpid()]
    assert any("telegram_single_chat.json" in r.getMessage() for r in child_records)


def test_a_step_in_a_child_raises_the_same_error_with_its_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    with pytest.raises(InputError) as caught:
        in_child_process(ingest_step.expand_chat_paths, [missing])
    assert type(caught.value) is InputError
    assert (caught.value.path, caught.value.reason) == (str(missing), "no such file or folder")
    assert str(caught.value) == f"{missing}: no such file or folder"

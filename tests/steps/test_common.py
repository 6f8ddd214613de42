"""The runs table record every step leaves: a failed ingest keeps no person's name."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sentiment.errors import InputError, ParseError
from sentiment.lake import Lake
from sentiment.settings import Settings
from sentiment.steps.ingest import ingest_chats

NOW = pd.Timestamp("2024-06-01", tz="UTC")


def test_failed_ingest_records_no_file_name_or_record(tmp_path: Path) -> None:
    """A broken export named after a person fails; its runs row names the error kind, not the file or record."""
    export = tmp_path / "WhatsApp Chat with Johnathan Appleseed.txt"
    export.write_text("12/01/2024, 10:00 - Johnathan Appleseed: gm\nnot a message line {\n", encoding="utf-8")
    settings = Settings(lake=tmp_path / "lake", platform="telegram")
    with pytest.raises(InputError):
        ingest_chats(settings, [export], now=NOW)
    runs = Lake(settings.lake).read("SELECT step, status, detail FROM runs")
    assert list(runs["status"]) == ["failed"]
    detail = runs["detail"].iloc[0]
    assert detail.split(" ")[0].endswith("Error") and "Johnathan" not in detail and "Appleseed" not in detail


def test_keep_names_keeps_the_whole_message() -> None:
    """With --keep-names the runs row keeps the line the user saw."""
    from sentiment.steps.common import failure_detail

    exc = ParseError(Path("WhatsApp Chat with Ann.txt"), "unreadable date 'soon'", line=3)
    assert failure_detail(exc, keep_names=True) == f"ParseError: {exc}"
    assert "Ann" not in failure_detail(exc, keep_names=False) and "record 3" in failure_detail(exc, False)

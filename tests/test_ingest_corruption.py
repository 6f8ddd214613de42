"""Property test: a corrupted export either parses or fails with the project's clear error, and never half-writes."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentiment.errors import EncodingError, ParseError, UnknownFormatError
from sentiment.lake import Lake
from sentiment.settings import load_settings
from sentiment.steps import ingest as ingest_step

FIXTURES = Path(__file__).parent / "fixtures" / "chats"
NOW = pd.Timestamp("2024-06-01T00:00:00", tz="UTC")
CLEAR_ERRORS = (ParseError, EncodingError, UnknownFormatError)


@st.composite
def corruptions(draw: st.DrawFn, data: bytes) -> bytes:
    """Truncate at a random offset, flip or insert bytes, or drop a line — one or two of them (60 examples in all)."""
    for _ in range(draw(st.integers(1, 2))):
        how = draw(st.sampled_from(["truncate", "flip", "insert", "drop_line"]))
        if how == "truncate":
            data = data[: draw(st.integers(0, max(len(data) - 1, 0)))]
        elif how == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1 :]
        elif how == "insert":
            i = draw(st.integers(0, len(data)))
            data = data[:i] + draw(st.binary(min_size=1, max_size=4)) + data[i:]
        else:
            lines = data.split(b"\n")
            if len(lines) > 1:
                del lines[draw(st.integers(0, len(lines) - 1))]
            data = b"\n".join(lines)
    return data


def _check(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        cfg = load_settings(lake=Path(tmp) / "lake", tz="UTC")
        try:
            summary = ingest_step.ingest_chats(cfg, [path], now=NOW)
        except CLEAR_ERRORS as exc:
            assert str(path) in str(exc)
            assert Lake(cfg.lake).files("messages") == [], "a failed ingest left rows in the lake"
            return
        lake = Lake(cfg.lake)
        assert lake.count("messages_raw") == summary.rows_written <= summary.rows_read


@pytest.mark.parametrize("name", ["telegram_single_chat.json", "memotrace_group.csv"])
def test_corrupted_export_parses_or_fails_cleanly(name: str) -> None:
    """It parses a corrupted export or raises ParseError/EncodingError naming the file, writing nothing."""
    original = (FIXTURES / name).read_bytes()

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
    @given(corruptions(original))
    def run(data: bytes) -> None:
        _check(name, data)

    run()

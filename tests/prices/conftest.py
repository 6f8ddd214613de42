"""Fixtures for the prices tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from gate_wire import FIXTURES


@pytest.fixture
def gate_root(tmp_path: Path) -> Path:
    """A writable replay root holding the hand-written fixture currency pairs and candles."""
    shutil.copytree(FIXTURES / "gate", tmp_path / "gate")
    return tmp_path


@pytest.fixture
def binance_root(tmp_path: Path) -> Path:
    """A writable replay root holding the hand-written Binance exchangeInfo (BTC, ETH, VIRTUAL, LUNA vs USDT)."""
    shutil.copytree(FIXTURES / "binance", tmp_path / "binance")
    return tmp_path

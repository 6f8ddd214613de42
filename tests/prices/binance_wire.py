"""Test helpers: generated Binance spot kline wire rows and where the replay server looks for them."""

from __future__ import annotations

import json
from pathlib import Path

from gate_wire import FIXTURES

BINANCE_FIXTURES = FIXTURES / "binance"


def kline_rows(start_ms: int, step_ms: int, count: int, skip: frozenset[int] = frozenset()) -> list[list[object]]:
    """Binance kline wire rows (12 fields: ms ints, decimal strings, trade count), ascending; close i = 100 + i."""
    rows: list[list[object]] = []
    for i in range(count):
        if i in skip:
            continue
        close = 100.0 + i
        opened = start_ms + i * step_ms
        rows.append(
            [
                opened,
                f"{close - 1.0:.8f}",
                f"{close + 0.5:.8f}",
                f"{close - 1.5:.8f}",
                f"{close:.8f}",
                "10.00000000",
                opened + step_ms - 1,
                f"{close * 10:.8f}",
                42,
                "4.00000000",
                f"{close * 4:.8f}",
                "0",
            ]
        )
    return rows


def write_klines(root: Path, symbol_id: str, interval: str, rows: list[list[object]]) -> None:
    """Store kline rows where the replay server looks for ``symbol_id`` (e.g. BTCUSDT) ``interval`` candles."""
    folder = root / "binance" / "klines"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{symbol_id}_{interval}.json").write_text(json.dumps(rows), encoding="utf-8")

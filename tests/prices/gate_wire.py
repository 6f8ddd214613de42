"""Test helpers: generated Gate spot candle wire rows and a writable replay root."""

from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "prices"
SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def wire_rows(start_s: int, step_s: int, count: int, skip: frozenset[int] = frozenset()) -> list[list[str]]:
    """Gate spot candle wire rows (all strings), ascending; candle i closes at 100 + i; skip omits indexes."""
    rows = []
    for i in range(count):
        if i in skip:
            continue
        close = 100.0 + i
        rows.append(
            [
                str(start_s + i * step_s),
                f"{close * 10:.2f}",
                f"{close:.1f}",
                f"{close + 0.5:.1f}",
                f"{close - 1.5:.1f}",
                f"{close - 1.0:.1f}",
                "10.0",
                "true",
            ]
        )
    return rows


def write_candles(root: Path, pair: str, interval: str, rows: list[list[str]]) -> None:
    """Store wire rows where the replay server looks for ``pair``/``interval`` candles."""
    folder = root / "gate" / "spot_candlesticks"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{pair}_{interval}.json").write_text(json.dumps(rows), encoding="utf-8")

"""The Delta lake against one plain Parquet file, 1M generated messages, in one run: append, re-append (0 new),
a weekly group-by, and compaction, each printed next to its naive baseline and the ratio.

Baselines: ``pandas.to_parquet`` of the same rows to one file (writes), ``pandas.read_parquet`` + groupby and a
DuckDB scan of that one file (the weekly query). Targets from issue 14: append <= 3x the pandas write, re-append
<= 2x the pandas write, weekly query <= 1.5x the DuckDB scan of one file.

Run: ``PYTHONPATH=src:. python benchmarks/lake.py [--rows 1000000] [--batches 10]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from sentiment.lake import Lake

WEEKLY_SQL = (
    "SELECT chat_id, date_trunc('week', ts) AS week, count(*) AS n, count(DISTINCT author_id) AS authors "
    "FROM {source} GROUP BY ALL ORDER BY ALL"
)


def generate(rows: int, chats: int = 20, months: int = 12, seed: int = 0, offset: int = 0) -> pd.DataFrame:
    """``rows`` chat messages spread over ``chats`` chats and ``months`` months."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01", tz="UTC")
    seconds = rng.integers(0, months * 30 * 86400, rows)
    ids = np.arange(offset, offset + rows)
    authors = rng.integers(0, 5000, rows)
    return pd.DataFrame(
        {
            "platform": "telegram",
            "chat_id": pd.Series(ids % chats).map(lambda c: f"-100{c:04d}"),
            "chat_name": "VIRTUAL community",
            "message_id": ids.astype(str),
            "ts": start + pd.to_timedelta(seconds, unit="s"),
            "author_id": pd.Series(authors).map(lambda a: f"{a:016x}"),
            "author_name": None,
            "kind": "message",
            "join_method": None,
            "inviter_id": None,
            "media_type": None,
            "text": pd.Series(ids % 997).map(lambda i: f"gm frens, VIRTUAL to the moon #{i}"),
            "reply_to": None,
            "is_forward": False,
            "reactions": pd.array(rng.integers(0, 5, rows), dtype="Int32"),
            "edited": False,
            "source_file": "result.json",
            "source_record": ids + 1,
            "ingested_at": pd.Timestamp("2024-12-01", tz="UTC"),
        }
    )


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def best(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Fastest of ``repeat`` runs (on a shared machine one run measures the neighbours as much as the code)."""
    runs = [timed(fn) for _ in range(repeat)]
    return min(t for t, _ in runs), runs[-1][1]


def duck_on_file(path: Path) -> pd.DataFrame:
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(WEEKLY_SQL.format(source=f"read_parquet('{path}')")).df()
    finally:
        con.close()


def line(label: str, seconds: float, base: float | None = None, target: float | None = None) -> None:
    ratio = "" if base is None else f"  {seconds / base:6.2f} x"
    goal = "" if target is None else f"  (target <= {target:g} x: {'met' if seconds / base <= target else 'MISSED'})"
    print(f"  {label:<44}{seconds:7.2f} s{ratio}{goal}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=10, help="appends for the small-files table")
    args = parser.parse_args()
    n = args.rows
    frame = generate(n)
    print(f"{n:,} messages, {frame.memory_usage(deep=True).sum() / 1e6:,.0f} MB in pandas, 20 chats\n")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        plain = root / "plain.parquet"
        # Both sides write 1,000 rows once first: the first write in a process pays one-off set-up (delta-rs starts
        # its runtime, DuckDB and pyarrow their thread pools), printed apart from the steady-state figures.
        t_pd_warm, _ = timed(lambda: frame.head(1000).to_parquet(root / "warm.parquet", compression="zstd"))
        t_lake_warm, _ = timed(lambda: Lake(root / "warm").append("messages", frame.head(1000)))
        # Writes, like the queries below, are timed best of 3 on both sides (this machine is shared): pandas
        # rewrites its file, the lake appends to a new, empty lake each time.
        t_pd_write, _ = best(lambda: frame.to_parquet(plain, compression="zstd"))
        lakes = iter([Lake(root / f"lake{i}") for i in range(3)])
        t_append, written = best(lambda: next(lakes).append("messages", frame))
        assert written == n, written
        lake = Lake(root / "lake2")
        t_reappend, again = best(lambda: lake.append("messages", frame))
        assert again == 0, again
        fresh = generate(10_000, seed=1, offset=n)
        t_incr, added = timed(lambda: lake.append("messages", pd.concat([frame.iloc[:90_000], fresh])))
        assert added == 10_000, added
        t_staged, staged_written = timed(lambda: _staged(root / "lake_staged", frame, args.batches))
        assert staged_written == n

        print("first write in the process, 1,000 rows (one-off set-up, not in the ratios below)")
        line("pandas.to_parquet", t_pd_warm)
        line("Lake.append", t_lake_warm)
        print("write (best of 3; baseline: pandas.to_parquet of the same rows to one file)")
        line("pandas.to_parquet, one file", t_pd_write)
        line("Lake.append, 1M new rows (one Delta commit)", t_append, t_pd_write, 3)
        line("Lake.append again, 0 new (idempotent)", t_reappend, t_pd_write, 2)
        line("Lake.append 100k of which 10k new", t_incr, t_pd_write)
        line(f"staged_append, {args.batches} batches, one commit", t_staged, t_pd_write)

        t_pd_read, back = best(lambda: pd.read_parquet(plain))
        assert len(back) == n

        def pandas_weekly() -> pd.DataFrame:
            df = pd.read_parquet(plain, columns=["chat_id", "ts", "author_id"])
            day = df["ts"].dt.floor("D")
            df["week"] = day - pd.to_timedelta(day.dt.day_of_week, unit="D")  # Monday 00:00 UTC, as DuckDB's
            return df.groupby(["chat_id", "week"]).agg(n=("ts", "size"), authors=("author_id", "nunique"))

        t_pd_query, pd_result = best(pandas_weekly)
        t_duck_file, duck_file = best(lambda: duck_on_file(plain))
        t_lake_query, lake_result = best(lambda: lake.read(WEEKLY_SQL.format(source="messages_raw")))
        t_lake_read, lake_back = best(lambda: lake.read("SELECT * FROM messages_raw"))
        assert len(lake_back) == n + 10_000 == lake_result["n"].sum() and len(pd_result) == len(duck_file)
        print("read / weekly query (best of 3)")
        line("pandas.read_parquet, all columns", t_pd_read)
        line("Lake.read('SELECT * FROM messages_raw')", t_lake_read, t_pd_read)
        line("pandas weekly group-by (read + agg)", t_pd_query)
        line("DuckDB weekly group-by on the one file", t_duck_file)
        line("Lake.read weekly group-by (Delta, DuckDB)", t_lake_query, t_duck_file, 1.5)
        print(f"    pandas / lake weekly query {t_pd_query / t_lake_query:.2f} x faster")

        version = lake.version("messages")
        t_as_of, old = best(lambda: lake.read(WEEKLY_SQL.format(source="messages_raw"), as_of=version - 1))
        assert old["n"].sum() == n
        line("same query --as-of the version before", t_as_of, t_duck_file)

        small = Lake(root / "lake_small")
        for chunk in np.array_split(np.arange(n), args.batches):
            small.append("messages", frame.iloc[chunk])
        files_small = len(small.files("messages"))
        query = WEEKLY_SQL.format(source="messages_raw")
        t_small, r_small = best(lambda: small.read(query))
        t_compact, result = timed(lambda: small.compact("messages", retention_hours=0))
        t_big, r_big = best(lambda: small.read(query))
        pd.testing.assert_frame_equal(r_small, r_big)
        print(f"small files ({args.batches} appends) vs optimize + vacuum")
        line(f"weekly query over {files_small} files", t_small)
        line(f"compact -> {result['messages'][1]} files", t_compact)
        line("weekly query after compaction (identical result)", t_big, t_small)


def _staged(root: Path, frame: pd.DataFrame, batches: int) -> int:
    lake = Lake(root)
    with lake.staged_append("messages") as staged:
        for chunk in np.array_split(np.arange(len(frame)), batches):
            staged.add(frame.iloc[chunk])
    return staged.written


if __name__ == "__main__":
    main()

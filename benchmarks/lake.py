"""Lake write/dedupe/query throughput for 1M generated messages against plain pandas Parquet, in one run.

Run: ``PYTHONPATH=src:. python benchmarks/lake.py [--rows 1000000] [--batches 10]``. Prints figures and ratios.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from sentiment.lake import Lake

WEEKLY_SQL = (
    "SELECT chat_id, date_trunc('week', ts) AS week, count(*) AS n, count(DISTINCT author_id) AS authors "
    "FROM messages_raw GROUP BY ALL"
)


def generate(rows: int, chats: int = 20, months: int = 12, seed: int = 0, offset: int = 0) -> pd.DataFrame:
    """``rows`` chat messages spread over ``chats`` chats and ``months`` months (240 partitions by default)."""
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


def naive_anti_join_seconds(lake: Lake, frame: pd.DataFrame) -> float:
    """The old way: Python sets of key tuples built from every stored file, then a per-row membership test."""

    def run() -> int:
        stored = set()
        for f in lake.files("messages"):
            parts = Path(f).parts
            chat = next(p.split("=", 1)[1] for p in parts if p.startswith("chat_id="))
            stored.update((chat, m) for m in pq.read_table(f, columns=["message_id"]).column(0).to_pylist())
        return sum((c, m) not in stored for c, m in zip(frame["chat_id"], frame["message_id"], strict=True))

    return timed(run)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=10, help="appends for the small-files lake")
    args = parser.parse_args()
    n = args.rows
    frame = generate(n)
    mb = frame.memory_usage(deep=True).sum() / 1e6
    print(f"{n:,} messages, {mb:,.0f} MB in pandas, 20 chats x 12 months = 240 partitions\n")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # ---- writes ---------------------------------------------------------------------------------------
        t_pd_write, _ = timed(lambda: frame.to_parquet(root / "plain.parquet", compression="zstd"))
        t_pd_part, _ = timed(
            lambda: frame.assign(month=frame["ts"].dt.strftime("%Y-%m")).to_parquet(
                root / "plain_hive", partition_cols=["platform", "chat_id", "month"], compression="zstd"
            )
        )
        lake = Lake(root / "lake")
        t_lake_write, written = timed(lambda: lake.append("messages", frame))
        assert written == n
        t_reappend, again = timed(lambda: lake.append("messages", frame))
        assert again == 0
        fresh = generate(10_000, seed=1, offset=n)
        t_incr, added = timed(lambda: lake.append("messages", pd.concat([frame.iloc[:90_000], fresh])))
        assert added == 10_000
        t_naive = naive_anti_join_seconds(lake, frame)

        print("write")
        print(f"  pandas.to_parquet, one file           {t_pd_write:7.2f} s  {n / t_pd_write:>12,.0f} rows/s")
        print(f"  pandas.to_parquet, hive partitions    {t_pd_part:7.2f} s  {n / t_pd_part:>12,.0f} rows/s")
        print(f"  Lake.append (conform, dedupe, fsync)  {t_lake_write:7.2f} s  {n / t_lake_write:>12,.0f} rows/s")
        print(f"    ratio lake / pandas one file        {t_lake_write / t_pd_write:7.2f} x")
        print("dedupe against the stored messages")
        print(f"  re-append all of them (0 written)     {t_reappend:7.2f} s")
        print(f"  append 100k of which 10k new          {t_incr:7.2f} s")
        print(f"  naive python-set anti join, all      {t_naive:7.2f} s  (old way, keys only, no write)")
        print(f"    ratio naive / vectorised re-append  {t_naive / t_reappend:7.2f} x")

        # ---- queries ----------------------------------------------------------------------------------------
        lake_single = Lake(root / "lake_one")
        lake_single.append("messages", frame)
        t_pd_read, back = timed(lambda: pd.read_parquet(root / "plain.parquet"))
        assert len(back) == n

        def pandas_weekly() -> pd.DataFrame:
            df = pd.read_parquet(root / "plain.parquet", columns=["chat_id", "ts", "author_id"])
            day = df["ts"].dt.floor("D")
            df["week"] = day - pd.to_timedelta(day.dt.day_of_week, unit="D")  # Monday 00:00 UTC, as DuckDB's
            return df.groupby(["chat_id", "week"]).agg(n=("ts", "size"), authors=("author_id", "nunique"))

        t_pd_query, pd_result = timed(pandas_weekly)
        t_lake_read, lake_back = timed(lambda: lake_single.read("SELECT * FROM messages_raw"))
        assert len(lake_back) == n
        t_lake_query, duck_result = timed(lambda: lake_single.read(WEEKLY_SQL))
        assert len(duck_result) == len(pd_result)

        print("read / query (all rows)")
        print(f"  pandas.read_parquet, all columns      {t_pd_read:7.2f} s")
        print(f"  Lake.read('SELECT * ...') -> pandas   {t_lake_read:7.2f} s")
        print(f"  pandas weekly group-by (read+agg)     {t_pd_query:7.2f} s")
        print(f"  Lake.read weekly group-by (DuckDB)    {t_lake_query:7.2f} s")
        print(f"    ratio pandas / lake weekly query    {t_pd_query / t_lake_query:7.2f} x")

        # ---- small files vs compacted ----------------------------------------------------------------------
        small = Lake(root / "lake_small")
        for chunk in np.array_split(np.arange(n), args.batches):
            small.append("messages", frame.iloc[chunk])
        files_small = len(small.files("messages"))
        t_small, r_small = timed(lambda: small.read(WEEKLY_SQL + " ORDER BY ALL"))
        t_compact, result = timed(lambda: small.compact("messages"))
        t_big, r_big = timed(lambda: small.read(WEEKLY_SQL + " ORDER BY ALL"))
        pd.testing.assert_frame_equal(r_small, r_big)
        print(f"small files ({args.batches} appends) vs compacted")
        print(f"  weekly query over {files_small:5d} files          {t_small:7.2f} s")
        print(f"  compact -> {result['messages'][1]} files                 {t_compact:7.2f} s")
        print(f"  weekly query after compaction         {t_big:7.2f} s")
        print(f"    ratio small / compacted             {t_small / t_big:7.2f} x  (results identical)")


if __name__ == "__main__":
    main()

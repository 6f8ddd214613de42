"""Benchmark: stream a generated Telegram export into a lake vs the naive json.load + pandas, speed and peak RSS.

Usage: ``PYTHONPATH=src:. python benchmarks/ingest.py [--messages 1000000] [--skip-naive]``.
Each side runs in its own child process; peak RSS is that child's VmHWM from /proc (its own high-water mark).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_WORDS = ["gm", "wagmi", "to the moon", "rekt", "buy the dip", "🚀", "VIRTUAL", "ser", "ngmi", "LFG", "牛市来了", "冲"]


def write_export(path: Path, n: int) -> int:
    """A single-chat Telegram Desktop export of ``n`` records (messages, entity texts, replies, media, joins)."""
    start = 1_700_000_000
    step = 20  # seconds between records: 1M records span ~8 months, so several month partitions
    with path.open("w", encoding="utf-8") as fh:
        fh.write('{\n "name": "Benchmark Group",\n "type": "public_supergroup",\n "id": 1234567890,\n "messages": [\n')
        for i in range(1, n + 1):
            ts = start + i * step
            user = i % 5000
            base = {
                "id": i,
                "type": "message",
                "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)),
                "date_unixtime": str(ts),
            }
            if i % 97 == 0:
                msg = {
                    **base,
                    "type": "service",
                    "actor": f"User {user}",
                    "actor_id": f"user{user}",
                    "action": "invite_members",
                    "members": [f"User {user}"],
                    "text": "",
                    "text_entities": [],
                }
            else:
                words = " ".join(_WORDS[(i * k) % len(_WORDS)] for k in range(1, 2 + i % 9))
                text: object = words
                if i % 5 == 0:
                    text = [words + " ", {"type": "hashtag", "text": "#VIRTUAL"}]
                msg = {**base, "from": f"User {user}", "from_id": f"user{user}", "text": text}
                if i % 7 == 0:
                    msg["reply_to_message_id"] = i - 3
                if i % 31 == 0:
                    msg["photo"] = "(File not included. Change data exporting settings to download.)"
                    msg["width"], msg["height"] = 1280, 720
                if i % 11 == 0:
                    msg["reactions"] = [{"type": "emoji", "count": 2, "emoji": "👍", "recent": []}]
                msg["text_entities"] = [{"type": "plain", "text": words}]
            fh.write(("  " if i == 1 else ",\n  ") + json.dumps(msg, ensure_ascii=False))
        fh.write("\n ]\n}\n")
    return path.stat().st_size


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child_stream(export: Path, lake: Path) -> dict[str, float]:
    """The project's path: ingest_step.ingest_chats (streamed parse, pseudonymise, staged lake append)."""
    import pandas as pd

    from sentiment.settings import load_settings
    from sentiment.steps import ingest as ingest_step

    settings = load_settings(lake=lake, tz="UTC")
    t0 = time.perf_counter()
    summary = ingest_step.ingest_chats(settings, [export], now=pd.Timestamp("2024-06-01", tz="UTC"))
    seconds = time.perf_counter() - t0
    return {"records": summary.rows_read, "written": summary.rows_written, "seconds": seconds}


def child_naive(export: Path) -> dict[str, float]:
    """The naive way: json.load the whole file, then pandas.DataFrame of the messages (no lake write)."""
    import pandas as pd

    t0 = time.perf_counter()
    with export.open(encoding="utf-8") as fh:
        root = json.load(fh)
    frame = pd.DataFrame(root["messages"])
    seconds = time.perf_counter() - t0
    return {"records": len(frame), "seconds": seconds}


def _run_child(*args: str) -> dict[str, float]:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000, help="records in the generated export")
    parser.add_argument("--skip-naive", action="store_true", help="skip json.load + pandas (it needs many GB)")
    parser.add_argument("--child", choices=["stream", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--export", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--lake", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        result = child_stream(args.export, args.lake) if args.child == "stream" else child_naive(args.export)
        print(json.dumps({**result, "peak_rss_mb": _peak_rss_mb()}))
        return

    with tempfile.TemporaryDirectory(prefix="sentiment-bench-") as tmp:
        export = Path(tmp) / "result.json"
        t0 = time.perf_counter()
        size = write_export(export, args.messages)
        print(f"generated {args.messages:,} records, {size / 1e6:,.0f} MB in {time.perf_counter() - t0:.0f} s")
        stream = _run_child("--child", "stream", "--export", str(export), "--lake", str(Path(tmp) / "lake"))
        print(
            f"streaming ingest (parse + pseudonymise + lake write): {stream['records'] / stream['seconds']:,.0f} "
            f"records/s ({stream['seconds']:.1f} s), peak RSS {stream['peak_rss_mb']:,.0f} MB, "
            f"{stream['written']:,.0f} rows written"
        )
        if args.skip_naive:
            return
        naive = _run_child("--child", "naive", "--export", str(export))
        print(
            f"naive json.load + pandas.DataFrame (parse only): {naive['records'] / naive['seconds']:,.0f} records/s "
            f"({naive['seconds']:.1f} s), peak RSS {naive['peak_rss_mb']:,.0f} MB"
        )
        print(
            f"ratio streaming/naive: speed {naive['seconds'] / stream['seconds']:.2f}x, "
            f"peak RSS {stream['peak_rss_mb'] / naive['peak_rss_mb']:.2f}x"
        )


if __name__ == "__main__":
    main()

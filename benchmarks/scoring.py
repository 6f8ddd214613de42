"""Speed of `sentiment score-text` on a generated 1M-line chat stream, against a raw VADER loop over the lines."""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from sentiment.scoring import MessageFacts
from sentiment.scoring.hybrid import HybridScorer
from sentiment.scoring.stream import render_lines

EN_WORDS = [
    "the",
    "a",
    "to",
    "is",
    "it",
    "this",
    "that",
    "we",
    "they",
    "i",
    "you",
    "just",
    "now",
    "still",
    "so",
    "very",
    "not",
    "no",
    "buy",
    "sell",
    "hold",
    "price",
    "chart",
    "team",
    "dev",
    "update",
    "launch",
    "listing",
    "volume",
    "whale",
    "wallet",
    "token",
    "agent",
    "virtual",
    "market",
    "week",
    "today",
    "tomorrow",
    "good",
    "great",
    "bad",
    "moon",
    "bullish",
    "bearish",
    "hodl",
    "rekt",
    "rug",
    "wagmi",
    "ngmi",
    "fomo",
    "fud",
    "shill",
    "pump",
    "dump",
    "dip",
    "ath",
    "lfg",
    "scam",
    "love",
    "hate",
    "lol",
    "wen",
    "soon",
    "ser",
    "fren",
    "gonna",
    "looks",
    "like",
    "think",
    "know",
    "why",
    "when",
    "what",
    "how",
    "dont",
    "cant",
    "really",
    "strong",
    "weak",
    "up",
    "down",
    "again",
]
ZH_PHRASES = [
    "要涨了",
    "又跌了",
    "割韭菜",
    "梭哈",
    "上车",
    "下车",
    "归零",
    "跑路",
    "牛",
    "熊",
    "空投",
    "起飞",
    "爆仓",
    "抄底",
    "今天",
    "项目",
    "团队",
    "大家",
    "兄弟们",
    "这个",
    "什么时候",
    "不太好",
    "非常好",
    "有点失望",
    "没问题",
    "太贵了",
    "拉盘",
    "砸盘",
    "暴涨",
    "暴跌",
    "还行",
    "看看",
    "等等",
    "好的",
    "不错",
    "垃圾",
]
EMOJI = ["🚀", "🔥", "💎", "🙌", "📈", "📉", "🐂", "🐻", "💀", "🤡", "🌕", "😂", "👍🏽", "❤️", "🙏"]
COMMON = ["gm", "GM", "🚀🚀🚀", "gm gm", "lfg", "wagmi", "早", "😂😂", "ok", "👍", "hi all", "早上好"]


def chat_stream(n: int, seed: int = 7, dup_share: float = 0.45, zh_share: float = 0.15) -> pd.DataFrame:
    """``n`` chat-like messages: about ``dup_share`` exact repeats (greetings, emoji, re-posts), ``zh_share``
    Chinese, emoji sprinkled in, cashtags and links now and then."""
    rng = random.Random(seed)
    seen: list[str] = []
    out: list[str] = []
    for _ in range(n):
        r = rng.random()
        if r < dup_share and seen:
            out.append(rng.choice(COMMON) if rng.random() < 0.3 else seen[int(len(seen) * rng.random() ** 0.5)])
            continue
        if rng.random() < zh_share:
            text = "".join(rng.choice(ZH_PHRASES) for _ in range(rng.randint(1, 6)))
            if rng.random() < 0.3:
                text += "，" + "".join(rng.choice(ZH_PHRASES) for _ in range(rng.randint(1, 4)))
        else:
            text = " ".join(rng.choice(EN_WORDS) for _ in range(rng.randint(2, 14)))
            if rng.random() < 0.1:
                text = "$VIRTUAL " + text
            if rng.random() < 0.03:
                text += " https://t.me/x"
            if rng.random() < 0.2:
                text += "?"
        if rng.random() < 0.35:
            text += " " + "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 3)))
        seen.append(text)
        out.append(text)
    return pd.DataFrame({"text": out})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--naive-sample", type=int, default=200_000, help="raw VADER loop on this many, extrapolated")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    df = chat_stream(args.messages)
    n = len(df)
    distinct = df["text"].nunique()
    zh = df["text"].str.contains(r"[\u4e00-\u9fff]").mean()
    print(f"stream: {n:,} messages, {distinct:,} distinct ({1 - distinct / n:.0%} exact repeats), {zh:.0%} Chinese")

    # This machine may be shared: wall-clock figures are as measured. The raw VADER loop is timed on a sample
    # before and after the command (load drifts) and extrapolated; the mean of the two is the baseline.
    sample = df.sample(n=min(args.naive_sample, n), random_state=0)
    scale = n / len(sample)
    naive_wall_1, naive_cpu_1 = _naive(sample, scale)

    with tempfile.TemporaryDirectory() as folder:
        lines = Path(folder) / "lines.txt"
        lines.write_text("\n".join(df["text"]) + "\n", encoding="utf-8")
        command = [sys.executable, "-m", "sentiment", "score-text", "--workers", str(args.workers), "--stats"]
        k0 = _cpu(children=True)
        w0 = time.perf_counter()
        with lines.open("rb") as stdin, (Path(folder) / "out.jsonl").open("wb") as stdout:
            done = subprocess.run(command, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, check=True, text=True)
        wall = time.perf_counter() - w0
        cpu = _cpu(children=True) - k0
        # The workers are forked by the fork server, not waited for by this process: the command reports their CPU.
        found = re.search(r"using ([\d.]+) CPU s", done.stderr)
        worker_cpu = float(found.group(1)) if found else float("nan")
        with (Path(folder) / "out.jsonl").open("rb") as out:
            assert sum(1 for _ in out) == n

    naive_wall_2, naive_cpu_2 = _naive(sample, scale)
    naive_wall, naive_cpu = (naive_wall_1 + naive_wall_2) / 2, (naive_cpu_1 + naive_cpu_2) / 2
    print(
        f"raw VADER loop (polarity_scores per line), timed on {len(sample):,} lines before and after, extrapolated "
        f"to {n:,}: wall {naive_wall_1:.1f} s / {naive_wall_2:.1f} s, mean {naive_wall:.1f} s "
        f"({n / naive_wall:,.0f} lines/s); CPU mean {naive_cpu:.1f} s"
    )
    print(
        f"`sentiment score-text --workers {args.workers}` (hybrid scorer, JSON out, process start included): "
        f"wall {wall:.1f} s ({n / wall:,.0f} lines/s) -> {naive_wall / wall:.2f}x the raw VADER loop "
        f"(target >= 2.5x); CPU: command {cpu:.1f} s + workers {worker_cpu:.1f} s"
    )
    idle = cpu + worker_cpu / max(args.workers, 1)
    print(
        f"  on {args.workers} idle cores (command CPU + worker CPU / {args.workers}): ~{idle:.1f} s -> "
        f"~{naive_cpu / idle:.2f}x the raw VADER loop's CPU time"
    )

    # Per distinct message, one process, CPU time: raw VADER vs the hybrid scorer (with the extras) on the same
    # texts, alternating in batches of 1,000 so that a change of load hits both sides alike.
    texts = pd.Series(df["text"].unique()).sample(n=min(50_000, distinct), random_state=1).tolist()
    raw = SentimentIntensityAnalyzer()
    scorer, facts = HybridScorer(), MessageFacts()
    scorer.warm()
    raw_s = ours_one = 0.0
    for i in range(0, len(texts), 1_000):
        batch = texts[i : i + 1_000]
        c0 = _cpu()
        for x in batch:
            raw.polarity_scores(x)
        c1 = _cpu()
        render_lines(scorer, facts, batch)
        c2 = _cpu()
        raw_s += c1 - c0
        ours_one += c2 - c1
    print(
        f"per distinct message, one process (CPU): raw VADER {raw_s / len(texts) * 1e6:.1f} us, hybrid scorer + "
        f"facts + JSON {ours_one / len(texts) * 1e6:.1f} us -> {ours_one / raw_s:.2f}x raw VADER's time"
    )


def _naive(sample: pd.DataFrame, scale: float) -> tuple[float, float]:
    """Wall and CPU seconds of the naive way on ``sample``, scaled to the whole stream."""
    w0, c0 = time.perf_counter(), _cpu()
    analyzer = SentimentIntensityAnalyzer()
    for line in sample["text"].tolist():
        analyzer.polarity_scores(line)
    return (time.perf_counter() - w0) * scale, (_cpu() - c0) * scale


def _cpu(children: bool = False) -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()

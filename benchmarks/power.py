"""Power and false-positive rate of the lead-lag family over many seeded synthetic worlds (prints figures).

    PYTHONPATH=src python benchmarks/power.py --seeds 200 [--weeks 104] [--effect 0.6] [--chat-scale 0.3]

Each seed simulates one world with the planted lead and one without (different seeds), builds the weekly table
with the pipeline's own feature functions and runs the report's lead-lag tests (BH across all feature x lag).
Power: share of planted worlds where a traffic feature significantly leads next week's return. False-positive
rate: share of null worlds with any significant relation the world does not contain (see
sentiment.analysis.validation.false_positive). Also prints the 95% Wilson interval of each share and the
seconds per world.
"""

from __future__ import annotations

import argparse
import math
import time
from concurrent.futures import ProcessPoolExecutor

from sentiment.analysis.validation import run_seed


def _wilson(k: int, n: int) -> tuple[float, float]:
    if n == 0:
        return math.nan, math.nan
    z = 1.96
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _one(args: tuple[int, float, int, float, str]) -> tuple[bool, bool]:
    seed, effect, weeks, scale, target = args
    out = run_seed(seed, effect, weeks=weeks, chat_scale=scale, target=target)
    return out.found, out.false_positive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--effect", type=float, default=0.6)
    parser.add_argument("--chat-scale", type=float, default=0.3)
    parser.add_argument("--target", default="excess_log_return")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    start = time.perf_counter()
    planted = [(s, args.effect, args.weeks, args.chat_scale, args.target) for s in range(args.seeds)]
    null = [(100_000 + s, 0.0, args.weeks, args.chat_scale, args.target) for s in range(args.seeds)]
    with ProcessPoolExecutor(args.workers) as pool:
        found = [f for f, _ in pool.map(_one, planted)]
        false_pos = [fp for _, fp in pool.map(_one, null)]
    seconds = time.perf_counter() - start
    k_found, k_fp = sum(found), sum(false_pos)
    lo, hi = _wilson(k_found, args.seeds)
    flo, fhi = _wilson(k_fp, args.seeds)
    print(
        f"worlds: {args.seeds} planted (effect {args.effect}) + {args.seeds} null, {args.weeks} weeks, "
        f"chat scale {args.chat_scale}, target {args.target}"
    )
    print(f"power:               {k_found / args.seeds:.3f}  ({k_found}/{args.seeds}, 95% CI {lo:.3f}-{hi:.3f})")
    print(f"false-positive rate: {k_fp / args.seeds:.3f}  ({k_fp}/{args.seeds}, 95% CI {flo:.3f}-{fhi:.3f})")
    print(f"time: {seconds:.1f} s, {seconds / (2 * args.seeds):.2f} s per world on {args.workers} workers")


if __name__ == "__main__":
    main()

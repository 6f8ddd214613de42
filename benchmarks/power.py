"""Power and false-positive rates of the analyses over many seeded synthetic worlds (prints figures).

    PYTHONPATH=src python benchmarks/power.py --seeds 200 --arms panel,daily [--workers 2]

Arms (each runs ``--seeds`` worlds with the planted lead and ``--seeds`` without, on different seeds):

* ``single``: one community, 104 weeks, effect 0.6 (the report's own lead-lag family). Power: a traffic
  feature significantly leads next week's return; false positives: any significant relation the null world
  does not contain (sentiment.analysis.validation.false_positive).
* ``panel``: 8 communities x 104 weeks sharing BTC and a market-wide shock (it lifts every community's
  activity in a week and every token the week after), planted lead 0.25 in each. Pooled detection (two-way
  fixed effects, Driscoll-Kraay), each community alone (its own report), and the pooled false-positive rate in
  null panels that still carry the shared shock.
* ``daily``: one community, 365 days, a planted one-day lead, analysed at ``--freq 1d``.

Every rate comes with its 95% Wilson interval; running tallies are printed every ``--tally-every`` worlds.
The agreement of flag and interval is checked on every row of every simulated report and printed as a count of
violations.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def wilson(k: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of k successes in n trials."""
    if n == 0:
        return math.nan, math.nan
    z = 1.96
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _rate(name: str, k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{name:<44} {k / n if n else math.nan:.3f}  ({k}/{n}, 95% Wilson CI {lo:.3f}-{hi:.3f})"


def _single(args: tuple[int, float, int, float]) -> dict[str, Any]:
    from sentiment.analysis.validation import run_seed

    seed, effect, weeks, scale = args
    out = run_seed(seed, effect, weeks=weeks, chat_scale=scale, target="excess_log_return")
    return {"effect": effect, "found": out.found, "fp": out.false_positive, "agrees": out.agrees}


def _panel(args: tuple[int, float, int, float]) -> dict[str, Any]:
    from sentiment.analysis.validation import run_panel_seed

    seed, effect, weeks, scale = args
    out = run_panel_seed(seed, effect, weeks=weeks, chat_scale=scale)
    return {
        "effect": effect,
        "found": out.found,
        "fp": out.false_positive,
        "alone_found": sum(out.found_alone),
        "alone_fp": sum(out.false_positive_alone),
        "alone_n": len(out.found_alone),
        "agrees": out.agrees,
    }


def _daily(args: tuple[int, float, int, float]) -> dict[str, Any]:
    from sentiment.analysis.validation import run_daily_seed

    seed, effect, days, scale = args
    out = run_daily_seed(seed, effect, days=days, chat_scale=scale)
    return {"effect": effect, "found": out.found, "fp": out.false_positive, "agrees": out.agrees}


ARMS: dict[str, tuple[Callable[[tuple[int, float, int, float]], dict[str, Any]], float, int, float]] = {
    # arm: (runner, planted effect, bars, chat scale)
    "single": (_single, 0.6, 104, 0.3),
    "panel": (_panel, 0.25, 104, 0.3),
    "daily": (_daily, 0.5, 365, 0.3),
}


def _summary(arm: str, results: Iterable[dict[str, Any]]) -> list[str]:
    results = list(results)
    planted = [r for r in results if r["effect"] > 0]
    null = [r for r in results if r["effect"] == 0]
    lines = []
    label = "pooled " if arm == "panel" else ""
    lines.append(_rate(f"{arm}: {label}planted lead found", sum(r["found"] for r in planted), len(planted)))
    if arm == "panel":
        k = sum(r["alone_found"] for r in planted)
        lines.append(_rate(f"{arm}: each community alone found it", k, sum(r["alone_n"] for r in planted)))
    lines.append(_rate(f"{arm}: {label}false positive (null worlds)", sum(r["fp"] for r in null), len(null)))
    if arm == "panel":
        k = sum(r["alone_fp"] for r in null)
        lines.append(_rate(f"{arm}: alone false positive (null, shared shock)", k, sum(r["alone_n"] for r in null)))
    bad = sum(not r["agrees"] for r in results)
    lines.append(f"{arm}: reports whose flag and interval disagree on some row: {bad} of {len(results)}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--arms", default="panel,daily", help="comma list of single, panel, daily")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tally-every", type=int, default=40, help="print running rates every N worlds")
    parser.add_argument("--log-worlds", action="store_true", help="print each world's outcome as it finishes")
    args = parser.parse_args()
    for arm in [a.strip() for a in args.arms.split(",") if a.strip()]:
        runner, effect, bars, scale = ARMS[arm]
        jobs = []
        for s in range(args.seeds):  # interleaved, so running tallies cover both kinds of world
            jobs += [(s, effect, bars, scale), (100_000 + s, 0.0, bars, scale)]
        start = time.perf_counter()
        print(
            f"{arm}: {args.seeds} planted (effect {effect}) + {args.seeds} null worlds, {bars} bars, "
            f"chat scale {scale}, {args.workers} workers",
            flush=True,
        )
        results: list[dict[str, Any]] = []
        with ProcessPoolExecutor(args.workers) as pool:
            for job, result in zip(jobs, pool.map(runner, jobs), strict=True):
                results.append(result)
                if args.log_worlds:
                    print(f"  world seed={job[0]} {result}", flush=True)
                if len(results) % args.tally_every == 0 and len(results) < len(jobs):
                    print(f"  after {len(results)} worlds:", flush=True)
                    for line in _summary(arm, results):
                        print(f"    {line}", flush=True)
        seconds = time.perf_counter() - start
        for line in _summary(arm, results):
            print(line, flush=True)
        print(f"{arm}: {seconds:.0f} s, {seconds / len(jobs):.2f} s per world on {args.workers} workers", flush=True)


if __name__ == "__main__":
    main()

"""Scoring a stream of lines into JSON lines: each distinct text rendered once, in worker processes when the
stream is big, chunk by chunk (bounded memory), output in input order. ``sentiment score-text`` runs on it."""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import TextIO

from sentiment.scoring import core
from sentiment.scoring.core import LABELS, BaseScorer
from sentiment.scoring.extras import MessageFacts

__all__ = ["CHUNK", "StreamStats", "render_lines", "score_lines"]

CHUNK = 20_000  # lines read at a time; a first chunk this full means a big stream, worth starting workers
CACHE_LIMIT = 1_000_000  # distinct texts whose rendered line is kept for later repeats
_FLOATS = ("compound", "pos", "neu", "neg")
_BOOL = {True: "true", False: "false"}


def render_lines(scorer: BaseScorer, facts: MessageFacts, texts: list[str]) -> list[str]:
    """The output line (JSON + newline) of each text: scores, lang, scorer name and the message facts.

    Written with string formatting around ``json.dumps`` of the text and mentions (what needs escaping): the same
    JSON as dumping the whole record, without building a dict per line."""
    with core._gc_paused():
        values, labels, langs = scorer.score_arrays(texts)
        rows = values.tolist()
        dumps = json.dumps
        name = dumps(scorer.name)
        label_names = [dumps(label) for label in LABELS]
        out: list[str] = []
        for text, row, code, lang in zip(texts, rows, labels.tolist(), langs, strict=True):
            mentions, is_question, has_link = facts.of(text)
            numbers = ", ".join(
                f'"{key}": {"null" if value != value else repr(value)}'  # NaN: unscored
                for key, value in zip(_FLOATS, row, strict=True)
            )
            out.append(
                f'{{"text": {dumps(text, ensure_ascii=False)}, {numbers}, "label": {label_names[code]}, '
                f'"lang": "{lang}", "scorer": {name}, "mentions": {dumps(mentions) if mentions else "[]"}, '
                f'"is_question": {_BOOL[is_question]}, "has_link": {_BOOL[has_link]}}}\n'
            )
    return out


def _render_in_worker(texts: list[str]) -> tuple[list[str], float]:
    """Rendered lines of one part, and the CPU seconds the worker spent on it."""
    assert core._WORKER is not None, "worker not initialised"
    scorer, facts = core._WORKER
    started = time.process_time()
    lines = render_lines(scorer, facts or MessageFacts(), texts)
    return lines, time.process_time() - started


@dataclass
class StreamStats:
    """What a stream cost: lines written, distinct texts rendered, worker processes and their CPU seconds."""

    lines: int = 0
    rendered: int = 0
    workers: int = 0
    worker_cpu_s: float = 0.0


def _chunks(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(lines)
    while chunk := [line.rstrip("\r\n") for line in islice(it, size)]:
        yield chunk


def score_lines(
    lines: Iterable[str],
    scorer: BaseScorer,
    facts: MessageFacts,
    out: TextIO,
    *,
    workers: int | None = None,
    chunk: int = CHUNK,
) -> StreamStats:
    """Write one JSON line per input line to ``out``; returns what it cost. A text already rendered (the first
    ``CACHE_LIMIT`` distinct texts are kept) is not scored again. Worker processes start only when the first chunk
    is full (a big stream) and the scorer can run in them."""
    n_workers = workers if workers is not None else (os.cpu_count() or 1)
    rendered: dict[str, str] = {}
    pending: deque[tuple[list[str], list[str], list[Future[tuple[list[str], float]] | list[str]]]] = deque()
    pool: ProcessPoolExecutor | None = None
    stats = StreamStats()
    try:
        for texts in _chunks(lines, chunk):
            stats.lines += len(texts)
            if pool is None and n_workers > 1 and scorer.parallel and len(texts) == chunk and not pending:
                pool = core._start_pool(scorer, facts, n_workers)
                stats.workers = n_workers
            new = list(dict.fromkeys(t for t in texts if t not in rendered))
            stats.rendered += len(new)
            parts: list[Future[tuple[list[str], float]] | list[str]] = []
            if new and pool is not None:
                step = -(-len(new) // n_workers)
                parts = [pool.submit(_render_in_worker, new[i : i + step]) for i in range(0, len(new), step)]
            elif new:
                parts = [render_lines(scorer, facts, new)]
            pending.append((texts, new, parts))
            # Up to two chunks in flight, so the workers do not wait for this process to write.
            while len(pending) > (2 if pool is not None else 0):
                stats.worker_cpu_s += _flush(*pending.popleft(), rendered, out)
        while pending:
            stats.worker_cpu_s += _flush(*pending.popleft(), rendered, out)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return stats


def _flush(
    texts: list[str],
    new: list[str],
    parts: list[Future[tuple[list[str], float]] | list[str]],
    rendered: dict[str, str],
    out: TextIO,
) -> float:
    """Write one chunk's lines in input order; returns the worker CPU seconds its parts took."""
    lines: list[str] = []
    cpu = 0.0
    for part in parts:
        if isinstance(part, Future):
            done, seconds = part.result()
            lines.extend(done)
            cpu += seconds
        else:
            lines.extend(part)
    fresh = dict(zip(new, lines, strict=True))
    if len(rendered) < CACHE_LIMIT:  # entries are never dropped: a later chunk may count on them
        rendered.update(fresh)
    out.write("".join([fresh.get(t) or rendered[t] for t in texts]))
    return cpu

"""Scoring a stream of lines into JSON lines: each distinct text rendered once, in worker processes when the
stream is big, chunk by chunk (bounded memory), output in input order. ``sentiment score-text`` runs on it."""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import islice
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import BinaryIO, TextIO, TypeVar

from sentiment.errors import EncodingError
from sentiment.scoring import core
from sentiment.scoring.core import LABELS, BaseScorer
from sentiment.scoring.extras import MessageFacts

__all__ = ["CHUNK", "StreamStats", "render_lines", "score_lines", "score_stream"]

T = TypeVar("T", str, bytes)

CHUNK = 20_000  # lines read at a time; a first chunk this full means a big stream, worth starting workers
CACHE_LIMIT = 1_000_000  # distinct texts whose rendered line is kept for later repeats
_FLOATS = ("compound", "pos", "neu", "neg")
_NULLS = ", ".join(f'"{key}": null' for key in _FLOATS)
_BOOL = {True: "true", False: "false"}


def render_lines(scorer: BaseScorer, facts: MessageFacts, texts: list[str]) -> list[str]:
    """The output line (JSON + newline) of each text: scores, lang, scorer name and the message facts.

    Written with string formatting around the JSON string encoder (``json.dumps(text, ensure_ascii=False)`` is that
    encoder behind a new JSONEncoder per call): the same JSON as dumping the whole record, without building a dict
    or an encoder per line."""
    with core._gc_paused():
        values, labels, langs = scorer.score_arrays(texts)
        rows = values.tolist()
        quote = encode_basestring
        name = quote(scorer.name)
        label_names = [quote(label) for label in LABELS]
        out: list[str] = []
        for text, (compound, pos, neu, neg), code, lang in zip(texts, rows, labels.tolist(), langs, strict=True):
            mentions, is_question, has_link = facts.of(text)
            if compound != compound and pos != pos and neu != neu and neg != neg:  # NaN: unscored
                numbers = _NULLS
            elif compound != compound or pos != pos or neu != neu or neg != neg:
                numbers = ", ".join(
                    f'"{key}": {"null" if v != v else repr(v)}'
                    for key, v in zip(_FLOATS, (compound, pos, neu, neg), strict=True)
                )
            else:
                numbers = f'"compound": {compound!r}, "pos": {pos!r}, "neu": {neu!r}, "neg": {neg!r}'
            out.append(
                f'{{"text": {quote(text)}, {numbers}, "label": {label_names[code]}, '
                f'"lang": "{lang}", "scorer": {name}, "mentions": {json.dumps(mentions) if mentions else "[]"}, '
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


def _render_bytes_in_worker(raw: list[bytes]) -> tuple[list[bytes], float]:
    """``_render_in_worker`` on UTF-8 lines, returning UTF-8 lines: half the bytes through the pipe (emoji make a
    str four bytes a character), and no decoding or encoding of whole chunks in the parent."""
    assert core._WORKER is not None, "worker not initialised"
    scorer, facts = core._WORKER
    started = time.process_time()
    lines = render_lines(scorer, facts or MessageFacts(), list(map(bytes.decode, raw)))  # (UTF-8)
    return list(map(str.encode, lines)), time.process_time() - started


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


def _byte_chunks(stream: BinaryIO, size: int, block: int = 1 << 22) -> Iterator[list[bytes]]:
    """Lists of up to ``size`` lines of a binary stream, read in blocks and split in C, without their line ends
    (``\\n``, ``\\r\\n`` or a lone ``\\r``, as text mode reads them). Not decoded here: each distinct line is decoded
    where it is scored (see :func:`_run`)."""
    rest = b""
    pending: list[bytes] = []
    while True:
        data = stream.read(block)
        if data.endswith(b"\r"):  # a CRLF split across two blocks is one line end
            data += stream.read(1)
        if data:
            data = rest + data
            if b"\r" in data:
                data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            lines = data.split(b"\n")
            rest = lines.pop()
        else:
            lines, rest = ([rest] if rest else []), b""
        pending.extend(lines)
        while len(pending) >= size or (not data and pending):
            yield pending[:size]
            del pending[:size]
        if not data:
            return


def _not_utf8(name: str, start: int, lines: list[bytes]) -> EncodingError:
    """The error for the first line of a chunk (lines ``start + 1`` on) that is not UTF-8."""
    for i, line in enumerate(lines):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return EncodingError(name, "not UTF-8 text", start + i + 1)
    return EncodingError(name, "not UTF-8 text")  # (a decoding failure, so some line is not)


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

    def write(rendered: Iterable[str]) -> None:
        out.write("".join(rendered))

    return _run(_chunks(lines, chunk), chunk, scorer, facts, write, workers, _render_in_worker, render_lines, "<lines>")


def score_stream(
    stream: BinaryIO,
    scorer: BaseScorer,
    facts: MessageFacts,
    out: BinaryIO,
    *,
    workers: int | None = None,
    chunk: int = CHUNK,
    name: str = "<stdin>",
) -> StreamStats:
    """``score_lines`` on a binary UTF-8 stream (what ``sentiment score-text`` reads): lines are split, deduplicated
    and sent to the workers as bytes, and the workers' UTF-8 lines are written as they come. Same output bytes."""

    def local(scorer: BaseScorer, facts: MessageFacts, raw: list[bytes]) -> list[bytes]:
        return [line.encode("utf-8") for line in render_lines(scorer, facts, [b.decode("utf-8") for b in raw])]

    def write(rendered: Iterable[bytes]) -> None:
        # Joined ~1,000 lines at a time: a chunk joined whole is a new multi-MiB buffer, page-faulted in afresh for
        # every chunk; these slices reuse freed memory (writelines would make a system call per 8 KiB).
        lines = iter(rendered)
        while piece := b"".join(islice(lines, 1_024)):
            out.write(piece)

    chunks = _byte_chunks(stream, chunk)
    return _run(chunks, chunk, scorer, facts, write, workers, _render_bytes_in_worker, local, name)


def _run(
    chunks: Iterator[list[T]],
    chunk: int,
    scorer: BaseScorer,
    facts: MessageFacts,
    write: Callable[[Iterable[T]], object],
    workers: int | None,
    remote: Callable[[list[T]], tuple[list[T], float]],
    local: Callable[[BaseScorer, MessageFacts, list[T]], list[T]],
    name: str,
) -> StreamStats:
    """Score ``chunks`` and write their lines in order. A line that is not UTF-8 (bytes input) fails where it is
    decoded, in a worker or here: the chunk holding it is not written, and the EncodingError names ``name`` and the
    first such line (every earlier line is UTF-8: earlier chunks were decoded in full, repeats included, as a repeat
    is the same bytes as a line decoded before it)."""
    n_workers = workers if workers is not None else (os.cpu_count() or 1)
    rendered: dict[T, T] = {}
    # Texts of chunks still in flight: a repeat in a later chunk waits for their line instead of being scored
    # again (chunks are flushed in order, so it is in ``rendered`` by then, while the cache has room for it).
    in_flight: set[T] = set()
    pending: deque[tuple[int, list[T], list[T], list[Future[tuple[list[T], float]] | list[T]]]] = deque()
    pool: ProcessPoolExecutor | None = None
    stats = StreamStats()

    def flush() -> None:
        start, texts, new, parts = pending.popleft()
        try:
            stats.worker_cpu_s += _flush(texts, new, parts, rendered, in_flight, write)
        except UnicodeDecodeError:
            raise _not_utf8(name, start, texts) from None

    try:
        for texts in chunks:
            start = stats.lines
            stats.lines += len(texts)
            if pool is None and n_workers > 1 and scorer.parallel and len(texts) == chunk and not pending:
                pool = core._start_pool(scorer, facts, n_workers)
                stats.workers = n_workers
            distinct = dict.fromkeys(texts)
            # Set operations and filter() run in C, the order is kept. (``set.difference`` with a dict walks the
            # smaller set; ``keys() - keys()`` would walk the whole of ``rendered`` for every chunk.)
            unseen = set(distinct).difference(rendered)
            if len(rendered) + len(in_flight) + len(texts) < CACHE_LIMIT:
                unseen -= in_flight
                new = list(filter(unseen.__contains__, distinct))
                in_flight.update(new)
            else:
                new = list(filter(unseen.__contains__, distinct))
            stats.rendered += len(new)
            parts: list[Future[tuple[list[T], float]] | list[T]] = []
            if new and pool is not None:
                step = -(-len(new) // n_workers)
                parts = [pool.submit(remote, new[i : i + step]) for i in range(0, len(new), step)]
            elif new:
                try:
                    parts = [local(scorer, facts, new)]
                except UnicodeDecodeError:
                    raise _not_utf8(name, start, texts) from None
            pending.append((start, texts, new, parts))
            # Up to two chunks in flight, so the workers do not wait for this process to write.
            while len(pending) > (2 if pool is not None else 0):
                flush()
        while pending:
            flush()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return stats


def _flush(
    texts: list[T],
    new: list[T],
    parts: list[Future[tuple[list[T], float]] | list[T]],
    rendered: dict[T, T],
    in_flight: set[T],
    write: Callable[[Iterable[T]], object],
) -> float:
    """Write one chunk's lines in input order; returns the worker CPU seconds its parts took."""
    lines: list[T] = []
    cpu = 0.0
    for part in parts:
        if isinstance(part, Future):
            done, seconds = part.result()
            lines.extend(done)
            cpu += seconds
        else:
            lines.extend(part)
    fresh = dict(zip(new, lines, strict=True))
    in_flight.difference_update(new)
    if len(rendered) < CACHE_LIMIT:  # entries are never dropped: a later chunk may count on them
        rendered.update(fresh)
        write(map(rendered.__getitem__, texts))
    else:
        write([fresh.get(t) or rendered[t] for t in texts])
    return cpu

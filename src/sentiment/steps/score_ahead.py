"""Scoring while the ingest still parses: each staged batch of messages is scored in a worker process as soon as it
is staged, and the scores are published right after the messages, for exactly the messages that publish added.

Parsing is one process's work; scoring a batch needs nothing but the batch. On a big export the worker scores the
batches already staged while the ingest parses the next ones, so the scoring costs the ingest almost no wall time
(the score step that follows finds nothing left to do). A small export, a scorer that runs in one process only, or
one core: nothing is scored ahead, and the score step scores as before.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType

import numpy as np
import pandas as pd
import pyarrow as pa

from sentiment import schemas
from sentiment.errors import LakeError
from sentiment.lake import Lake
from sentiment.lake.tables import SEQ, write_staged
from sentiment.scoring import score_messages
from sentiment.scoring.core import SCORED_KINDS, scoring_pool, worker_state
from sentiment.scoring.factory import make_facts, make_scorer
from sentiment.settings import Settings

__all__ = ["SCORE_AHEAD_MIN_ROWS", "ScoreAhead", "score_staged_batch"]

log = logging.getLogger(__name__)

# Staged rows from which scoring ahead starts its worker process: below this the score step's in-process
# scoring is cheaper than starting a worker (~1 s of CPU to build the analyzers).
SCORE_AHEAD_MIN_ROWS = 50_000
_IN_FLIGHT = 4  # batches queued per worker: bounds what waits in the pool's queue (paths only, but results too)
_MESSAGE_COLUMNS = ["platform", "chat_id", "message_id", "kind", "media_type", "text", SEQ]


def score_staged_batch(source: str, target: str, scored_at: pd.Timestamp) -> int:
    """In a scoring worker: the ``scores`` rows of the user messages of one staged ``messages`` file, staged with
    their messages' ``__seq``; returns the rows staged. The rows are what the score step would write."""
    scorer, facts = worker_state()
    with pa.memory_map(source) as stream:
        rows = pa.ipc.open_file(stream).read_all().select(_MESSAGE_COLUMNS)
    frame = rows.to_pandas()
    users = frame[frame["kind"].isin(SCORED_KINDS)]
    scored = score_messages(users.drop(columns=[SEQ]), scorer, scored_at, facts, workers=1)
    arrow = schemas.conform(scored, "scores")
    arrow = arrow.append_column(SEQ, pa.array(users[SEQ].to_numpy(dtype=np.int64)))
    write_staged(arrow, Path(target), "scores")
    return arrow.num_rows


class ScoreAhead:
    """Scores staged ``messages`` batches in a worker process while the caller stages more (see the module).

    Use as a context manager around the staged append: :meth:`add` each staged file, :meth:`drain` before the
    staged files are removed, then :meth:`publish` the scores of the messages that were written.
    """

    def __init__(self, settings: Settings, now: pd.Timestamp, *, enabled: bool = True) -> None:
        self.lake = Lake(settings.lake)
        self.now = now
        self.scorer = make_scorer(settings)
        self.facts = make_facts(settings)
        cores = os.cpu_count() or 1
        self.workers = max(1, cores - 1)  # the caller keeps one core parsing
        # worth it only when the worker runs beside the parsing process, on a core of its own
        self.enabled = enabled and self.scorer.parallel and cores >= 2
        self._stack = ExitStack()
        self._pool: ProcessPoolExecutor | None = None
        self._stage_dir: Path | None = None
        self._waiting: list[Path] = []  # staged before the pool started
        self._staged_rows = 0
        self._running: deque[tuple[Future[int], Path]] = deque()
        self._done: list[Path] = []
        self.failed = False

    def __enter__(self) -> ScoreAhead:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for future, _ in self._running:
            future.cancel()
        self._stack.close()  # shuts the pool down (waiting for a running batch), then removes the staged scores

    def add(self, path: Path, rows: int) -> None:
        """Score the staged messages file ``path`` (``rows`` rows) ahead, once enough rows were staged."""
        if not self.enabled or self.failed:
            return
        self._waiting.append(path)
        self._staged_rows += rows
        if self._pool is None:
            if self._staged_rows < SCORE_AHEAD_MIN_ROWS:
                return
            self._start()
        while self._waiting:
            self._submit(self._waiting.pop(0))

    def _start(self) -> None:
        pool = self._stack.enter_context(scoring_pool(self.scorer, self.facts, self.workers, min_workers=1))
        if pool is None:  # pragma: no cover - guarded by ``enabled``
            self.enabled = False
            return
        self._pool = pool
        self._stage_dir = self._stack.enter_context(self.lake.staging("scores"))
        log.info("scoring ahead in %d worker process(es)", self.workers)

    def _submit(self, path: Path) -> None:
        assert self._pool is not None and self._stage_dir is not None
        while len(self._running) >= _IN_FLIGHT * self.workers:
            self._collect()
        if self.failed:
            return
        target = self._stage_dir / f"scores-{path.stem}.arrow"
        self._running.append((self._pool.submit(score_staged_batch, str(path), str(target), self.now), target))

    def _collect(self) -> None:
        future, target = self._running.popleft()
        try:
            if future.result():
                self._done.append(target)
        except Exception as exc:  # any failure leaves the scoring to the score step
            self._give_up(exc)

    def _give_up(self, exc: BaseException) -> None:
        log.warning("scoring ahead stopped (%s): the score step scores these messages", exc)
        self.failed = True
        for future, _ in self._running:
            future.cancel()
        self._running.clear()

    def drain(self) -> None:
        """Wait for every submitted batch (call before the staged messages files are removed)."""
        while self._running:
            self._collect()

    @property
    def complete(self) -> bool:
        """Whether every staged batch was scored ahead (after :meth:`publish`: and its scores written)."""
        return self._pool is not None and not self.failed and not self._waiting and not self._running

    def publish(self, written: np.ndarray) -> int:
        """Append, in one commit, the scores of the messages whose ``__seq`` is in ``written`` (sorted: what the
        messages publish kept) and that have no score yet; return the rows written. A failed write is logged and
        leaves these messages to the score step (the messages are already stored)."""
        self.drain()
        if self.failed or not self._done or len(written) == 0:
            return 0
        try:
            rows, _ = self.lake.insert_staged("scores", self._done, within=written)
        except LakeError as exc:
            self._give_up(exc)
            return 0
        return rows

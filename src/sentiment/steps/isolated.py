"""Run a step in a child process: what it allocates goes back to the system when it ends.

A flow's steps run in one long-lived process (``sentiment run``, a deployment served by ``sentiment schedule``).
The memory-heavy steps (an ingest of a big export, the features over every message) leave that process holding
memory its allocators never return (measured: ~130 MB after a 1M-message ingest), and each later step then peaks
that much higher. Run in a child, a step costs its own peak and nothing after. Its result and its errors (the
project's own, with their file and line) come back pickled; its log records are handled by this process's
loggers, as if logged here.
"""

from __future__ import annotations

import importlib
import logging
import logging.handlers
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from sentiment.workers import can_start_workers, worker_context

__all__ = ["in_child_process"]

R = TypeVar("R")
# imported once by the fork server, so each child starts with them loaded (forkserver only)
_PRELOAD = ["sentiment.scoring", "sentiment.steps.ingest", "sentiment.steps.build"]


def in_child_process(fn: Callable[..., R] | str, *args: Any, **kwargs: Any) -> R:
    """``fn(*args, **kwargs)`` run in a fresh child process (``fn`` and its arguments and result must pickle).

    ``fn`` may be named ``"package.module:function"``: imported in the child only, so this process never loads
    that module's imports. In a daemonic process (a Dask worker's, which may not have children, and already is
    one task's process) it runs here."""
    if not can_start_workers():
        return _call(fn, *args, **kwargs)
    context = worker_context(*_PRELOAD)  # (the preload takes effect if this process has not started its server yet)
    records: multiprocessing.queues.Queue[logging.LogRecord] = context.Queue()
    listener = logging.handlers.QueueListener(records, _HandledHere())
    listener.start()
    try:
        with ProcessPoolExecutor(
            max_workers=1, mp_context=context, initializer=_log_to, initargs=(records, _level())
        ) as pool:
            return pool.submit(_call, fn, *args, **kwargs).result()
    finally:
        listener.stop()
        records.close()


def _call(fn: Callable[..., R] | str, *args: Any, **kwargs: Any) -> R:
    if isinstance(fn, str):
        module, _, name = fn.partition(":")
        fn = getattr(importlib.import_module(module), name)
    return fn(*args, **kwargs)


def _level() -> int:
    """The lowest level this process would handle from this package or anything else."""
    return min(logging.getLogger().getEffectiveLevel(), logging.getLogger("sentiment").getEffectiveLevel())


class _HandledHere(logging.Handler):
    """Hands each record from the child to the logger of the same name in this process."""

    def emit(self, record: logging.LogRecord) -> None:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)


def _log_to(records: Any, level: int) -> None:
    """In the child: every record goes to the parent's queue; Arrow allocates as in the CLI's long jobs."""
    from sentiment.lake import prefer_system_allocator

    root = logging.getLogger()
    root.handlers = [logging.handlers.QueueHandler(records)]
    root.setLevel(level)
    prefer_system_allocator()

"""The process context of the package's worker pools (parsing and scoring workers): one fork server per process,
preloaded once with what those workers run, so each worker starts without importing anything."""

from __future__ import annotations

import multiprocessing
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.context import BaseContext

__all__ = ["PRELOAD", "can_start_workers", "start_worker_server", "worker_context"]

# What every worker of the package imports. A process has one fork server, started by its first pool with the
# preload set at that time: each pool asks for this list plus what it alone needs (a parse pool: the reader), so a
# later pool finds the scoring modules loaded, and a scoring-only command does not wait for the readers' imports.
PRELOAD = ("sentiment.scoring", "sentiment.scoring.hybrid")


def worker_context(*also: str) -> BaseContext:
    """The forkserver context preloaded with :data:`PRELOAD` and ``also`` (spawn where there is no fork server)."""
    if "forkserver" not in get_all_start_methods():
        return get_context("spawn")
    context = get_context("forkserver")
    # takes effect when this process starts its fork server, i.e. with its first pool
    context.set_forkserver_preload(list(dict.fromkeys((*PRELOAD, *also))))
    return context


def can_start_workers() -> bool:
    """Whether this process may have worker processes (a daemonic one, e.g. a Dask worker's, may not)."""
    return not multiprocessing.current_process().daemon


def start_worker_server(*also: str) -> None:
    """Start this process's fork server now, preloaded as :func:`worker_context` would preload it, without waiting:
    it imports its modules while the caller goes on, and the first pool forks its workers from it once it is ready.
    A no-op where there is no fork server or one is running already."""
    if "forkserver" not in get_all_start_methods() or not can_start_workers():
        return
    from multiprocessing import forkserver

    worker_context(*also)
    forkserver.ensure_running()

"""The ``sentiment`` command's entry point (the console script and ``python -m sentiment``).

``sentiment score-text`` with stdin redirected from a big file scores it in worker processes. Their fork server is
started here, before the CLI is imported, so that the server's imports run beside the command's own and the
workers start ~0.2 s sooner. Anything else goes straight to the CLI."""

from __future__ import annotations

import os
import stat
import sys

__all__ = ["BIG_INPUT_BYTES", "main", "starts_workers_at_once"]

BIG_INPUT_BYTES = 1 << 20  # ~20,000 chat lines: about the first chunk that starts workers (scoring.stream.CHUNK)


def main() -> None:
    if starts_workers_at_once(sys.argv[1:], sys.stdin):
        from sentiment.workers import start_worker_server

        start_worker_server()  # (preloads the scoring modules, the hybrid scorer's among them)
    from sentiment.cli import main as cli_main

    cli_main()


def starts_workers_at_once(args: list[str], stdin: object) -> bool:
    """Whether this is ``score-text`` (as the first argument) reading a regular file of at least
    :data:`BIG_INPUT_BYTES`, with more than one worker allowed and a scorer that runs in workers (the default,
    ``hybrid``, unless ``--scorer`` names another). Settings from the environment or a file are not read here: a
    server started for a scorer they change is only left idle."""
    if args[:1] != ["score-text"] or (os.cpu_count() or 1) < 2:
        return False
    workers = _option(args, "--workers")
    if workers is not None and not (workers.isdigit() and int(workers) > 1):
        return False
    if _option(args, "--scorer") not in (None, "hybrid"):
        return False
    try:
        info = os.fstat(stdin.fileno())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size >= BIG_INPUT_BYTES


def _option(args: list[str], name: str) -> str | None:
    """The value of ``--name VALUE`` or ``--name=VALUE`` in ``args``, if given."""
    for i, arg in enumerate(args):
        if arg == name:
            return args[i + 1] if i + 1 < len(args) else ""
        if arg.startswith(name + "="):
            return arg[len(name) + 1 :]
    return None

"""How the flows are run: task cache keys, task runners, the deployments and a local Prefect server to serve them."""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sentiment.errors import OrchestrationError
from sentiment.lake import PARTITIONS, Lake, is_uri
from sentiment.settings import Settings

if TYPE_CHECKING:
    from prefect.context import TaskRunContext
    from prefect.deployments.runner import RunnerDeployment
    from prefect.flows import Flow
    from prefect.futures import PrefectFuture
    from prefect.task_runners import TaskRunner
    from prefect.tasks import Task

__all__ = [
    "CACHE_EXPIRATION",
    "DEPLOYMENTS",
    "TIMEZONE",
    "DeploymentSpec",
    "chat_file_cache_key",
    "configured_api_url",
    "daily_output",
    "dask_cluster",
    "deployments",
    "local_server",
    "partition_cache_key",
    "prefect_env_defaults",
    "report_output",
    "serve_schedules",
    "submit_per_symbol",
    "task_runner",
    "weekly_output",
]

# A cached task result is reused for at most this long, even if its inputs look unchanged.
CACHE_EXPIRATION = timedelta(days=7)
# Settings that change from run to run (a replay server's port, the runner) but not what a lake step computes;
# n_boot is deprecated and read by no step, so changing it must not recompute anything either.
VOLATILE_SETTINGS = frozenset({"api_url", "chats", "runner", "dask_address", "n_boot"})
TIMEZONE = "UTC"

CacheKeyFn = Callable[["TaskRunContext", dict[str, Any]], str | None]


@dataclass(frozen=True)
class DeploymentSpec:
    """A deployment's name, its flow (``module:function``), its cron (in :data:`TIMEZONE`) and what it does."""

    name: str
    entrypoint: str
    cron: str
    description: str

    @property
    def file_entrypoint(self) -> str:
        """The entrypoint as ``prefect.yaml`` writes it: ``pipelines/weekly.py:weekly_pipeline``."""
        module, function = self.entrypoint.split(":")
        return f"{module.replace('.', '/')}.py:{function}"


DEPLOYMENTS: tuple[DeploymentSpec, ...] = (
    DeploymentSpec(
        "weekly-report",
        "pipelines.weekly:weekly_pipeline",
        "0 1 * * 1",
        "Every Monday 01:00 UTC: new chat exports and prices in, one report per symbol out.",
    ),
    DeploymentSpec(
        "daily-prices",
        "pipelines.weekly:ingest_prices",
        "0 0 * * *",
        "Every day 00:00 UTC: fetch the candles closed since the last stored one.",
    ),
)


# ---- task caching ----------------------------------------------------------------------------------------
def chat_file_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str | None:
    """Key of ingesting the watched exports: every export file's (path, size, mtime), the parse settings and the
    lake's pseudonym key file.

    An unchanged set of exports is not parsed again; a new or touched file, or a new lake (a new key, so new
    pseudonyms), ingests anew (appends are idempotent, so re-reading a known file adds nothing).
    """
    from sentiment.steps.ingest import export_fingerprint

    settings: Settings = parameters["settings"]
    paths = parameters.get("paths")
    lake = Lake(settings.lake)
    return _digest(
        context.task.name,
        export_fingerprint(settings, None if paths is None else [Path(p) for p in paths]),
        _lake_id(settings),
        _stat(lake.key_path),
        settings.platform,
        settings.tz,
        settings.keep_names,
        settings.column_map,
        settings.redact,
        settings.skip_bad_records,
        code_fingerprint(),
    )


def partition_cache_key(ignore: Sequence[str] = ("now",), **tables: Sequence[str]) -> CacheKeyFn:
    """A ``cache_key_fn`` keyed on the Delta state of the lake partitions a task reads, so unchanged work is skipped.

    ``tables`` maps a table to the leading partition columns the task pins, each taken from the task's parameter
    of that name or else from its settings (``messages=("platform", "chat_id")``, ``prices=("exchange",)``).
    The key hashes the task name, its scalar parameters (not ``ignore``, nor frames: those derive from the lake),
    the settings that shape the result, and per table: its Delta version and table id when nothing is pinned (a
    table created again gets a new id), else the data files the current version lists in the pinned partition
    (names from the Delta log: immutable, unique per write, so a commit elsewhere in the table leaves the key alone;
    nothing is stat'ed, local or S3). Outputs are not in the key (writing them would invalidate it):
    :func:`submit_per_symbol` recomputes when one is missing.
    """

    def key(context: TaskRunContext, parameters: dict[str, Any]) -> str | None:
        settings: Settings = parameters["settings"]
        lake = Lake(settings.lake)
        state: list[object] = [_lake_id(settings)]
        for table, columns in tables.items():
            values = tuple(str(_pinned(column, parameters, settings)) for column in columns)
            partitions = PARTITIONS.get(table, ())
            if tuple(partitions[: len(values)]) != tuple(columns):
                raise OrchestrationError(f"{table} is partitioned by {partitions}, not {tuple(columns)}")
            if values:
                root = str(lake.table_dir(table)).rstrip("/") + "/"
                files = [str(f).removeprefix(root) for f in lake.partition_files(table, values)]
                state.append([table, files])
            else:
                # the version and the table's identity: a table deleted and written again (a lake rebuilt at the
                # same path) reaches the same versions with other rows
                dt = lake.snapshot(table)
                state.append([table, None if dt is None else (int(dt.version()), str(dt.metadata().id))])
        scalars = {
            name: _scalar(value)
            for name, value in sorted(parameters.items())
            if name not in ignore and name != "settings" and _scalar(value) is not None
        }
        return _digest(context.task.name, scalars, _settings_fingerprint(settings), state, code_fingerprint())

    return key


def _lake_id(settings: Settings) -> str:
    return str(settings.lake) if is_uri(settings.lake) else str(Path(settings.lake).resolve())


def submit_per_symbol(
    task: Task[..., Any],
    outputs: Callable[[Mapping[str, Any]], Sequence[Path] | Sequence[str]],
    settings: Settings,
    **kwargs: Any,
) -> list[PrefectFuture[Any]]:
    """Submit ``task(settings=..., symbol=..., **kwargs)`` once per report symbol.

    A symbol whose outputs are missing (say, a deleted report) is recomputed and its cache entry refreshed.
    """
    futures = []
    for symbol in settings.symbols:
        parameters = {"settings": settings, "symbol": symbol, **kwargs}
        produced = outputs(parameters)
        missing = not produced or not all(_exists(p) for p in produced)
        futures.append((task.with_options(refresh_cache=True) if missing else task).submit(**parameters))
    return futures


def _exists(path: Path | str) -> bool:
    """A local output exists on disk; a lake file named by a URI exists because the Delta log lists it."""
    return True if is_uri(path) else Path(path).exists()


@functools.cache
def code_fingerprint() -> str:
    """Hash of the installed ``sentiment`` package's code and data files: a new release (or a new lexicon)
    invalidates every cached task result instead of serving results computed by older code."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*") if p.is_file() and p.suffix in {".py", ".tsv", ".json", ".npz"}):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _pinned(column: str, parameters: Mapping[str, Any], settings: Settings) -> object:
    if column in parameters:
        return parameters[column]
    if column in Settings.model_fields:
        return getattr(settings, column)
    raise OrchestrationError(f"cannot pin partition column {column}: neither a task parameter nor a setting")


def _settings_fingerprint(settings: Settings) -> dict[str, Any]:
    return settings.model_dump(mode="json", exclude=set(VOLATILE_SETTINGS))


def _scalar(value: object) -> object:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Path | date | datetime | pd.Timestamp):
        return str(value)
    return None


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_size, st.st_mtime_ns)


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()


def weekly_output(parameters: Mapping[str, Any]) -> list[Path] | list[str]:
    """The ``weekly`` partition files of the task's ``symbol`` in the current version (for
    :func:`submit_per_symbol`)."""
    settings: Settings = parameters["settings"]
    return Lake(settings.lake).partition_files("weekly", (str(parameters["symbol"]),))


def daily_output(parameters: Mapping[str, Any]) -> list[Path] | list[str]:
    """The ``daily`` partition files of the task's ``symbol`` in the current version (for
    :func:`submit_per_symbol`)."""
    settings: Settings = parameters["settings"]
    return Lake(settings.lake).partition_files("daily", (str(parameters["symbol"]),))


def report_output(parameters: Mapping[str, Any]) -> list[Path]:
    """The ``metrics.json`` of the task's ``symbol`` and ``today`` (for :func:`submit_per_symbol`)."""
    from sentiment.steps.common import report_dir

    settings: Settings = parameters["settings"]
    return [report_dir(settings.reports, str(parameters["symbol"]), parameters["today"]) / "metrics.json"]


# ---- task runners ----------------------------------------------------------------------------------------
def task_runner(settings: Settings) -> TaskRunner[Any]:
    """The task runner ``settings.runner`` names: Prefect's thread pool, or prefect-dask on ``dask_address``."""
    if settings.runner == "dask":
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError as exc:  # the optional extra is not installed
            raise OrchestrationError(
                "--runner dask needs prefect-dask: pip install 'community-sentiment[dask]'"
            ) from exc
        return DaskTaskRunner(address=settings.dask_address) if settings.dask_address else DaskTaskRunner()
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner()


@contextmanager
def dask_cluster(settings: Settings) -> Iterator[Settings]:
    """With ``runner = "dask"`` and no address: one temporary local cluster for the block, its address in settings.

    Otherwise the settings unchanged. Sharing one cluster spares each subflow the start of its own.
    """
    if settings.runner != "dask" or settings.dask_address:
        yield settings
        return
    from distributed import LocalCluster

    with LocalCluster(host="127.0.0.1", dashboard_address=None, processes=True) as cluster:
        yield settings.model_copy(update={"dask_address": cluster.scheduler_address})


# ---- deployments -----------------------------------------------------------------------------------------
def load_flow(entrypoint: str) -> Flow[..., Any]:
    """The flow object at ``module:function``."""
    module, function = entrypoint.split(":")
    return getattr(importlib.import_module(module), function)


def settings_parameter(settings: Settings) -> dict[str, Any]:
    """Settings as a deployment parameter: only what differs from the defaults, as JSON."""
    return settings.model_dump(mode="json", exclude_defaults=True)


def deployments(settings: Settings, specs: Sequence[DeploymentSpec] = DEPLOYMENTS) -> list[RunnerDeployment]:
    """The deployments to serve, each with its cron schedule and ``settings`` as the default parameter."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    return [
        load_flow(spec.entrypoint).to_deployment(
            name=spec.name,
            schedule=Cron(spec.cron, timezone=TIMEZONE),
            parameters={"settings": settings_parameter(settings)},
            description=spec.description,
            tags=["sentiment"],
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
        for spec in specs
    ]


# ---- the Prefect API: configured, or a local server ------------------------------------------------------
def prefect_env_defaults() -> None:
    """Quiet, local, private Prefect unless the user configured otherwise (set before prefect is imported)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "sentiment")


def configured_api_url() -> str | None:
    """PREFECT_API_URL from the environment or the active Prefect profile (a team server or Cloud), if any."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url or None


@contextmanager
def local_server(port: int = 4200, *, startup_timeout: float = 120.0, log_path: Path | None = None) -> Iterator[str]:
    """Run ``prefect server start`` on 127.0.0.1:``port`` (analytics off) for the block; yields its API URL.

    The server runs in its own session, so a Ctrl-C meant for the caller does not reach it half-way; it is
    stopped with SIGTERM (then SIGKILL after 30 s) when the block ends. Its output goes to ``log_path``
    (default ``$PREFECT_HOME/sentiment-server.log``).
    """
    from prefect.settings import get_current_settings

    url = f"http://127.0.0.1:{port}/api"
    if not _port_free(port):
        raise OrchestrationError(
            f"127.0.0.1:{port} is in use: pass another --port, or set PREFECT_API_URL={url} if a server runs there"
        )
    log_path = log_path or Path(get_current_settings().home) / "sentiment-server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_healthy(url, proc, startup_timeout, log_path)
        yield url
    finally:
        _stop(proc)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise OrchestrationError(f"prefect server exited with code {proc.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise OrchestrationError(f"prefect server not healthy at {url} after {timeout:.0f} s; see {log_path}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def serve_schedules(
    settings: Settings,
    *,
    port: int = 4200,
    api_url: str | None = None,
    specs: Sequence[DeploymentSpec] = DEPLOYMENTS,
) -> None:
    """Serve the deployments until SIGTERM or Ctrl-C, against ``api_url`` or the configured API, else a local server.

    Prefect's temporary (ephemeral) API never schedules runs, hence the real server when none is configured.
    """
    previous = _raise_on_sigterm()
    try:
        target = api_url or configured_api_url()
        if target:
            _serve(settings, target, specs)
        else:
            with local_server(port) as url:
                _serve(settings, url, specs)
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _serve(settings: Settings, url: str, specs: Sequence[DeploymentSpec]) -> None:
    from prefect import serve
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # Served runs execute in subprocesses that inherit the current Prefect settings, this URL included.
    with temporary_settings(updates={PREFECT_API_URL: url}):
        serve(*deployments(settings, specs), print_starting_message=True)


def _raise_on_sigterm() -> Any:
    """Until serve installs its own handler, SIGTERM unwinds like Ctrl-C (so the server is stopped, not orphaned)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)

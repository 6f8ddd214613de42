"""The lake: one Delta table per declared table under one root, written idempotently and read through DuckDB."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError

from sentiment import schemas
from sentiment.errors import LakeError
from sentiment.lake import legacy, query, tables
from sentiment.lake.storage import LakeLocation
from sentiment.lake.tables import SEQ, AsOf

__all__ = [
    "DEFAULT_RETENTION_HOURS",
    "REPLACED_TABLES",
    "Lake",
    "StagedAppend",
    "parse_as_of",
    "prefer_system_allocator",
]

REPLACED_TABLES = frozenset({"weekly"})
# Files a compaction or an update made obsolete are deleted only this long after, so a week of versions stays
# readable (time travel, reports' recorded versions) and a reader that started before the compaction finishes.
DEFAULT_RETENTION_HOURS = 168


def prefer_system_allocator() -> None:
    """Let pyarrow allocate through the C library's allocator rather than its bundled mimalloc, unless the user
    chose a pool (``ARROW_DEFAULT_MEMORY_POOL``). For long jobs of many medium batches (an ingest, a run):
    mimalloc keeps freed pages for reuse, and a 1M-message ingest peaked ~100 MB higher with it (580 MB
    against 477 MB, same wall time; ``benchmarks/ingest.py``). Process-wide: the CLI calls it for those jobs."""
    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        pa.set_memory_pool(pa.system_memory_pool())


class Lake:
    """A lake rooted at a local folder or an object-store URI. Cheap to build; holds no open handles."""

    def __init__(self, root: Path | str, *, key_dir: Path | None = None) -> None:
        self._key_dir = key_dir
        self.location = LakeLocation.parse(root)
        self.root: Path | str = Path(root) if isinstance(self.location.root, Path) else self.location.root
        self._migrated: set[str] = set()

    @property
    def remote(self) -> bool:
        return self.location.remote

    # ---- paths -------------------------------------------------------------------------------------------
    def table_dir(self, table: str) -> Path | str:
        """The table's folder (a local Path, or its URI on an object store)."""
        if table not in schemas.TABLES:
            raise LakeError(f"{self.root}/{table}", f"unknown table (known: {', '.join(schemas.TABLES)})")
        return self.root / table if isinstance(self.root, Path) else self.location.table_uri(table)

    @property
    def key_path(self) -> Path:
        """The pseudonymisation key: inside a local lake; for an object-store lake on the local disk (a secret
        does not belong next to the data), under ``key_dir`` or ``~/.sentiment/keys/<bucket>/<prefix>``."""
        if isinstance(self.root, Path):
            return (self._key_dir or self.root / ".keys") / "pseudonym.key"
        where = str(self.root).split("://", 1)[1]
        return (self._key_dir or Path.home() / ".sentiment" / "keys" / where) / "pseudonym.key"

    # ---- versions ----------------------------------------------------------------------------------------
    def snapshot(self, table: str, as_of: AsOf = None) -> DeltaTable | None:
        """The Delta table ``table`` as of ``as_of`` (latest when None), or None when it holds nothing yet."""
        self.table_dir(table)
        version = _version_for(table, as_of)
        if isinstance(version, _Absent):
            return None
        dt = tables.open_table(self.location, table, version)
        if dt is None and version is None and table not in self._migrated and legacy.find(self.location, table):
            raise LakeError(
                self.table_dir(table), "written by an older version of sentiment: run `sentiment migrate` first"
            )
        return dt

    def version(self, table: str, as_of: AsOf = None) -> int | None:
        """The table's version (latest, or as of ``as_of``); None when the table does not exist."""
        dt = self.snapshot(table, as_of)
        return None if dt is None else int(dt.version())

    def versions(self, names: Sequence[str] | None = None, as_of: AsOf = None) -> dict[str, int | None]:
        """The version of each table (every declared table by default)."""
        return {t: self.version(t, as_of) for t in (names or schemas.TABLES)}

    def history(self, table: str, limit: int | None = None) -> list[dict[str, Any]]:
        """The table's commits, newest first: version, timestamp, operation and its metrics."""
        dt = self.snapshot(table)
        return [] if dt is None else list(dt.history(limit))

    def files(self, table: str, as_of: AsOf = None) -> list[Path] | list[str]:
        """The data files of the table's current (or ``as_of``) version: local Paths, or URIs on a store."""
        dt = self.snapshot(table, as_of)
        uris = [] if dt is None else sorted(dt.file_uris())
        return [Path(u) for u in uris] if isinstance(self.root, Path) else uris

    def partition_files(self, table: str, values: tuple[str, ...] = ()) -> list[Path] | list[str]:
        """Data files of the partition pinned by the leading partition ``values`` (all files if none)."""
        dt = self.snapshot(table)
        if dt is None:
            return []
        parts = schemas.PARTITIONS.get(table, ())
        filters = [(c, "=", str(v)) for c, v in zip(parts, values, strict=False)]
        uris = sorted(dt.file_uris(file_pruning_predicate=filters or None))
        return [Path(u) for u in uris] if isinstance(self.root, Path) else uris

    # ---- writes ------------------------------------------------------------------------------------------
    def append(self, table: str, frame: pd.DataFrame) -> int:
        """Add the rows of ``frame`` whose key is not stored yet (the first of any repeated key); return how many
        were written. Validates against the declared schema first, so a bad frame writes nothing."""
        arrow = schemas.conform(frame, table)
        self._appendable(table)
        if arrow.num_rows == 0:
            return 0
        self._ensure_migrated(table)
        source = tables.with_seq(arrow)

        def rows(dt: DeltaTable) -> pa.Table:
            with _duck() as con:
                con.register("__source", source.select([*schemas.KEYS[table], SEQ]))
                keep = tables.new_positions(con, table, "SELECT * FROM __source", self._stored(con, table, dt))
            return arrow if len(keep) == arrow.num_rows else arrow.take(pa.array(keep))

        return tables.insert_new(self.location, table, rows)

    def _stored(self, con: duckdb.DuckDBPyConnection, table: str, dt: DeltaTable) -> str | None:
        """A FROM source of the rows ``dt`` holds, or None when it holds none."""
        if not dt.file_uris():
            return None
        return query.table_source(con, table, dt, local=not self.remote, name="stored")

    @contextmanager
    def staging(self, table: str) -> Iterator[Path]:
        """A private local folder for staged files of ``table`` (under the lake when it is local), removed on exit."""
        if isinstance(self.root, Path):
            (self.root / ".staging").mkdir(parents=True, exist_ok=True)
            stage_dir = Path(tempfile.mkdtemp(prefix=f"{table}-", dir=self.root / ".staging"))
        else:
            stage_dir = Path(tempfile.mkdtemp(prefix=f"sentiment-staging-{table}-"))
        try:
            yield stage_dir
        finally:
            shutil.rmtree(stage_dir, ignore_errors=True)

    @contextmanager
    def staged_append(self, table: str) -> Iterator[StagedAppend]:
        """Append in bounded batches, all or nothing: ``add()`` validates and stages each batch in a local folder;
        when the block exits normally the new rows of all batches go in as ONE commit (the keys deduplicated
        against the stored ones and each other by DuckDB reading key columns only, then the staged files streamed
        into the table one at a time). On an exception nothing is written. Afterwards ``kept`` holds the staged
        positions (``__seq``) of the rows that were written."""
        self._appendable(table)
        with self.staging(table) as stage_dir:
            staged = StagedAppend(table, stage_dir)
            yield staged
            if staged.files:
                self._ensure_migrated(table)
                staged.written, staged.kept = self._insert_files(table, staged.files)

    def insert_staged(
        self, table: str, files: Sequence[Path], within: np.ndarray | None = None
    ) -> tuple[int, np.ndarray]:
        """Append, in one commit, the new rows of staged Arrow files (conformed rows plus a ``__seq`` column): the
        first row of each key not stored yet, and only rows whose ``__seq`` is in ``within`` (sorted) when given;
        ``within`` must select at most one row per key. Returns the rows written and their ``__seq`` positions."""
        self._appendable(table)
        self._ensure_migrated(table)
        return self._insert_files(table, files, within)

    def _insert_files(
        self, table: str, files: Sequence[Path], within: np.ndarray | None = None
    ) -> tuple[int, np.ndarray]:
        kept = [np.empty(0, dtype=np.int64)]
        if not files:
            return 0, kept[0]
        keys = ", ".join([*schemas.KEYS[table], SEQ])
        staged = ds.dataset([str(f) for f in files], format="arrow")

        def rows(dt: DeltaTable) -> pa.RecordBatchReader | None:
            if within is not None and not dt.file_uris():
                # Rows of distinct keys (``within``) into an empty table: no key check needed, and no DuckDB
                # hash table over every staged key (~200 MB per million rows, kept by its allocator).
                positions = np.sort(staged.to_table(columns=[SEQ]).column(SEQ).to_numpy())
                keep = np.intersect1d(positions, within, assume_unique=True)
            else:
                with _duck() as con:
                    con.register("__staged", staged)
                    stored = self._stored(con, table, dt)
                    keep = tables.new_positions(con, table, f"SELECT {keys} FROM __staged", stored)
                if within is not None:
                    keep = np.intersect1d(keep, within, assume_unique=True)
            kept[0] = keep
            return tables.reader_of(files, table, keep) if len(keep) else None

        written = tables.insert_new(self.location, table, rows)
        return written, kept[0] if written else np.empty(0, dtype=np.int64)

    def replace(self, table: str, frame: pd.DataFrame) -> int:
        """Replace every partition present in ``frame`` by its rows (derived tables), in one commit."""
        arrow = _first_of_each_key(schemas.conform(frame, table), table)
        self._ensure_migrated(table)
        return tables.replace_partitions(self.location, table, arrow)

    def replace_rows(self, table: str, frame: pd.DataFrame) -> int:
        """Write ``frame``'s rows over the stored rows with the same key (other rows kept), in one commit;
        return the rows written."""
        arrow = schemas.conform(frame, table)
        self._appendable(table, "replace_rows()")
        arrow = _first_of_each_key(arrow, table)
        if arrow.num_rows == 0:
            return 0
        self._ensure_migrated(table)
        return tables.upsert(self.location, table, arrow)

    def compact(
        self, table: str | None = None, *, retention_hours: int = DEFAULT_RETENTION_HOURS
    ) -> dict[str, tuple[int, int]]:
        """Optimize (merge small files per partition) and vacuum (delete files no version newer than
        ``retention_hours`` needs) each table; returns ``{table: (files before, files after)}``. Query results
        are unchanged, and every version of the retention window stays readable."""
        names = [table] if table else list(schemas.TABLES)
        result: dict[str, tuple[int, int]] = {}
        for name in names:
            self.table_dir(name)
            self._ensure_migrated(name)
            dt = tables.open_table(self.location, name)
            if dt is None:
                result[name] = (0, 0)
                continue
            before = len(dt.file_uris())

            def optimize(name: str = name) -> None:
                dt = tables.open_table(self.location, name)
                assert dt is not None
                dt.optimize.compact(writer_properties=tables._WRITER)

            tables.retried(self.location.table_uri(name), optimize)
            dt = tables.open_table(self.location, name)
            assert dt is not None
            try:
                # full: also files no commit ever listed (a killed writer's), once older than the retention window
                dt.vacuum(retention_hours=retention_hours, dry_run=False, enforce_retention_duration=False, full=True)
                dt.create_checkpoint()
            except DeltaError as exc:
                raise LakeError(self.table_dir(name), f"vacuum failed: {query.first_line(exc)}") from exc
            result[name] = (before, len(tables.open_table(self.location, name).file_uris()))  # type: ignore[union-attr]
        return result

    # ---- the format before Delta -------------------------------------------------------------------------
    def needs_migration(self) -> list[str]:
        """Tables that still hold files in the pre-Delta format."""
        return [t for t in schemas.TABLES if legacy.find(self.location, t) is not None]

    def migrate(self) -> dict[str, int]:
        """Convert every table still in the pre-Delta format in place: each stored row goes into the table's
        Delta log once per key (a re-run, or a run after a crash, inserts nothing twice), then the old files are
        deleted. The pseudonymisation key is left where it is. Returns rows inserted per converted table."""
        done: dict[str, int] = {}
        for table in schemas.TABLES:
            found = legacy.find(self.location, table)
            if found is not None:
                done[table] = self._migrate_table(found)
        legacy.remove_root_leftovers(self.location)
        return done

    def _migrate_table(self, found: legacy.LegacyTable) -> int:
        table = found.table
        inserted = 0
        if found.data:
            work = Path(tempfile.mkdtemp(prefix=f"sentiment-migrate-{table}-"))
            try:
                staged = work / "rows.arrow"
                with _duck() as con:
                    con.register("__legacy", found.dataset())
                    names = ", ".join(schemas.schema(table).names)
                    query_ = f"SELECT {names}, row_number() OVER () - 1 AS {SEQ} FROM __legacy"
                    tables.write_staged(con.sql(query_).to_arrow_reader(), staged, table)
                inserted, _ = self._insert_files(table, [staged])
            finally:
                shutil.rmtree(work, ignore_errors=True)
        else:
            tables.create_table(self.location, table)
        found.delete()
        self._migrated.add(table)
        return inserted

    def _ensure_migrated(self, table: str) -> None:
        """The first write through this Lake converts every table still in the old format (so the steps after it
        can read them), looking only at tables that are not Delta tables yet."""
        if table in self._migrated:
            return
        for name in schemas.TABLES:
            if name not in self._migrated and not tables.exists(self.location, name):
                found = legacy.find(self.location, name)
                if found is not None:
                    self._migrate_table(found)
            self._migrated.add(name)

    def _appendable(self, table: str, what: str = "append()") -> None:
        self.table_dir(table)
        if table in REPLACED_TABLES:
            raise LakeError(self.table_dir(table), f"derived table: use replace(), not {what}")

    # ---- reads -------------------------------------------------------------------------------------------
    def connect(self, sql: str | None = None, *, as_of: AsOf = None) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection (TimeZone UTC) with a view per table, and ``messages`` joined to scores.

        Views: ``messages`` (messages + score columns), ``messages_raw``, and one per table in ``schemas.TABLES``.
        Given the ``sql`` about to run, only the views it names are made. ``as_of`` reads every table as it was
        at that version (a number, a moment, or ``{table: version}``)."""
        wanted = query.views_named(sql) if sql is not None else None
        return query.connect(
            wanted, lambda t: self.snapshot(t, as_of), lambda t: str(self.table_dir(t)), local=not self.remote
        )

    def read(self, sql: str, *, as_of: AsOf = None) -> pd.DataFrame:
        """Run ``sql`` over the lake's views (as of ``as_of``) and return a DataFrame."""
        con = self.connect(sql, as_of=as_of)
        try:
            return con.execute(sql).df()
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            raise LakeError(self.root, f"query failed: {query.first_line(exc)}") from exc
        finally:
            con.close()

    def copy_to_parquet(self, sql: str, out: Path, *, as_of: AsOf = None) -> int:
        """Write the result of ``sql`` to the local Parquet file ``out`` (streamed by DuckDB's COPY); return rows."""
        con = self.connect(sql, as_of=as_of)
        target = str(out).replace("'", "''")
        try:
            con.execute(f"COPY ({sql.strip().rstrip(';')}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
            return int(con.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchall()[0][0])
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            raise LakeError(self.root, f"query failed: {query.first_line(exc)}") from exc
        finally:
            con.close()

    def count(self, table: str, *, as_of: AsOf = None) -> int:
        return int(self.read(f"SELECT count(*) AS n FROM {table}", as_of=as_of)["n"].iloc[0])


class StagedAppend:
    """Batches staged for one all-or-nothing append (see :meth:`Lake.staged_append`)."""

    def __init__(self, table: str, stage_dir: Path) -> None:
        self.table = table
        self.stage_dir = stage_dir
        self.staged_rows = 0
        self.written = 0
        self.files: list[Path] = []
        self.kept: np.ndarray = np.empty(0, dtype=np.int64)  # __seq of the rows written, once published

    def add(self, frame: pd.DataFrame) -> int:
        """Validate and stage a batch in an Arrow file (nothing visible in the table yet); return its row count."""
        arrow = schemas.conform(frame, self.table)
        if arrow.num_rows == 0:
            return 0
        path = self.stage_dir / f"batch-{len(self.files):06d}.arrow"
        tables.write_staged(tables.with_seq(arrow, self.staged_rows), path, self.table)
        self.files.append(path)
        self.staged_rows += arrow.num_rows
        return arrow.num_rows


class _Absent:
    """A table that did not exist at the requested point."""


def _version_for(table: str, as_of: AsOf) -> int | datetime | _Absent | None:
    if as_of is None or isinstance(as_of, int | datetime):
        return as_of
    if isinstance(as_of, str):
        return _version_for(table, parse_as_of(as_of))
    if table not in as_of:
        return None
    value = as_of[table]
    return _Absent() if value is None else int(value)


def parse_as_of(text: str) -> AsOf:
    """``--as-of`` as typed: a version number, ``table=version,...``, a ``metrics.json`` (the versions a report
    read), or an ISO time (UTC unless it says otherwise)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if text.endswith(".json") and Path(text).is_file():
        try:
            recorded = json.loads(Path(text).read_text(encoding="utf-8"))["table_versions"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LakeError(text, "no table_versions recorded in this file") from exc
        return {str(k): v for k, v in recorded.items()}
    if "=" in text:
        out: dict[str, int] = {}
        for item in text.split(","):
            name, _, number = item.partition("=")
            if name.strip() not in schemas.TABLES or not number.strip().isdigit():
                raise LakeError(text, f"not table=version: {item!r}")
            out[name.strip()] = int(number)
        return out
    try:
        moment = pd.Timestamp(text)
    except (ValueError, TypeError) as exc:
        raise LakeError(text, "--as-of wants a version, table=version,..., a metrics.json or a time") from exc
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
    return moment.to_pydatetime().astimezone(UTC)


def _first_of_each_key(arrow: pa.Table, table: str) -> pa.Table:
    with _duck() as con:
        con.register("__source", tables.with_seq(arrow.select(list(schemas.KEYS[table]))))
        keep = tables.new_positions(con, table, "SELECT * FROM __source", None)
    return arrow if len(keep) == arrow.num_rows else arrow.take(pa.array(keep))


@contextmanager
def _duck() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        yield con
    finally:
        con.close()

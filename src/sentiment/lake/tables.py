"""Delta table IO: open, create, insert-new-keys, replace, update-in-place, compact and time travel, via deltalake.

Every write is one Delta commit, so a reader sees a table at its last commit and never a half-written file; a
writer killed before its commit leaves only unreferenced files (``vacuum`` removes them later). Writers retry
a commit conflict by re-running the whole operation against the new table version: an insert-only merge that
lost a race re-reads the keys the winner stored and inserts only what is still missing, so two processes
appending the same rows at once store each row once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import CommitProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from sentiment import schemas
from sentiment.errors import LakeError
from sentiment.lake.storage import LakeLocation

__all__ = [
    "MAX_ATTEMPTS",
    "AsOf",
    "create_table",
    "insert_new",
    "new_rows",
    "open_table",
    "replace_partitions",
    "upsert",
]

# A version number, a moment, or one version per table (what a report records in metrics.json).
AsOf = int | datetime | str | Mapping[str, int] | None
MAX_ATTEMPTS = 40
SEQ = "__seq"
_WRITER = WriterProperties(compression="ZSTD")
_T = TypeVar("_T")


def partitions(table: str) -> list[str]:
    return list(schemas.PARTITIONS.get(table, ()))


def open_table(loc: LakeLocation, table: str, version: int | datetime | None = None) -> DeltaTable | None:
    """The Delta table ``table`` (at ``version``: a number or a moment), or None if it does not exist (yet, or
    at that moment)."""
    uri = loc.table_uri(table)
    try:
        if isinstance(version, datetime):
            dt = DeltaTable(uri, storage_options=loc.options or None)
            try:
                dt.load_as_version(version)
            except (DeltaError, ValueError, OSError) as exc:
                if "before" in str(exc).lower() or "earliest" in str(exc).lower() or "no commit" in str(exc).lower():
                    return None  # the table was created after that moment
                raise
            return dt
        return DeltaTable(uri, version=version, storage_options=loc.options or None)
    except TableNotFoundError:
        return None
    except (DeltaError, OSError, ValueError) as exc:
        if version is not None and not isinstance(version, datetime):
            raise LakeError(uri, f"no version {version}: {_first_line(exc)}") from exc
        raise LakeError(uri, f"cannot open the table: {_first_line(exc)}") from exc


def exists(loc: LakeLocation, table: str) -> bool:
    """Whether ``table`` is a Delta table (has a commit log)."""
    if isinstance(loc.root, Path):
        return (loc.root / table / "_delta_log").is_dir()
    return bool(DeltaTable.is_deltatable(loc.table_uri(table), storage_options=loc.options or None))


def create_table(loc: LakeLocation, table: str) -> DeltaTable:
    """Open ``table``, creating it empty with its declared schema and partitioning if it does not exist."""
    dt = open_table(loc, table)
    if dt is not None:
        return dt
    with suppress(CommitFailedError, DeltaError):  # another writer may create it at the same moment
        DeltaTable.create(
            loc.table_uri(table),
            schema=schemas.schema(table),
            partition_by=partitions(table) or None,
            mode="ignore",
            name=table,
            description=f"community-sentiment table {table}, schema version {schemas.SCHEMA_VERSION}",
            storage_options=loc.options or None,
        )
    dt = open_table(loc, table)
    if dt is None:
        raise LakeError(loc.table_uri(table), "cannot create the table")
    return dt


def retried(uri: str, operation: Callable[[], _T]) -> _T:
    """Run ``operation`` until it commits: a commit conflict with a concurrent writer re-runs it from scratch."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            return operation()
        except CommitFailedError as exc:
            if attempt == MAX_ATTEMPTS - 1:
                raise LakeError(uri, f"gave up after {MAX_ATTEMPTS} commit conflicts: {_first_line(exc)}") from exc
            time.sleep(min(2.0, 0.02 * 2 ** min(attempt, 7)) * random.uniform(0.5, 1.5))
        except DeltaError as exc:
            raise LakeError(uri, f"write failed: {_first_line(exc)}") from exc
    raise AssertionError("unreachable")


def _merge_kwargs(dt: DeltaTable, table: str) -> dict[str, Any]:
    stored = {f.name for f in dt.schema().fields}
    return {
        "merge_schema": not set(schemas.schema(table).names) <= stored,  # a column declared since it was created
        "writer_properties": _WRITER,
        "commit_properties": CommitProperties(custom_metadata={"sentiment.schema_version": schemas.SCHEMA_VERSION}),
    }


def _predicate(table: str) -> str:
    return " AND ".join(f"t.{k} = s.{k}" for k in schemas.KEYS[table])


def insert_new(loc: LakeLocation, table: str, source: Callable[[DeltaTable], pa.Table | pa.RecordBatchReader]) -> int:
    """Insert the rows of ``source(table)`` whose key is not stored (insert-only merge); return rows inserted.

    ``source`` is called once per attempt with the table it will be merged into, so it can pre-filter against
    the stored keys of that version; the merge itself re-checks every key, which makes it safe under races.
    """

    def attempt() -> int:
        dt = create_table(loc, table)
        rows = source(dt)
        if isinstance(rows, pa.Table) and rows.num_rows == 0:
            return 0
        result = (
            dt.merge(rows, _predicate(table), source_alias="s", target_alias="t", **_merge_kwargs(dt, table))
            .when_not_matched_insert_all()
            .execute()
        )
        return int(result["num_target_rows_inserted"])

    return retried(loc.table_uri(table), attempt)


def upsert(loc: LakeLocation, table: str, rows: pa.Table) -> int:
    """Write ``rows`` over the stored rows with the same key (update in place), inserting the others."""

    def attempt() -> int:
        dt = create_table(loc, table)
        result = (
            dt.merge(rows, _predicate(table), source_alias="s", target_alias="t", **_merge_kwargs(dt, table))
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute()
        )
        return int(result["num_target_rows_updated"]) + int(result["num_target_rows_inserted"])

    return retried(loc.table_uri(table), attempt)


def replace_partitions(loc: LakeLocation, table: str, rows: pa.Table) -> int:
    """Replace every partition present in ``rows`` by those rows, in one commit (``replaceWhere``)."""
    parts = partitions(table)
    if not parts:
        raise LakeError(loc.table_uri(table), "replace() needs a partitioned table")
    clauses = []
    for values in rows.select(parts).group_by(parts).aggregate([]).to_pylist():
        clauses.append("(" + " AND ".join(f"{c} = {_literal(values[c])}" for c in parts) + ")")
    if not clauses:
        return 0

    def attempt() -> int:
        dt = create_table(loc, table)
        stored = {f.name for f in dt.schema().fields}
        write_deltalake(
            dt,
            rows,
            mode="overwrite",
            predicate=" OR ".join(clauses),
            partition_by=parts,
            schema_mode="merge" if not set(rows.schema.names) <= stored else None,
            writer_properties=_WRITER,
            commit_properties=CommitProperties(custom_metadata={"sentiment.schema_version": schemas.SCHEMA_VERSION}),
        )
        return rows.num_rows

    return retried(loc.table_uri(table), attempt)


def _literal(value: object) -> str:
    if value is None:
        raise LakeError("replace", "a partition value is null")
    return "'" + str(value).replace("'", "''") + "'"


def new_rows(
    con: duckdb.DuckDBPyConnection, table: str, source_sql: str, dt: DeltaTable | None
) -> duckdb.DuckDBPyRelation:
    """A DuckDB relation of the rows of ``source_sql`` (which has a ``__seq`` column giving their order) that are
    the first of their key and whose key ``dt`` does not hold; columns in declared order, ``__seq`` dropped."""
    keys = list(schemas.KEYS[table])
    names = ", ".join(schemas.schema(table).names)
    stored = "" if dt is None or not dt.file_uris() else _anti_join(con, table, dt)
    partition = ", ".join(f"s.{k}" for k in keys)
    return con.sql(
        f"SELECT {names} FROM ({source_sql}) s {stored} "
        f"QUALIFY row_number() OVER (PARTITION BY {partition} ORDER BY s.{SEQ}) = 1"
    )


def _anti_join(con: duckdb.DuckDBPyConnection, table: str, dt: DeltaTable) -> str:
    keys = list(schemas.KEYS[table])
    con.register("__stored_keys", dataset_of(dt))
    match = " AND ".join(f"k.{c} = s.{c}" for c in keys)
    return f"WHERE NOT EXISTS (SELECT 1 FROM __stored_keys k WHERE {match})"


def dataset_of(dt: DeltaTable) -> ds.Dataset:
    """The snapshot as a pyarrow dataset for DuckDB, strings typed ``string_view``: DuckDB pushes its filters down
    with string_view literals, which pyarrow cannot compare with the plain-string min/max statistics delta-rs
    attaches to every file (``equal(string, string_view)`` has no kernel)."""
    stored = pa.schema(dt.schema().to_arrow())
    viewed = pa.schema([f.with_type(pa.string_view()) if f.type == pa.string() else f for f in stored])
    return dt.to_pyarrow_dataset(schema=viewed)


def with_seq(rows: pa.Table, start: int = 0) -> pa.Table:
    return rows.append_column(SEQ, pa.array(np.arange(start, start + rows.num_rows, dtype=np.int64)))


def conform_arrow(rows: pa.Table, table: str) -> pa.Table:
    """DuckDB's output cast back to the declared schema (time zone name, nullability, metadata)."""
    target = schemas.schema(table)
    loose = pa.schema([f.with_nullable(True) for f in target])
    return pa.Table.from_arrays(rows.select(target.names).cast(loose).columns, schema=target)


def reader_of(paths: Sequence[str], table: str) -> pa.RecordBatchReader:
    """Staged Parquet files streamed as batches of the declared schema (bounded memory)."""
    target = schemas.schema(table)
    dataset = ds.dataset(list(paths), format="parquet")

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in dataset.to_batches(columns=target.names):
            if batch.num_rows:
                yield from conform_arrow(pa.Table.from_batches([batch]), table).to_batches()

    return pa.RecordBatchReader.from_batches(target, batches())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

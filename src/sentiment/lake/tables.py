"""Delta table IO: open, create, insert-new-keys, replace, update-in-place, compact and time travel, via deltalake.

Every write is one Delta commit, so a reader sees a table at its last commit and never a half-written file; a
writer killed before its commit leaves only unreferenced files (``vacuum`` removes them later).

Idempotent appends under concurrency: a writer reads the stored keys at version N, appends only the rows whose
key is missing, and commits with a Delta application transaction (``txn``) under the one app id every write of
this package uses. delta-rs's conflict check refuses a commit when a commit made since version N carries the same
app id (measured with deltalake 1.6: "Concurrent transaction failed"), so an append lands only if no other write
of this package landed since the keys were read; the loser re-reads the keys (now including the winner's rows)
and retries. Two processes appending the same rows at once therefore store each row once, on a local folder or on
S3 (where the commit itself is a conditional PUT). A blind append avoids a merge's join over the stored rows: the
key check is a keys-only anti join. (Writers outside this package, e.g. a Spark job appending to a table, do not
take part: write the lake through ``sentiment``.)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import CommitProperties, DeltaTable, Transaction, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from sentiment import schemas
from sentiment.errors import LakeError
from sentiment.lake.storage import LakeLocation

__all__ = [
    "MAX_ATTEMPTS",
    "WRITER_APP_ID",
    "AsOf",
    "create_table",
    "insert_new",
    "open_table",
    "replace_partitions",
    "upsert",
]

# A version number, a moment, or one version per table (what a report records in metrics.json).
AsOf = int | datetime | str | Mapping[str, int | None] | None
MAX_ATTEMPTS = 40
SEQ = "__seq"
# The Delta application-transaction id of every write this lake makes (see the module docstring).
WRITER_APP_ID = "community-sentiment-lake"
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


def stats_columns(table: str) -> list[str]:
    """The columns whose per-file min/max Delta keeps for data skipping: the key columns that are not partition
    columns, and the timestamps (what queries filter on). Statistics of every column (the default) cost a fifth
    of a 1M-message write for long text columns no query ranges over."""
    parts = set(partitions(table))
    times = [c.name for c in schemas.TABLES[table] if pa.types.is_timestamp(c.type)]
    return list(dict.fromkeys([*(k for k in schemas.KEYS[table] if k not in parts), *times]))


def exists(loc: LakeLocation, table: str) -> bool:
    """Whether ``table`` is a Delta table (has a commit log)."""
    if isinstance(loc.root, Path):
        return (loc.root / table / "_delta_log").is_dir()
    # (DeltaTable.is_deltatable hangs against some S3 servers, moto among them: open the table instead)
    return open_table(loc, table) is not None


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
            configuration={"delta.dataSkippingStatsColumns": ",".join(stats_columns(table))},
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


def _commit(dt: DeltaTable) -> CommitProperties:
    return CommitProperties(
        custom_metadata={"sentiment.schema_version": schemas.SCHEMA_VERSION},
        app_transactions=[Transaction(app_id=WRITER_APP_ID, version=int(dt.version()) + 1)],
    )


def _schema_grows(dt: DeltaTable, names: Sequence[str]) -> bool:
    """A column declared since the table was created (written with schema merge, so old files read as NULL)."""
    return not set(names) <= {f.name for f in dt.schema().fields}


def _predicate(table: str) -> str:
    return " AND ".join(f"t.{k} = s.{k}" for k in schemas.KEYS[table])


def insert_new(
    loc: LakeLocation, table: str, source: Callable[[DeltaTable], pa.Table | pa.RecordBatchReader | None]
) -> int:
    """Append ``source(table)``: the rows whose key the given version does not hold (the caller computes them);
    return rows written. ``source`` is called again with the new version after a commit conflict."""

    def attempt() -> int:
        dt = create_table(loc, table)
        rows = source(dt)
        if rows is None or (isinstance(rows, pa.Table) and rows.num_rows == 0):
            return 0
        counted = [0]
        if isinstance(rows, pa.RecordBatchReader):
            rows = _counting(rows, counted)
        else:
            counted[0] = rows.num_rows
        write_deltalake(
            dt,  # the snapshot the keys were read from: the conflict check starts there
            rows,
            mode="append",
            partition_by=partitions(table) or None,
            schema_mode="merge" if _schema_grows(dt, schemas.schema(table).names) else None,
            writer_properties=_WRITER,
            commit_properties=_commit(dt),
        )
        return counted[0]

    return retried(loc.table_uri(table), attempt)


def _counting(reader: pa.RecordBatchReader, counted: list[int]) -> pa.RecordBatchReader:
    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            counted[0] += batch.num_rows
            yield batch

    return pa.RecordBatchReader.from_batches(reader.schema, batches())


def upsert(loc: LakeLocation, table: str, rows: pa.Table) -> int:
    """Write ``rows`` over the stored rows with the same key (update in place), inserting the others."""

    def attempt() -> int:
        dt = create_table(loc, table)
        result = (
            dt.merge(
                rows,
                _predicate(table),
                source_alias="s",
                target_alias="t",
                merge_schema=_schema_grows(dt, rows.schema.names),
                writer_properties=_WRITER,
                commit_properties=_commit(dt),
            )
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


def new_positions(con: duckdb.DuckDBPyConnection, table: str, source_sql: str, stored_sql: str | None) -> np.ndarray:
    """The ``__seq`` of the rows of ``source_sql`` to write, sorted: the first row of each key, unless the key is
    in ``stored_sql`` (a FROM source of the stored rows, or None when nothing is stored). Keys only are read."""
    keys = ", ".join(schemas.KEYS[table])
    firsts = f"SELECT {keys}, min({SEQ}) AS {SEQ} FROM ({source_sql}) GROUP BY ALL"
    if stored_sql is None:
        sql = f"SELECT {SEQ} FROM ({firsts})"
    else:
        sql = f"SELECT f.{SEQ} FROM ({firsts}) f ANTI JOIN (SELECT {keys} FROM {stored_sql}) k USING ({keys})"
    # sorted here, not by DuckDB: numpy sorts a million integers in milliseconds, an ORDER BY took most of a second
    return np.sort(con.sql(sql).fetchnumpy()[SEQ].astype(np.int64))


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


def write_staged(rows: pa.Table | pa.RecordBatchReader, path: Path, table: str) -> None:
    """Stage conformed rows plus ``__seq`` in an Arrow IPC file (LZ4): written and memory-mapped back several
    times faster than Parquet, for a short-lived local file."""
    schema = rows.schema
    options = pa.ipc.IpcWriteOptions(compression="lz4")
    with pa.ipc.new_file(str(path), schema, options=options) as writer:
        if isinstance(rows, pa.Table):
            writer.write_table(rows)
        else:
            for batch in rows:
                writer.write_batch(batch)


def reader_of(paths: Sequence[str | Path], table: str, keep: np.ndarray) -> pa.RecordBatchReader:
    """The rows of staged Arrow files whose ``__seq`` is in ``keep`` (sorted), streamed in the declared schema, one
    file at a time."""
    target = schemas.schema(table)

    def batches() -> Iterator[pa.RecordBatch]:
        for path in paths:
            with pa.memory_map(str(path)) as source:
                rows = pa.ipc.open_file(source).read_all()
            if rows.num_rows == 0:
                continue
            seqs = rows.column(SEQ).to_numpy()
            at = np.searchsorted(keep, seqs).clip(max=max(len(keep) - 1, 0))
            kept = keep[at] == seqs
            if not kept.all():
                rows = rows.filter(pa.array(kept))
            rows = rows.drop_columns([SEQ])
            if rows.num_rows:
                yield from (rows if rows.schema.equals(target) else conform_arrow(rows, table)).to_batches()

    return pa.RecordBatchReader.from_batches(target, batches())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

"""The Parquet lake: the one module that knows every table's path, partitioning and write protocol.

Layout (Hive-style directories; partition values URI-encoded, e.g. ``symbol=VIRTUAL%2FUSDT``)::

    <lake>/messages/platform=<p>/chat_id=<c>/month=<YYYY-MM>/part-<uuid>.parquet
    <lake>/scores/platform=<p>/part-<uuid>.parquet
    <lake>/prices/exchange=<e>/symbol=<s>/timeframe=<tf>/part-<uuid>.parquet
    <lake>/weekly/symbol=<s>/data.parquet            (derived; replaced as a whole)
    <lake>/.keys/pseudonym.key                       (HMAC key; never a Parquet file)

Partition columns live in the directory names, not inside the files (the Hive convention every engine reads).
Writes are serialised by an exclusive lock on ``<lake>/.lock``; every file appears atomically (written to a hidden
temporary name, fsynced, renamed), so a crash leaves only whole files, and appends skip rows whose key is already
stored, so re-running any step adds nothing twice.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sentiment import schemas
from sentiment.errors import LakeError

__all__ = ["PARTITIONS", "Lake", "StagedAppend"]

# Partition columns per table, outermost first. "month" is derived from ts and is not a schema column.
PARTITIONS: dict[str, tuple[str, ...]] = {
    "messages": ("platform", "chat_id", "month"),
    "scores": ("platform",),
    "prices": ("exchange", "symbol", "timeframe"),
    "weekly": ("symbol",),
}
PARTITIONS["rejects"] = ("platform",)
REPLACED_TABLES = frozenset({"weekly"})
_DUCK_TYPES = {
    pa.string(): "VARCHAR",
    pa.float64(): "DOUBLE",
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.bool_(): "BOOLEAN",
    schemas.UTC_TS: "TIMESTAMPTZ",
}


class Lake:
    """A lake rooted at a local folder. Cheap to build; holds no open handles."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # ---- paths -------------------------------------------------------------------------------------------
    def table_dir(self, table: str) -> Path:
        if table not in schemas.TABLES:
            raise LakeError(self.root / table, f"unknown table (known: {', '.join(schemas.TABLES)})")
        return self.root / table

    @property
    def key_path(self) -> Path:
        return self.root / ".keys" / "pseudonym.key"

    def files(self, table: str) -> list[Path]:
        """Committed Parquet files of ``table`` (temporary files are hidden and never listed)."""
        base = self.table_dir(table)
        return sorted(base.glob("/".join(["*"] * len(PARTITIONS[table]) + ["*.parquet"])))

    # ---- writes ------------------------------------------------------------------------------------------
    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Exclusive lock serialising writers (processes and threads) on this lake."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def append(self, table: str, frame: pd.DataFrame) -> int:
        """Add the rows of ``frame`` whose key is not stored yet; return how many were written.

        Validates against the declared schema first, so a bad frame writes nothing.
        """
        arrow = schemas.conform(frame, table)
        arrow = _drop_duplicate_keys(arrow, schemas.KEYS[table])
        if table in REPLACED_TABLES:
            raise LakeError(self.table_dir(table), "derived table: use replace(), not append()")
        written = 0
        with self.write_lock():
            for values, part in _split_partitions(arrow, table):
                part_dir = self._partition_dir(table, values)
                fresh = self._anti_join_stored(table, values, part)
                if fresh.num_rows:
                    self._write_file(part_dir / f"part-{uuid.uuid4().hex}.parquet", fresh)
                    written += fresh.num_rows
        return written

    def replace(self, table: str, frame: pd.DataFrame) -> int:
        """Replace every partition present in ``frame`` by its rows (derived tables), atomically per partition."""
        arrow = schemas.conform(frame, table)
        arrow = _drop_duplicate_keys(arrow, schemas.KEYS[table])
        with self.write_lock():
            for values, part in _split_partitions(arrow, table):
                self._write_file(self._partition_dir(table, values) / "data.parquet", part)
        return arrow.num_rows

    def _partition_dir(self, table: str, values: tuple[str, ...]) -> Path:
        parts = [f"{col}={quote(str(v), safe='')}" for col, v in zip(PARTITIONS[table], values, strict=True)]
        return self.table_dir(table).joinpath(*parts)

    def _anti_join_stored(self, table: str, values: tuple[str, ...], part: pa.Table) -> pa.Table:
        """Rows of ``part`` whose key is not stored yet. The scan covers every partition the key pins down."""
        keys = schemas.KEYS[table]
        pinned = [c for c in PARTITIONS[table] if c in keys]
        scope = self._partition_dir_prefix(table, values[: len(pinned)])
        in_file_keys = [k for k in keys if k not in PARTITIONS[table]]
        stored_files = sorted(scope.rglob("*.parquet")) if scope.exists() else []
        if not stored_files:
            return part
        stored = pa.concat_tables(
            [pq.read_table(f, columns=in_file_keys, schema=None) for f in stored_files]
        ).combine_chunks()
        stored_keys = set(zip(*(stored.column(k).to_pylist() for k in in_file_keys), strict=True))
        new_keys = list(zip(*(part.column(k).to_pylist() for k in in_file_keys), strict=True))
        mask = pa.array([k not in stored_keys for k in new_keys], type=pa.bool_())
        return part.filter(mask)

    def _partition_dir_prefix(self, table: str, values: tuple[str, ...]) -> Path:
        parts = [f"{col}={quote(str(v), safe='')}" for col, v in zip(PARTITIONS[table], values, strict=False)]
        return self.table_dir(table).joinpath(*parts)

    def _write_file(self, target: Path, data: pa.Table) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            pq.write_table(data, tmp, compression="zstd")
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, target)
            dir_fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise LakeError(target, f"cannot write: {exc}") from exc

    @contextmanager
    def staged_append(self, table: str) -> Iterator[StagedAppend]:
        """Append in bounded batches, all or nothing: ``add()`` stages batches as hidden files under
        ``<lake>/.staging/``; only when the block exits normally are they published (deduplicated against the
        stored keys and each other, one partition at a time, each file atomically). On an exception the staged
        files are deleted and the table is untouched.
        """
        if table in REPLACED_TABLES:
            raise LakeError(self.table_dir(table), "derived table: use replace(), not staged_append()")
        self.table_dir(table)  # validates the name
        staged = StagedAppend(self, table, self.root / ".staging" / f"{table}-{uuid.uuid4().hex}")
        try:
            yield staged
            staged._publish()
        finally:
            shutil.rmtree(staged.stage_dir, ignore_errors=True)

    # ---- reads -------------------------------------------------------------------------------------------
    def connect(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection (TimeZone UTC) with a view per table, and ``messages`` joined to scores.

        Views: ``messages`` (messages + score columns), ``messages_raw``, ``scores``, ``prices``, ``weekly``.
        """
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        for table in schemas.TABLES:
            name = "messages_raw" if table == "messages" else table
            con.execute(f"CREATE VIEW {name} AS {self._select_sql(table)}")
        score_cols = [c.name for c in schemas.TABLES["scores"] if c.name not in schemas.KEYS["scores"]]
        con.execute(
            "CREATE VIEW messages AS SELECT m.*, "
            + ", ".join(f"s.{c}" for c in score_cols)
            + " FROM messages_raw m LEFT JOIN scores s USING (platform, chat_id, message_id)"
        )
        return con

    def _select_sql(self, table: str) -> str:
        cols = schemas.TABLES[table]
        parts = PARTITIONS[table]
        files = self.files(table)
        ordered = [c.name for c in cols] + [p for p in parts if p not in {c.name for c in cols}]
        if not files:
            typed = ", ".join(f"NULL::{_DUCK_TYPES[c.type]} AS {c.name}" for c in cols)
            extra = "".join(f", NULL::VARCHAR AS {p}" for p in parts if p not in {c.name for c in cols})
            return f"SELECT {typed}{extra} WHERE false"
        file_list = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
        hive_types = ", ".join(f"'{p}': VARCHAR" for p in parts)
        return (
            f"SELECT {', '.join(ordered)} FROM read_parquet([{file_list}], hive_partitioning = true, "
            f"hive_types = {{{hive_types}}}, union_by_name = true)"
        )

    def read(self, sql: str) -> pd.DataFrame:
        """Run ``sql`` over the lake's views and return a DataFrame."""
        con = self.connect()
        try:
            return con.execute(sql).df()
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise LakeError(self.root, f"query failed: {first}") from exc
        finally:
            con.close()

    def count(self, table: str) -> int:
        return int(self.read(f"SELECT count(*) AS n FROM {table}")["n"].iloc[0])


class StagedAppend:
    """Batches staged for one all-or-nothing append (see :meth:`Lake.staged_append`)."""

    def __init__(self, lake: Lake, table: str, stage_dir: Path) -> None:
        self.lake = lake
        self.table = table
        self.stage_dir = stage_dir
        self.staged_rows = 0
        self.written = 0
        self._parts: dict[tuple[str, ...], list[Path]] = {}

    def add(self, frame: pd.DataFrame) -> int:
        """Validate and stage a batch (nothing visible in the table yet); return its row count."""
        arrow = _first_per_key(schemas.conform(frame, self.table), schemas.KEYS[self.table])
        for values, part in _split_partitions(arrow, self.table):
            files = self._parts.setdefault(values, [])
            target = self.stage_dir / f"p{len(self._parts)}" if not files else files[0].parent
            target.mkdir(parents=True, exist_ok=True)
            path = target / f"batch-{len(files):06d}.parquet"
            pq.write_table(part, path, compression="zstd")
            files.append(path)
        self.staged_rows += arrow.num_rows
        return arrow.num_rows

    def _publish(self) -> None:
        table = self.table
        keys = schemas.KEYS[table]
        in_file = [k for k in keys if k not in PARTITIONS[table]]
        pinned = len([c for c in PARTITIONS[table] if c in keys])
        # Per scope: the stored files plus those this publish wrote, and a sorted array of 64-bit hashes of their
        # keys (8 bytes a key, so millions of keys fit in a few tens of MB). A hash hit is confirmed against the
        # exact keys in those files before a row is dropped, so a hash collision never loses a row.
        scopes: dict[tuple[str, ...], tuple[list[Path], list[np.ndarray]]] = {}
        with self.lake.write_lock():
            for values in sorted(self._parts):
                # One staged batch at a time, so publishing needs no more memory than staging did.
                for staged in self._parts[values]:
                    part = pq.read_table(staged)
                    target = self.lake._partition_dir(table, values) / f"part-{uuid.uuid4().hex}.parquet"
                    if len(in_file) == 1:
                        scope = values[:pinned]
                        if scope not in scopes:
                            scopes[scope] = self._stored_scope(scope, in_file[0])
                        files, hashes = scopes[scope]
                        part = _unseen(part, in_file[0], files, hashes)
                        if part.num_rows:
                            files.append(target)
                            merged = np.concatenate([hashes[0], _key_hashes(part.column(in_file[0]))])
                            merged.sort()
                            hashes[0] = merged
                    else:
                        part = self.lake._anti_join_stored(table, values, part)
                    if part.num_rows:
                        self.lake._write_file(target, part)
                        self.written += part.num_rows

    def _stored_scope(self, scope: tuple[str, ...], key: str) -> tuple[list[Path], list[np.ndarray]]:
        base = self.lake._partition_dir_prefix(self.table, scope)
        files = sorted(base.rglob("*.parquet")) if base.exists() else []
        parts = [_key_hashes(pq.read_table(f, columns=[key]).column(key)) for f in files]
        hashes = np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)
        hashes.sort()
        return files, [hashes]


def _key_hashes(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return pd.util.hash_array(np.asarray(column.to_pylist(), dtype=object))


def _unseen(part: pa.Table, key: str, files: list[Path], hashes: list[np.ndarray]) -> pa.Table:
    """Rows of ``part`` whose key is in none of ``files`` (``hashes`` pre-filters; hits are checked exactly)."""
    seen = hashes[0]
    if part.num_rows == 0 or seen.size == 0:
        return part
    h = _key_hashes(part.column(key))
    pos = np.searchsorted(seen, h).clip(max=seen.size - 1)
    hit = seen[pos] == h
    if not hit.any():
        return part
    candidates = part.column(key).filter(pa.array(hit)).combine_chunks()
    found = np.zeros(len(candidates), dtype=bool)
    for f in files:
        stored = pq.read_table(f, columns=[key]).column(key).combine_chunks()
        found |= pc.is_in(candidates, value_set=stored).to_numpy(zero_copy_only=False)
        if found.all():
            break
    drop = pc.is_in(part.column(key), value_set=candidates.filter(pa.array(found)))
    return part.filter(pc.invert(drop))


def _first_per_key(arrow: pa.Table, keys: tuple[str, ...]) -> pa.Table:
    """The first row of each key, in input order (the row positions themselves, sorted)."""
    if arrow.num_rows == 0:
        return arrow
    idx = pa.array(range(arrow.num_rows), type=pa.int64())
    firsts = (
        arrow.select(list(keys))
        .append_column("__i", idx)
        .group_by(list(keys), use_threads=False)
        .aggregate([("__i", "min")])
        .column("__i_min")
    )
    return arrow.take(firsts.take(pc.sort_indices(firsts)))


def _drop_duplicate_keys(arrow: pa.Table, keys: tuple[str, ...]) -> pa.Table:
    """Keep the first row of each key within one batch being written."""
    if arrow.num_rows == 0:
        return arrow
    idx = pa.array(range(arrow.num_rows), type=pa.int64())
    firsts = (
        arrow.select(list(keys))
        .append_column("__i", idx)
        .group_by(list(keys), use_threads=False)
        .aggregate([("__i", "min")])
        .column("__i_min")
    )
    return arrow.take(pc.sort_indices(firsts))


def _split_partitions(arrow: pa.Table, table: str) -> Iterator[tuple[tuple[str, ...], pa.Table]]:
    """Yield (partition values, rows without the partition columns) for each partition present."""
    parts = PARTITIONS[table]
    if arrow.num_rows == 0:
        return
    derived = arrow
    if "month" in parts:
        month = pc.strftime(arrow.column("ts"), format="%Y-%m", locale="C")
        derived = arrow.append_column("month", month)
    frame = derived.select(list(parts)).to_pandas()
    groups = frame.groupby(list(parts), sort=True, dropna=False).indices
    keep = [n for n in arrow.column_names if n not in parts]
    for values, rows in groups.items():
        vals = values if isinstance(values, tuple) else (values,)
        yield tuple(str(v) for v in vals), arrow.select(keep).take(pa.array(rows))

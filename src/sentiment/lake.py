"""The Parquet lake: the one module that knows every table's path, partitioning and write protocol.

Layout (Hive-style directories; partition values URI-encoded, e.g. ``symbol=VIRTUAL%2FUSDT``)::

    <lake>/messages/platform=<p>/chat_id=<c>/month=<YYYY-MM>/part-<uuid>.parquet
    <lake>/scores/platform=<p>/part-<uuid>.parquet
    <lake>/prices/exchange=<e>/symbol=<s>/timeframe=<tf>/part-<uuid>.parquet
    <lake>/weekly/symbol=<s>/data.parquet            (derived; replaced as a whole)
    <lake>/runs/step=<step>/part-<uuid>.parquet      (one row per pipeline/CLI step run)
    <lake>/<new table>/part-<uuid>.parquet           (a table declared in schemas without partitions here)
    <lake>/.keys/pseudonym.key                       (HMAC key; never a Parquet file; local lakes only)

Partition columns live in the directory names, not inside the files (the Hive convention every engine reads).
Files are zstd-compressed and carry the table name, schema version and column descriptions in their metadata.
Names starting with ``.`` or ``_`` are never data: DuckDB's ``*.parquet`` globs, pyarrow datasets and pandas all
skip them, and so does :meth:`Lake.files`.

Write protocol (local folder)
    Writers are serialised by an exclusive ``flock`` on ``<lake>/.lock`` (the kernel releases it when the holder
    dies, even by ``kill -9``, so there is never a stale lock). Every file is written to a hidden temporary name,
    fsynced, renamed into place and its folder fsynced: a reader sees a whole file or none. ``append`` skips rows
    whose key is already stored (one vectorised Arrow anti join per key scope), so a crash part-way through an
    append leaves some partitions written and the re-run writes exactly the rest. The next writer deletes the
    hidden ``*.tmp`` files a dead writer left (holding the lock, it knows nobody else is writing them).

Compaction (``Lake.compact``, ``sentiment compact``)
    Merges the files of each partition into one. Deleting N files is not atomic, so each partition's swap is
    recorded first in a hidden intent file ``.compaction.json`` (``{"new": [...], "old": [...]}``), then:
    1. write the intent (atomically), 2. write the merged file (atomically), 3. delete the old files,
    4. delete the intent. Readers going through the lake (views, ``query``, appends' dedupe) resolve intents: when
    an intent's new file exists its old files are ignored, otherwise the intent is ignored. So after a crash at
    any step every row is visible exactly once through the lake; the next writer rolls the swap forward (new file
    present: delete the olds) or back (absent: delete the intent). A tool globbing ``*.parquet`` directly could
    see a partition twice only between steps 2 and 3 of a compaction that is running or crashed there; run
    ``sentiment compact`` once after a crash to finish it. Readers take no lock: a query that listed a partition
    just before a compaction deleted its old files fails with a missing file and can simply be run again.

Object storage (``s3://bucket/prefix?endpoint_override=host:port&scheme=http&region=...``)
    The root may be any URI ``pyarrow.fs.FileSystem.from_uri`` understands; credentials come from the usual AWS
    environment. An object appears whole when its single PUT (or multipart upload) completes, so files are
    written directly under their final name (Parquet is built in memory first: a failed write uploads nothing).
    There is no cross-process lock on S3: a lake on object storage assumes ONE writing process at a time
    (writer threads inside it are serialised). DuckDB reads it through pyarrow datasets registered as views, so
    no DuckDB extension (httpfs) is needed. The pseudonymisation key of an S3 lake stays on the local disk.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urlsplit

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from sentiment import schemas
from sentiment.errors import LakeError

__all__ = ["PARTITIONS", "Lake", "StagedAppend", "is_uri"]

# Partition columns per table, outermost first. "month" is derived from ts and is not a schema column.
# A table declared in schemas.TABLES but absent here is stored unpartitioned (one folder of part files).
PARTITIONS: dict[str, tuple[str, ...]] = {
    "messages": ("platform", "chat_id", "month"),
    "scores": ("platform",),
    "prices": ("exchange", "symbol", "timeframe"),
    "weekly": ("symbol",),
    "runs": ("step",),
    "rejects": ("platform",),
}
REPLACED_TABLES = frozenset({"weekly"})
INTENT = ".compaction.json"
_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_REMOTE_LOCKS: dict[str, threading.Lock] = defaultdict(threading.Lock)


def is_uri(root: object) -> bool:
    """True for an object-store URI such as ``s3://bucket/prefix`` (anything with a scheme but file://)."""
    scheme = urlsplit(str(root)).scheme
    return isinstance(root, str) and len(scheme) > 1 and scheme != "file"


def _partitions(table: str) -> tuple[str, ...]:
    return PARTITIONS.get(table, ())


class _LocalStore:
    """Files under a local folder: atomic rename writes, flock lock."""

    remote = False

    def __init__(self, root: Path) -> None:
        self.root = root
        self.filesystem: pafs.FileSystem = pafs.LocalFileSystem()

    def full(self, rel: str) -> str:
        return str(self.root / rel)

    def list(self, rel_dir: str) -> list[str]:
        base = self.root / rel_dir
        out: list[str] = []
        for folder, _dirs, names in os.walk(base):
            prefix = Path(folder).relative_to(self.root).as_posix()
            out.extend(f"{prefix}/{n}" for n in names)
        return sorted(out)

    def write_bytes(self, rel: str, data: bytes | pa.Buffer) -> None:
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as handle:
                handle.write(memoryview(data))
                handle.flush()
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

    def read_bytes(self, rel: str) -> bytes:
        return (self.root / rel).read_bytes()

    def delete(self, rel: str) -> None:
        (self.root / rel).unlink(missing_ok=True)

    @contextmanager
    def lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


class _ObjectStore:
    """Objects under ``bucket/prefix`` of a pyarrow filesystem (S3): single-PUT writes, single-writer lock."""

    remote = True

    def __init__(self, filesystem: pafs.FileSystem, base: str, display: str) -> None:
        self.filesystem = filesystem
        self.base = base.rstrip("/")
        self.display = display

    def full(self, rel: str) -> str:
        return f"{self.base}/{rel}"

    def list(self, rel_dir: str) -> list[str]:
        selector = pafs.FileSelector(self.full(rel_dir), recursive=True, allow_not_found=True)
        try:
            infos = self.filesystem.get_file_info(selector)
        except OSError as exc:
            raise LakeError(f"{self.display}/{rel_dir}", f"cannot list: {exc}") from exc
        cut = len(self.base) + 1
        return sorted(i.path[cut:] for i in infos if i.type == pafs.FileType.File)

    def write_bytes(self, rel: str, data: bytes | pa.Buffer) -> None:
        try:
            with self.filesystem.open_output_stream(self.full(rel)) as stream:
                stream.write(data)
        except OSError as exc:
            raise LakeError(f"{self.display}/{rel}", f"cannot write: {exc}") from exc

    def read_bytes(self, rel: str) -> bytes:
        with self.filesystem.open_input_stream(self.full(rel)) as stream:
            return bytes(stream.read())

    def delete(self, rel: str) -> None:
        with suppress(FileNotFoundError):
            self.filesystem.delete_file(self.full(rel))

    @contextmanager
    def lock(self) -> Iterator[None]:
        # Object stores offer no lock here: one writing process is assumed; its threads are serialised.
        with _REMOTE_LOCKS[self.display]:
            yield


class Lake:
    """A lake rooted at a local folder or an object-store URI. Cheap to build; holds no open handles."""

    def __init__(self, root: Path | str, *, key_dir: Path | None = None) -> None:
        self._key_dir = key_dir
        self._store: _LocalStore | _ObjectStore
        if is_uri(root):
            text = str(root)
            parts = urlsplit(text)
            self.root: Path | str = f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")
            try:
                filesystem, base = pafs.FileSystem.from_uri(text)
            except (OSError, ValueError) as exc:
                raise LakeError(self.root, f"cannot open the object store: {exc}") from exc
            self._store = _ObjectStore(filesystem, base, str(self.root))
        else:
            self.root = Path(root)
            self._store = _LocalStore(self.root)

    @property
    def remote(self) -> bool:
        return self._store.remote

    # ---- paths -------------------------------------------------------------------------------------------
    def table_dir(self, table: str) -> Path | PurePosixPath:
        if table not in schemas.TABLES:
            raise LakeError(f"{self.root}/{table}", f"unknown table (known: {', '.join(schemas.TABLES)})")
        return self.root / table if isinstance(self.root, Path) else PurePosixPath(self._store.full(table))

    @property
    def key_path(self) -> Path:
        """The pseudonymisation key: inside a local lake; for an object-store lake on the local disk (a secret
        does not belong next to the data), under ``key_dir`` or ``~/.sentiment/keys/<bucket>/<prefix>``."""
        if isinstance(self.root, Path):
            return (self._key_dir or self.root / ".keys") / "pseudonym.key"
        where = str(self.root).split("://", 1)[1]
        return (self._key_dir or Path.home() / ".sentiment" / "keys" / where) / "pseudonym.key"

    def files(self, table: str) -> list[Path] | list[PurePosixPath]:
        """Committed Parquet files of ``table``: hidden temporaries and files superseded by a compaction are
        never listed."""
        self.table_dir(table)
        rels = self._committed(table, self._store.list(table))
        if isinstance(self.root, Path):
            return [self.root / r for r in rels]
        return [PurePosixPath(self._store.full(r)) for r in rels]

    def partition_files(self, table: str, values: tuple[str, ...] = ()) -> list[Path] | list[PurePosixPath]:
        """Committed files under the partition pinned by the leading partition ``values`` (all files if none)."""
        prefix = self._partition_rel(table, values) + "/"
        return [f for f in self.files(table) if values == () or self._rel(f).startswith(prefix)]

    def _rel(self, path: Path | PurePosixPath) -> str:
        if isinstance(self.root, Path):
            return Path(path).relative_to(self.root).as_posix()
        return str(path)[len(self._store.full("")) :].lstrip("/")

    def _committed(self, table: str, listing: list[str]) -> list[str]:
        depth = len(_partitions(table)) + 2
        data = [r for r in listing if _is_data(r, depth)]
        present = set(data)
        superseded: set[str] = set()
        for intent in (r for r in listing if r.endswith("/" + INTENT)):
            folder = intent.rsplit("/", 1)[0]
            try:
                plan = json.loads(self._store.read_bytes(intent))
            except (OSError, ValueError):
                continue  # removed by a finishing compaction meanwhile, or torn: it then commits nothing
            if all(f"{folder}/{n}" in present for n in plan["new"]):
                superseded.update(f"{folder}/{n}" for n in plan["old"])
        return [r for r in data if r not in superseded]

    def _recover(self, table: str) -> list[str]:
        """Under the lock: delete dead writers' temporaries, finish or undo interrupted compactions; return the
        committed files."""
        listing = self._store.list(table)
        for rel in listing:
            name = rel.rsplit("/", 1)[-1]
            if name.startswith(".") and name.endswith(".tmp"):
                self._store.delete(rel)
        committed = self._committed(table, listing)
        keep = set(committed)
        for intent in (r for r in listing if r.endswith("/" + INTENT)):
            folder = intent.rsplit("/", 1)[0]
            for rel in listing:
                if rel.startswith(folder + "/") and _is_data(rel, len(_partitions(table)) + 2) and rel not in keep:
                    self._store.delete(rel)
            self._store.delete(intent)
        return committed

    # ---- writes ------------------------------------------------------------------------------------------
    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Exclusive lock serialising writers (processes and threads) on this lake (threads only on S3)."""
        with self._store.lock():
            yield

    def append(self, table: str, frame: pd.DataFrame) -> int:
        """Add the rows of ``frame`` whose key is not stored yet; return how many were written.

        Validates against the declared schema first, so a bad frame writes nothing.
        """
        arrow = schemas.conform(frame, table)
        if table in REPLACED_TABLES:
            raise LakeError(self.table_dir(table), "derived table: use replace(), not append()")
        return self._append_batches(table, [arrow])

    @contextmanager
    def staged_append(self, table: str) -> Iterator[StagedAppend]:
        """Append in bounded batches, all or nothing: ``add()`` validates and stages each batch in a hidden local
        folder; only when the block exits normally are they published (deduplicated against the stored keys and
        each other, each file atomically, under the write lock). On an exception the staged files are deleted and
        the table is untouched.
        """
        if table in REPLACED_TABLES:
            raise LakeError(self.table_dir(table), "derived table: use replace(), not staged_append()")
        self.table_dir(table)  # validates the name
        if isinstance(self.root, Path):
            (self.root / ".staging").mkdir(parents=True, exist_ok=True)
            stage_dir = Path(tempfile.mkdtemp(prefix=f"{table}-", dir=self.root / ".staging"))
        else:
            stage_dir = Path(tempfile.mkdtemp(prefix=f"sentiment-staging-{table}-"))
        staged = StagedAppend(self, table, stage_dir)
        try:
            yield staged
            staged.written = self._append_batches(table, staged.batches())
        finally:
            shutil.rmtree(stage_dir, ignore_errors=True)

    def _append_batches(self, table: str, batches: Iterable[pa.Table]) -> int:
        """Write the rows of conformed ``batches`` whose key is neither stored nor in an earlier batch."""
        parts = _partitions(table)
        pinned = _pinned(table)
        keys = [k for k in schemas.KEYS[table] if k not in pinned]
        written = 0
        with self.write_lock():
            committed = self._recover(table)
            seen: dict[tuple[str, ...], _KeyIndex] = {}  # per key scope: what is stored or written by this call
            for batch in batches:
                arrow = _with_partition_columns(_drop_duplicate_keys(batch, schemas.KEYS[table]), table)
                for scope, rows in _split(arrow, pinned):
                    if scope not in seen:
                        prefix = self._partition_rel(table, scope) + "/"
                        seen[scope] = _KeyIndex(self, table, keys, [r for r in committed if r.startswith(prefix)])
                    fresh = seen[scope].unseen(rows)
                    for values, part in _split(fresh, parts[len(pinned) :]):
                        rel = self._partition_rel(table, scope + values) + f"/part-{uuid.uuid4().hex}.parquet"
                        self._write_table(rel, part.drop_columns(list(parts)))
                        seen[scope].add(rel, part)
                        written += part.num_rows
        return written

    def replace(self, table: str, frame: pd.DataFrame) -> int:
        """Replace every partition present in ``frame`` by its rows (derived tables), atomically per partition."""
        arrow = schemas.conform(frame, table)
        arrow = _with_partition_columns(_drop_duplicate_keys(arrow, schemas.KEYS[table]), table)
        parts = _partitions(table)
        with self.write_lock():
            self._recover(table)
            for values, part in _split(arrow, parts):
                self._write_table(self._partition_rel(table, values) + "/data.parquet", part.drop_columns(list(parts)))
        return arrow.num_rows

    def compact(self, table: str | None = None) -> dict[str, tuple[int, int]]:
        """Merge each partition's files into one (see the module docstring for the crash-safe swap).

        Returns ``{table: (files before, files after)}``. Query results are unchanged.
        """
        tables = [table] if table else list(schemas.TABLES)
        for name in tables:
            self.table_dir(name)
        result: dict[str, tuple[int, int]] = {}
        with self.write_lock():
            for name in tables:
                committed = self._recover(name)
                by_folder: dict[str, list[str]] = defaultdict(list)
                for rel in committed:
                    by_folder[rel.rsplit("/", 1)[0]].append(rel)
                after = 0
                for folder, rels in sorted(by_folder.items()):
                    after += 1
                    if len(rels) > 1:
                        self._swap(name, folder, rels)
                result[name] = (len(committed), after)
        return result

    def replace_rows(self, table: str, frame: pd.DataFrame) -> int:
        """Write ``frame``'s rows over the stored rows with the same key (other rows kept); return rows written.

        Each touched partition is rewritten into one file with the same crash-safe swap as :meth:`compact`.
        """
        arrow = schemas.conform(frame, table)
        if table in REPLACED_TABLES:
            raise LakeError(self.table_dir(table), "derived table: use replace(), not replace_rows()")
        arrow = _with_partition_columns(_drop_duplicate_keys(arrow, schemas.KEYS[table]), table)
        parts = _partitions(table)
        with self.write_lock():
            by_folder: dict[str, list[str]] = defaultdict(list)
            for rel in self._recover(table):
                by_folder[rel.rsplit("/", 1)[0]].append(rel)
            for values, part in _split(arrow, parts):
                folder = self._partition_rel(table, values)
                self._swap(table, folder, by_folder.get(folder, []), override=part.drop_columns(list(parts)))
        return arrow.num_rows

    def _swap(self, table: str, folder: str, rels: list[str], override: pa.Table | None = None) -> None:
        """Merge ``rels`` (minus the rows ``override`` replaces, plus ``override``) into one file, crash-safely."""
        pieces = [pq.read_table(self._store.full(r), filesystem=self._store.filesystem) for r in rels]
        if override is not None:
            keys = [k for k in schemas.KEYS[table] if k in override.column_names]
            replaced = _key_strings(override, keys)
            pieces = [p.filter(pc.invert(pc.is_in(_key_strings(p, keys), value_set=replaced))) for p in pieces]
            pieces.append(override)
        merged = pa.concat_tables(pieces, promote_options="permissive")
        order = [k for k in schemas.KEYS[table] if k in merged.column_names]
        if order:
            merged = merged.take(pc.sort_indices(merged, [(k, "ascending") for k in order]))
        merged = merged.replace_schema_metadata(pieces[0].schema.metadata)
        new = f"part-{uuid.uuid4().hex}.parquet"
        plan = {"new": [new], "old": [r.rsplit("/", 1)[1] for r in rels]}
        self._store.write_bytes(f"{folder}/{INTENT}", json.dumps(plan).encode())
        self._write_table(f"{folder}/{new}", merged)
        for rel in rels:
            self._store.delete(rel)
        self._store.delete(f"{folder}/{INTENT}")

    def _partition_rel(self, table: str, values: tuple[str, ...]) -> str:
        parts = [f"{col}={quote(str(v), safe='')}" for col, v in zip(_partitions(table), values, strict=False)]
        return "/".join([table, *parts])

    def _dataset(self, table: str, rels: list[str]) -> ds.Dataset:
        parts = _partitions(table)
        declared = {c.name: c for c in schemas.TABLES[table]}
        fields = [schemas.schema(table).field(n) for n in declared if n not in parts]
        fields += [pa.field(p, pa.string()) for p in parts]
        partitioning = ds.partitioning(pa.schema([(p, pa.string()) for p in parts]), flavor="hive")
        return ds.dataset(
            [self._store.full(r) for r in rels],
            schema=pa.schema(fields),
            format="parquet",
            filesystem=self._store.filesystem,
            partitioning=partitioning,
            partition_base_dir=self._store.full(table),
        )

    def _write_table(self, rel: str, data: pa.Table) -> None:
        sink = pa.BufferOutputStream()
        pq.write_table(data, sink, compression="zstd")
        self._store.write_bytes(rel, sink.getvalue())

    # ---- reads -------------------------------------------------------------------------------------------
    def connect(self, sql: str | None = None) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection (TimeZone UTC) with a view per table, and ``messages`` joined to scores.

        Views: ``messages`` (messages + score columns), ``messages_raw``, and one per table in ``schemas.TABLES``
        (``scores``, ``prices``, ``weekly``, ``runs``, ...). Given the ``sql`` about to run, only the views it names
        are made (each lists its files and reads their schemas, so a query pays only for the tables it reads).
        """
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        wanted = _views_named(sql) if sql is not None else None
        for table in schemas.TABLES:
            name = "messages_raw" if table == "messages" else table
            if wanted is not None and name not in wanted:
                continue
            try:
                self._create_view(con, table, name)
            except duckdb.Error as exc:
                con.close()
                raise LakeError(self.table_dir(table), f"cannot read the table: {_first_line(exc)}") from exc
        if wanted is not None and "messages" not in wanted:
            return con
        score_cols = [c.name for c in schemas.TABLES["scores"] if c.name not in schemas.KEYS["scores"]]
        con.execute(
            "CREATE VIEW messages AS SELECT m.*, "
            + ", ".join(f"s.{c}" for c in score_cols)
            + " FROM messages_raw m LEFT JOIN scores s USING (platform, chat_id, message_id)"
        )
        return con

    def _create_view(self, con: duckdb.DuckDBPyConnection, table: str, name: str) -> None:
        cols = schemas.TABLES[table]
        parts = _partitions(table)
        names = {c.name for c in cols}
        ordered = ", ".join([c.name for c in cols] + [p for p in parts if p not in names])
        rels = self._committed(table, self._store.list(table))
        if not rels or self.remote:
            source = self._dataset(table, rels)
            if not rels:
                source = source.schema.empty_table()
            con.register(f"__{name}_arrow", source)
            con.execute(f"CREATE VIEW {name} AS SELECT {ordered} FROM __{name}_arrow")
            return
        file_list = ", ".join("'" + self._store.full(r).replace("'", "''") + "'" for r in rels)
        hive_types = ", ".join(f"'{p}': VARCHAR" for p in parts)
        options = f", hive_partitioning = true, hive_types = {{{hive_types}}}" if parts else ""
        source = f"read_parquet([{file_list}]{options}, union_by_name = true)"
        # Files written before a column was added to the schema lack it: the view shows it as typed NULLs.
        present = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        select = [c.name if c.name in present else f"CAST(NULL AS {_duck_type(c.type)}) AS {c.name}" for c in cols] + [
            p for p in parts if p not in names
        ]
        con.execute(f"CREATE VIEW {name} AS SELECT {', '.join(select)} FROM {source}")

    def read(self, sql: str) -> pd.DataFrame:
        """Run ``sql`` over the lake's views and return a DataFrame."""
        con = self.connect(sql)
        try:
            return con.execute(sql).df()
        except duckdb.Error as exc:
            raise LakeError(self.root, f"query failed: {_first_line(exc)}") from exc
        finally:
            con.close()

    def copy_to_parquet(self, sql: str, out: Path) -> int:
        """Write the result of ``sql`` to the local Parquet file ``out`` (streamed by DuckDB's COPY); return rows."""
        con = self.connect(sql)
        target = str(out).replace("'", "''")
        try:
            con.execute(f"COPY ({sql.strip().rstrip(';')}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
            return int(con.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchall()[0][0])
        except duckdb.Error as exc:
            raise LakeError(self.root, f"query failed: {_first_line(exc)}") from exc
        finally:
            con.close()

    def count(self, table: str) -> int:
        return int(self.read(f"SELECT count(*) AS n FROM {table}")["n"].iloc[0])


def _views_named(sql: str) -> set[str]:
    """The lake views ``sql`` may read: every view name it contains as a whole word (any case; a name inside a
    string literal or comment only costs a view). ``messages`` needs ``messages_raw`` and ``scores`` too."""
    names = {"messages", "messages_raw", *(t for t in schemas.TABLES if t != "messages")}
    found = {n for n in names if re.search(rf"(?<![\w$]){n}(?![\w$])", sql, re.IGNORECASE)}
    if "messages" in found:
        found |= {"messages_raw", "scores"}
    return found


def _key_strings(table: pa.Table, keys: list[str]) -> pa.Array:
    """One string per row joining its key columns (Arrow joins cannot carry list columns alongside)."""
    cols = [pc.cast(table.column(k), pa.string()) for k in keys]
    joined = cols[0] if len(cols) == 1 else pc.binary_join_element_wise(*cols, "\x1f")
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _is_data(rel: str, depth: int) -> bool:
    segments = rel.split("/")
    return (
        len(segments) == depth
        and segments[-1].endswith(".parquet")
        and not any(s.startswith((".", "_")) for s in segments)
    )


def _pinned(table: str) -> tuple[str, ...]:
    """The leading partition columns that are part of the key: a key can only be stored under that prefix."""
    keys = set(schemas.KEYS[table])
    out: list[str] = []
    for col in _partitions(table):
        if col not in keys:
            break
        out.append(col)
    return tuple(out)


def _drop_duplicate_keys(arrow: pa.Table, keys: tuple[str, ...]) -> pa.Table:
    """Keep the first row of each key within one batch being written."""
    if arrow.num_rows == 0:
        return arrow
    idx = pa.array(np.arange(arrow.num_rows, dtype=np.int64))
    firsts = (
        arrow.select(list(keys))
        .append_column("__i", idx)
        .group_by(list(keys), use_threads=False)
        .aggregate([("__i", "min")])
        .column("__i_min")
    )
    return arrow.take(firsts.take(pc.sort_indices(firsts)))


def _with_partition_columns(arrow: pa.Table, table: str) -> pa.Table:
    """``arrow`` plus derived partition columns (``month`` from ``ts``); partition values as non-null strings."""
    for col in _partitions(table):
        if col == "month" and "month" not in arrow.column_names:
            arrow = arrow.append_column("month", pc.strftime(arrow.column("ts"), format="%Y-%m", locale="C"))
    return arrow


def _split(arrow: pa.Table, cols: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], pa.Table]]:
    """Yield (values of ``cols`` as strings, rows) per distinct combination, sorted; rows keep their order."""
    if arrow.num_rows == 0:
        return
    if not cols:
        yield (), arrow
        return
    text = [pc.fill_null(pc.cast(arrow.column(c), pa.string()), _NULL_PARTITION) for c in cols]
    keyed = pa.table({f"__k{i}": t for i, t in enumerate(text)})
    order = pc.sort_indices(keyed, [(f"__k{i}", "ascending") for i in range(len(cols))])
    keyed = keyed.take(order)
    rows = arrow.take(order)
    change = np.zeros(rows.num_rows, dtype=bool)
    change[0] = True
    for i in range(len(cols)):
        col = keyed.column(i).combine_chunks()
        if rows.num_rows > 1:
            change[1:] |= pc.not_equal(col.slice(1), col.slice(0, rows.num_rows - 1)).to_numpy(zero_copy_only=False)
    starts = [*np.flatnonzero(change).tolist(), rows.num_rows]
    for a, b in itertools.pairwise(starts):
        values = tuple(str(keyed.column(i)[a].as_py()) for i in range(len(cols)))
        yield values, rows.slice(a, b - a)


class _KeyIndex:
    """The keys stored under one key scope, as sorted 64-bit hashes (8 bytes a key, so millions fit in tens of
    MB), plus the files that hold them. A hash hit is confirmed against the exact keys in those files before a
    row is dropped, so a collision never loses a row; fresh data rarely hits, re-ingested data always does."""

    def __init__(self, lake: Lake, table: str, keys: list[str], files: list[str]) -> None:
        self.lake, self.table, self.keys, self.files = lake, table, keys, list(files)
        chunks = [_hash64(self._file_keys(f)) for f in self.files]
        self.hashes = np.sort(np.concatenate(chunks)) if chunks else np.empty(0, dtype=np.uint64)
        self.recent: list[np.ndarray] = []  # hashes added since the last merge into ``hashes``

    def _file_keys(self, rel: str) -> pa.Array:
        return _key_strings(self.lake._dataset(self.table, [rel]).to_table(columns=self.keys), self.keys)

    def unseen(self, rows: pa.Table) -> pa.Table:
        """The rows of ``rows`` whose key is in none of the files."""
        if rows.num_rows == 0 or not self.files:
            return rows
        strings = _key_strings(rows, self.keys)
        h = _hash64(strings)
        hit = np.zeros(h.size, dtype=bool)
        for sorted_hashes in [self.hashes, *self.recent]:
            if sorted_hashes.size:
                pos = np.searchsorted(sorted_hashes, h).clip(max=sorted_hashes.size - 1)
                hit |= sorted_hashes[pos] == h
        if not hit.any():
            return rows
        candidates = strings.filter(pa.array(hit))
        found = np.zeros(len(candidates), dtype=bool)
        for rel in self.files:
            found |= pc.is_in(candidates, value_set=self._file_keys(rel)).to_numpy(zero_copy_only=False)
            if found.all():
                break
        stored = candidates.filter(pa.array(found))
        return rows.filter(pc.invert(pc.is_in(strings, value_set=stored)))

    def add(self, rel: str, rows: pa.Table) -> None:
        """Record a file this append wrote, so later batches see its keys."""
        self.files.append(rel)
        self.recent.append(np.sort(_hash64(_key_strings(rows, self.keys))))
        if sum(r.size for r in self.recent) * 4 > self.hashes.size:  # merge geometrically: O(n log n) in all
            self.hashes = np.sort(np.concatenate([self.hashes, *self.recent]))
            self.recent = []


def _duck_type(arrow_type: pa.DataType) -> str:
    """The DuckDB type of a declared Arrow column type (for typed NULL columns)."""
    if pa.types.is_list(arrow_type):
        return _duck_type(arrow_type.value_type) + "[]"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMPTZ" if arrow_type.tz else "TIMESTAMP"
    simple = {
        pa.string(): "VARCHAR",
        pa.float64(): "DOUBLE",
        pa.int64(): "BIGINT",
        pa.int32(): "INTEGER",
        pa.bool_(): "BOOLEAN",
    }
    if arrow_type not in simple:
        raise LakeError("schema", f"no DuckDB type for {arrow_type}")
    return simple[arrow_type]


def _hash64(strings: pa.Array) -> np.ndarray:
    return pd.util.hash_array(np.asarray(strings.to_numpy(zero_copy_only=False), dtype=object))


class StagedAppend:
    """Batches staged for one all-or-nothing append (see :meth:`Lake.staged_append`)."""

    def __init__(self, lake: Lake, table: str, stage_dir: Path) -> None:
        self.lake = lake
        self.table = table
        self.stage_dir = stage_dir
        self.staged_rows = 0
        self.written = 0
        self._files: list[Path] = []

    def add(self, frame: pd.DataFrame) -> int:
        """Validate and stage a batch (nothing visible in the table yet); return its row count."""
        arrow = schemas.conform(frame, self.table)
        path = self.stage_dir / f"batch-{len(self._files):06d}.parquet"
        pq.write_table(arrow, path)
        self._files.append(path)
        self.staged_rows += arrow.num_rows
        return arrow.num_rows

    def batches(self) -> Iterator[pa.Table]:
        """The staged batches, read back one at a time (publishing needs no more memory than staging did)."""
        for path in self._files:
            yield pq.read_table(path)

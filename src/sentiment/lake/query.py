"""DuckDB views over the lake's Delta tables (their pyarrow datasets), offline: no DuckDB extension is loaded."""

from __future__ import annotations

import re
from collections.abc import Callable

import duckdb
import pyarrow as pa
from deltalake import DeltaTable

from sentiment import schemas
from sentiment.errors import LakeError
from sentiment.lake.tables import dataset_of

__all__ = ["create_view", "duck_type", "views_named"]


def views_named(sql: str) -> set[str]:
    """The lake views ``sql`` may read: every view name it contains as a whole word (any case; a name inside a
    string literal or comment only costs a view). ``messages`` needs ``messages_raw`` and ``scores`` too."""
    names = {"messages", "messages_raw", *(t for t in schemas.TABLES if t != "messages")}
    found = {n for n in names if re.search(rf"(?<![\w$]){n}(?![\w$])", sql, re.IGNORECASE)}
    if "messages" in found:
        found |= {"messages_raw", "scores"}
    return found


def create_view(
    con: duckdb.DuckDBPyConnection, table: str, name: str, dt: DeltaTable | None, *, local: bool = False
) -> None:
    """``CREATE VIEW name`` with the declared columns of ``table`` in order, read from ``dt`` (an empty table when
    None); a column declared after the table was last written reads as typed NULLs."""
    cols = schemas.TABLES[table]
    if dt is None:
        con.register(f"__{name}_arrow", schemas.schema(table).empty_table())
        source, present = f"__{name}_arrow", {c.name for c in cols}
    else:
        source = table_source(con, table, dt, local=local, name=name)
        present = {f.name for f in dt.schema().fields}
    select = [c.name if c.name in present else f"CAST(NULL AS {duck_type(c.type)}) AS {c.name}" for c in cols]
    con.execute(f"CREATE VIEW {name} AS SELECT {', '.join(select)} FROM {source}")


def table_source(
    con: duckdb.DuckDBPyConnection, table: str, dt: DeltaTable, *, local: bool, name: str | None = None
) -> str:
    """A DuckDB FROM source reading the snapshot ``dt``: on a local lake DuckDB's own Parquet reader over the
    snapshot's files (multi-threaded; partition values from the hive-style folder names), on an object store the
    snapshot's pyarrow dataset (registered on ``con``; no DuckDB extension needed)."""
    files = sorted(dt.file_uris())
    if local and files and not _has_deletion_vectors(dt):
        parts = schemas.PARTITIONS.get(table, ())
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        hive = ", ".join(f"'{p}': VARCHAR" for p in parts)
        options = f", hive_partitioning = true, hive_types = {{{hive}}}" if parts else ", hive_partitioning = false"
        return f"read_parquet([{listed}]{options}, union_by_name = true)"
    registered = f"__{name or table}_delta"
    con.register(registered, dataset_of(dt))
    return registered


def _has_deletion_vectors(dt: DeltaTable) -> bool:
    features = dt.protocol().reader_features or []
    return "deletionVectors" in features


def messages_view(con: duckdb.DuckDBPyConnection) -> None:
    """``messages``: the raw messages joined with their scores (NULL score columns where unscored)."""
    score_cols = [c.name for c in schemas.TABLES["scores"] if c.name not in schemas.KEYS["scores"]]
    con.execute(
        "CREATE VIEW messages AS SELECT m.*, "
        + ", ".join(f"s.{c}" for c in score_cols)
        + " FROM messages_raw m LEFT JOIN scores s USING (platform, chat_id, message_id)"
    )


def connect(
    wanted: set[str] | None,
    opener: Callable[[str], DeltaTable | None],
    where: Callable[[str], str],
    *,
    local: bool = False,
) -> duckdb.DuckDBPyConnection:
    """An in-memory connection (TimeZone UTC) with the views in ``wanted`` (all when None); ``opener(table)``
    gives each table's Delta snapshot."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table in schemas.TABLES:
        name = "messages_raw" if table == "messages" else table
        if wanted is not None and name not in wanted:
            continue
        try:
            create_view(con, table, name, opener(table), local=local)
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            con.close()
            raise LakeError(where(table), f"cannot read the table: {first_line(exc)}") from exc
        except LakeError:
            con.close()
            raise
    if wanted is None or "messages" in wanted:
        messages_view(con)
    return con


def duck_type(arrow_type: pa.DataType) -> str:
    """The DuckDB type of a declared Arrow column type (for typed NULL columns)."""
    if pa.types.is_list(arrow_type):
        return duck_type(arrow_type.value_type) + "[]"
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


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

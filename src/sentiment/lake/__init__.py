"""The lake: every table a Delta table under one root (a local folder or ``s3://bucket/prefix``), via deltalake.

Layout::

    <lake>/<table>/_delta_log/...                      (the table's commits: which files make each version)
    <lake>/<table>/<partition=value>/.../part-*.parquet (data files, zstd Parquet, written by delta-rs)
    <lake>/.keys/pseudonym.key                         (HMAC key; local lakes only, never in the bucket)

Partitioning is declared in ``schemas.PARTITIONS``. Every write is one Delta commit (an ingest run's staged batches
included), so readers see a table at a commit, never half a write; appends insert only keys not stored yet and
retry commit conflicts with concurrent writers (local or S3, see :mod:`sentiment.lake.storage`); time travel reads
any version still inside the vacuum retention. Any engine that reads Delta (Spark, Trino, Polars, DuckDB, pandas)
reads the tables directly; ``sentiment query`` uses DuckDB views over their pyarrow datasets.

Modules: ``storage`` (roots, URIs, S3 options), ``tables`` (Delta IO), ``query`` (DuckDB views), ``legacy`` (the
pre-Delta layout, read once by ``sentiment migrate``), ``core`` (the :class:`Lake` callers use).
"""

from sentiment.lake.core import (
    DEFAULT_RETENTION_HOURS,
    REPLACED_TABLES,
    Lake,
    StagedAppend,
    parse_as_of,
    prefer_system_allocator,
)
from sentiment.lake.storage import is_uri
from sentiment.lake.tables import AsOf
from sentiment.schemas import PARTITIONS

__all__ = [
    "DEFAULT_RETENTION_HOURS",
    "PARTITIONS",
    "REPLACED_TABLES",
    "AsOf",
    "Lake",
    "StagedAppend",
    "is_uri",
    "parse_as_of",
    "prefer_system_allocator",
]

"""The lake format written before Delta (hive folders of ``part-<uuid>.parquet``): found, read once, then removed.

Only what converting it needs is kept: which files were committed (a crashed compaction could leave a partition's
old files next to their merged replacement, recorded in a ``.compaction.json`` intent) and how its folders were
partitioned. ``sentiment migrate`` (or the first write to a table still in that format) copies every row into the
table's Delta log once per key, then deletes the old files.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from sentiment import schemas
from sentiment.errors import LakeError
from sentiment.lake.storage import LakeLocation

__all__ = ["LEGACY_PARTITIONS", "LegacyTable", "find"]

# The old layout's partition folders (``month`` was derived from ts and is not a column).
LEGACY_PARTITIONS: dict[str, tuple[str, ...]] = {
    "messages": ("platform", "chat_id", "month"),
    "scores": ("platform",),
    "prices": ("exchange", "symbol", "timeframe"),
    "weekly": ("symbol",),
    "runs": ("step",),
    "rejects": ("platform",),
}
INTENT = ".compaction.json"
# Names the old writer gave its data files; delta-rs names its own part-00000-<uuid>-c000.<codec>.parquet.
_DATA_NAME = re.compile(r"^(part-[0-9a-f]{32}|data)\.parquet$")


@dataclass
class LegacyTable:
    """One table's old-format files (relative to the table folder): committed data, and leftovers to delete."""

    table: str
    filesystem: pafs.FileSystem
    base: str
    data: list[str]
    leftovers: list[str]

    def dataset(self) -> ds.Dataset:
        """The committed rows, declared columns (missing ones as nulls) plus the old partition columns."""
        parts = LEGACY_PARTITIONS.get(self.table, ())
        declared = schemas.schema(self.table)
        fields = [declared.field(n).with_nullable(True) for n in declared.names if n not in parts]
        fields += [pa.field(p, pa.string()) for p in parts]
        return ds.dataset(
            [f"{self.base}/{r}" for r in self.data],
            schema=pa.schema(fields),
            format="parquet",
            filesystem=self.filesystem,
            partitioning=ds.partitioning(pa.schema([(p, pa.string()) for p in parts]), flavor="hive"),
            partition_base_dir=self.base,
        )

    def delete(self) -> None:
        for rel in [*self.data, *self.leftovers]:
            with contextlib.suppress(FileNotFoundError):
                self.filesystem.delete_file(f"{self.base}/{rel}")
        if isinstance(self.filesystem, pafs.LocalFileSystem):  # folders left empty (object stores have none)
            for folder, _dirs, _names in sorted(os.walk(self.base), key=lambda w: -len(w[0])):
                with contextlib.suppress(OSError):
                    if folder != self.base:
                        Path(folder).rmdir()


_LIST_ATTEMPTS = 5


def find(loc: LakeLocation, table: str) -> LegacyTable | None:
    """The old-format files of ``table``, or None when there are none."""
    filesystem, base = _filesystem(loc, table)
    for attempt in range(_LIST_ATTEMPTS):
        try:
            infos = filesystem.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
            break
        except FileNotFoundError as exc:
            # An entry vanished while listed: another writer is creating the table (two flow tasks appending to
            # a fresh lake at once, e.g. the prices of two symbols). Its files are Delta's, never old-format ones.
            if attempt == _LIST_ATTEMPTS - 1:
                raise LakeError(loc.table_uri(table), f"cannot list: {exc}") from exc
            time.sleep(0.05 * (attempt + 1))
        except OSError as exc:
            raise LakeError(loc.table_uri(table), f"cannot list: {exc}") from exc
    cut = len(base.rstrip("/")) + 1
    listing = sorted(i.path[cut:] for i in infos if i.type == pafs.FileType.File)
    listing = [r for r in listing if not r.startswith("_delta_log/")]
    depth = len(LEGACY_PARTITIONS.get(table, ())) + 1
    data = [r for r in listing if _is_data(r, depth)]
    intents = [r for r in listing if r.endswith("/" + INTENT) or r == INTENT]
    temporaries = [r for r in listing if r.rsplit("/", 1)[-1].startswith(".") and r.endswith(".tmp")]
    if not data and not intents and not temporaries:
        return None
    superseded: set[str] = set()
    present = set(data)
    for intent in intents:
        folder = intent.rsplit("/", 1)[0] if "/" in intent else ""
        try:
            with filesystem.open_input_stream(f"{base}/{intent}") as stream:
                plan = json.loads(stream.read())
        except (OSError, ValueError):
            continue  # torn: it committed nothing
        prefix = f"{folder}/" if folder else ""
        if all(f"{prefix}{n}" in present for n in plan["new"]):
            superseded.update(f"{prefix}{n}" for n in plan["old"])
    committed = [r for r in data if r not in superseded]
    return LegacyTable(table, filesystem, base.rstrip("/"), committed, sorted(superseded) + intents + temporaries)


def remove_root_leftovers(loc: LakeLocation) -> None:
    """The old writer lock file and staging folder at a local lake's root."""
    if isinstance(loc.root, Path):
        (loc.root / ".lock").unlink(missing_ok=True)
        staging = loc.root / ".staging"
        if staging.is_dir():
            for folder, _dirs, names in os.walk(staging, topdown=False):
                for name in names:
                    Path(folder, name).unlink(missing_ok=True)
                Path(folder).rmdir()


def _filesystem(loc: LakeLocation, table: str) -> tuple[pafs.FileSystem, str]:
    if isinstance(loc.root, Path):
        return pafs.LocalFileSystem(), str(loc.root / table)
    try:
        return pafs.FileSystem.from_uri(loc.pyarrow_uri(table))
    except (OSError, ValueError) as exc:
        raise LakeError(loc.table_uri(table), f"cannot open the object store: {exc}") from exc


def _is_data(rel: str, depth: int) -> bool:
    segments = rel.split("/")
    return (
        len(segments) == depth
        and _DATA_NAME.match(segments[-1]) is not None
        and not any(s.startswith((".", "_")) for s in segments)
    )

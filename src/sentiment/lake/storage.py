"""Where the lake lives: a local folder or an object-store URI, turned into table URIs and delta-rs storage options.

An S3 lake is written ``s3://bucket/prefix`` plus optional query parameters that say how to reach the store:
``endpoint_override=host:port``, ``scheme=http``, ``region=...`` (what a MinIO or a moto server on loopback needs).
Any other parameter is handed to delta-rs unchanged as a storage option (for instance
``aws_s3_allow_unsafe_rename=true``); credentials come from the usual AWS environment variables.

Concurrent writers on S3: delta-rs 1.x commits a new table version with a conditional PUT (``If-None-Match: *``) of
the next ``_delta_log`` entry, which S3 (since 2024), MinIO, R2 and moto honour, so two processes can never both
write version N; the loser gets a commit conflict and the lake retries it. No DynamoDB table and no option are
needed; a store without conditional writes must set ``aws_s3_allow_unsafe_rename=true`` and keep ONE writer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

__all__ = ["LakeLocation", "is_uri"]


def is_uri(root: object) -> bool:
    """True for an object-store URI such as ``s3://bucket/prefix`` (anything with a scheme but file://)."""
    scheme = urlsplit(str(root)).scheme
    return isinstance(root, str) and len(scheme) > 1 and scheme != "file"


@dataclass(frozen=True)
class LakeLocation:
    """The lake root (a local Path, or the URI without its query) and the storage options of every table."""

    root: Path | str
    options: dict[str, str] = field(default_factory=dict)
    query: str = ""

    @classmethod
    def parse(cls, root: Path | str) -> LakeLocation:
        if not is_uri(root):
            return cls(Path(root).absolute())
        parts = urlsplit(str(root))
        params = dict(parse_qsl(parts.query))
        options: dict[str, str] = {}
        scheme = params.pop("scheme", "https")
        if "endpoint_override" in params:
            options["AWS_ENDPOINT_URL"] = f"{scheme}://{params.pop('endpoint_override')}"
        if scheme == "http":
            options["AWS_ALLOW_HTTP"] = "true"
        if "region" in params:
            options["AWS_REGION"] = params.pop("region")
        options.update(params)
        base = f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")
        return cls(base, options, parts.query)

    @property
    def remote(self) -> bool:
        return not isinstance(self.root, Path)

    def table_uri(self, table: str) -> str:
        return str(self.root / table) if isinstance(self.root, Path) else f"{self.root}/{table}"

    def pyarrow_uri(self, table: str) -> str:
        """The table's folder as ``pyarrow.fs.FileSystem.from_uri`` takes it (query parameters kept)."""
        uri = self.table_uri(table)
        return uri if not self.remote or not self.query else f"{uri}?{self.query}"

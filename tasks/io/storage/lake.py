"""The lake: Parquet tables, content-addressed blobs and small JSON state under one fsspec URL.

Lake layout (``lake`` is a local path or ``s3://bucket/prefix``)::

    tables/<table>/<part_key>.parquet   one file per batch; the key is deterministic, so a retry
                                        or rerun overwrites the same file instead of adding one
    blobs/sha256/<aa>/<sha256>          raw documents, content-addressed
    text/sha256/<aa>/<sha256>.txt       extracted text of a document, content-addressed
    state/<step>/...                    what skip-if-unchanged remembers (``tasks.io.memo``)
    cache/llm/segments/, shards/<aa>/   the LLM gateway's answers, content-addressed
                                        (``tasks.io.llm.cache``)
    data_docs/                          Great Expectations Data Docs

Workers build a ``Lake`` from settings (it holds a filesystem client, never pickled).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import types
import typing
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable, Literal, TypeVar, get_args, get_origin

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.core.records import Record
from tasks.core.settings import S3Settings, Settings, reveal

R = TypeVar("R", bound=Record)


def _arrow_type(annotation: Any) -> pa.DataType:
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in get_args(annotation) if a is not type(None)]
        return _arrow_type(inner)
    if origin is Literal:
        return pa.string()
    if origin is list:
        return pa.list_(_arrow_type(get_args(annotation)[0]))
    if origin is dict:
        return pa.string()  # stored as JSON text: DuckDB's json functions read it directly
    return {
        str: pa.string(),
        int: pa.int64(),
        float: pa.float64(),
        bool: pa.bool_(),
        datetime: pa.timestamp("us", tz="UTC"),
        date: pa.date32(),
    }[annotation]


def arrow_schema(model: type[Record]) -> pa.Schema:
    hints = typing.get_type_hints(model)
    return pa.schema([(name, _arrow_type(hints[name])) for name in model.model_fields])


def records_to_arrow(model: type[Record], rows: Iterable[Record]) -> pa.Table:
    schema = arrow_schema(model)
    dict_fields = {n for n, f in model.model_fields.items() if get_origin(f.annotation) is dict}
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    for row in rows:
        data = row.model_dump(mode="python")
        for name in schema.names:
            value = data[name]
            if name in dict_fields and value is not None:
                value = json.dumps(value, sort_keys=True)
            columns[name].append(value)
    return pa.table(columns, schema=schema)


def record_from_row(model: type[R], row: dict[str, Any]) -> R:
    """A record from a catalog row (its dict columns are stored as JSON text; extra columns of the
    query are ignored)."""
    dict_fields = {n for n, f in model.model_fields.items() if get_origin(f.annotation) is dict}
    return model.model_validate({k: json.loads(v) if k in dict_fields and isinstance(v, str) else v
                                 for k, v in row.items()})


class Lake:
    """The lake at one URL. Cheap to build; build one per worker from settings, never pickle."""

    def __init__(self, url: str, s3: S3Settings | None = None):
        self.url = url.rstrip("/")
        self.is_s3 = self.url.startswith("s3://")
        if self.is_s3:
            self.fs = s3_filesystem(s3 or S3Settings())
            self.root = self.url[len("s3://"):]
        else:
            self.fs = fsspec.filesystem("file")
            self.root = str(Path(self.url).resolve())
            Path(self.root).mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Lake":
        return cls(settings.lake_url, settings.s3)

    # -- paths -----------------------------------------------------------------------------
    @property
    def root_path(self) -> Path:
        """The lake root as a local Path (local lakes only)."""
        return Path(self.root)

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def uri(self, *parts: str) -> str:
        return ("s3://" if self.is_s3 else "") + self.path(*parts)

    def table_glob(self, table: str) -> str:
        return self.uri("tables", table, "*.parquet")

    # -- atomic writes -------------------------------------------------------------------------
    def write_bytes(self, path: str, data: bytes) -> None:
        """Write a whole object atomically: temp name + rename locally, one PUT on S3."""
        if self.is_s3:
            self.fs.pipe_file(path, data)
            return
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, target)
        fsync_dir(target.parent)  # and the new name survives a power cut

    def read_bytes(self, path: str) -> bytes:
        return self.fs.cat_file(path)

    def exists(self, path: str) -> bool:
        return self.fs.exists(path)

    # -- tables --------------------------------------------------------------------------------
    def write_table(self, model: type[Record], rows: list[Record], part_key: str,
                    replace_empty: bool = False) -> str | None:
        """Write one batch of a table under a deterministic key; returns its URI (None if empty).

        Rows are de-duplicated by the model's KEY within the batch (last wins), and the catalog
        view de-duplicates across batches, so retries and reruns never add duplicate rows.
        With ``replace_empty`` an empty batch removes the key's earlier file (a paper whose new
        version has no edges must not keep the old ones).
        """
        if not rows:
            path = self.path("tables", model.TABLE, f"{safe_key(part_key)}.parquet")
            if replace_empty and self.exists(path):
                self.fs.rm(path)
            return None
        unique = {tuple(getattr(r, k) for k in model.KEY): r for r in rows}
        buf = io.BytesIO()
        pq.write_table(records_to_arrow(model, unique.values()), buf, compression="zstd")
        path = self.path("tables", model.TABLE, f"{safe_key(part_key)}.parquet")
        self.write_bytes(path, buf.getvalue())
        return self.uri("tables", model.TABLE, f"{safe_key(part_key)}.parquet")

    def table_files(self, table: str) -> list[str]:
        return sorted(self.fs.glob(self.path("tables", table, "*.parquet")))

    def unreadable_parts(self, table: str) -> list[str]:
        """The table's part files whose Parquet footer cannot be read."""
        bad = []
        for path in self.table_files(table):
            try:
                with self.fs.open(path, "rb") as handle:
                    pq.read_metadata(handle)
            except Exception:  # any way a file can be broken: truncated, not Parquet, unreadable
                bad.append(path)
        return bad

    def set_aside(self, path: str) -> str:
        """Move a broken part out of ``tables/`` into ``quarantine/parts/`` (kept, not deleted)."""
        relative = path[len(self.path("tables")) + 1:]
        target = self.path("quarantine", "parts", relative)
        if not self.is_s3:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        self.fs.mv(path, target)
        return self.uri("quarantine", "parts", relative)

    def set_aside_unreadable(self, model: type[Record], part_key: str) -> str | None:
        """Move one part aside when it cannot be read (its new location), else None."""
        try:
            self.read_part(model, part_key)
        except Exception:  # any way a file can be broken: truncated, not Parquet, unreadable
            return self.set_aside(self.path("tables", model.TABLE, f"{safe_key(part_key)}.parquet"))
        return None

    def read_part(self, model: type[Record], part_key: str) -> list[dict[str, Any]]:
        """The rows of one part of a table (``[]`` when the part does not exist)."""
        path = self.path("tables", model.TABLE, f"{safe_key(part_key)}.parquet")
        if not self.exists(path):
            return []
        with self.fs.open(path, "rb") as handle:
            return pq.read_table(handle).to_pylist()

    # -- content-addressed blobs ------------------------------------------------------------
    def put_blob(self, data: bytes, namespace: str = "blobs", suffix: str = "") -> tuple[str, str]:
        sha = hashlib.sha256(data).hexdigest()
        path = self.blob_path(sha, namespace, suffix)
        if not self.exists(path):
            self.write_bytes(path, data)
        return sha, self.blob_uri(sha, namespace, suffix)

    def blob_path(self, sha: str, namespace: str = "blobs", suffix: str = "") -> str:
        return self.path(namespace, "sha256", sha[:2], sha + suffix)

    def blob_uri(self, sha: str, namespace: str = "blobs", suffix: str = "") -> str:
        return ("s3://" if self.is_s3 else "") + self.blob_path(sha, namespace, suffix)

    def read_uri(self, uri: str) -> bytes:
        return self.fs.cat_file(uri[len("s3://"):] if uri.startswith("s3://") else uri)

    # -- small JSON state ----------------------------------------------------------------------
    def put_json(self, obj: Any, *parts: str) -> None:
        self.write_bytes(self.path(*parts), json.dumps(obj, sort_keys=True, default=str).encode())

    def get_json(self, *parts: str) -> Any | None:
        path = self.path(*parts)
        try:
            return json.loads(self.fs.cat_file(path))
        except FileNotFoundError:
            return None

    def upload_dir(self, local_dir: str, *parts: str) -> str:
        """Copy a local directory (e.g. built Data Docs) into the lake."""
        for src in Path(local_dir).rglob("*"):
            if src.is_file():
                rel = src.relative_to(local_dir).as_posix()
                self.write_bytes(self.path(*parts, rel), src.read_bytes())
        return self.uri(*parts)


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX: the directory entry is data of the directory)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def safe_key(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.=" else "_" for c in key)[:180]


def s3_filesystem(s3: S3Settings):
    """An s3fs filesystem; without an explicit endpoint botocore honours ``AWS_ENDPOINT_URL``."""
    import s3fs

    kwargs: dict[str, Any] = {}
    client_kwargs: dict[str, Any] = {}
    if s3.endpoint_url:
        client_kwargs["endpoint_url"] = s3.endpoint_url
    if s3.region:
        client_kwargs["region_name"] = s3.region
    if s3.access_key_id is not None:
        kwargs["key"] = reveal(s3.access_key_id)
        kwargs["secret"] = reveal(s3.secret_access_key)
    # A fresh instance per Lake: s3fs caches instances per process and a cached one may carry
    # another endpoint; listings are not cached so readers see batches written by workers.
    return s3fs.S3FileSystem(client_kwargs=client_kwargs, skip_instance_cache=True,
                             use_listings_cache=False, **kwargs)

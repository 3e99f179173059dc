"""THE storage boundary: the lake (Parquet + blobs under one fsspec URL) and the DuckDB catalog.

Only this module imports ``duckdb`` and ``s3fs``.

Lake layout (``lake`` is a local path or ``s3://bucket/prefix``)::

    tables/<table>/<part_key>.parquet   one file per batch; the key is deterministic, so a retry
                                        or rerun overwrites the same file instead of adding one
    blobs/sha256/<aa>/<sha256>          raw documents, content-addressed
    text/sha256/<aa>/<sha256>.txt       extracted text of a document, content-addressed
    state/...                           small JSON records (fetch results), keyed by entity
    data_docs/                          Great Expectations Data Docs

The review app's database (``ReviewDB``) is a local SQLite file in WAL mode: the system of
record for reviewer accounts, assignments, expert reviews and adjudications. SQLite serialises
writers with a lock and keeps committed transactions across crashes, which is what several
reviewers submitting at once need; DuckDB would allow only one process (the app) to open it.
The app copies its tables into the lake after each change (``expert_reviews`` …), so analysts
see them in the catalog like every other table.

The DuckDB catalog is a local file of views over the lake's Parquet files. Workers never open
it. ``publish_catalog`` writes a fresh catalog to a temporary file and renames it over the old
one, so there is never a read-write DuckDB handle that could lock analysts out: ``stormborn
sql`` opens the catalog read-only, at any time, even while a flow is running.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import types
import typing
import uuid
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, get_args, get_origin

import duckdb
import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.models import ALL_RECORDS, Record
from tasks.settings import S3Settings, Settings, reveal


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
        tmp.write_bytes(data)
        os.replace(tmp, target)

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


# -- the DuckDB catalog ------------------------------------------------------------------------

_DUCK_TYPES = {
    pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.float64(): "DOUBLE", pa.bool_(): "BOOLEAN",
    pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ", pa.date32(): "DATE",
}


def _duck_type(t: pa.DataType) -> str:
    if pa.types.is_list(t):
        return _duck_type(t.value_type) + "[]"
    return _DUCK_TYPES[t]


def _view_sql(lake: Lake, model: type[Record]) -> str:
    schema = arrow_schema(model)
    if lake.table_files(model.TABLE):
        source = f"read_parquet('{lake.table_glob(model.TABLE)}', union_by_name = true)"
    else:  # an empty table with the right columns, so analysts' queries work from day one
        cols = ", ".join(f'CAST(NULL AS {_duck_type(f.type)}) AS "{f.name}"' for f in schema)
        source = f"(SELECT {cols} WHERE false)"
    key = ", ".join(f'"{k}"' for k in model.KEY)
    return (
        f"CREATE OR REPLACE VIEW {model.TABLE} AS SELECT * EXCLUDE (_rank) FROM ("
        f'SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY "{model.TIME}" DESC) AS _rank '

        f"FROM {source}) WHERE _rank = 1"
    )


ANALYST_VIEWS_SQL = Path(__file__).resolve().parent.parent / "dashboards" / "views.sql"


def _connect(path: str, lake: Lake, read_only: bool) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(path, read_only=read_only)
    if lake.is_s3:
        con.register_filesystem(lake.fs)
    return con


def publish_catalog(settings: Settings) -> str:
    """Rebuild the catalog's views and swap the file in atomically; returns its path."""
    lake = Lake.from_settings(settings)
    target = Path(settings.catalog_path).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    con = _connect(str(tmp), lake, read_only=False)
    try:
        for model in ALL_RECORDS:
            con.execute(_view_sql(lake, model))
        if ANALYST_VIEWS_SQL.exists():
            con.execute(ANALYST_VIEWS_SQL.read_text())
    finally:
        con.close()
    os.replace(tmp, target)
    return str(target)


def query(settings: Settings, sql: str) -> pd.DataFrame:
    """Run an analyst query against the catalog (read-only; publishes one if none exists)."""
    if not Path(settings.catalog_path).exists():
        publish_catalog(settings)
    lake = Lake.from_settings(settings)
    con = _connect(settings.catalog_path, lake, read_only=True)
    try:
        return con.execute(sql).fetch_df()
    finally:
        con.close()


def query_rows(settings: Settings, sql: str) -> list[dict[str, Any]]:
    """A query's rows as plain dicts: SQL NULL as ``None`` (pandas would give NaN), lists as lists."""
    frame = query(settings, sql)
    frame = frame.astype(object).where(frame.notna(), None)
    return [{k: v.tolist() if hasattr(v, "tolist") else v for k, v in row.items()}
            for row in frame.to_dict("records")]


def read_table(settings: Settings, table: str) -> pd.DataFrame:
    return query(settings, f"SELECT * FROM {table}")


# -- the review database -----------------------------------------------------------------------

class ReviewDB:
    """A SQLite file shared by the review app's threads and the ``stormborn review`` commands.

    Each ``transaction`` opens its own connection (SQLite connections are cheap and must not be
    shared across threads). Writers take the lock up front (``BEGIN IMMEDIATE``) so concurrent
    submissions queue behind each other instead of failing half way; ``synchronous=FULL`` makes a
    committed review survive a crash or power cut.
    """

    def __init__(self, path: str, schema: str):
        self.path = str(Path(path).resolve())
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        con = self._connect()
        try:
            con.executescript(schema)  # idempotent DDL (CREATE … IF NOT EXISTS), in autocommit
        finally:
            con.close()

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA foreign_keys=ON")
        return con

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction: reads see one consistent state; writes hold the lock from the start."""
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.close()

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self.transaction() as con:
            return [dict(r) for r in con.execute(sql, tuple(params))]

"""The DuckDB catalog: views over the lake, analysts' SQL and the named queries the stages use.

The catalog is a local file of views over the lake's Parquet files (deduplicated by each
table's ``KEY``, latest ``TIME`` wins) plus the analyst views of ``dashboards/views.sql``.
Workers never open it. ``publish_catalog`` writes a fresh catalog to a temporary file and
renames it over the old one, so there is never a read-write DuckDB handle that could lock
analysts out: ``stormborn sql`` opens the catalog read-only, at any time, even while a flow runs.

Every query takes bound parameters (``$name`` in the SQL, a dict of values): no value is ever
quoted into SQL by hand. The queries that stages and the CLI run live, named, in
``dashboards/queries.sql`` beside the analyst views (``-- name: <name>`` starts each one).
"""

from __future__ import annotations

import os
import re
import uuid
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from tasks.core.records import ALL_RECORDS, Record, Reject
from tasks.core.settings import Settings
from tasks.io.storage.lake import Lake, arrow_schema, fsync_dir

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
    # An empty table with the model's columns, so analysts' queries work from day one and a
    # column added to a model reads as NULL in parts written before it existed.
    cols = ", ".join(f'CAST(NULL AS {_duck_type(f.type)}) AS "{f.name}"' for f in schema)
    source = f"(SELECT {cols} WHERE false)"
    if lake.table_files(model.TABLE):
        # The glob is the lake's own path (from settings), not user input; DuckDB cannot bind a
        # table function's argument in a view definition.
        glob = lake.table_glob(model.TABLE).replace("'", "''")  # a quote in the lake path stays in the string
        source = (f"(SELECT {cols} WHERE false UNION ALL BY NAME "
                  f"SELECT * FROM read_parquet('{glob}', union_by_name = true))")
    key = ", ".join(f'"{k}"' for k in model.KEY)
    return (
        f"CREATE OR REPLACE VIEW {model.TABLE} AS SELECT * EXCLUDE (_rank) FROM ("
        f'SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY "{model.TIME}" DESC) AS _rank '
        f"FROM {source}) WHERE _rank = 1"
    )


def _sql_file(name: str) -> str:
    """A SQL file of the ``dashboards`` package (installed with the project as package data)."""
    return files("dashboards").joinpath(name).read_text()


@lru_cache(maxsize=1)
def named_queries() -> dict[str, str]:
    """``dashboards/queries.sql`` as name → SQL."""
    parts = re.split(r"^-- name: *([a-z_][a-z0-9_]*) *$", _sql_file("queries.sql"), flags=re.M)
    return {name: sql.strip() for name, sql in zip(parts[1::2], parts[2::2])}


def named(name: str) -> str:
    """The SQL of one named query; ``KeyError`` names the file when there is no such query."""
    try:
        return named_queries()[name]
    except KeyError:
        raise KeyError(f"no query named {name!r} in dashboards/queries.sql") from None


def _connect(path: str, lake: Lake, read_only: bool) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(path, read_only=read_only)
    if lake.is_s3:
        con.register_filesystem(lake.fs)
    return con


def publish_catalog(settings: Settings) -> str:
    """Rebuild the catalog's views and swap the file in atomically; returns its path.

    A table whose view cannot be built because one of its part files is unreadable gets that
    file moved to ``quarantine/parts/`` and a ``rejects`` row (``unreadable_part``), and its view
    is built from the rest: one broken file never blocks every later publish. The temporary
    catalog never outlives a failed publish.
    """
    lake = Lake.from_settings(settings)
    target = Path(settings.catalog_path).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    set_aside: list[Reject] = []
    try:
        con = _connect(str(tmp), lake, read_only=False)
        try:
            for model in ALL_RECORDS:
                try:
                    con.execute(_view_sql(lake, model))
                except duckdb.Error:
                    bad = lake.unreadable_parts(model.TABLE)
                    if not bad:
                        raise
                    set_aside += [Reject(run_id="publish", stage="catalog", entity_id=lake.set_aside(path),
                                         reason="unreadable_part", detail=f"{model.TABLE}: {path}")
                                  for path in bad]
                    con.execute(_view_sql(lake, model))
            if set_aside:
                lake.write_table(Reject, set_aside, f"catalog-unreadable-{uuid.uuid4().hex[:8]}")
                con.execute(_view_sql(lake, Reject))  # so this catalog already shows them
            con.execute(_sql_file("views.sql"))
        finally:
            con.close()
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return str(target)


def query(settings: Settings, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    """Run a read-only query against the catalog with bound ``$name`` parameters (publishes a
    catalog first if none exists)."""
    if not Path(settings.catalog_path).exists():
        publish_catalog(settings)
    lake = Lake.from_settings(settings)
    con = _connect(settings.catalog_path, lake, read_only=True)
    try:
        return con.execute(sql, params or {}).fetch_df()
    finally:
        con.close()


def query_rows(settings: Settings, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """A query's rows as plain dicts: SQL NULL as ``None`` (pandas would give NaN), lists as lists."""
    frame = query(settings, sql, params)
    frame = frame.astype(object).where(frame.notna(), None)
    return [{k: v.tolist() if hasattr(v, "tolist") else v for k, v in row.items()}
            for row in frame.to_dict("records")]


def named_rows(settings: Settings, name: str, **params: Any) -> list[dict[str, Any]]:
    """The rows of a named query of ``dashboards/queries.sql``."""
    return query_rows(settings, named(name), params)

"""THE storage boundary: the only importer of ``duckdb``, ``s3fs`` and ``sqlite3``.

- ``lake``: Parquet tables, content-addressed blobs and small JSON state under one URL.
- ``catalog``: the DuckDB catalog of views, analysts' queries and the named SQL of
  ``dashboards/queries.sql``, always with bound parameters.
- ``reviewdb``: the review database (SQLite), the system of record for expert reviews.
- ``readonly``: the catalog and lake files for readers that must never write (the dashboard).
"""

from tasks.io.storage.catalog import named, named_rows, publish_catalog, query, query_rows
from tasks.io.storage.lake import Lake, arrow_schema, record_from_row, records_to_arrow, s3_filesystem, safe_key
from tasks.io.storage.readonly import (
    CatalogError,
    CatalogUnavailable,
    MissingRelation,
    NoCatalog,
    ReadOnlyCatalog,
    lake_file,
    read_catalog,
)
from tasks.io.storage.reviewdb import ReviewDB

__all__ = ["CatalogError", "CatalogUnavailable", "Lake", "MissingRelation", "NoCatalog", "ReadOnlyCatalog", "ReviewDB",
           "arrow_schema", "lake_file", "named", "named_rows", "publish_catalog", "query", "query_rows",
           "read_catalog", "record_from_row", "records_to_arrow", "s3_filesystem", "safe_key"]

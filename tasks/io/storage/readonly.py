"""Read-only access for readers that must never write: the analyst dashboard.

``catalog.query`` publishes a catalog when there is none; a dashboard must not, so it reads
through ``read_catalog`` instead: one read-only DuckDB connection per request (the catalog file
is swapped atomically by ``publish_catalog``, so a connection opened before a swap keeps reading
the catalog it opened and the next request sees the new one), no catalog → ``NoCatalog``, a view
or table the catalog does not have → ``MissingRelation``, anything else DuckDB refuses →
``CatalogUnavailable``. DuckDB's exceptions never leave this module.

``lake_file`` reads one file under a lake folder (e.g. ``data_docs/``) by a relative path from a
URL, refusing any path that could leave that folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

import duckdb

from tasks.core.settings import Settings
from tasks.io.storage.catalog import named
from tasks.io.storage.lake import Lake


class CatalogError(Exception):
    """The catalog cannot answer (the message is safe to show: no SQL, no paths)."""


class NoCatalog(CatalogError):
    """No catalog has been published yet."""


class MissingRelation(CatalogError):
    """The catalog has no such view or table (published before it existed, or not yet exported)."""


class CatalogUnavailable(CatalogError):
    """DuckDB could not run the query (e.g. a part file moved while it read)."""


class ReadOnlyCatalog:
    """One read-only connection to the catalog; rows as plain dicts (NULL → ``None``)."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self._con = con
        self._relations: frozenset[str] | None = None

    @property
    def relations(self) -> frozenset[str]:
        """The names of the catalog's views and tables."""
        if self._relations is None:
            self._relations = frozenset(r["name"] for r in self.rows(
                "SELECT table_name AS name FROM information_schema.tables"))
        return self._relations

    def has(self, *names: str) -> bool:
        return all(n in self.relations for n in names)

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        try:
            cursor = self._con.execute(sql, params or {})
            columns = [d[0] for d in cursor.description]
            return [dict(zip(columns, row)) for row in cursor.fetchall()]
        except duckdb.CatalogException as exc:
            found = re.search(r"with name (\w+) does not exist", str(exc))
            raise MissingRelation(found.group(1) if found else "a view or table") from None
        except duckdb.Error as exc:
            raise CatalogUnavailable(type(exc).__name__) from None

    def named_rows(self, name: str, **params: Any) -> list[dict[str, Any]]:
        """The rows of a named query of ``dashboards/queries.sql``."""
        return self.rows(named(name), params)

    def value(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        rows = self.rows(sql, params)
        return next(iter(rows[0].values())) if rows else None


@contextmanager
def read_catalog(settings: Settings) -> Iterator[ReadOnlyCatalog]:
    """The catalog, read-only, for one unit of work; never publishes or writes anything."""
    path = Path(settings.catalog_path)
    if not path.is_file():
        raise NoCatalog("no catalog has been published yet")
    # An in-memory database that attaches the file: DuckDB shares one open database per path in
    # a process, so a plain connect while an older request still reads would be handed the file
    # as it was before the last publish swapped it; ATTACH opens the file that is there now.
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH '{_sql_text(str(path.resolve()))}' AS catalog_now (READ_ONLY)")
        con.execute("USE catalog_now")
    except duckdb.Error as exc:
        con.close()
        raise CatalogUnavailable(type(exc).__name__) from None
    try:
        if settings.lake_url.startswith("s3://"):
            con.register_filesystem(Lake.from_settings(settings).fs)
        yield ReadOnlyCatalog(con)
    finally:
        con.close()


def _sql_text(value: str) -> str:
    """A string literal's body (ATTACH takes no bound parameter): quotes doubled."""
    return value.replace("'", "''")


def safe_relative(path: str) -> tuple[str, ...] | None:
    """The parts of a relative URL path that stays inside its folder, or None (``..``, absolute,
    backslashes, NUL, hidden names, empty parts)."""
    if not path or "\\" in path or "\x00" in path or path.startswith("/"):
        return None
    parts = PurePosixPath(path).parts
    if not parts or any(p in ("", ".", "..") or p.startswith(".") for p in parts) or path.endswith("//"):
        return None
    return parts


def lake_file(settings: Settings, folder: str, path: str) -> bytes | None:
    """The bytes of ``<lake>/<folder>/<path>``, or None when the path is unsafe or absent.
    A local lake that does not exist yet is not created."""
    parts = safe_relative(path)
    if parts is None:
        return None
    if not settings.lake_url.startswith("s3://") and not Path(settings.lake_url).is_dir():
        return None
    lake = Lake.from_settings(settings)
    try:
        return lake.read_bytes(lake.path(folder, *parts))
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None

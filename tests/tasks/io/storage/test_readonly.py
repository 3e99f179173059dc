"""The dashboard's read-only catalog: it sees each publish, even while an older reader is open."""

from __future__ import annotations

import pytest

from tasks.core.records import Run
from tasks.io.storage import Lake, NoCatalog, publish_catalog, read_catalog


def runs_seen(settings) -> int:
    with read_catalog(settings) as catalog:
        return catalog.rows("SELECT count(*) AS n FROM runs")[0]["n"]


def swap_in(settings, sql: str) -> None:
    """Swap a new catalog file in, as ``publish_catalog`` does (``os.replace``)."""
    import os

    import duckdb

    fresh = settings.catalog_path + ".new"
    con = duckdb.connect(fresh)
    con.execute(sql)
    con.close()
    os.replace(fresh, settings.catalog_path)


def test_a_new_reader_sees_the_latest_publish_while_an_old_one_is_still_open(settings):
    lake = Lake.from_settings(settings)
    lake.write_table(Run, [Run(run_id="r1", flow="monthly-harvest", source="snapshot", lake=settings.lake_url)], "r1")
    publish_catalog(settings)
    assert runs_seen(settings) == 1
    with read_catalog(settings) as in_flight:  # a slow request still reading the old file
        swap_in(settings, "CREATE VIEW runs AS SELECT 1 AS n UNION ALL SELECT 2")
        with read_catalog(settings) as now:
            assert now.rows("SELECT count(*) AS n FROM runs")[0]["n"] == 2  # the file that is there now
        assert in_flight.rows("SELECT count(*) AS n FROM runs")[0]["n"] == 1  # its own snapshot to the end


def test_no_catalog_is_said_not_created(settings):
    from pathlib import Path

    with pytest.raises(NoCatalog):
        runs_seen(settings)
    assert not Path(settings.catalog_path).exists()

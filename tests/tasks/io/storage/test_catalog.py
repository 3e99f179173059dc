import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from tasks.core.records import Document, Paper, Reject
from tasks.io.storage import Lake, arrow_schema, publish_catalog, query


def _paper(pid, title="t"):
    return Paper(paper_id=pid, source="arxiv", title=title, authors=["A"], categories=["cs.LG"])


def test_views_exist_before_any_data_with_the_contract_columns(settings):
    publish_catalog(settings)
    for table in ("runs", "papers", "reviews", "paper_filters", "documents", "rejects", "validations"):
        assert query(settings, f"SELECT count(*) AS n FROM {table}").n[0] == 0
    cols = set(query(settings, "SELECT * FROM documents").columns)
    assert {"paper_id", "kind", "uri", "sha256", "pages", "chars", "parse_status", "reason"} <= cols
    cols = set(query(settings, "SELECT * FROM rejects").columns)
    assert {"run_id", "stage", "entity_id", "source_path", "reason", "detail"} <= cols


def test_rewrites_with_the_same_key_never_duplicate(settings):
    lake = Lake.from_settings(settings)
    lake.write_table(Paper, [_paper("arxiv:1"), _paper("arxiv:2")], "2024-05")
    lake.write_table(Paper, [_paper("arxiv:1", "new title"), _paper("arxiv:2")], "2024-05")
    lake.write_table(Paper, [_paper("arxiv:2", "from an overlapping window")], "2024-05b")
    publish_catalog(settings)
    frame = query(settings, "SELECT paper_id, title, authors FROM papers ORDER BY paper_id")
    assert list(frame.paper_id) == ["arxiv:1", "arxiv:2"]
    assert list(frame.title) == ["new title", "from an overlapping window"]
    assert list(frame.authors[0]) == ["A"]
    assert len(lake.table_files("papers")) == 2


def test_atomic_write_leaves_no_temp_files(settings):
    lake = Lake.from_settings(settings)
    lake.write_table(Reject, [Reject(run_id="r", stage="s", entity_id="e", reason="why")], "k")
    files = [p.name for p in (lake.root_path / "tables" / "rejects").iterdir()]
    assert files == ["k.parquet"]


def test_blobs_are_content_addressed(settings):
    lake = Lake.from_settings(settings)
    sha, uri = lake.put_blob(b"hello")
    assert sha == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert lake.put_blob(b"hello") == (sha, uri) and lake.read_uri(uri) == b"hello"


def test_schema_types():
    schema = arrow_schema(Document)
    assert str(schema.field("pages").type) == "int64" and str(schema.field("fetched_at").type).startswith("timestamp")


def test_query_while_another_process_publishes(settings, tmp_path):
    """Readers never see a locked file: publish swaps a fresh catalog in atomically."""
    lake = Lake.from_settings(settings)
    lake.write_table(Paper, [_paper("arxiv:1")], "a")
    publish_catalog(settings)
    script = textwrap.dedent(f"""
        from tasks.core.settings import load_settings
        from tasks.io.storage import publish_catalog
        s = load_settings(home={settings.home!r})
        for _ in range(40):
            publish_catalog(s)
    """)
    writer = subprocess.Popen([sys.executable, "-c", script])
    reads = 0
    while writer.poll() is None:
        assert query(settings, "SELECT count(*) AS n FROM papers").n[0] == 1
        reads += 1
    assert writer.returncode == 0 and reads > 0
    # A read-write handle held elsewhere is what DuckDB would refuse; we never hold one.
    con = duckdb.connect(settings.catalog_path, read_only=True)
    con.close()


def test_bad_sql_is_a_clear_error(settings):
    publish_catalog(settings)
    with pytest.raises(duckdb.Error):
        query(settings, "SELECT * FROM no_such_table")


def test_an_unreadable_part_is_set_aside_and_the_rest_published(settings):
    lake = Lake.from_settings(settings)
    lake.write_table(Paper, [Paper(paper_id="arxiv:1", source="arxiv", title="T")], "good")
    lake.write_bytes(lake.path("tables", "papers", "broken.parquet"), b"PAR1 not really parquet")
    path = publish_catalog(settings)
    assert query(settings, "SELECT paper_id FROM papers").paper_id.tolist() == ["arxiv:1"]
    assert lake.exists(lake.path("quarantine", "parts", "papers", "broken.parquet"))
    assert not lake.exists(lake.path("tables", "papers", "broken.parquet"))
    rejects = query(settings, "SELECT stage, reason FROM rejects").to_dict("records")
    assert rejects == [{"stage": "catalog", "reason": "unreadable_part"}]
    assert [p.name for p in Path(path).parent.iterdir() if ".tmp" in p.name] == []
    publish_catalog(settings)  # and the next publish is clean


def test_a_quote_in_the_lake_path_is_not_sql(settings, tmp_path):
    quoted = settings.model_copy(update={"lake": str(tmp_path / "o'brien's lake")})
    Lake.from_settings(quoted).write_table(Paper, [Paper(paper_id="arxiv:2", source="arxiv", title="T")], "p")
    publish_catalog(quoted)
    assert query(quoted, "SELECT paper_id FROM papers").paper_id.tolist() == ["arxiv:2"]


def test_a_column_added_to_a_model_reads_as_null_in_older_parts(settings):
    import pyarrow as pa
    import pyarrow.parquet as pq

    lake = Lake.from_settings(settings)
    Path(lake.path("tables", "rejects")).mkdir(parents=True, exist_ok=True)
    older = pa.table({"run_id": ["r"], "stage": ["s"], "entity_id": ["old"], "reason": ["x"],
                      "at": pa.array([None], pa.timestamp("us", tz="UTC"))})  # written before `detail` existed
    pq.write_table(older, lake.path("tables", "rejects", "old.parquet"))
    publish_catalog(settings)
    rows = query(settings, "SELECT entity_id, detail FROM rejects ORDER BY entity_id").to_dict("records")
    assert rows == [{"entity_id": "old", "detail": None}]  # every part predates the column

"""The harvest into an S3 lake (moto's server on loopback), analysts querying over s3://."""

from __future__ import annotations

import uuid

import pytest

from tasks.core.settings import S3Settings, load_settings
from tasks.io.storage import Lake, query
from tests.flows.test_harvest import run_flow

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture
def s3_env(moto_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)  # the standard variable, honoured as is
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    Lake(f"s3://{bucket}", S3Settings()).fs.mkdir(bucket)
    return bucket


def test_lake_on_s3_with_explicit_endpoint_settings(moto_server, tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    s3 = S3Settings(endpoint_url=moto_server, access_key_id="testing", secret_access_key="testing")
    lake = Lake("s3://explicit-bucket/prefix", s3)
    lake.fs.mkdir("explicit-bucket")
    sha, uri = lake.put_blob(b"%PDF-1.7 bytes")
    assert uri.startswith("s3://explicit-bucket/prefix/blobs/sha256/") and lake.read_uri(uri) == b"%PDF-1.7 bytes"


def test_snapshot_harvest_into_s3(settings, s3_env, tmp_path):
    from tasks.harvest.sources.snapshot import SnapshotSource

    s3_settings = load_settings(home=str(tmp_path / "home"), lake=f"s3://{s3_env}/stormborn",
                                dask_workers=2, batch_size=2)
    since, until = SnapshotSource(s3_settings).default_window
    run = run_flow(s3_settings, since=since, until=until, source="snapshot")
    assert run.keyword_pass == 2 and run.lake == f"s3://{s3_env}/stormborn"
    lake = Lake.from_settings(s3_settings)
    assert lake.fs.glob(f"{s3_env}/stormborn/tables/papers/*.parquet")
    assert lake.fs.exists(f"{s3_env}/stormborn/data_docs/index.html")
    docs = query(s3_settings, "SELECT uri FROM documents WHERE parse_status = 'ok'")
    assert len(docs) == 3 and all(u.startswith(f"s3://{s3_env}/stormborn/blobs/") for u in docs.uri)
    assert query(s3_settings, "SELECT count(*) AS n FROM accepted_papers").n[0] == 2
    # Rerun: same rows, no duplicates.
    before = query(s3_settings, "SELECT count(*) AS n FROM documents").n[0]
    run_flow(s3_settings, since=since, until=until, source="snapshot")
    assert query(s3_settings, "SELECT count(*) AS n FROM documents").n[0] == before

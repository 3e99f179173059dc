"""Shared fixtures. Tests need no network: sources are recorded or generated, S3 is moto's
server on loopback, Prefect runs under its test harness (a real local API)."""

from __future__ import annotations

import os

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
for _var in [v for v in os.environ if v.startswith("STORMBORN_") and v != "STORMBORN_SCREENSHOTS"]:
    del os.environ[_var]  # a developer's own settings must not leak into tests (SCREENSHOTS is no setting:
    # tests/dashboards/test_browser.py saves the README's images when it is set)

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def settings(tmp_path, monkeypatch):
    from tasks.core.settings import load_settings

    monkeypatch.chdir(tmp_path)  # no stormborn.toml from the developer's checkout
    return load_settings(home=str(tmp_path / "home"), dask_workers=2, batch_size=2)


@pytest.fixture(scope="session")
def prefect_api():
    """A real Prefect API for the whole session (Prefect's own test harness)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def moto_server():
    """An S3-compatible server on loopback (what s3fs's own test suite uses)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()

"""The local Prefect server stormborn starts when no API is configured: started for a home, and
stopped by whoever started it (a server left behind outlives a deleted temporary home)."""

from __future__ import annotations

import socket
import time

import httpx

from flows.runtime import start_local_server, stop_local_server
from tasks.core.settings import load_settings


def test_a_started_server_is_stopped_with_its_process_group(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = load_settings(home=str(tmp_path / "home"), prefect_port=port)
    api = start_local_server(settings)
    assert httpx.get(f"{api}/health", timeout=5).status_code == 200
    assert stop_local_server(settings)
    for _ in range(100):
        try:
            httpx.get(f"{api}/health", timeout=1)
        except httpx.HTTPError:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the server still answers after stop_local_server")
    assert not stop_local_server(settings)  # nothing left to stop

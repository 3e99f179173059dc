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


def test_stop_leaves_alone_a_process_a_stale_pid_file_names(settings):
    """A pid file left from before a reboot may name someone else's process now."""
    import subprocess
    import time
    from pathlib import Path

    from flows.runtime import stop_local_server

    bystander = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        pid_file = Path(settings.home).resolve() / "prefect" / "server.pid"
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        pid_file.write_text(str(bystander.pid))
        assert stop_local_server(settings) is False
        time.sleep(0.2)
        assert bystander.poll() is None and not pid_file.exists()
    finally:
        bystander.kill()
        bystander.wait()

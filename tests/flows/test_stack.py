"""``stormborn stack``: the production-shaped stack on this machine, started once for the module
(PostgreSQL, Prefect server and worker, Dask scheduler and one worker, moto's S3 server, the review
app, the dashboard), checked part by part, and stopped: exactly what it started, nothing else."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import stat
import subprocess
import tempfile
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.stack import down, password_file, stack_settings, status, up
from tasks.core.settings import load_settings

runner = CliRunner()
COMPONENTS = {"postgres", "prefect-server", "s3", "dask-scheduler", "dask-worker-1", "prefect-worker", "review",
              "dashboard"}


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def stack():
    home = Path(tempfile.mkdtemp(prefix="stormborn-stack-"))  # not under pytest's 0700 tmp: postgres reaches it
    ports = dict(zip(["postgres_port", "prefect_port", "dask_port", "dask_dashboard_port", "s3_port", "review_port",
                      "dashboard_port"], free_ports(7)))
    bystander = subprocess.Popen(["sleep", "900"], start_new_session=True)  # must outlive `down`
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)  # no stormborn.toml from the checkout
        mp.setenv("STORMBORN_HOME", str(home))
        for key, port in ports.items():
            mp.setenv(f"STORMBORN_STACK__{key.upper()}", str(port))
        settings = load_settings()
        try:
            layout = up(settings, workers=1, emit=lines.append)
            yield settings, layout, bystander, lines
        finally:
            down(settings, emit=lambda _line: None)
            bystander.kill()
            bystander.wait()
            shutil.rmtree(home, ignore_errors=True)


def test_every_component_is_up(stack):
    settings, layout, _, lines = stack
    rows = {row.name: row for row in status(settings)}
    assert set(rows) == COMPONENTS
    assert all(row.alive and row.pid for row in rows.values()), rows
    assert all(Path(row.log).exists() for row in rows.values())
    assert Path(rows["prefect-worker"].log).parent == layout.folder / "logs"
    result = runner.invoke(app, ["stack", "status"])  # STORMBORN_HOME is the stack's home
    assert result.exit_code == 0, result.output
    assert "dask-worker-1" in result.output and "prefect-worker" in result.output


def test_prefect_answers_with_postgresql_as_its_database(stack):
    settings, layout, _, _ = stack
    assert httpx.get(f"{layout.api_url}/health", timeout=10).status_code == 200

    async def tables_and_pools():
        import asyncpg

        connection = await asyncpg.connect(host="127.0.0.1", port=layout.postgres_port, user="stormborn",
                                           password=password_file(settings).read_text(), database="prefect")
        try:
            tables = {r["table_name"] for r in await connection.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
            pools = {r["name"] for r in await connection.fetch("SELECT name FROM work_pool")}
        finally:
            await connection.close()
        return tables, pools

    tables, pools = asyncio.run(tables_and_pools())
    assert {"flow_run", "deployment", "work_pool"} <= tables
    assert "stormborn-process" in pools
    assert stat.S_IMODE(password_file(settings).stat().st_mode) == 0o600


def test_the_lake_bucket_exists_on_the_s3_server(stack):
    from tasks.io.storage import Lake

    settings, layout, _, _ = stack
    lake = Lake.from_settings(stack_settings(settings, layout))
    assert lake.fs.exists(layout.bucket)
    assert lake.url == f"s3://{layout.bucket}/lake"


def test_dask_has_the_worker_in_its_own_folder(stack):
    from distributed import Client

    _, layout, _, _ = stack
    with Client(layout.dask_address, timeout=30) as client:
        workers = client.scheduler_info()["workers"]
        assert [w["name"] for w in workers.values()] == ["stack-worker-1"]
        cwds = set(client.run(os.getcwd).values())
        env = set(client.run(lambda: (os.environ.get("PREFECT_API_URL"), os.environ.get("STORMBORN_LAKE"))).values())
    assert cwds == {str(layout.folder / "dask-worker-1")} and os.getcwd() not in cwds
    assert env == {(layout.api_url, layout.lake_url)}


def test_the_prefect_worker_gets_the_stack_environment(stack):
    settings, layout, _, _ = stack
    pid = int((layout.folder / "pids" / "prefect-worker.pid").read_text().split()[0])
    assert os.readlink(f"/proc/{pid}/cwd") == str(layout.folder / "prefect-worker") != os.getcwd()
    environ = dict(item.split("=", 1) for item in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in item)
    assert environ["PREFECT_API_URL"] == layout.api_url
    assert environ["STORMBORN_LAKE"] == f"s3://{layout.bucket}/lake"
    assert environ["STORMBORN_S3__ENDPOINT_URL"] == layout.s3_endpoint
    assert environ["STORMBORN_DASK_ADDRESS"] == layout.dask_address
    assert environ["STORMBORN_PROJECT_DIR"] == str(Path(__file__).resolve().parents[2])
    assert environ["STORMBORN_HOME"] == layout.home
    assert float(environ["PREFECT_WORKER_QUERY_SECONDS"]) <= 5
    assert "PREFECT_API_DATABASE_PASSWORD" not in environ


def test_env_file_and_printed_lines_keep_the_credentials_out_of_sight(stack):
    settings, layout, _, lines = stack
    env_file = layout.folder / "env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    text = env_file.read_text()
    for name in ("PREFECT_API_URL", "STORMBORN_LAKE", "STORMBORN_DASK_ADDRESS", "STORMBORN_S3__ENDPOINT_URL"):
        assert f"export {name}=" in text
    secret = settings.stack.s3_secret_access_key.get_secret_value()
    assert secret in text  # the file is for `source`
    assert not any(secret in line for line in lines)
    assert not any(password_file(settings).read_text() in line for line in lines)


def test_up_again_is_a_no_op(stack):
    settings, layout, _, _ = stack
    before = {row.name: row.pid for row in status(settings)}
    lines: list[str] = []
    assert up(settings, emit=lines.append) == layout
    assert {row.name: row.pid for row in status(settings)} == before
    assert any("already up" in line for line in lines)


def test_down_stops_exactly_what_up_started(stack):
    settings, _, bystander, _ = stack
    pids = [row.pid for row in status(settings)]
    stopped = down(settings, emit=lambda _line: None)
    assert set(stopped) == COMPONENTS
    assert not any(_alive(pid) for pid in pids)
    assert bystander.poll() is None  # an unrelated process survives
    assert not any(row.alive for row in status(settings))
    assert down(settings, emit=lambda _line: None) == []


def test_stop_says_whether_a_local_server_was_running(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STORMBORN_HOME", str(tmp_path / "home"))
    result = runner.invoke(app, ["stop"])
    assert result.exit_code == 0 and "no local Prefect server" in result.output


def _quick_settings(tmp_path, monkeypatch, **stack):
    monkeypatch.chdir(tmp_path)
    ports = dict(zip(["postgres_port", "prefect_port", "dask_port", "dask_dashboard_port", "s3_port", "review_port",
                      "dashboard_port"], free_ports(7)))
    return load_settings(home=str(tmp_path / "home"), stack=ports | stack)


def test_a_missing_part_fails_in_one_line_naming_the_fix(tmp_path, monkeypatch):
    import flows.stack
    from flows.stack import StackError

    settings = _quick_settings(tmp_path, monkeypatch, postgres_bin=str(tmp_path / "no-postgres"))
    with pytest.raises(StackError, match=r"apt-get install postgresql"):
        up(settings, emit=lambda _line: None)
    assert not any(row.alive for row in status(settings))
    monkeypatch.setattr(flows.stack, "_moto_installed", lambda: False)
    with pytest.raises(StackError, match=r"moto\[server\]"):
        up(settings, emit=lambda _line: None)

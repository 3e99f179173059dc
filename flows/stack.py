"""The production-shaped stack on this machine: ``stormborn stack up | status | down``.

The topology of ``infra/compose.yaml`` (PostgreSQL, a Prefect server on it, a Prefect worker on
the ``stormborn-process`` pool, a Dask scheduler and workers, an S3 lake, the review app and the
dashboard) from parts this machine installs: Debian's PostgreSQL, ``prefect``, ``dask`` and
moto's S3 server (a dev dependency) in place of MinIO. Each part listens on loopback on its own
port (``Settings.stack``); pid and log files live under ``<home>/stack/``, with ``stack.json``
(what ``up`` laid out) and ``env`` (what a shell needs to use the stack).

``down`` stops exactly what ``up`` started: the process group of each pid file whose process
is still the one started (its start time is recorded with its pid), and ``pg_ctl stop`` for
PostgreSQL. From Python::

    with running_stack(settings, workers=1) as stack_settings:   # up … down
        ...  # stack_settings: lake, S3 endpoint and Dask address of the stack
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import httpx

from flows.deploy import PROJECT_ROOT, ensure_process_pool
from flows.runtime import answers, dask_task_runner
from tasks.core.settings import S3Settings, Settings, reveal

POOL = "stormborn-process"
DATABASE = "prefect"
DB_USER = "stormborn"
MISSING_MOTO = ("moto's S3 server is not installed: install the dev dependencies "
                "(scripts/bootstrap --dev, or pip install 'moto[server]')")
MISSING_POSTGRES = ("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): "
                    "apt-get install postgresql (or scripts/bootstrap --dev), or set stack.postgres_bin")


class StackError(RuntimeError):
    """A one-line reason the stack could not start or stop (names the log to read)."""


@dataclass(frozen=True)
class Layout:
    """Where the stack lives and listens: from the settings at the first ``up``, then from
    ``stack.json`` for as long as any part of it runs."""

    home: str
    workers: int
    postgres_port: int
    prefect_port: int
    dask_port: int
    dask_dashboard_port: int
    s3_port: int
    review_port: int
    dashboard_port: int
    bucket: str

    @classmethod
    def from_settings(cls, settings: Settings, workers: int | None = None) -> Layout:
        s = settings.stack
        return cls(home=str(Path(settings.home).resolve()), workers=workers or s.workers,
                   postgres_port=s.postgres_port, prefect_port=s.prefect_port, dask_port=s.dask_port,
                   dask_dashboard_port=s.dask_dashboard_port, s3_port=s.s3_port, review_port=s.review_port,
                   dashboard_port=s.dashboard_port, bucket=s.bucket)

    @property
    def folder(self) -> Path:
        return Path(self.home) / "stack"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.prefect_port}/api"

    @property
    def dask_address(self) -> str:
        return f"tcp://127.0.0.1:{self.dask_port}"

    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def lake_url(self) -> str:
        return f"s3://{self.bucket}/lake"

    def components(self) -> list[tuple[str, str]]:
        """(name, URL) of every part, in start order."""
        return [("postgres", f"postgresql://127.0.0.1:{self.postgres_port}/{DATABASE}"),
                ("prefect-server", f"http://127.0.0.1:{self.prefect_port}"),
                ("s3", self.s3_endpoint),
                ("dask-scheduler", f"{self.dask_address} (dashboard http://127.0.0.1:{self.dask_dashboard_port})"),
                *((f"dask-worker-{i}", self.dask_address) for i in range(1, self.workers + 1)),
                ("prefect-worker", f"pool {POOL}"),
                ("review", f"http://127.0.0.1:{self.review_port}"),
                ("dashboard", f"http://127.0.0.1:{self.dashboard_port}")]

    def log(self, name: str) -> Path:
        return self.folder / "postgres" / "postgres.log" if name == "postgres" else self.folder / "logs" / f"{name}.log"

    def pid_file(self, name: str) -> Path:
        return self.folder / "postgres" / "data" / "postmaster.pid" if name == "postgres" \
            else self.folder / "pids" / f"{name}.pid"


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int | None
    alive: bool
    url: str
    log: str
    note: str = ""


# -- processes --------------------------------------------------------------------------------

def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks since boot) of a process, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[19])


def _alive(pid: int | None, start: int | None = None) -> bool:
    """The process runs (not a zombie) and, given ``start``, is still the one started then."""
    if not pid:
        return False
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child that ended
    found = _proc_stat(pid)
    return found is not None and found[0] != "Z" and (start is None or found[1] == start)


def _read_pid(layout: Layout, name: str) -> tuple[int | None, int | None]:
    """(pid, start time) from a component's pid file (PostgreSQL's own ``postmaster.pid``)."""
    try:
        words = layout.pid_file(name).read_text().split()
        return int(words[0]), (int(words[1]) if len(words) > 1 and name != "postgres" else None)
    except (OSError, ValueError, IndexError):
        return None, None


def _is_running(layout: Layout, name: str) -> bool:
    return _alive(*_read_pid(layout, name))


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_group(layout: Layout, name: str, grace_s: float = 15.0) -> bool:
    """Stop the process group a pid file names, if it is still ours; True when one was stopped."""
    pid, start = _read_pid(layout, name)
    if pid is None:
        return False
    leader = _alive(pid, start)
    if not leader and (_proc_stat(pid) is not None and _proc_stat(pid)[0] != "Z"):
        layout.pid_file(name).unlink(missing_ok=True)  # the pid was reused: not ours to stop
        return False
    if not leader and not _group_exists(pid):
        layout.pid_file(name).unlink(missing_ok=True)
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        _alive(pid)  # reaps our own child
        if not _group_exists(pid):
            break
        time.sleep(0.2)
    else:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        for _ in range(50):
            _alive(pid)
            if not _group_exists(pid):
                break
            time.sleep(0.1)
    layout.pid_file(name).unlink(missing_ok=True)
    return True


def _spawn(layout: Layout, name: str, command: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
    """Start one part in a session of its own (its process group), output to its log."""
    cwd.mkdir(parents=True, exist_ok=True)
    log_path = layout.log(name)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(f"\n--- {datetime.now(timezone.utc).isoformat()} stormborn stack up: {name}\n".encode())
        log.flush()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env, cwd=cwd, start_new_session=True)
    found = _proc_stat(process.pid)
    pid_file = layout.pid_file(name)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(f"{process.pid} {found[1] if found else ''}\n")
    return process


def _wait(layout: Layout, name: str, ready: Callable[[], bool], timeout_s: float,
          process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if ready():
                return
        except (httpx.HTTPError, OSError, ValueError, KeyError):
            pass
        if process is not None and process.poll() is not None:
            raise StackError(f"{name} exited (code {process.returncode}) while starting; see {layout.log(name)}")
        if time.monotonic() > deadline:
            raise StackError(f"{name} was not ready after {timeout_s:.0f}s; see {layout.log(name)}")
        time.sleep(0.5)


def not_a_server_error(response: httpx.Response) -> bool:
    """Up enough for a part that has no health route: any answer but a server error."""
    return response.status_code < 500


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _check_port(layout: Layout, name: str, port: int, setting: str) -> None:
    if not _port_free(port):
        raise StackError(f"port {port} for {name} is taken by another process; set stack.{setting} "
                         f"(STORMBORN_STACK__{setting.upper()})")


# -- environment ------------------------------------------------------------------------------

def _s3(settings: Settings, layout: Layout) -> S3Settings:
    return S3Settings(endpoint_url=layout.s3_endpoint, access_key_id=settings.stack.s3_access_key_id,
                      secret_access_key=settings.stack.s3_secret_access_key)


def client_env(settings: Settings, layout: Layout | None = None) -> dict[str, str]:
    """What every stack process that runs or shows flows gets (the Prefect worker and the flow
    runs it starts, the Dask workers, the review app and the dashboard), and what a shell needs
    to use the stack. Holds the lake's credentials: hand it to processes, never print it."""
    layout = layout or _layout_of(settings)
    env = {"PREFECT_API_URL": layout.api_url,
           "STORMBORN_HOME": layout.home,
           "STORMBORN_LAKE": layout.lake_url,
           "STORMBORN_S3__ENDPOINT_URL": layout.s3_endpoint,
           "STORMBORN_S3__ACCESS_KEY_ID": reveal(settings.stack.s3_access_key_id) or "",
           "STORMBORN_S3__SECRET_ACCESS_KEY": reveal(settings.stack.s3_secret_access_key) or "",
           "STORMBORN_DASK_ADDRESS": layout.dask_address,
           # the runs' summary artifacts link the dashboard the stack serves
           "STORMBORN_DASHBOARD__PORT": str(layout.dashboard_port),
           "STORMBORN_PROJECT_DIR": str(PROJECT_ROOT)}
    config = Path(os.environ.get("STORMBORN_CONFIG", "stormborn.toml")).resolve()
    if config.exists():  # every part reads the same file, whatever its working directory
        env["STORMBORN_CONFIG"] = str(config)
    return env


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment (a user's STORMBORN_LLM__* and the like reach the flows) less
    what would point a child at another Prefect API or database, plus ``extra``."""
    inherited = {k: v for k, v in os.environ.items()
                 if not k.startswith(("PREFECT_API_", "PREFECT_SERVER_DATABASE_", "PREFECT_HOME", "PGPASSWORD"))}
    return inherited | {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "GX_ANALYTICS_ENABLED": "false"} | extra


def stack_settings(settings: Settings, layout: Layout | None = None) -> Settings:
    """``settings`` pointed at the stack: its lake, S3 endpoint and credentials, Dask scheduler."""
    layout = layout or _layout_of(settings)
    return settings.model_copy(update={"home": layout.home, "lake": layout.lake_url,
                                       "dask_address": layout.dask_address, "s3": _s3(settings, layout)})


def shell_lines(settings: Settings, layout: Layout | None = None, masked: bool = True) -> list[str]:
    """``export`` lines for a shell; ``masked``: secrets shown as ``**********`` (for printing)."""
    env = client_env(settings, layout)
    hidden = {"STORMBORN_S3__ACCESS_KEY_ID", "STORMBORN_S3__SECRET_ACCESS_KEY"}
    return [f"export {k}={'**********' if masked and k in hidden else _quote(v)}" for k, v in env.items()]


def _quote(value: str) -> str:
    import shlex

    return shlex.quote(value)


# -- layout -----------------------------------------------------------------------------------

def _layout_file(settings: Settings) -> Path:
    return Path(settings.home).resolve() / "stack" / "stack.json"


def _stored_layout(settings: Settings) -> Layout | None:
    try:
        return Layout(**json.loads(_layout_file(settings).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _layout_of(settings: Settings) -> Layout:
    """The layout of the stack as ``up`` laid it out, else from the settings."""
    return _stored_layout(settings) or Layout.from_settings(settings)


def _any_running(layout: Layout) -> bool:
    return any(_is_running(layout, name) for name, _ in layout.components())


# -- PostgreSQL -------------------------------------------------------------------------------

def _postgres_bin(settings: Settings) -> Path:
    if settings.stack.postgres_bin:
        folder = Path(settings.stack.postgres_bin)
        if not (folder / "initdb").exists():
            raise StackError(f"no initdb in stack.postgres_bin ({folder}): " + MISSING_POSTGRES)
        return folder
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not found:
        raise StackError(MISSING_POSTGRES)
    return found[-1].parent


def _as_root() -> bool:
    return os.geteuid() == 0


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the ``postgres`` user."""
    return ["runuser", "-u", "postgres", "--", *command] if _as_root() else command


def password_file(settings: Settings) -> Path:
    """The stack database's password (user ``stormborn``), made at the first ``up``; mode 0600."""
    return Path(settings.home).resolve() / "stack" / "postgres.password"


def database_url(settings: Settings, layout: Layout | None = None, driver: str = "postgresql+asyncpg") -> str:
    """The Prefect database's URL with the password left as Prefect's ``${PREFECT_API_DATABASE_PASSWORD}``."""
    layout = layout or _layout_of(settings)
    return (f"{driver}://{DB_USER}:${{PREFECT_API_DATABASE_PASSWORD}}@127.0.0.1:{layout.postgres_port}/{DATABASE}")


def _run(command: list[str], what: str, log: Path, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as f:
            f.write(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}")
        first = (done.stderr or done.stdout or "").strip().splitlines()
        raise StackError(f"{what} failed: {first[-1] if first else done.returncode}; see {log}")
    return done


def _start_postgres(settings: Settings, layout: Layout, emit: Callable[[str], None], started: list[str]) -> None:
    folder = layout.folder / "postgres"
    data, log = folder / "data", layout.log("postgres")
    if _is_running(layout, "postgres"):
        return
    started.append("postgres")  # from here on a failure stops it again
    _check_port(layout, "postgres", layout.postgres_port, "postgres_port")
    pg = _postgres_bin(settings)
    folder.mkdir(parents=True, exist_ok=True)
    if _as_root():
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise StackError("running as root, PostgreSQL needs the postgres user: apt-get install postgresql") from exc
        for path in (Path(layout.home), layout.folder):  # search (not read) permission on the way
            mode = path.stat().st_mode
            if not mode & stat.S_IXOTH:
                path.chmod(mode | stat.S_IXOTH)
        for path in [folder, *folder.rglob("*")]:
            os.lchown(path, user.pw_uid, user.pw_gid)
        if subprocess.run(_as_postgres(["test", "-w", str(folder)])).returncode != 0:
            raise StackError(f"the postgres user cannot reach {folder}: give its parent folders search "
                             f"permission (chmod o+x) or use a home it can reach")
    secret = password_file(settings)
    if not secret.exists():
        secret.parent.mkdir(parents=True, exist_ok=True)
        secret.touch(mode=0o600)
        secret.write_text(secrets.token_urlsafe(24))
    if not (data / "PG_VERSION").exists():
        emit(f"  postgres: initdb {data}")
        pwfile = folder / ".initdb-password"
        pwfile.touch(mode=0o600)
        pwfile.write_text(secret.read_text())
        if _as_root():
            import pwd

            user = pwd.getpwnam("postgres")
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        try:
            _run(_as_postgres([str(pg / "initdb"), "-D", str(data), "-U", DB_USER, f"--pwfile={pwfile}",
                               "--auth-local=peer", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C"]),
                 "initdb", log)
        finally:
            pwfile.unlink(missing_ok=True)
        with open(data / "postgresql.conf", "a") as conf:  # loopback only, no Unix socket
            conf.write("\n# stormborn stack\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n")
    _run(_as_postgres([str(pg / "pg_ctl"), "start", "-D", str(data), "-l", str(log), "-w",
                       "-t", str(int(settings.stack.start_timeout_s)), "-o", f"-p {layout.postgres_port}"]),
         "postgres (pg_ctl start)", log)
    env = _child_env({"PGPASSWORD": secret.read_text()})
    exists = _run([str(pg / "psql"), "-h", "127.0.0.1", "-p", str(layout.postgres_port), "-U", DB_USER, "-d",
                   "postgres", "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"],
                  "postgres (psql)", log, env=env)
    if exists.stdout.strip() != "1":
        _run([str(pg / "createdb"), "-h", "127.0.0.1", "-p", str(layout.postgres_port), "-U", DB_USER, DATABASE],
             "postgres (createdb)", log, env=env)


def _stop_postgres(settings: Settings, layout: Layout) -> bool:
    if not _is_running(layout, "postgres"):
        return False
    data = layout.folder / "postgres" / "data"
    stopped = subprocess.run(_as_postgres([str(_postgres_bin(settings) / "pg_ctl"), "stop", "-D", str(data), "-m",
                                           "fast", "-w", "-t", "60"]), capture_output=True)
    return stopped.returncode == 0


# -- the other parts ----------------------------------------------------------------------------

def _dask_preload(settings: Settings) -> list[str]:
    """The modules the LocalCluster's workers preload (flows/runtime.py is their one definition)."""
    runner = dask_task_runner(settings.model_copy(update={"dask_address": None}))
    return list(runner.cluster_kwargs.get("preload", []))


def _has_command(name: str) -> bool:
    """The ``stormborn`` command has a ``name`` command (the dashboard may not exist yet)."""
    import flows.cli  # noqa: F401 — registers every command
    from flows.cli.common import app

    return any((c.name or (c.callback.__name__.replace("_", "-") if c.callback else "")) == name
               for c in app.registered_commands)


def _moto_installed() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("moto.server", "flask", "flask_cors"))


def _dask_identity(layout: Layout) -> dict:
    return httpx.get(f"http://127.0.0.1:{layout.dask_dashboard_port}/json/identity.json", timeout=3).json()


def _dask_worker_names(layout: Layout) -> set[str]:
    return {w.get("name") for w in _dask_identity(layout).get("workers", {}).values()}


def _worker_heartbeat_since(layout: Layout, name: str, since: datetime) -> bool:
    response = httpx.post(f"{layout.api_url}/work_pools/{POOL}/workers/filter", json={}, timeout=5)
    for worker in response.json() if response.status_code == 200 else []:
        beat = worker.get("last_heartbeat_time")
        if worker.get("name") == name and beat and datetime.fromisoformat(beat.replace("Z", "+00:00")) >= since:
            return True
    return False


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "flows.cli", *args]


def up(settings: Settings, workers: int | None = None, emit: Callable[[str], None] = print) -> Layout:
    """Start every part of the stack that is not running, wait until each answers, write
    ``<home>/stack/env``; a stack already up is left as it is. Raises ``StackError`` (one line
    naming the log to read) after stopping what it started."""
    stored = _stored_layout(settings)
    if stored and _any_running(stored):
        if workers and workers != stored.workers:
            raise StackError(f"the stack is up with {stored.workers} Dask workers; `stormborn stack down` first "
                             f"to change it")
        layout = stored
    else:
        layout = Layout.from_settings(settings, workers)
    everything_up = all(_is_running(layout, name) or (name == "dashboard" and not _has_command("dashboard"))
                        for name, _ in layout.components())
    if everything_up:
        emit(f"the stack under {layout.folder} is already up")
        _write_env(settings, layout)
        return layout
    if not _moto_installed():
        raise StackError(MISSING_MOTO)
    layout.folder.mkdir(parents=True, exist_ok=True)
    _layout_file(settings).write_text(json.dumps(asdict(layout), indent=2))
    started: list[str] = []
    try:
        _up(settings, layout, emit, started)
    except BaseException:
        _stop(settings, layout, started)  # only what this `up` started: parts already up stay up
        raise
    _write_env(settings, layout)
    return layout


def _up(settings: Settings, layout: Layout, emit: Callable[[str], None], started_names: list[str]) -> None:
    timeout = settings.stack.start_timeout_s
    folder = layout.folder
    started: dict[str, subprocess.Popen] = {}
    ports = [("prefect-server", layout.prefect_port, "prefect_port"), ("s3", layout.s3_port, "s3_port"),
             ("dask-scheduler", layout.dask_port, "dask_port"),
             ("dask-scheduler", layout.dask_dashboard_port, "dask_dashboard_port"),
             ("review", layout.review_port, "review_port"), ("dashboard", layout.dashboard_port, "dashboard_port")]
    for name, port, setting in ports:
        if not _is_running(layout, name):
            _check_port(layout, name, port, setting)

    def start(name: str, command: list[str], env: dict[str, str], cwd: Path) -> None:
        if _is_running(layout, name):
            return
        emit(f"  {name}: starting (log {layout.log(name)})")
        started[name] = _spawn(layout, name, command, env, cwd)
        started_names.append(name)

    def wait(name: str, ready: Callable[[], bool]) -> None:
        if name in started:
            _wait(layout, name, ready, timeout, started[name])
            emit(f"  {name}: ready")

    _start_postgres(settings, layout, emit, started_names)
    emit(f"  postgres: ready on 127.0.0.1:{layout.postgres_port}")
    server_env = _child_env({
        "PREFECT_HOME": str(folder / "prefect-server"),
        "PREFECT_API_DATABASE_CONNECTION_URL": database_url(settings, layout),
        "PREFECT_API_DATABASE_PASSWORD": password_file(settings).read_text(),
        "PREFECT_SERVER_UI_ENABLED": "true",
        # the UI asks its API at this address (by default :4200, whatever port the server has)
        "PREFECT_UI_API_URL": layout.api_url})
    start("prefect-server", [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                             "--port", str(layout.prefect_port)], server_env, folder / "prefect-server")
    start("s3", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(layout.s3_port)],
          _child_env({}), folder / "s3")
    env = _child_env(client_env(settings, layout) | {"PREFECT_HOME": str(folder / "prefect-client")})
    start("dask-scheduler", [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port",
                             str(layout.dask_port), "--dashboard-address",
                             f"127.0.0.1:{layout.dask_dashboard_port}"], env, folder / "dask-scheduler")
    preload = [arg for module in _dask_preload(settings) for arg in ("--preload", module)]
    for i in range(1, layout.workers + 1):
        cwd = folder / f"dask-worker-{i}"
        start(f"dask-worker-{i}", [sys.executable, "-m", "dask", "worker", layout.dask_address, "--host", "127.0.0.1",
                                   "--nthreads", "1", "--nworkers", "1", "--name", f"stack-worker-{i}",
                                   "--no-dashboard", "--local-directory", str(cwd / "scratch"), *preload],
              env, cwd)
    wait("s3", lambda: answers(layout.s3_endpoint, not_a_server_error))
    from tasks.io.storage import Lake

    fs = Lake(f"s3://{layout.bucket}", _s3(settings, layout)).fs
    if not fs.exists(layout.bucket):
        fs.mkdir(layout.bucket)
    emit(f"  s3: bucket {layout.bucket} (lake {layout.lake_url})")
    start("review", _cli("review", "serve", "--host", "127.0.0.1", "--port", str(layout.review_port)),
          env, folder / "review")
    if _has_command("dashboard"):
        start("dashboard", _cli("dashboard", "--host", "127.0.0.1", "--port", str(layout.dashboard_port)),
              env, folder / "dashboard")
    else:
        emit("  dashboard: skipped (this stormborn has no `dashboard` command yet)")
    wait("prefect-server", lambda: answers(f"{layout.api_url}/health"))
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: layout.api_url}):
        ensure_process_pool(POOL)
    worker_name = f"stormborn-stack-{layout.prefect_port}"
    since = datetime.now(timezone.utc).replace(microsecond=0)
    start("prefect-worker", [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--type", "process",
                             "--name", worker_name],
          env | {"PREFECT_WORKER_QUERY_SECONDS": f"{settings.stack.worker_query_seconds:g}",
                 "PREFECT_WORKER_HEARTBEAT_SECONDS": "5"},
          folder / "prefect-worker")
    wait("dask-scheduler", lambda: answers(f"http://127.0.0.1:{layout.dask_dashboard_port}/health",
                                            lambda r: r.status_code == 200))
    for i in range(1, layout.workers + 1):
        wait(f"dask-worker-{i}", lambda i=i: f"stack-worker-{i}" in _dask_worker_names(layout))
    wait("review", lambda: answers(f"http://127.0.0.1:{layout.review_port}/", not_a_server_error))
    wait("dashboard", lambda: answers(f"http://127.0.0.1:{layout.dashboard_port}/", not_a_server_error))
    wait("prefect-worker", lambda: _worker_heartbeat_since(layout, worker_name, since))


def _write_env(settings: Settings, layout: Layout) -> Path:
    path = layout.folder / "env"
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("# the stormborn stack: `source` this file to use it from a shell\n"
                    + "\n".join(shell_lines(settings, layout, masked=False)) + "\n")
    return path


def status(settings: Settings) -> list[ComponentStatus]:
    """Every part of the stack (as ``up`` laid it out): pid, alive, URL, log."""
    layout = _layout_of(settings)
    rows = []
    for name, url in layout.components():
        pid, start = _read_pid(layout, name)
        note = ""
        if name == "dashboard" and pid is None and not _has_command("dashboard"):
            note = "skipped: this stormborn has no `dashboard` command yet"
        rows.append(ComponentStatus(name, pid, _alive(pid, start), url, str(layout.log(name)), note))
    return rows


def down(settings: Settings, emit: Callable[[str], None] = print) -> list[str]:
    """Stop what ``up`` started (the process groups of its pid files, ``pg_ctl stop`` for
    PostgreSQL), last started first; returns the names of the parts stopped."""
    layout = _stored_layout(settings)
    if layout is None:
        return []
    stopped = _stop(settings, layout, [name for name, _ in layout.components()], emit)
    (layout.folder / "env").unlink(missing_ok=True)
    return stopped


def _stop(settings: Settings, layout: Layout, names: list[str], emit: Callable[[str], None] = lambda _l: None
          ) -> list[str]:
    """Stop the parts ``names`` (last started first); returns those that were stopped."""
    stopped = []
    for name in [n for n, _ in reversed(layout.components()) if n in names]:
        if name == "postgres":
            if _stop_postgres(settings, layout):
                stopped.append(name)
        elif _stop_group(layout, name):
            stopped.append(name)
        else:
            continue
        emit(f"  {name}: stopped")
    return stopped


@contextlib.contextmanager
def running_stack(settings: Settings, workers: int | None = None,
                  emit: Callable[[str], None] = lambda _line: None) -> Iterator[Settings]:
    """``up`` … ``down``: yields ``settings`` pointed at the stack (``stack_settings``)."""
    layout = up(settings, workers=workers, emit=emit)
    try:
        yield stack_settings(settings, layout)
    finally:
        down(settings, emit=emit)


__all__ = ["POOL", "ComponentStatus", "Layout", "StackError", "client_env", "database_url", "down",
           "password_file", "running_stack", "shell_lines", "stack_settings", "status", "up"]

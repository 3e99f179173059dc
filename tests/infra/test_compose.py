"""infra/compose.yaml and infra/Dockerfile hold together: every reference resolves, every
process that runs flows or shows their results sees the same lake, S3 endpoint, Prefect API and
Dask scheduler, secrets are files, and ports stay on loopback. With ``docker compose`` (or
``docker-compose``) installed, its own ``config`` validates the file too."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

INFRA = Path(__file__).resolve().parents[2] / "infra"
COMPOSE = yaml.safe_load((INFRA / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
OURS = ("prefect-worker", "dask-scheduler", "dask-worker", "review", "dashboard", "deploy")
"""Services that run our code against the lake (the same settings everywhere)."""
SHARED = ("PREFECT_API_URL", "STORMBORN_HOME", "STORMBORN_LAKE", "STORMBORN_S3__ENDPOINT_URL",
          "STORMBORN_DASK_ADDRESS", "STORMBORN_PROJECT_DIR")


def _env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (SERVICES[service].get("environment") or {}).items()}


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


def test_every_reference_resolves():
    volumes, secrets = set(COMPOSE.get("volumes") or {}), set(COMPOSE.get("secrets") or {})
    for name, service in SERVICES.items():
        assert "image" in service or "build" in service, name
        for dependency in service.get("depends_on") or {}:
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
        for secret in service.get("secrets") or []:
            source = secret["source"] if isinstance(secret, dict) else secret
            assert source in secrets, f"{name} uses unknown secret {source}"
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in volumes, f"{name} mounts unknown volume {source}"
        assert "test" in (service.get("healthcheck") or {}) or service.get("restart") == "no", \
            f"{name}: a long-running service needs a healthcheck"
    for secret in COMPOSE["secrets"].values():
        assert secret["file"].startswith("./secrets/")
    assert (INFRA / "secrets" / ".gitignore").read_text().splitlines()[-2:] == ["*", "!.gitignore"]


def test_the_services_that_run_flows_share_one_lake_api_and_scheduler():
    first = _env(OURS[0])
    for name in OURS:
        env = _env(name)
        for key in SHARED:
            assert env.get(key) == first[key], f"{name}: {key}"
    assert _host(first["PREFECT_API_URL"]) == "prefect-server"
    assert _host(first["STORMBORN_S3__ENDPOINT_URL"]) == "minio"
    assert _host(first["STORMBORN_DASK_ADDRESS"]) == "dask-scheduler"
    assert first["STORMBORN_LAKE"].startswith("s3://")
    bucket = urlsplit(first["STORMBORN_LAKE"]).hostname
    assert f"lake/{bucket}" in " ".join(SERVICES["minio-init"]["command"])
    scheduler_port = urlsplit(first["STORMBORN_DASK_ADDRESS"]).port
    assert str(scheduler_port) in SERVICES["dask-scheduler"]["command"]
    assert f"tcp://dask-scheduler:{scheduler_port}" in SERVICES["dask-worker"]["command"]
    server = SERVICES["prefect-server"]["command"]
    assert str(urlsplit(first["PREFECT_API_URL"]).port) == server[server.index("--port") + 1]


def test_one_image_built_from_the_lock_for_our_code():
    images = {SERVICES[name]["image"] for name in (*OURS, "prefect-server")}
    builds = {str(SERVICES[name]["build"]) for name in (*OURS, "prefect-server")}
    assert len(images) == 1 and len(builds) == 1
    build = SERVICES["review"]["build"]
    assert (INFRA / build["context"] / build["dockerfile"]).resolve() == INFRA / "Dockerfile"
    dockerfile = (INFRA / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert "uv pip sync" in dockerfile and "--compile-bytecode" in dockerfile and "requirements.lock" in dockerfile
    entrypoint = INFRA / "docker-entrypoint.sh"
    assert entrypoint.exists() and entrypoint.stat().st_mode & 0o111
    for folder in ("tasks", "flows", "expectations", "reviewapp", "dashboards", "infra"):
        assert f"COPY {folder} ./{folder}" in dockerfile


def test_secrets_are_files_never_values():
    for name, service in SERVICES.items():
        for key in service.get("environment") or {}:
            if any(word in key for word in ("PASSWORD", "SECRET", "ACCESS_KEY", "API_KEY", "TOKEN")):
                assert key.endswith("_FILE"), f"{name}: {key} holds a secret value"
        url = str((service.get("environment") or {}).get("PREFECT_API_DATABASE_CONNECTION_URL", ""))
        assert not url or "${PREFECT_API_DATABASE_PASSWORD}" in url
    for name in ("prefect-worker", "dask-worker", "review", "dashboard"):
        targets = {s["target"] for s in SERVICES[name]["secrets"]}
        assert targets == {"STORMBORN_S3__ACCESS_KEY_ID", "STORMBORN_S3__SECRET_ACCESS_KEY"}, name
    targets = {s["target"] for s in SERVICES["prefect-server"]["secrets"]}
    assert targets == {"PREFECT_API_DATABASE_PASSWORD"}


def test_published_ports_stay_on_loopback():
    for name, service in SERVICES.items():
        for port in service.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_worker_pool_and_dask_preload_match_the_code():
    from flows.deploy import deployment_spec
    from flows.runtime import dask_task_runner
    from tasks.core.settings import load_settings

    command = SERVICES["prefect-worker"]["command"]
    assert command[command.index("--pool") + 1] == deployment_spec()["work_pool"]["name"]
    assert command[command.index("--type") + 1] == "process"
    assert SERVICES["deploy"]["command"][-1] == deployment_spec()["work_pool"]["name"]
    worker = SERVICES["dask-worker"]["command"]
    preload = [worker[i + 1] for i, arg in enumerate(worker) if arg == "--preload"]
    runner = dask_task_runner(load_settings(dask_address=None))
    assert preload == runner.cluster_kwargs["preload"]
    assert worker[worker.index("--nthreads") + 1] == "1"


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    if shutil.which("docker-compose"):
        return [shutil.which("docker-compose")]
    return None


def test_compose_itself_accepts_the_file(tmp_path):
    command = _compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    text = (INFRA / "compose.yaml").read_text()
    if command[-1].endswith("docker-compose"):  # Compose v1 (Debian's) predates the top-level `name`
        text = "\n".join(line for line in text.splitlines() if not line.startswith("name:"))
    copy = INFRA / ".compose-check.yaml"  # beside the original: relative paths resolve alike
    copy.write_text(text)
    try:
        done = subprocess.run([*command, "-f", str(copy), "config", "--quiet"], capture_output=True, text=True,
                              cwd=INFRA, timeout=60)
    finally:
        copy.unlink()
    assert done.returncode == 0, done.stderr

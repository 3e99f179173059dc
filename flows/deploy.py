"""Register deployments from ``infra/prefect.yaml`` (the single definition of schedules)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PREFECT_YAML = PROJECT_ROOT / "infra" / "prefect.yaml"


def deployment_spec(name: str = "monthly-harvest") -> dict[str, Any]:
    """The named deployment of infra/prefect.yaml."""
    spec = yaml.safe_load(PREFECT_YAML.read_text())
    for deployment in spec["deployments"]:
        if deployment["name"] == name:
            return deployment
    raise KeyError(f"no deployment {name!r} in {PREFECT_YAML}")


def ensure_process_pool(name: str) -> None:
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))
        except ObjectAlreadyExists:
            pass


def deploy_monthly_harvest(work_pool: str | None = None) -> str:
    """Create or update the monthly-harvest deployment on a process work pool; returns its id."""
    from prefect import flow
    from prefect.schedules import Cron

    spec = deployment_spec()
    pool = work_pool or spec["work_pool"]["name"]
    ensure_process_pool(pool)
    source_flow = flow.from_source(source=str(PROJECT_ROOT), entrypoint=spec["entrypoint"])
    schedules = [Cron(s["cron"], timezone=s.get("timezone"), active=s.get("active", True))
                 for s in spec.get("schedules", [])]
    deployment_id = source_flow.deploy(
        name=spec["name"], work_pool_name=pool, schedules=schedules,
        parameters=spec.get("parameters", {}), tags=spec.get("tags", []),
        description=spec.get("description"), build=False, push=False, print_next_steps=False)
    return str(deployment_id)

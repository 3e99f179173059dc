"""The deployment definition loads, names a real flow, and registers with a Prefect API."""

from __future__ import annotations

import importlib

import pytest

from flows.deploy import PROJECT_ROOT, deployment_spec


def test_definition_loads_and_points_at_the_flow():
    spec = deployment_spec("monthly-harvest")
    module_path, attr = spec["entrypoint"].split(":")
    assert (PROJECT_ROOT / module_path).exists()
    module = importlib.import_module(module_path.removesuffix(".py").replace("/", "."))
    flow = getattr(module, attr)
    assert flow.name == "monthly-harvest"
    assert spec["schedules"] == [{"cron": "0 3 1 * *", "timezone": "UTC", "active": True}]
    assert spec["parameters"] == {"source": "live"}
    assert set(spec["parameters"]) <= set(flow.parameters.properties)


def test_previous_month_default():
    from datetime import date

    from flows.harvest import previous_month

    assert previous_month(date(2026, 12, 1)) == (date(2026, 11, 1), date(2026, 11, 30))
    assert previous_month(date(2024, 3, 15)) == (date(2024, 2, 1), date(2024, 2, 29))
    assert previous_month(date(2025, 1, 1)) == (date(2024, 12, 1), date(2024, 12, 31))


@pytest.mark.usefixtures("prefect_api")
def test_deploy_registers_a_monthly_cron_on_a_process_pool():
    from prefect import get_client

    from flows.deploy import deploy_monthly_harvest

    deployment_id = deploy_monthly_harvest("test-process-pool")
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment(deployment_id)
        pool = client.read_work_pool("test-process-pool")
    assert deployment.name == "monthly-harvest" and deployment.work_pool_name == "test-process-pool"
    assert pool.type == "process"
    (schedule,) = deployment.schedules
    assert schedule.schedule.cron == "0 3 1 * *" and schedule.schedule.timezone == "UTC"
    assert deployment.entrypoint == "flows/deployments.py:monthly_harvest"
    # Idempotent: deploying again updates the same deployment.
    assert deploy_monthly_harvest("test-process-pool") == deployment_id


def test_deployed_runs_use_the_dask_task_runner():
    from prefect_dask import DaskTaskRunner

    from flows.deployments import monthly_harvest

    assert isinstance(monthly_harvest.task_runner, DaskTaskRunner)


def test_importing_a_flow_builds_no_task_runner_from_settings():
    """The runner is attached when a flow is run (CLI, tests) or deployed, not at import."""
    from prefect_dask import DaskTaskRunner

    from flows.extract import extract_expressions
    from flows.generate import generate_candidates
    from flows.harvest import monthly_harvest

    for flow in (monthly_harvest, extract_expressions, generate_candidates):
        assert not isinstance(flow.task_runner, DaskTaskRunner)

"""Entrypoints of deployed flows (``infra/prefect.yaml``): each flow with the Dask task runner.

A Prefect worker imports this module only when it runs a deployed flow, so the runner is built
then, from the worker's settings (``STORMBORN_*``, ``stormborn.toml``). Importing the flows
themselves builds nothing: the CLI and tests attach their own runner with ``with_options``.
"""

from __future__ import annotations

from flows.harvest import monthly_harvest as _monthly_harvest
from flows.runtime import dask_task_runner
from tasks.core.settings import load_settings

monthly_harvest = _monthly_harvest.with_options(task_runner=dask_task_runner(load_settings()))

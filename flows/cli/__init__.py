"""The ``stormborn`` command: one Typer app, its commands grouped by what they serve.

- ``pipeline``: harvest, extract, generate, refine, demo (run the flows);
- ``catalog``: status, sql, config, deploy (analysts and operators);
- ``curate``: review …, select, export (the human in the loop).
- ``evaluate``: evaluate, evaluate calibrate, audit (closing the loop).
- ``dashboard``: the analyst dashboard.
"""

import os

# Before Prefect or Great Expectations are imported by any command: no telemetry from here.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from flows.cli.common import app  # noqa: E402

# Importing a module registers its commands; `stormborn --help` lists them in this order.
from flows.cli import pipeline  # noqa: E402,F401,I001  # isort: skip
from flows.cli import catalog  # noqa: E402,F401,I001  # isort: skip
from flows.cli import curate  # noqa: E402,F401,I001  # isort: skip
from flows.cli import evaluate  # noqa: E402,F401,I001  # isort: skip
from flows.cli import stack  # noqa: E402,F401,I001  # isort: skip
from flows.cli import dashboard  # noqa: E402,F401,I001  # isort: skip

__all__ = ["app"]

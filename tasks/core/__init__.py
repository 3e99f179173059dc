"""Shared ground every stage stands on: ``records`` (one pydantic model per table and the allowed
values), ``settings`` (one Settings object) and ``handoff`` (how stage work becomes Prefect
tasks and comes back). Imports nothing else of ``tasks``."""

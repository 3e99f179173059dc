"""THE Great Expectations boundary: run a stage's suite on its batch and record the outcome.

Only this module and ``expectations/`` import ``great_expectations`` (a slow import, ~10 s, so
it happens on first use). One ephemeral GX context per process holds the suites and a Data Docs
site in a local folder; ``publish_data_docs`` copies that site into the lake.

Input: a stage name and its batch as pydantic records.
Output: ``StageValidation`` with the rows that passed, ``Quarantine`` rows (one per failed
row-level expectation, naming it) and one ``Validation`` row per expectation.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from tasks.models import Quarantine, Record, Validation


@dataclass
class StageValidation:
    passed: list[Record]
    quarantined: list[Quarantine] = field(default_factory=list)
    validations: list[Validation] = field(default_factory=list)
    success: bool = True


@dataclass
class _Context:
    gx_context: Any
    docs_dir: str
    suites: dict[str, Any] = field(default_factory=dict)


_CONTEXT_LOCK = threading.Lock()


def _context() -> _Context:
    with _CONTEXT_LOCK:  # the warm-up thread and a task may ask at once: build one context
        return _build_context()


def dask_setup(worker: Any = None) -> None:
    """Dask preload hook (``flows/runtime.py``): import Great Expectations and build the context
    in a background thread as each worker starts, so the first validation on it does not wait
    ~7 s for the import (it would otherwise land in the middle of the first task)."""
    threading.Thread(target=_context, name="gx-warm-up", daemon=True).start()


@lru_cache(maxsize=1)
def _build_context() -> _Context:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    docs_dir = tempfile.mkdtemp(prefix="stormborn-data-docs-")
    ctx.add_data_docs_site(site_name="lake", site_config={
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": docs_dir},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    ctx.data_sources.add_pandas("stormborn")
    return _Context(ctx, docs_dir)


def _checkpoint(stage: str):
    import great_expectations as gx

    from expectations import load

    state = _context()
    if stage not in state.suites:
        ctx = state.gx_context
        module = load(stage)
        suite = ctx.suites.add(gx.ExpectationSuite(name=stage, expectations=module.expectations()))
        asset = ctx.data_sources.get("stormborn").add_dataframe_asset(stage)
        batch = asset.add_batch_definition_whole_dataframe(f"{stage}-batch")
        definition = ctx.validation_definitions.add(
            gx.ValidationDefinition(name=stage, data=batch, suite=suite))
        # Rebuilding Data Docs costs ~0.5 s per run; suites that run once per worker task on the
        # hot path (the candidate stages) set DATA_DOCS = False and are reported in `validations`.
        actions = [gx.checkpoint.UpdateDataDocsAction(name="data-docs", site_names=["lake"])] \
            if getattr(module, "DATA_DOCS", True) else []
        state.suites[stage] = ctx.checkpoints.add(gx.Checkpoint(
            name=f"{stage}-checkpoint", validation_definitions=[definition], actions=actions,
            result_format={"result_format": "COMPLETE"}))
    return state.suites[stage]


def _frame(records: list[Record]) -> pd.DataFrame:
    rows = [r.model_dump(mode="json") for r in records]
    frame = pd.DataFrame(rows)
    # GX checks values; lists and dicts are stored as JSON text, as in the lake.
    for column in frame.columns:
        if frame[column].map(lambda v: isinstance(v, (list, dict))).any():
            frame[column] = frame[column].map(json.dumps)
    return frame


def validate_stage(stage: str, records: list[Record], run_id: str) -> StageValidation:
    """Validate one stage's batch; rows failing a row-level expectation are quarantined."""
    from expectations import load

    if not records:
        return StageValidation(passed=[])
    entity_column = load(stage).ENTITY
    frame = _frame(records)
    result = _checkpoint(stage).run(batch_parameters={"dataframe": frame})
    (suite_result,) = result.run_results.values()
    failed_rows: dict[int, list[tuple[str, str | None]]] = {}
    validations = []
    for er in suite_result.results:
        cfg = er.expectation_config
        column = cfg.kwargs.get("column")
        res = er.result or {}
        validations.append(Validation(
            run_id=run_id, stage=stage, suite=stage, expectation=cfg.type, column=column or "",
            success=bool(er.success), element_count=int(res.get("element_count", len(frame)) or 0),
            unexpected_count=int(res.get("unexpected_count", 0) or 0)))
        for index in res.get("unexpected_index_list") or []:
            failed_rows.setdefault(int(index), []).append((cfg.type, column))
    quarantined = [
        Quarantine(run_id=run_id, stage=stage, entity_id=str(frame.iloc[i][entity_column]),
                   expectation=expectation, column=column,
                   row_json=frame.iloc[i].to_json(default_handler=str))
        for i, failures in sorted(failed_rows.items()) for expectation, column in failures
    ]
    passed = [r for i, r in enumerate(records) if i not in failed_rows]
    return StageValidation(passed=passed, quarantined=quarantined, validations=validations,
                           success=bool(suite_result.success))


def batch_fingerprint(stage: str, records: list[Record]) -> str:
    """Identifies a batch and the suite that checks it, ignoring run ids and timestamps, so an
    unchanged rerun can reuse the earlier outcome instead of running Great Expectations again."""
    suite_source = Path(importlib.util.find_spec(f"expectations.{stage}").origin).read_bytes()
    digest = hashlib.sha256(suite_source)
    for record in records:
        volatile = {"run_id", getattr(record, "TIME", "")}
        digest.update(record.model_dump_json(exclude=volatile).encode())
    return digest.hexdigest()


def outcome_to_json(stage: str, outcome: StageValidation, records: list[Record]) -> dict[str, Any]:
    index = {id(r): i for i, r in enumerate(records)}
    passed = {index[id(r)] for r in outcome.passed}
    return {
        "stage": stage,
        "success": outcome.success,
        "failed_rows": sorted(set(range(len(records))) - passed),
        "quarantined": [q.model_dump(mode="json", include={"entity_id", "expectation", "column", "row_json"})
                        for q in outcome.quarantined],
        "validations": [v.model_dump(mode="json", exclude={"run_id", "validated_at"})
                        for v in outcome.validations],
    }


def outcome_from_json(data: dict[str, Any], records: list[Record], run_id: str) -> StageValidation:
    failed = set(data["failed_rows"])
    return StageValidation(
        passed=[r for i, r in enumerate(records) if i not in failed],
        quarantined=[Quarantine(run_id=run_id, stage=data["stage"], **q) for q in data["quarantined"]],
        validations=[Validation(run_id=run_id, **v) for v in data["validations"]],
        success=data["success"])


def data_docs_dir() -> str | None:
    """The local folder of this process's Data Docs site (None if nothing was validated)."""
    return _context().docs_dir if _build_context.cache_info().currsize else None

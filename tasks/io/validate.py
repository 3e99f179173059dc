"""THE Great Expectations boundary: the gate every stage's rows pass before they land.

Only this module and ``expectations/`` import ``great_expectations`` (a slow import, ~7 s, so
it happens on first use, or in the background as a Dask worker starts). One ephemeral GX context
per process holds the suites; checkpoints run no actions (no Data Docs on the hot path).
``render_data_docs`` builds the Data Docs site of every suite and of results rebuilt from
``validations`` rows, once per run, in the flow process (``tasks.io.data_docs``).

Input: a stage name and its batch as pydantic records.
Output: ``StageValidation`` with the rows that passed, ``Quarantine`` rows (one per failed
row-level expectation, naming it) and one ``Validation`` row per expectation; ``gate`` also lands
the quarantine and validations rows, and ``land_validated`` lands the passing rows too, with a
``failed_expectation`` reject per quarantined row. A batch identical to one validated before
(same rows, same suite source) reuses the remembered outcome (``tasks.io.memo``).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import pandas as pd

from tasks.core.handoff import stage_task
from tasks.core.records import Quarantine, Record, Reject, Validation
from tasks.core.settings import Settings
from tasks.io.memo import Memo, fingerprint
from tasks.io.storage import Lake


@dataclass
class StageValidation:
    passed: list[Record]
    quarantined: list[Quarantine] = field(default_factory=list)
    validations: list[Validation] = field(default_factory=list)
    success: bool = True


@dataclass
class _Context:
    gx_context: Any
    suites: dict[str, Any] = field(default_factory=dict)


_CONTEXT_LOCK = threading.Lock()


def _context() -> _Context:
    with _CONTEXT_LOCK:  # the warm-up thread and a task may ask at once: build one context
        return _build_context()


def warm_up() -> None:
    """Import Great Expectations and build this process's context now (a no-op when warm)."""
    _context()


def dask_setup(worker: Any = None) -> None:
    """Dask preload hook (``flows/runtime.py``): import Great Expectations and build the context
    in a background thread as each worker starts, so the first validation on it does not wait
    ~7 s for the import (it would otherwise land in the middle of the first task)."""
    threading.Thread(target=_context, name="gx-warm-up", daemon=True).start()


def _ephemeral_context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx


@lru_cache(maxsize=1)
def _build_context() -> _Context:
    ctx = _ephemeral_context()
    ctx.data_sources.add_pandas("stormborn")
    return _Context(ctx)


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
        # No actions: Data Docs are built once per run from the `validations` rows
        # (`render_data_docs`), not per batch in whichever process validated it.
        state.suites[stage] = ctx.checkpoints.add(gx.Checkpoint(
            name=f"{stage}-checkpoint", validation_definitions=[definition], actions=[],
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


# -- Data Docs ------------------------------------------------------------------------------------

@dataclass
class SuiteRun:
    """One stage's results in one run, rebuilt from its ``validations`` rows (summed over the
    run's batches): each row has ``expectation``, ``column``, ``success``, ``element_count`` and
    ``unexpected_count``."""

    stage: str
    run_id: str
    run_time: datetime
    batches: int
    rows: list[dict[str, Any]]


def _suite_result(suite: Any, run: SuiteRun) -> tuple[Any, Any]:
    """An ``ExpectationSuiteValidationResult`` and its store key, from a run's rows: each row is
    matched to the suite's expectations of the same type and column (``validations`` is keyed on
    both, so conditional variants of one expectation share a row)."""
    import great_expectations as gx
    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    by_key = {(r["expectation"], r["column"] or ""): r for r in run.rows}
    results = []
    for expectation in suite.expectations:
        config = expectation.configuration
        row = by_key.get((config.type, config.kwargs.get("column") or ""))
        if row is None:  # not evaluated in this run (e.g. added to the suite since)
            continue
        elements, unexpected = int(row["element_count"]), int(row["unexpected_count"])
        percent = 100.0 * unexpected / elements if elements else 0.0
        results.append(ExpectationValidationResult(
            success=bool(row["success"]), expectation_config=config,
            result={"element_count": elements, "unexpected_count": unexpected, "unexpected_percent": percent,
                    "unexpected_percent_total": percent, "partial_unexpected_list": []}))
    passed = sum(r.success for r in results)
    run_identifier = RunIdentifier(run_name=run.run_id, run_time=run.run_time)
    result = ExpectationSuiteValidationResult(
        success=passed == len(results), results=results, suite_name=suite.name,
        statistics={"evaluated_expectations": len(results), "successful_expectations": passed,
                    "unsuccessful_expectations": len(results) - passed,
                    "success_percent": 100.0 * passed / len(results) if results else 100.0},
        meta={"run_id": run_identifier, "validation_time": run.run_time.isoformat(),
              "great_expectations_version": gx.__version__,
              "active_batch_definition": {"datasource_name": "stormborn", "data_asset_name": run.stage,
                                          "batch_definition_name": f"{run.stage}-batch"},
              "batch_spec": {"data_asset_name": run.stage, "batches_validated": run.batches,
                             "source": "validations rows of the lake, summed over the run's batches"}})
    key = ValidationResultIdentifier(expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite.name),
                                     run_id=run_identifier, batch_identifier=run.stage)
    return key, result


def render_data_docs(runs: list[SuiteRun], site_dir: str) -> None:
    """Build the Data Docs site into ``site_dir``: a page per stage suite (every module of
    ``expectations/``), a page per ``SuiteRun`` and the index. A context of its own, in memory."""
    import great_expectations as gx

    from expectations import SUITES, load

    ctx = _ephemeral_context()
    ctx.add_data_docs_site(site_name="stormborn", site_config={
        "class_name": "SiteBuilder", "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": site_dir},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    suites = {stage: ctx.suites.add(gx.ExpectationSuite(name=stage, expectations=load(stage).expectations()))
              for stage in SUITES}
    for run in runs:
        if run.stage in suites:
            ctx.validation_results_store.set(*_suite_result(suites[run.stage], run))
    ctx.build_data_docs(site_names=["stormborn"])


# -- the gate -------------------------------------------------------------------------------------

def validate_once(lake: Lake, stage: str, records: list[Record], run_id: str) -> StageValidation:
    """Run the stage's suite, or reuse the recorded outcome of an identical batch and suite."""
    if not records:
        return validate_stage(stage, records, run_id)
    batch = fingerprint(stage, records)
    memo = Memo(lake, f"validated/{stage}", code=(f"expectations.{stage}", "tasks.core.records"))
    seen = memo.recall(batch, batch)
    if seen is not None:
        return outcome_from_json(seen, records, run_id)
    outcome = validate_stage(stage, records, run_id)
    memo.remember(batch, outcome_to_json(stage, outcome, records), batch)
    return outcome


def gate(lake: Lake, stage: str, records: list[Record], run_id: str, part: str,
         per_run: bool = True) -> StageValidation:
    """Validate a batch and land its ``quarantine`` and ``validations`` rows under ``part``;
    the caller lands the passing rows its own way (per paper, after more work…).

    ``per_run``: each run keeps its own quarantine file (per-paper stages, whose ``part`` is a
    batch's first paper and would otherwise overwrite another run's rows); ``False`` when
    ``part`` names the whole data set, as the harvest's scope does, so a rerun replaces it."""
    outcome = validate_once(lake, stage, records, run_id)
    lake.write_table(Quarantine, outcome.quarantined, f"{stage}-{run_id}-{part}" if per_run else f"{stage}-{part}")
    lake.write_table(Validation, [v.model_copy(update={"batch": part}) for v in outcome.validations],
                     f"{run_id}-{stage}-{part}")
    return outcome


@stage_task
def land_validated(settings: Settings, stage: str, records: list[Record], part: str, run_id: str,
                   land: bool = True) -> tuple[list[Record], int]:
    """Validate a stage's batch; land the passing rows under ``part`` (unless ``land`` is False:
    the caller lands them after more work), quarantine the rest with a ``failed_expectation``
    reject each. Returns the passing rows and the number of quarantined entities."""
    lake = Lake.from_settings(settings)
    outcome = gate(lake, stage, records, run_id, part, per_run=False)
    if records and land:
        lake.write_table(type(records[0]), outcome.passed, part)
    rejects = [Reject(run_id=run_id, stage=stage, entity_id=q.entity_id, reason="failed_expectation",
                      detail=f"{q.expectation}({q.column})") for q in outcome.quarantined]
    lake.write_table(Reject, rejects, f"{stage}-validation-{part}")
    return outcome.passed, len({q.entity_id for q in outcome.quarantined})

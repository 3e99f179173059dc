"""The run lifecycle: every flow starts, records, fails, finishes and publishes the same way.

A flow body is a table of contents::

    with run_lifecycle(settings, "extract-expressions") as run:
        run.add(extract_stage(settings, run.run_id, paper_ids))
    return run.record

- start: a ``runs`` row with status ``running`` (and the Prefect flow run id);
- ``run.add(stage_result)``: the stage's counts go onto the run record, its rejects and
  quarantined rows are added up, the record is written and the catalog republished, so analysts
  see each stage land while the run goes on;
- any exception: the record is written with status ``failed``, and the exception propagates;
- finish: status ``completed`` (``stopped`` when a stage stopped early, e.g. the LLM budget ran
  out), the Data Docs of every suite with this run's results built once into the lake's
  ``data_docs/`` (``tasks.io.data_docs``), the wall time per stage, the record written, and the
  run's Prefect artifacts (funnel, rejects by reason, summary linking to the Data Docs).

Stages return a ``StageResult``: the counts they produced in the run record's terms, their
rejects by ``stage/reason``, quarantined rows, seconds, and what the next stage needs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tasks.core.handoff import stage_task, timed
from tasks.core.records import Reject, Run, stable_id
from tasks.core.settings import Settings
from tasks.io.storage import Lake, publish_catalog

FUNNEL = ("listed", "matched", "rating_pass", "documents_fetched", "keyword_pass", "papers_extracted")
SUMMARY = ("listed", "matched", "rating_pass", "documents_fetched", "keyword_pass", "papers_extracted",
           "expressions", "expression_edges", "candidates", "candidates_kept",
           "candidates_drafted", "llm_calls", "cost_usd",
           "rejected", "quarantined")


@dataclass
class StageResult:
    """What one stage did, in the terms of the run record."""

    stage: str
    counts: dict[str, int | float] = field(default_factory=dict)
    """``Run`` fields this stage sets (``listed``, ``expressions``…); ``cost_usd`` adds up."""
    rejects: Counter = field(default_factory=Counter)
    """Rows this stage wrote to ``rejects``, by ``stage/reason``."""
    outcomes: Counter = field(default_factory=Counter)
    """Other outcomes shown beside the rejects in the run's artifacts, by ``stage/reason``
    (candidates by status and reason: they are rows of ``candidates``, not of ``rejects``)."""
    quarantined: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time of the stage's parts (``listing``, ``documents``, ``validation``…)."""
    stopped: bool = False
    """The stage stopped early on purpose (the LLM budget ran out); a rerun continues it."""
    paper_ids: list[str] = field(default_factory=list)
    """The papers this stage passes on to the next (the harvest's accepted papers)."""


@stage_task
def record_run(settings: Settings, run: Run) -> Run:
    Lake.from_settings(settings).write_table(Run, [run], run.run_id)
    return run


@stage_task
def land_rejects(settings: Settings, rejects: list[Reject], scope: str) -> Counter:
    """Write rejects under ``scope`` and return their counts by ``stage/reason``."""
    Lake.from_settings(settings).write_table(Reject, rejects, scope)
    return Counter(f"{r.stage}/{r.reason}" for r in rejects)


@stage_task
def publish(settings: Settings, run_id: str) -> str:
    """Refresh the DuckDB catalog (atomic swap)."""
    return publish_catalog(settings)


@stage_task
def publish_data_docs(settings: Settings, run_id: str) -> str | None:
    """Build the Data Docs of every suite with the run's results into the lake's ``data_docs/``;
    returns the location of its ``index.html``. Once per run, at its finish (the GX import alone
    takes seconds); a failure is logged and never fails the run whose data already landed."""
    from prefect import get_run_logger

    from tasks.io.data_docs import build_data_docs

    try:
        return build_data_docs(settings, run_id)
    except Exception:  # any failure of GX or the lake: the docs are a view, the run's data is in
        get_run_logger().warning("Data Docs of run %s were not built", run_id, exc_info=True)
        return None


def compact_llm_cache(settings: Settings) -> None:
    """Fold the LLM cache's closed segments into its shards (``tasks.io.llm.cache``), at the start
    and the finish of every run: the segments every gateway loads stay few. A failure is logged:
    the cache is only ever slower for it, never wrong."""
    import logging

    from tasks.io.llm.cache import compact

    try:
        counts = compact(Lake.from_settings(settings))
    except Exception:  # any failure of the lake: the segments stay and the next run folds them
        logging.getLogger(__name__).warning("the LLM cache was not compacted", exc_info=True)
        return
    if counts["entries"]:
        _progress("LLM cache: %d answers from %d segments and %d old entries folded into shards",
                  counts["entries"], counts["segments"], counts["legacy"])


def _progress(message: str, *args: Any) -> None:
    """A progress line in the flow run's log (the Prefect UI, and the terminal of the CLI)."""
    from prefect import get_run_logger
    from prefect.exceptions import MissingContextError

    try:
        get_run_logger().info(message, *args)
    except MissingContextError:  # a stage run outside a flow (tests, benchmarks)
        pass


class RunLedger:
    """The run record of one flow run, kept up to date as stages finish."""

    def __init__(self, settings: Settings, run: Run, artifact_prefix: str):
        self.settings = settings
        self.record = run
        self.rejects: Counter = Counter()
        self.reasons: Counter = Counter()
        self.stopped = False
        self.catalog = ""
        self.data_docs: str | None = None
        self._prefix = artifact_prefix
        self._seconds: dict[str, float] = {}

    @property
    def run_id(self) -> str:
        return self.record.run_id

    def add(self, result: StageResult) -> StageResult:
        """Put a finished stage on the record, write it and republish the catalog."""
        counts = dict(result.counts)
        counts["cost_usd"] = round(self.record.cost_usd + counts.get("cost_usd", 0.0), 6)
        counts["llm_calls"] = self.record.llm_calls + counts.get("llm_calls", 0)  # generation and refine both call
        self.rejects += result.rejects
        self.reasons += result.rejects + result.outcomes
        self.stopped = self.stopped or result.stopped
        self.record = self.record.model_copy(update={
            **counts, "rejected": self.record.rejected + sum(result.rejects.values()),
            "quarantined": self.record.quarantined + result.quarantined,
            "stage_seconds": {**self.record.stage_seconds, **result.seconds}})
        with timed(self._seconds, "publish"):
            record_run(self.settings, self.record)
            self.catalog = publish(self.settings, self.run_id)
        _progress("%s done in %.1f s: %s", result.stage, sum(result.seconds.values()),
                  ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in result.counts.items() if k != "cost_usd")
                  or "nothing to do")
        return result

    def _finish(self) -> None:
        with timed(self._seconds, "llm_cache"):
            compact_llm_cache(self.settings)
        with timed(self._seconds, "data_docs"):
            self.data_docs = publish_data_docs(self.settings, self.run_id)
        self.record = self.record.model_copy(update={
            "status": "stopped" if self.stopped else "completed", "finished_at": datetime.now(UTC),
            "stage_seconds": {**self.record.stage_seconds, **self._seconds}})
        record_run(self.settings, self.record)
        _publish_artifacts(self.record, self.reasons, self.catalog, self._prefix, data_docs=self.data_docs,
                           dashboard=dashboard_url(self.settings))


@contextmanager
def run_lifecycle(settings: Settings, flow: str, *, source: str = "lake", since: date | None = None,
                  until: date | None = None, scope: str | None = None,
                  artifact_prefix: str | None = None) -> Iterator[RunLedger]:
    """Start a run, hand its ledger to the flow body, and finish it, or mark it ``failed``."""
    from prefect.runtime import flow_run

    run_id = f"{scope or flow.split('-')[0]}-{stable_id(datetime.now(UTC).isoformat())[:8]}"
    run = Run(run_id=run_id, flow=flow, source=source, since=since, until=until, lake=settings.lake_url,
              prefect_flow_run_id=str(flow_run.get_id() or ""))
    ledger = RunLedger(settings, record_run(settings, run), artifact_prefix or flow)
    compact_llm_cache(settings)  # what a killed run left, before any gateway loads it
    try:
        yield ledger
    except BaseException:
        record_run(settings, ledger.record.model_copy(update={"status": "failed", "finished_at": datetime.now(UTC)}))
        raise
    ledger._finish()


def dashboard_url(settings: Settings) -> str:
    """Where ``stormborn dashboard`` listens (its settings, or its defaults)."""
    dashboard = getattr(settings, "dashboard", None)
    host, port = getattr(dashboard, "host", "127.0.0.1"), getattr(dashboard, "port", 8850)
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def _docs_location(location: str) -> str:
    """A lake location fit for an artifact: no user or password part (credentials live in their
    own settings, but a URL is checked anyway)."""
    parts = urlsplit(location)
    if parts.scheme and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return location


def _publish_artifacts(run: Run, by_reason: Counter, catalog: str, prefix: str, data_docs: str | None = None,
                       dashboard: str = "http://127.0.0.1:8850") -> None:
    """The run's funnel, rejects by reason and summary (with where its Data Docs are) in the Prefect UI."""
    from prefect import get_run_logger
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    funnel = [{"stage": s, "papers": getattr(run, s)} for s in FUNNEL]
    create_table_artifact(key=f"{prefix}-funnel", table=funnel, description=f"Funnel of run {run.run_id}")
    reasons: list[dict[str, Any]] = [{"stage": k.split("/")[0], "reason": k.split("/", 1)[1], "count": n}
                                     for k, n in by_reason.most_common()]
    create_table_artifact(key=f"{prefix}-rejects", table=reasons or [{"stage": "-", "reason": "-", "count": 0}],
                          description=f"Rejects by reason, run {run.run_id}")
    window = f"{run.since} → {run.until} " if run.since else ""
    create_markdown_artifact(key=f"{prefix}-summary", markdown=(
        f"# {run.flow} {window}({run.source}, {run.status})\n\n"
        "| " + " | ".join(c.replace("_", " ") for c in SUMMARY) + " |\n"
        "|" + "---|" * len(SUMMARY) + "\n"
        "| " + " | ".join(f"{run.cost_usd:.4f}" if c == "cost_usd" else str(getattr(run, c)) for c in SUMMARY)
        + " |\n\n"
        f"Lake: `{run.lake}` · catalog: `{catalog}`\n\n"
        + (f"Data Docs (every stage's suite, this run's validation results): `{_docs_location(data_docs)}`; "
           f"`stormborn dashboard` serves them at {dashboard}/data-docs/index.html\n" if data_docs else
           "Data Docs were not built for this run (see the run's log).\n")))
    get_run_logger().info("run %s: %s", run.run_id, {f["stage"]: f["papers"] for f in funnel})

"""``extract-expressions`` on its own, over what a harvest left in the catalog."""

from tasks.io.storage import query
from tests.flows.test_harvest import run_flow


def run_extract(settings, **kwargs):
    from flows.extract import extract_expressions
    from flows.runtime import dask_task_runner, prefect_api

    with prefect_api(settings):
        return extract_expressions.with_options(task_runner=dask_task_runner(settings))(settings=settings, **kwargs)


def test_extract_flow_skips_unchanged_papers_and_forces_one(settings):
    from tasks.harvest.sources.snapshot import SnapshotSource

    since, until = SnapshotSource(settings).default_window
    assert run_flow(settings, since=since, until=until, source="snapshot").papers_extracted == 2
    before = query(settings, "SELECT count(*) AS n FROM expressions").n[0]

    unchanged = run_extract(settings)
    assert (unchanged.status, unchanged.papers_extracted) == ("completed", 0)
    forced = run_extract(settings, paper_ids=["arxiv:1707.08043"], force=True)
    assert (forced.papers_extracted, forced.expressions, forced.expression_edges) == (1, 24, 8)
    assert query(settings, "SELECT count(*) AS n FROM expressions").n[0] == before  # replaced, not added
    runs = query(settings, "SELECT flow, papers_extracted FROM run_funnel WHERE flow = 'extract-expressions' "
                           "ORDER BY started_at")
    assert list(runs.papers_extracted) == [0, 1]

"""The monthly-harvest flow end to end under a real Prefect API, on Dask process workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.io.storage import Lake, query
from tests.factories import image_only_pdf, paper_pdf, pdf_bytes, tarball, tex_project

pytestmark = pytest.mark.usefixtures("prefect_api")


def run_flow(settings, **kwargs):
    from flows.harvest import monthly_harvest
    from flows.runtime import dask_task_runner, prefect_api

    with prefect_api(settings):
        flow = monthly_harvest.with_options(task_runner=dask_task_runner(settings))
        return flow(settings=settings, **kwargs)


def table_counts(settings):
    return {t: int(query(settings, f"SELECT count(*) AS n FROM {t}").n[0])
            for t in ("papers", "reviews", "paper_filters", "documents", "rejects", "extractions",
                      "sections", "expressions", "expression_edges")}


def fetch_states(settings):
    lake = Lake.from_settings(settings)
    return {p: lake.fs.cat_file(p) for p in lake.fs.glob(lake.path("state", "fetch", "*", "*.json"))}


def test_demo_snapshot_end_to_end_and_idempotent_rerun(settings):
    from tasks.harvest.sources.snapshot import SnapshotSource

    since, until = SnapshotSource(settings).default_window
    first = run_flow(settings, since=since, until=until, source="snapshot")
    assert first.status == "completed"
    assert (first.listed, first.matched, first.rating_pass, first.documents_fetched, first.keyword_pass) == (5, 4, 3, 3, 2)
    # the LaTeX paper's 8 edges, and the PDF paper's 2 from references by number ("Lemma 1", "(9)")
    assert first.papers_extracted == 2 and first.expressions > 0 and first.expression_edges == 10
    math = query(settings, "SELECT paper_id, extractor, statements, proofs, numbered_equations FROM paper_math "
                           "ORDER BY paper_id")
    assert [tuple(r) for r in math.itertuples(index=False)] == [
        ("arxiv:1707.08043", "latex", 16, 2, 0), ("arxiv:2405.90001", "pdf", 3, 3, 36)]
    deps = query(settings, "SELECT from_label, to_label, via FROM expression_dependencies "
                           "WHERE from_label = 'Tma hochster'")
    assert [tuple(r) for r in deps.itertuples(index=False)] == [("Tma hochster", "Lema-construccion", "proof")]
    assert query(settings, "SELECT count(*) AS n FROM statements_with_proofs WHERE proof_start IS NOT NULL").n[0] == 2
    # no LLM endpoint: the two proved theorems of the LaTeX paper are drafted by rules, verbatim;
    # the PDF paper's three proved statements are targets too, waiting for an LLM
    assert (first.candidates, first.candidates_drafted, first.llm_calls) == (5, 2, 0)
    waiting = query(settings, "SELECT paper_id, status, reason FROM candidates WHERE status <> 'drafted'")
    assert set(map(tuple, waiting.itertuples(index=False))) == {("arxiv:2405.90001", "pending", "awaiting_llm")}
    problems = query(settings, "SELECT status, drafted_by, grounded_score, question FROM derivation_problems")
    assert set(problems.status) == {"drafted"} and set(problems.grounded_score) == {100.0}
    assert all(q.startswith("Prove the following") for q in problems.question)

    accepted = query(settings, "SELECT paper_id, keyword_text_source FROM accepted_papers ORDER BY paper_id")
    assert list(accepted.paper_id) == ["arxiv:1707.08043", "arxiv:2405.90001"]
    assert list(accepted.keyword_text_source) == ["latex", "pdf"]
    reasons = query(settings, "SELECT stage, reason, n FROM rejects_by_reason")
    got = {(r.stage, r.reason): r.n for r in reasons.itertuples()}
    assert got == {("documents", "not_a_pdf"): 1, ("documents", "pdf_only_source"): 1,
                   ("documents", "not_found"): 1, ("paper_filters", "no_openreview_match"): 1,
                   ("paper_filters", "rating_not_above_weak_accept"): 1,
                   ("paper_filters", "too_few_derivation_keywords"): 1,
                   ("reviews", "unparseable_rating"): 1}
    filt = query(settings, "SELECT ratings, rating_mean, rating_threshold, keyword_hits FROM paper_filters "
                           "WHERE paper_id = 'arxiv:1707.08043'").iloc[0]
    assert list(filt.ratings) == [8.0, 6.0, 8.0] and filt.rating_threshold == 6.0
    assert json.loads(filt.keyword_hits)["theorem"] > 0
    licences = query(settings, "SELECT paper_id, license FROM papers ORDER BY paper_id")
    assert dict(zip(licences.paper_id, licences.license))["arxiv:2405.90004"] == "unknown"
    assert query(settings, "SELECT count(*) AS n FROM validations").n[0] > 20
    assert (Path(settings.lake_url) / "data_docs" / "index.html").exists()

    counts, states = table_counts(settings), fetch_states(settings)
    second = run_flow(settings, since=since, until=until, source="snapshot")
    assert second.run_id != first.run_id and second.keyword_pass == 2
    assert second.papers_extracted == 0  # same documents, same extractor: nothing extracted again
    assert table_counts(settings) == counts  # no duplicate rows
    assert fetch_states(settings) == states  # nothing fetched again
    assert query(settings, "SELECT count(*) AS n FROM runs WHERE status = 'completed'").n[0] == 2

    from prefect import get_client

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts()
    keys = {a.key for a in artifacts}
    assert {"harvest-funnel", "harvest-rejects", "harvest-summary", "extraction-summary"} <= keys
    funnel = next(a for a in artifacts if a.key == "harvest-funnel")
    assert "keyword_pass" in str(funnel.data)


def test_local_folder_with_bad_inputs(settings, tmp_path):
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "good.pdf").write_bytes(paper_pdf())
    (folder / "withsource.pdf").write_bytes(paper_pdf())
    (folder / "withsource.tar.gz").write_bytes(tarball(tex_project()))
    (folder / "encrypted.pdf").write_bytes(pdf_bytes(["secret " * 300], "pw"))
    (folder / "scan.pdf").write_bytes(image_only_pdf())
    (folder / "html.pdf").write_bytes(b"<!DOCTYPE html><html>Error 403</html>")
    (folder / "empty.pdf").write_bytes(b"")
    (folder / "truncated.pdf").write_bytes(paper_pdf()[:200])
    (folder / "junk.tar.gz").write_bytes(b"\x1f\x8b\x08 not really gzip")
    run = run_flow(settings, source="local", path=str(folder), since=None, until=None)
    assert run.status == "completed" and run.listed == 8 and run.rating_pass == 8
    assert run.keyword_pass == 2
    docs = query(settings, "SELECT paper_id, kind, parse_status, reason FROM documents")
    reasons = {(r.paper_id, r.kind): r.reason for r in docs.itertuples()}
    assert reasons[("local:encrypted", "pdf")] == "encrypted_pdf"
    assert reasons[("local:scan", "pdf")] == "image_only_pdf"
    assert reasons[("local:html", "pdf")] == "not_a_pdf"
    assert reasons[("local:empty", "pdf")] == "empty_document"
    assert reasons[("local:junk", "latex")] == "corrupt_archive"
    assert reasons[("local:truncated", "pdf")] in {"corrupt_pdf", "no_pages", "no_text_layer"}
    skipped = query(settings, "SELECT DISTINCT rating_rule FROM paper_filters")
    assert list(skipped.rating_rule) == ["skipped"]
    # Every paper that did not pass has a reason, counted.
    assert query(settings, "SELECT count(*) AS n FROM paper_filters WHERE NOT passed AND reason IS NULL").n[0] == 0

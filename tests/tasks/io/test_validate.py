from tasks.core.records import Document, Paper, PaperFilter
from tasks.io.validate import _checkpoint, validate_stage


def test_failing_rows_are_quarantined_with_the_expectation_that_failed():
    papers = [Paper(paper_id="arxiv:1", source="arxiv", title="Good"),
              Paper(paper_id="not an id", source="arxiv", title="Bad id"),
              Paper(paper_id="arxiv:3", source="arxiv", title="", match_score=250.0)]
    outcome = validate_stage("papers", papers, "run-1")
    assert [p.paper_id for p in outcome.passed] == ["arxiv:1"]
    failures = {(q.entity_id, q.expectation, q.column) for q in outcome.quarantined}
    assert ("not an id", "expect_column_values_to_match_regex", "paper_id") in failures
    assert ("arxiv:3", "expect_column_value_lengths_to_be_between", "title") in failures
    assert ("arxiv:3", "expect_column_values_to_be_between", "match_score") in failures
    assert not outcome.success
    assert all(v.run_id == "run-1" and v.stage == "papers" for v in outcome.validations)
    assert any(v.expectation == "expect_column_values_to_be_unique" and v.success for v in outcome.validations)


def test_conditional_expectations_on_documents_and_filters():
    docs = [Document(paper_id="arxiv:1", kind="pdf", parse_status="rejected", reason=None),
            Document(paper_id="arxiv:2", kind="pdf", parse_status="rejected", reason="Not Snake"),
            Document(paper_id="arxiv:3", kind="pdf", parse_status="ok", sha256="0" * 64, chars=10, pages=1)]
    outcome = validate_stage("documents", docs, "r")
    assert [d.paper_id for d in outcome.passed] == ["arxiv:3"]
    filters = [PaperFilter(paper_id="arxiv:1", rating_rule="fail", passed=False, reason=None)]
    assert validate_stage("paper_filters", filters, "r").passed == []


def test_checkpoints_build_no_data_docs_on_the_hot_path():
    validate_stage("reviews", [], "r")  # empty batches validate trivially
    validate_stage("papers", [Paper(paper_id="arxiv:9", source="arxiv", title="t")], "r")
    assert _checkpoint("papers").actions == []  # Data Docs: once per run (tests/tasks/io/test_data_docs.py)


def test_outcome_round_trip_for_unchanged_reruns():
    from tasks.io.memo import fingerprint
    from tasks.io.validate import outcome_from_json, outcome_to_json

    papers = [Paper(paper_id="arxiv:1", source="arxiv", title="Good"),
              Paper(paper_id="bad id", source="arxiv", title="Bad", run_id="run-1")]
    outcome = validate_stage("papers", papers, "run-1")
    rerun = [p.model_copy(update={"run_id": "run-2"}) for p in papers]  # new run, new timestamps
    assert fingerprint("papers", rerun) == fingerprint("papers", papers)
    changed = [papers[0].model_copy(update={"title": "Other"}), papers[1]]
    assert fingerprint("papers", changed) != fingerprint("papers", papers)
    again = outcome_from_json(outcome_to_json("papers", outcome, papers), rerun, "run-2")
    assert [p.paper_id for p in again.passed] == ["arxiv:1"]
    assert {(q.entity_id, q.expectation, q.stage, q.run_id) for q in again.quarantined} == \
        {(q.entity_id, q.expectation, "papers", "run-2") for q in outcome.quarantined}
    assert [(v.expectation, v.success, v.run_id) for v in again.validations] == \
        [(v.expectation, v.success, "run-2") for v in outcome.validations]

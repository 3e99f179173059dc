"""The real local OpenAI-compatible server of the ``[local-llm]`` extra (llama.cpp with Gemma 3
270M) behind ``generate``, on one paper, through the real HTTP path. The model is weak: the test
checks the plumbing (every call parsed or recorded as ``invalid_output``, the ledger adds up, the
run completes), not the quality of what it writes."""

import pytest

from tasks.io.storage import query
from tests.flows.test_generate import run_generate
from tests.flows.test_harvest import run_flow

pytest.importorskip("llama_cpp.server", reason="needs the [local-llm] extra (scripts/bootstrap --dev installs it)")
pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.timeout(1200)]


def test_generate_with_the_bundled_local_model(settings):
    from flows.runtime import LOCAL_MODEL, local_llm
    from tasks.harvest.sources.snapshot import SnapshotSource

    since, until = SnapshotSource(settings).default_window
    run_flow(settings, since=since, until=until, source="snapshot")  # no endpoint: rules drafts only
    drafted = query(settings, "SELECT paper_id, status, reason FROM candidates")
    latex = drafted[drafted.paper_id == "arxiv:1707.08043"]
    assert len(latex) >= 1 and set(latex.status) == {"drafted"}
    # the PDF paper's proved statements are targets without an LLM; their problems wait for one
    assert set(zip(drafted[drafted.paper_id != "arxiv:1707.08043"].status,
                   drafted[drafted.paper_id != "arxiv:1707.08043"].reason)) <= {("pending", "awaiting_llm")}

    with local_llm(settings) as local:
        assert local.llm.base_url.startswith("http://127.0.0.1:") and local.llm.model == LOCAL_MODEL
        run = run_generate(local, paper_ids=["arxiv:1707.08043"])
    assert run.status == "completed" and run.candidates == 1  # local_llm keeps the run to one target a paper

    calls = query(settings, f"SELECT * FROM llm_calls WHERE run_id = '{run.run_id}'")
    assert len(calls) >= 1 and set(calls.status) <= {"ok", "invalid_output"}, calls[["stage", "status", "error"]]
    assert set(calls.output_mode) == {"json_object"}  # llama.cpp refuses json_schema; the gateway stepped down
    assert not {"query_draft", "answer_retriever"} & set(calls.stage)  # the drafts answered those exactly
    assert run.llm_calls == int((~calls.cache_hit).sum())
    assert (calls.prompt_tokens > 0).all() and run.cost_usd == 0  # a local model has no price
    for candidate in query(settings, "SELECT * FROM candidates WHERE paper_id = 'arxiv:1707.08043'").itertuples():
        assert candidate.status in ("done", "dropped", "failed") and \
            (candidate.status == "done") == (candidate.reason is None)
        spent = query(settings, f"SELECT sum(prompt_tokens) AS p FROM llm_calls WHERE run_id = '{run.run_id}' "
                                f"AND entity_id = '{candidate.candidate_id}'").p[0]
        assert candidate.prompt_tokens == (spent if spent == spent else 0)  # the candidate's share of the ledger

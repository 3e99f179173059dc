"""Export round trip: write every format, read the files back, check splits, fields and variants."""

from __future__ import annotations

import hashlib
import json

import pyarrow.parquet as pq
import pytest
import yaml

from tasks.curate import export, review
from tasks.curate.selection import select
from tasks.io import storage
from tests.factories import candidate_catalog, derivation, keep_everything
from tests.llm_server import ScriptedLLM


def _reviewed(settings, papers=4, per_paper=3, same_math=None):
    # same_math: a candidate whose distractors come back with the answer's own math
    answers = {same_math: derivation(1, 1) + " SAME-MATH"} if same_math else None
    ids = candidate_catalog(settings, papers=papers, per_paper=per_paper, broken=False, answers=answers)
    keep_everything(settings, ids)
    select(settings, n=len(ids))
    return ids


def test_round_trip_of_every_format(settings, tmp_path):
    ids = _reviewed(settings, same_math="c1x1")
    with ScriptedLLM() as llm:
        configured = settings.model_copy(update={"llm": settings.llm.model_copy(
            update={"base_url": llm.base_url, "model": "scripted"})})
        report = export.export(configured, tmp_path / "release")
        assert llm.log.by_agent["distractor"] == len(ids)
    out = tmp_path / "release"

    rows = {s: [json.loads(line) for line in (out / "jsonl" / "derivation" / f"{s}.jsonl").read_text().splitlines()]
            for s in export.SPLITS}
    assert sum(len(r) for r in rows.values()) == len(ids)
    train_papers = {r["paper_id"] for r in rows["train"]}
    test_papers = {r["paper_id"] for r in rows["test"]}
    assert train_papers and test_papers and not train_papers & test_papers  # split by paper
    sample = rows["train"][0]
    for field in ("paper", "question", "whole_label", "paper_id", "license", "target_expr",
                  "precondition_exprs", "question_evidence", "answer_span", "prompt_versions", "models",
                  "expert_reviews"):
        assert field in sample, field
    assert sample["paper"].startswith("Paper ") and sample["whole_label"].startswith("Start from")
    assert len(sample["expert_reviews"]) == 2
    assert all(r["reviewer"].startswith("reviewer-") for r in sample["expert_reviews"])  # pseudonyms
    # keyed: hashing a list of likely names does not find them
    guesses = {"reviewer-" + hashlib.sha256(n.encode()).hexdigest()[:k] for n in ("ana", "ben") for k in (8, 12)}
    assert not guesses & {r["reviewer"] for r in sample["expert_reviews"]}
    key = review.open_db(settings).meta("pseudonym_key")
    assert {r["reviewer"] for r in sample["expert_reviews"]} == {export.pseudonym(n, key) for n in ("ana", "ben")}
    assert "ana" not in (out / "jsonl" / "derivation" / "train.jsonl").read_text()

    # Parquet and the Hugging Face layout hold the same rows
    for path in (out / "parquet" / "derivation" / "train.parquet",
                 out / "hf" / "data" / "derivation" / "train-00000-of-00001.parquet"):
        table = pq.read_table(path).to_pylist()
        assert [r["id"] for r in table] == [r["id"] for r in rows["train"]]
        assert json.loads(table[0]["prompt_versions"]) == sample["prompt_versions"]
    front = (out / "hf" / "README.md").read_text().split("---")[1]
    configs = {c["config_name"]: c for c in yaml.safe_load(front)["configs"]}
    assert set(configs) == set(export.VARIANTS)

    # multiple choice: three distractors whose math differs, the answer among the choices
    mc = [json.loads(line) for s in export.SPLITS
          for line in (out / "jsonl" / "multiple_choice" / f"{s}.jsonl").read_text().splitlines()]
    assert len(mc) == len(ids) - 1 and report.left_out["multiple_choice"] == {"distractor_same_math": 1}
    by_id = {r["id"]: r for s in rows.values() for r in s}
    for item in mc:
        assert len(item["choices"]) == 4 and len(set(item["choices"])) == 4
        assert item["choices"][item["answer_index"]] == by_id[item["id"]]["whole_label"]
        assert item["split"] == by_id[item["id"]]["split"]
    # fill in the blank: one middle step replaced, and putting it back gives the derivation
    fib = [json.loads(line) for s in export.SPLITS
           for line in (out / "jsonl" / "fill_in_blank" / f"{s}.jsonl").read_text().splitlines()]
    assert len(fib) == len(ids)
    for item in fib:
        assert item["derivation_with_blank"].count(export.BLANK) == 1
        assert item["derivation_with_blank"].replace(export.BLANK, item["blank"]) == by_id[item["id"]]["whole_label"]
        assert "nabla L" in item["blank"] and "premise" not in item["blank"]

    card = (out / "README.md").read_text()
    assert "| derivation |" in card and "arXiv non-exclusive distribution" in card
    assert "redistribution not permitted" in card and "no derivatives" in card
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["derivation"] == report.counts["derivation"]
    rejects = storage.query_rows(settings, "SELECT * FROM rejects WHERE stage = 'export_multiple_choice'")
    assert [(r["entity_id"], r["reason"]) for r in rejects] == [("c1x1", "distractor_same_math")]


def test_without_an_llm_the_choice_variant_is_left_out_with_a_reason(settings, tmp_path):
    ids = _reviewed(settings, papers=2, per_paper=2)
    report = export.export(settings, tmp_path / "r", formats=("jsonl",))
    assert report.left_out["multiple_choice"] == {"no_llm_endpoint": len(ids)}
    assert not (tmp_path / "r" / "parquet").exists()
    assert sum(report.counts["fill_in_blank"].values()) == len(ids)


def test_export_errors(settings, tmp_path):
    with pytest.raises(ValueError, match="unknown format"):
        export.export(settings, tmp_path, formats=("csv",))
    with pytest.raises(ValueError, match="no format given"):
        export.export(settings, tmp_path, formats=())
    candidate_catalog(settings, papers=1, per_paper=1)
    with pytest.raises(LookupError, match="stormborn select"):
        export.export(settings, tmp_path)


@pytest.mark.parametrize("licence,terms", [
    ("http://creativecommons.org/licenses/by/4.0/", ("CC BY 4.0", "allowed")),
    ("http://creativecommons.org/licenses/by-nc-sa/4.0/", ("CC BY-NC-SA 4.0", "non_commercial")),
    ("http://creativecommons.org/licenses/by-nc-nd/4.0/", ("CC BY-NC-ND 4.0", "no_derivatives")),
    ("http://creativecommons.org/publicdomain/zero/1.0/", ("CC0 1.0", "allowed")),
    ("http://arxiv.org/licenses/nonexclusive-distrib/1.0/", ("arXiv non-exclusive distribution 1.0", "not_permitted")),
    ("CC BY 4.0", ("CC BY 4.0", "allowed")),
    ("unknown", ("unknown", "unknown")),
    (None, ("unknown", "unknown")),
])
def test_licence_terms(licence, terms):
    assert export.licence_terms(licence) == terms


def test_split_keeps_papers_whole_and_near_the_fraction():
    rows = [{"paper_id": f"p{i % 7}"} for i in range(40)]
    split = export.split_by_paper(rows, 0.3)
    test = sum(split[r["paper_id"]] == "test" for r in rows)
    assert 0.15 * 40 <= test <= 0.45 * 40
    assert set(split.values()) == {"train", "test"}
    assert export.split_by_paper([{"paper_id": "only"}], 0.3) == {"only": "train"}
    # three problems from one paper and one from another: the small paper is the test split
    small = export.split_by_paper([{"paper_id": "big"}] * 3 + [{"paper_id": "small"}], 0.3)
    assert small == {"big": "train", "small": "test"}


def test_blank_step_without_equations():
    assert export.blank_step("It follows from the lemma by induction.") is None
    assert export.blank_step("Since $a = b$, done.") == (f"Since {export.BLANK}, done.", "$a = b$")
    # text read from a PDF has no delimiters: a clause with an equation is the step
    pdf = "Define h(x) = ch(x). Then cF(x, y) = h(x) g(y) holds. Finally F1 + F2 = F. Done."
    blanked, step = export.blank_step(pdf)
    assert step.strip() == "Then cF(x, y) = h(x) g(y) holds" and blanked.replace(export.BLANK, step) == pdf


def test_a_variant_without_rows_is_not_written_as_parquet(settings, tmp_path):
    ids = _reviewed(settings, papers=2, per_paper=1)
    report = export.export(settings, tmp_path / "r", formats=("parquet", "hf"))
    assert sum(report.counts["multiple_choice"].values()) == 0  # no LLM endpoint
    assert not (tmp_path / "r" / "parquet" / "multiple_choice").exists()
    front = yaml.safe_load((tmp_path / "r" / "hf" / "README.md").read_text().split("---")[1])
    assert [c["config_name"] for c in front["configs"]] == ["derivation", "fill_in_blank"]
    schemas = {pq.read_schema(tmp_path / "r" / "parquet" / "derivation" / f"{s}.parquet") for s in export.SPLITS}
    assert len(schemas) == 1 and len(ids) == 2

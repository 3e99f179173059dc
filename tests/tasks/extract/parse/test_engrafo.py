"""The vendored CC BY paper arXiv:1707.08043 (amsart, theorem/proof heavy), with counts
established by reading its source: 4 sections (2 numbered), 6 ``equation*``, 16 theorem-like
statements sharing the ``anyprop`` counter numbered within sections, 2 proofs, 8 labels, and
9 ``\\ref`` commands of which 8 distinct (from, to, via) reach a labelled statement."""

from collections import Counter
from pathlib import Path

from tasks.documents.eprint import blank_comments, read_tex_dir
from tasks.extract.parse.latex import extract_latex
from tasks.extract.parse.project import flatten

PAPER = Path(__file__).parents[3] / "fixtures" / "tex" / "engrafo_1707.08043"


def extract():
    tex = read_tex_dir(PAPER)
    return tex, extract_latex(flatten(tex, 5_000_000), "arxiv:1707.08043")


def test_counts_and_numbers():
    tex, out = extract()
    assert [(s.number, s.title) for s in out.sections] == [
        (None, "Introduction"), ("1", "Preliminary facts"), ("2", "Main Result"), (None, "acknowledgements")]
    kinds = Counter((e.kind, e.env) for e in out.expressions)
    assert kinds[("equation", "equation*")] == 6
    assert sum(n for (kind, _), n in kinds.items() if kind == "statement") == 16
    assert kinds[("proof", "proof")] == 2
    by_label = {e.label: e for e in out.expressions if e.label}
    assert len(by_label) == 8
    assert (by_label["Lema-construccion"].title, by_label["Lema-construccion"].number) == ("Lemma", "1.13")
    assert (by_label["Tma hochster"].title, by_label["Tma hochster"].number) == ("Theorem", "2.1")
    assert by_label["member"].number == "1.5" and by_label["member"].env == "corollary"
    assert all(e.number is None for e in out.expressions if e.kind == "equation")  # all starred
    assert {i.reason for i in out.issues} == {"non_utf8_source"}  # ``\input xy`` is xypic's, not missing


def test_proofs_and_edges():
    _, out = extract()
    by_id = {e.expr_id: e for e in out.expressions}
    lemma = next(e for e in out.expressions if e.label == "Lema-construccion")
    proof = by_id[lemma.proof_expr]
    assert proof.kind == "proof" and proof.parent_expr == lemma.expr_id
    assert proof.char_start > lemma.char_end
    edges = {(by_id[g.from_expr].label, by_id[g.to_expr].label, g.via) for g in out.edges}
    assert len(out.edges) == 8
    assert ("Lema-construccion", "Inc", "proof") in edges
    assert ("Tma hochster", "Lema-construccion", "proof") in edges
    assert ("Inc", "member", "statement") in edges


def test_spans_point_into_the_source():
    tex, out = extract()
    for e in out.expressions:  # the same characters, comments blanked to spaces
        assert blank_comments(tex.files[e.source_file])[e.char_start:e.char_end] == e.latex
        assert len(tex.files[e.source_file][e.char_start:e.char_end]) == len(e.latex)
    where = next(e for e in out.expressions if e.kind == "equation" and e.definitions)
    assert where.definitions.lower().startswith("where")

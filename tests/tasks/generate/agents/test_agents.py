"""The agents' parsers and the groundedness check, without a server."""

from tasks.core.records import Expression
from tasks.generate.agents import answer_retriever, query_draft
from tasks.generate.agents.excerpt import Piece, ground
from tasks.generate.agents.extractor import Target


def expr(expr_id, latex, **kw) -> Expression:
    return Expression(expr_id=expr_id, paper_id="p", extractor="latex", kind="equation", env="equation",
                      latex=latex, text=latex, **kw)


def test_query_draft_maps_ids_back_and_drops_unknown_ones():
    a, b, c = expr("a", "x = 1", number="1"), expr("b", "y = x + 1", number="2"), expr("c", "z = y", number="3")
    targets = [Target(b, preconditions=["a"]), Target(c, preconditions=["b", "a"])]
    fields, cited = query_draft.fields(targets, {"a": a, "b": b, "c": c}, 500)
    assert cited == ["a", "b"] and "T2:" in fields["targets"] and "Cites: E2, E1" in fields["targets"]
    reply = query_draft.DraftReply(drafts=[
        query_draft.Draft(target="T2", preconditions=["E2", "E9", "x"], setting="s", symbols="y", query="Derive z."),
        query_draft.Draft(target="T7", preconditions=[], setting="", symbols="", query="Derive?"),
        query_draft.Draft(target="t1", preconditions=["e1"], setting="", symbols="", query=" ")])
    drafts = query_draft.parse(reply, targets, cited)
    assert list(drafts) == ["c"] and drafts["c"].preconditions == ["b"]


def test_retriever_sentinel_and_cited_piece():
    pieces = [Piece("P1", "around (2)", "text", "context:b"), Piece("P2", "Proof of Lemma 1", "proof", "expr:p")]
    none = answer_retriever.RetrieverReply(found=False, answer=answer_retriever.NO_ANSWER)
    assert answer_retriever.parse(none, pieces) == (None, None, None)
    found = answer_retriever.RetrieverReply(found=True, answer=" proof ", evidence="p2")
    assert answer_retriever.parse(found, pieces) == ("proof", pieces[1], "Proof of Lemma 1")


def test_ground_is_whitespace_blind_and_prefers_the_cited_piece():
    proof = "By Hoeffding,\n  $P(|X| > t) \\le 2e^{-2nt^2}$; hence the claim."
    pieces = [Piece("P1", "context", "Lemma 1. ... " + proof, "context:l"), Piece("P2", "proof", proof, "expr:p")]
    g = ground("By Hoeffding, $P(|X| > t) \\le 2e^{-2nt^2}$;", pieces, cited="P2")
    assert (g.score, g.source) == (100.0, "expr:p") and proof[g.span[0]:g.span[1]].startswith("By Hoeffding")
    assert ground("By Hoeffding, $P(|X| > t) \\le 2e^{-2nt^2}$;", pieces).source == "context:l"
    assert ground("An argument found nowhere in this paper at all, long enough to matter.", pieces).score < 70
    assert ground("x" * 5000, pieces).score < 10  # an answer longer than the excerpt cannot score by containing it

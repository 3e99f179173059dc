"""What paper text a call is sent (tasks.generate.agents.excerpt): excerpts cut where a reader
can start and stop, never inside inline math."""

from tasks.core.records import Expression
from tasks.generate.agents.excerpt import around


def _expr(before: str, after: str) -> Expression:
    return Expression(expr_id="e", paper_id="p", extractor="latex", kind="equation", env="equation",
                      latex=r"\hat\theta = \arg\min_\theta L(\theta)", context_before=before, context_after=after)


def test_excerpts_start_and_end_at_sentences_outside_math():
    before = ("The loss is $L(\\theta) = \\sum_{i=1}^n \\ell(x_i; \\theta)$ over the sample. " * 12
              + "Minimising it, we obtain")
    after = " where $\\hat\\theta$ is the estimator. It is unique when $L$ is strictly convex. " * 12
    text = around(_expr(before, after), 700)
    head, tail = text.split("\n")[0], text.split("\n")[-1]
    assert head.startswith("The loss is $L") and tail.rstrip().endswith("is the estimator.")
    for part in (head, tail):
        assert part.count("$") % 2 == 0  # no formula cut open
    assert len(text) < 1100


def test_short_context_is_kept_whole():
    text = around(_expr("We minimise $L$.", "Here $L$ is the loss."), 2000)
    assert text == "We minimise $L$.\n\\hat\\theta = \\arg\\min_\\theta L(\\theta)\nHere $L$ is the loss."


def test_what_a_target_depends_on_is_shown_with_the_papers_macros_expanded():
    from tasks.generate.agents import query_draft
    from tasks.generate.agents.excerpt import pieces_for
    from tasks.generate.agents.extractor import Target

    target = Expression(expr_id="t", paper_id="p", extractor="latex", kind="equation", env="equation",
                        latex=r"\vt = 2\vx", latex_expanded=r"\mathbf{t} = 2\mathbf{x}", context_before="Hence")
    cited = Expression(expr_id="c", paper_id="p", extractor="latex", kind="equation", env="equation",
                       latex=r"\vx = \R^n", latex_expanded=r"\mathbf{x} = \mathbb{R}^n")
    pieces = pieces_for(target, {"t": target, "c": cited}, ["c"], [], 5000)
    assert pieces[0].text.endswith(r"\vt = 2\vx")  # the target as written: answers are grounded on it
    assert pieces[-1].text == r"\mathbf{x} = \mathbb{R}^n" and pieces[-1].source == "context:c"
    fields, _ = query_draft.fields([Target(target, preconditions=["c"])], {"t": target, "c": cited}, 500)
    assert r"\mathbf{x} = \mathbb{R}^n" in fields["cited"] and r"\mathbf{t} = 2\mathbf{x}" in fields["targets"]

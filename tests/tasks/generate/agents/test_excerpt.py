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

"""Evidence highlighting on the review page."""

from reviewapp.highlight import highlight


def test_highlight_marks_aligned_passages_and_keeps_the_text():
    text = "We assume each loss is convex. Then the gradient is bounded by G. The end."
    runs = highlight(text, ["the gradient is bounded by G", "never in the text at all, nowhere"])
    assert "".join(t for t, _ in runs) == text
    assert [t for t, hit in runs if hit] == ["the gradient is bounded by G"]

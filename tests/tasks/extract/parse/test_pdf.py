"""The PDF fallback on generated pages: numbered equations, headings, margin line numbers,
references and the appendix. (Ligature and hyphenation repair: tests/tasks/documents/test_read.py.)"""

import pymupdf
import pytest

from tasks.extract.parse.pdf import extract_pdf

BODY = "The model is trained with the objective below and we derive its gradient in closed form."


def make_pdf() -> bytes:
    doc = pymupdf.open()
    pages = [
        [("hebo", 12, 72, 80, "1 Introduction"), ("body", 10, 72, 100, BODY),
         ("body", 10, 72, 114, "It is a well known result that we use here throughout the paper text."),
         ("symb", 11, 250, 160, "a = b + c"), ("body", 10, 520, 160, "(1)"),
         ("body", 10, 72, 190, "where a is the output and b the input of the layer at hand."),
         ("hebo", 12, 72, 230, "2 Method"), ("body", 10, 72, 250, BODY),
         ("symb", 11, 240, 280, "d = e * f"), ("body", 10, 520, 280, "(2)"),
         ("symb", 11, 260, 320, "g = h")],
        [("hebo", 12, 72, 80, "References"), ("body", 10, 72, 100, "[1] A. Author. A paper about (3) things."),
         ("body", 10, 72, 114, "[2] B. Author. Another paper with many words in its title."),
         ("hebo", 12, 72, 150, "A Proofs"), ("body", 10, 72, 170, BODY),
         ("symb", 11, 250, 200, "x = y + z"), ("body", 10, 520, 200, "(A.1)")],
    ]
    for number, lines in enumerate(pages):
        page = doc.new_page()
        for i in range(40):  # margin line numbers of a submitted version
            page.insert_text((30, 80 + i * 14), str(number * 40 + i + 1), fontsize=8, fontname="hebo")
        for font, size, x, y, text in lines:
            if font == "body":
                page.insert_text((x, y), text, fontsize=size, fontname="tiro")
            else:
                page.insert_text((x, y), text, fontsize=size, fontname=font)
    data = doc.tobytes()
    doc.close()
    return data


@pytest.fixture(scope="module")
def extracted():
    return extract_pdf(make_pdf(), "local:abc")


def test_numbered_equations_with_page_and_bbox(extracted):
    out, _ = extracted
    numbered = [(e.number, e.page, e.section) for e in out.expressions if e.number]
    assert numbered == [("1", 1, "1 Introduction"), ("2", 1, "2 Method"), ("A.1", 2, "A Proofs")]
    first = out.expressions[0]
    assert first.bbox[0] < first.bbox[2] and first.bbox[1] < first.bbox[3]
    assert first.definitions.startswith("where a is the output")
    assert any(e.number is None and e.page == 1 for e in out.expressions)  # the centred unnumbered one


def test_headings_references_and_line_numbers(extracted):
    out, pages = extracted
    assert [(s.number, s.title, s.in_appendix) for s in out.sections] == [
        ("1", "Introduction", False), ("2", "Method", False), ("A", "Proofs", True)]
    assert "margin_line_numbers_removed" in {i.reason for i in out.issues}
    assert not any(line.strip().isdigit() for line in pages[0].splitlines())
    assert all("Another paper" not in e.context_before + e.context_after for e in out.expressions)


def one_page_pdf(lines: list[tuple], textbox: tuple | None = None) -> bytes:
    """A page of (font, size, x, y, text) lines, and optionally a wrapped paragraph (rect, text)."""
    doc = pymupdf.open()
    page = doc.new_page()
    for font, size, x, y, text in lines:
        page.insert_text((x, y), text, fontsize=size, fontname=font)
    if textbox is not None:
        page.insert_textbox(pymupdf.Rect(*textbox[0]), textbox[1], fontsize=10, fontname="tiro")
    data = doc.tobytes()
    doc.close()
    return data


def make_theorem_pdf() -> bytes:
    """A PDF-only paper's statements, proofs and text references (no LaTeX to read them from)."""
    return one_page_pdf([
        ("hebo", 12, 72, 80, "2 Results"),
        ("tiro", 10, 72, 110, "We start from the objective of the model, stated in full as follows."),
        ("symb", 11, 250, 140, "L = a + b"), ("tiro", 10, 520, 140, "(1)"),
        ("tiro", 10, 72, 170, "Lemma 1. For every input the loss L of (1) is bounded below by zero."),
        ("tiro", 10, 72, 200, "Proof. Both a and b are squares, so (1) is a sum of two nonnegative terms. Q.E.D."),
        ("tiro", 10, 72, 230, "Substituting Lemma 1 into the update rule, we obtain the bound"),
        ("symb", 11, 250, 260, "L' = L - c"), ("tiro", 10, 520, 260, "(2)"),
        ("tiro", 10, 72, 290, "Theorem 2 (Convergence). The iterates of (2) converge for every c."),
        ("hebo", 12, 72, 330, "A Proofs"),
        ("tiro", 10, 72, 360, "Proof of Theorem 2. By Lemma 1 and (2), the sequence is monotone and bounded. Q.E.D."),
        ("tiro", 10, 72, 390, "Proof of Lemma 7. A proof of a lemma this paper never states, kept unlinked."),
    ],  # a paragraph whose wrapped second line starts like a statement: not one
        textbox=((72, 420, 540, 470), "The same bound was shown by the companion paper, in\n"
                 "Lemma 3. Next we turn to the rates of the method."))


def test_pdf_statements_proofs_and_references_by_number():
    out, _ = extract_pdf(make_theorem_pdf(), "local:thm")
    by_id = {e.expr_id: e for e in out.expressions}
    statements = {(e.title, e.number): e for e in out.expressions if e.kind == "statement"}
    lemma, theorem = statements[("Lemma", "1")], statements[("Theorem (Convergence)", "2")]
    assert by_id[lemma.proof_expr].text.startswith("Proof. Both a and b")
    assert by_id[theorem.proof_expr].title == "Proof of Theorem 2" and by_id[theorem.proof_expr].in_appendix
    names = {e.number: e for e in out.expressions if e.kind == "equation" and e.number}
    edges = {(by_id[e.from_expr].number, by_id[e.to_expr].number, e.via) for e in out.edges}
    assert {("1", "1", "statement"), ("1", "1", "proof"), ("2", "1", "proof"), ("2", "2", "proof"),
            ("2", "1", "introduction")} <= edges
    assert names["2"].number == "2"
    assert any(i.reason == "dangling_proof_reference" and "Lemma 7" in i.detail for i in out.issues)
    assert ("Lemma", "3") not in statements


def test_equation_references_without_brackets_and_hyphenated_cues_give_edges():
    """cleveref's default in ICLR papers prints "equation 4"; a cue may be split at a line end."""
    out, _ = extract_pdf(one_page_pdf([
        ("hebo", 12, 72, 80, "2 Method"),
        ("tiro", 10, 72, 110, "We start from the objective of the model, stated in full as follows."),
        ("symb", 11, 250, 140, "L = a + b"), ("tiro", 10, 520, 140, "(1)"),
        ("tiro", 10, 72, 170, "Taking the gradient with respect to the weights in equation 1, the loss be-"),
        ("tiro", 10, 72, 184, "comes"),
        ("symb", 11, 250, 214, "G = 2a + 2b"), ("tiro", 10, 520, 214, "(2)"),
        ("tiro", 10, 72, 250, "Lemma 1. The step along Eq. 2 decreases the loss for small steps."),
        ("hebo", 12, 72, 290, "A Proofs"),
        ("tiro", 10, 72, 320, "Proof of (2). Differentiate each square term of (1) on its own. Q.E.D."),
    ]), "local:eqword")
    by_id = {e.expr_id: e for e in out.expressions}
    edges = {(by_id[e.from_expr].number, by_id[e.to_expr].number, e.via, e.label) for e in out.edges}
    assert ("2", "1", "introduction", "(1)") in edges
    assert ("1", "2", "statement", "(2)") in edges
    display = next(e for e in out.expressions if e.number == "2" and e.kind == "equation")
    assert display.context_before.endswith("the loss becomes")
    # "Proof of (2)." proves the display numbered (2)
    assert by_id[display.proof_expr].title == "Proof of (2)"
    assert ("2", "1", "proof", "(1)") in edges

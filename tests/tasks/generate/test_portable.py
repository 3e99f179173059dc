"""Portable LaTeX: what KaTeX lacks is rewritten into what it has, checked with the platform's
own list of the vendored KaTeX's commands (``tasks.generate.renderable``)."""

from tasks.generate.portable import display, portable_text
from tasks.generate.renderable import unrenderable


def test_package_spellings_and_layout_commands_become_katex_ones():
    text = (r"$\frac{\dif P}{\dif r} = -\grad\Phi \vdot \vu{x}$ and "
            r"\begin{align*} a &= b \intertext{so that, with $c$ fixed,} c &\defeq \lefteqn{d + e} \end{align*}"
            r" \mbox{ok} \hdots \begin{eqnarray*} x &=& y \end{eqnarray*} \begin{multline} p \\ q \end{multline}")
    out = portable_text(text, {})
    assert unrenderable(out) == []
    assert r"\hat{\mathbf{x}}" in out and r"\text{so that, with $c$ fixed,} \\" in out
    assert r"\begin{align*} x &=& y \end{align*}" in out and r"\begin{gather*} p \\ q \end{gather*}" in out
    assert r"\mathrm{d} P" in out and r"c &\coloneqq d + e" in out


def test_math_set_inside_a_text_mode_lap_becomes_a_math_lap_with_no_inner_dollars():
    out = portable_text(r"$X \mathrel{\rlap{$\textstyle\perp$}\mkern2mu{\textstyle\perp}} Y$ and $\llap{$a_{i}$} b$", {})
    assert out == r"$X \mathrel{\mathrlap{\textstyle\perp}\mkern2mu{\textstyle\perp}} Y$ and $\mathllap{a_{i}} b$"
    assert unrenderable(out) == []


def test_labels_of_every_family_are_removed_and_references_resolved_or_marked():
    out = portable_text(r"$a \eqlabel{x} = b$ \lemlabel{y} by \eqref{eq:one} and \ref{eq:gone}\tag{3}",
                        {"eq:one": "(A1)"})
    assert out == r"$a = b$ by (A1) and (?)"


def test_a_row_with_alignment_points_is_displayed_inside_aligned():
    assert display("a &= b") == r"\[ \begin{aligned} a &= b \end{aligned} \]"
    assert display(r"\begin{cases} 1 & x \end{cases}") == r"\[ \begin{cases} 1 & x \end{cases} \]"
    assert display("a = b") == r"\[ a = b \]"
    assert display(r"f(x) &= \begin{cases} 1 & x > 0 \end{cases}").startswith(r"\[ \begin{aligned} f(x) &=")
    assert display(r"a \& b") == r"\[ a \& b \]"

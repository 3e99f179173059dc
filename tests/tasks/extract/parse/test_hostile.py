"""LaTeX that would cost hours costs a bounded amount: comment blocks, input trees, macro bombs."""

from __future__ import annotations

import time

from tasks.documents.eprint import TexFiles, blank_comments
from tasks.extract.parse.latex import extract_latex
from tasks.extract.parse.project import flatten


def test_many_iffalse_blocks_are_blanked_in_linear_time():
    text = "\\iffalse x \\fi " * 100_000  # 1.6 MB: quadratic blanking took hours
    started = time.perf_counter()
    blanked = blank_comments(text)
    assert time.perf_counter() - started < 5
    assert len(blanked) == len(text) and not blanked.strip()


def test_a_tree_of_inputs_stops_at_the_splice_budget():
    # 10 inputs per level, 12 levels of empty files: 10^12 splices without a budget
    files = {f"l{i}.tex": "\\input{l%d}\n" % (i + 1) * 10 for i in range(12)}
    files["l12.tex"] = ""
    files["main.tex"] = "\\documentclass{article}\\begin{document}\\input{l0}\\end{document}"
    started = time.perf_counter()
    flat = flatten(TexFiles(files), 5_000_000, max_splices=500)
    assert time.perf_counter() - started < 10
    assert "include_budget_exceeded" in {i.reason for i in flat.issues}


def test_a_self_multiplying_macro_is_left_unexpanded():
    name = "ABCDEFGHI"  # control words are letters only
    levels = "".join(f"\\newcommand{{\\m{name[i + 1]}}}{{\\m{name[i]}\\m{name[i]}\\m{name[i]}\\m{name[i]}}}\n"
                     for i in range(8))
    main = ("\\documentclass{article}\\newcommand{\\mA}{xy}\n" + levels
            + "\\begin{document}\\begin{equation}\\label{eq:a} a = \\mI \\end{equation}"
            + "\\begin{equation}\\label{eq:b} b = \\mB \\end{equation}\\end{document}")
    started = time.perf_counter()
    out = extract_latex(flatten(TexFiles({"main.tex": main}), 1_000_000), "p", "r")
    assert time.perf_counter() - started < 20
    by_label = {e.label: e for e in out.expressions}
    assert by_label["eq:a"].latex_expanded == by_label["eq:a"].latex  # 4^8 × 2 chars: left as written
    assert "xyxyxyxy" in by_label["eq:b"].latex_expanded  # an ordinary macro still expands
    assert "macro_expansion_too_large" in {i.reason for i in out.issues}

"""The LaTeX extractor on a generated paper holding every environment kind and macro case."""

import pytest

from tasks.documents.eprint import TexFiles
from tasks.extract.parse.latex import extract_latex
from tasks.extract.parse.project import flatten

PREAMBLE = r"""\documentclass{article}
\usepackage{amsmath,amsthm}
\newcommand{\E}{\mathbb{E}}
\newcommand{\norm}[1]{\lVert #1\rVert}
\newcommand{\pair}[2][x]{(#1, #2)}
\def\KL#1#2{D(#1\|#2)}
\DeclareMathOperator*{\argmax}{arg\,max}
\renewcommand{\le}{\leqslant}
\newtheorem{theorem}{Theorem}[section]
\newtheorem{lemma}[theorem]{Lemma}
\newtheorem*{remark}{Remark}
\numberwithin{equation}{section}
"""

BODY = r"""\begin{document}
\section{Method}
We define the loss as follows.
\begin{equation}\label{eq:loss} L(\theta) = \E_x \norm{f_\theta(x) - y}^2 \end{equation}
where $f_\theta$ is the model and $y$ the target.

Substituting \eqref{eq:loss} into the bound gives
\begin{align}
a &= b \label{eq:a}\\
c &= d \nonumber \\
e &= f \label{eq:e}
\end{align}
and also
\begin{align*} x &= y \\ z &= w \end{align*}
\[ \argmax_\theta \KL{p}{q} + \pair{u} + \pair[v]{w} \]
$$ u = v $$
\subsection{Bounds}
\begin{lemma}[Bound]\label{lem:bound} For all $x$, $L \le 1$. \end{lemma}
\begin{proof} By \eqref{eq:a} and \eqref{eq:e},
\begin{equation} L \le 1 \tag{$*$} \end{equation}
\end{proof}
\begin{remark} Unnumbered. \end{remark}
\begin{gather} g = h \end{gather}
\begin{multline} m = n \\ + o \label{eq:m}\end{multline}
\begin{subequations}\begin{align} p &= q \label{eq:p}\\ r &= s \label{eq:r}\end{align}\end{subequations}
\appendix
\section{Proofs}
\begin{theorem}\label{thm:main} Using Lemma~\ref{lem:bound}, \eqref{eq:loss} holds. \end{theorem}
\begin{proof}[Proof of Theorem~\ref{thm:main}] Follows from \cref{lem:bound}. \end{proof}
\begin{eqnarray} k &=& l \\ k_2 &=& l_2 \end{eqnarray}
\begin{flalign} aa &= bb & \\ cc &= dd & \end{flalign}
\begin{alignat}{2} x &= 1 & y &= 2 \\ z &= 3 & w &= 4\end{alignat}
\end{document}
"""


def run(files: dict[str, str], max_chars: int = 1_000_000):
    tex = TexFiles(files)
    return tex, extract_latex(flatten(tex, max_chars), "arxiv:0000.00001")


@pytest.fixture(scope="module")
def paper():
    tex, out = run({"main.tex": PREAMBLE + BODY})
    return tex, out, {e.label: e for e in out.expressions if e.label}


def numbers(out, env):
    return [e.number for e in out.expressions if e.env == env]


def test_every_display_environment_and_its_numbers(paper):
    _, out, by_label = paper
    assert by_label["eq:loss"].number == "1.1"
    assert [(e.row, e.number, e.label) for e in out.expressions if e.env == "align"][:3] == [
        (0, "1.2", "eq:a"), (1, None, None), (2, "1.3", "eq:e")]
    assert numbers(out, "align*") == [None]  # unnumbered rows stay one formula
    assert numbers(out, "\\[") == [None] and numbers(out, "$$") == [None]
    assert by_label["lem:bound"].number == "1.1" and by_label["lem:bound"].title == "Lemma (Bound)"
    assert numbers(out, "equation")[1] == "$*$"  # \tag
    assert numbers(out, "gather") == ["1.4"]
    assert by_label["eq:m"].number == "1.5" and by_label["eq:m"].row is None  # multline: one number
    assert (by_label["eq:p"].number, by_label["eq:r"].number) == ("1.6a", "1.6b")
    assert numbers(out, "remark") == [None]
    assert by_label["thm:main"].number == "A.1" and by_label["thm:main"].in_appendix
    assert numbers(out, "eqnarray") == ["A.1", "A.2"]
    assert numbers(out, "flalign") == ["A.3", "A.4"]
    assert numbers(out, "alignat") == ["A.5", "A.6"]


def test_sections_paths_and_appendix(paper):
    _, out, by_label = paper
    assert [(s.number, s.path, s.in_appendix) for s in out.sections] == [
        ("1", "1 Method", False), ("1.1", "1 Method > 1.1 Bounds", False), ("A", "A Proofs", True)]
    assert by_label["lem:bound"].section == "1 Method > 1.1 Bounds"
    assert not by_label["eq:loss"].in_appendix


def test_macros_are_expanded_and_the_original_kept(paper):
    _, out, by_label = paper
    loss = by_label["eq:loss"]
    assert "\\E_x \\norm{" in loss.latex
    assert "\\mathbb{E}_x \\lVert f_\\theta(x) - y\\rVert^2" in loss.latex_expanded
    display = next(e for e in out.expressions if e.env == "\\[")
    assert "\\operatorname*{arg\\,max}_\\theta D(p\\|q) + (x, u) + (v, w)" in display.latex_expanded
    assert "\\leqslant" in by_label["lem:bound"].latex_expanded


def test_context_definitions_and_spans(paper):
    tex, out, by_label = paper
    loss = by_label["eq:loss"]
    assert loss.context_before.endswith("We define the loss as follows.")
    assert loss.definitions == "where $f_\\theta$ is the model and $y$ the target."
    for e in out.expressions:
        assert tex.files[e.source_file][e.char_start:e.char_end] == e.latex


def test_statements_proofs_and_dependency_edges(paper):
    _, out, by_label = paper
    by_id = {e.expr_id: e for e in out.expressions}
    lemma, theorem = by_label["lem:bound"], by_label["thm:main"]
    assert by_id[lemma.proof_expr].kind == "proof"
    assert by_id[theorem.proof_expr].parent_expr == theorem.expr_id  # ``[Proof of Theorem~\ref{…}]``
    tagged = next(e for e in out.expressions if e.number == "$*$")
    assert tagged.parent_expr == lemma.proof_expr  # a formula inside the proof
    edges = {(by_id[g.from_expr].label, by_id[g.to_expr].label, g.via) for g in out.edges}
    assert edges == {
        ("eq:a", "eq:loss", "introduction"),  # "Substituting (1.1) into the bound gives"
        ("lem:bound", "eq:a", "proof"), ("lem:bound", "eq:e", "proof"),
        ("thm:main", "lem:bound", "statement"), ("thm:main", "eq:loss", "statement"),
        ("thm:main", "lem:bound", "proof"),
    }


def test_inputs_across_files_keep_their_own_spans():
    files = {"main.tex": PREAMBLE + "\\begin{document}\n\\input{sec/one}\n\\include{sec/two}\n\\end{document}\n",
             "sec/one.tex": "\\section{One}\n\\begin{equation}\\label{a} a = 1 \\end{equation}\n",
             "sec/two.tex": "\\section{Two}\nBy \\eqref{a} we get\n\\begin{equation} b = \\E a \\end{equation}\n"}
    tex, out = run(files)
    assert [e.source_file for e in out.expressions] == ["sec/one.tex", "sec/two.tex"]
    assert [e.number for e in out.expressions] == ["1.1", "2.1"]
    for e in out.expressions:
        assert tex.files[e.source_file][e.char_start:e.char_end] == e.latex
    assert [g.via for g in out.edges] == ["introduction"]


def test_unbalanced_input_is_recorded_and_what_precedes_it_kept():
    body = ("\\begin{document}\n\\section{A}\n\\begin{equation} a = 1 \\end{equation}\n"
            "\\begin{align} b &= {2 \\end{align}\n\\begin{equation} c = 3 \\end{equation}\n\\end{document}")
    _, out = run({"main.tex": PREAMBLE + body})
    (issue,) = [i for i in out.issues if i.reason == "unbalanced_latex"]
    line = (PREAMBLE + body).count("\n", 0, (PREAMBLE + body).index("{2")) + 1
    assert f"innermost open block: open brace from main.tex:{line}" in issue.detail  # where to look
    assert " at main.tex:" in issue.detail
    assert out.expressions[0].latex == "a = 1"


def test_recursive_macro_is_recorded_not_looped():
    body = "\\def\\loop{\\loop x}\n\\begin{document}\n\\[ \\loop \\]\n\\end{document}"
    _, out = run({"main.tex": PREAMBLE + body})
    assert "recursive_macro" in {i.reason for i in out.issues}
    assert len(out.expressions) == 1


def test_theorem_equation_counter_sharing_and_declaretheorem():
    preamble = ("\\documentclass{article}\n\\newtheorem{prop}[equation]{Proposition}\n"
                "\\declaretheorem[name=Assumption]{assumption}\n")
    body = ("\\begin{document}\n\\begin{equation} a \\end{equation}\n\\begin{prop} P \\end{prop}\n"
            "\\begin{equation} b \\end{equation}\n\\begin{assumption}\\label{as} A \\end{assumption}\n"
            "\\begin{assumption} B \\end{assumption}\n\\end{document}")
    _, out = run({"main.tex": preamble + body})
    assert [(e.env, e.number) for e in out.expressions] == [
        ("equation", "1"), ("prop", "2"), ("equation", "3"), ("assumption", "1"), ("assumption", "2")]
    assert out.expressions[3].title == "Assumption"


PROOF_HEADINGS_TEX = r"""\documentclass{article}
\usepackage{amsmath,amsthm}
\newtheorem{lemma}{Lemma}\newtheorem{theorem}{Theorem}
\begin{document}
\section{Main}
\begin{equation}\label{eq:a} f(x) = x^2 \end{equation}
\begin{lemma}\label{lem:one} The map $f$ is convex. \end{lemma}
\begin{theorem}\label{thm:two} For all $x$, $f(x) \ge 0$. \end{theorem}
\begin{lemma}\label{lem:three} $f(0) = 0$. \end{lemma}
Some text.
\appendix
\section{Proof of Lemma~\ref{lem:one}}
By \eqref{eq:a}, the second derivative is
\begin{equation}\label{eq:b} f''(x) = 2 > 0, \end{equation}
so $f$ is convex, as claimed in the lemma.
\section{Other}
\paragraph{Proof of Theorem~\ref{thm:two}.} Since $x^2 \ge 0$ for every real $x$, we get $f(x) = x^2 \ge 0$ by \eqref{eq:a}.
\paragraph{Remark.} Nothing here.
\noindent\textbf{Proof of Lemma~\ref{lem:three}:} Substituting $x = 0$ into \eqref{eq:a} gives $f(0) = 0^2 = 0$.
\end{document}
"""


def test_proofs_under_headings_are_linked_and_cited_expressions_become_edges():
    """Appendix style: a section "Proof of Lemma~\\ref{…}", a run-in \\paragraph{Proof of …} and a
    bold "Proof of …:" after the statements; each body is the statement's proof."""
    out = extract_latex(flatten(TexFiles({"main.tex": PROOF_HEADINGS_TEX}), 10**6), "p", "r")
    by_id = {e.expr_id: e for e in out.expressions}
    by_label = {e.label: e for e in out.expressions if e.label}
    proofs = {label: by_id[by_label[label].proof_expr] for label in ("lem:one", "thm:two", "lem:three")
              if by_label[label].proof_expr}
    assert set(proofs) == {"lem:one", "thm:two", "lem:three"}
    assert [(p.env, p.title, p.in_appendix) for p in proofs.values()] == [
        ("section", "Proof of Lemma 1", True), ("paragraph", "Proof of Theorem 1", True),
        ("paragraph", "Proof of Lemma 2", True)]
    assert proofs["lem:one"].latex.startswith("By \\eqref{eq:a}, the second derivative is")
    assert proofs["lem:one"].latex.rstrip().endswith("as claimed in the lemma.")  # to the next section
    assert proofs["thm:two"].latex.endswith("by \\eqref{eq:a}.")  # to the next run-in heading
    assert proofs["lem:three"].latex.endswith("= 0$.")  # not into \\end{document}
    assert all(p.parent_expr == by_label[label].expr_id for label, p in proofs.items())
    edges = {(by_id[e.from_expr].label, by_id[e.to_expr].label, e.via) for e in out.edges}
    assert edges == {("lem:one", "eq:a", "proof"), ("thm:two", "eq:a", "proof"), ("lem:three", "eq:a", "proof")}
    assert "Remark" not in " ".join(p.title for p in out.expressions if p.kind == "proof")


def test_a_proof_heading_may_name_its_statement_by_number():
    tex = PROOF_HEADINGS_TEX.replace(r"\noindent\textbf{Proof of Lemma~\ref{lem:three}:}",
                                     r"\subsection*{Proof of Lemma 2}").replace(
        r"\section{Proof of Lemma~\ref{lem:one}}", r"\section{Proofs for Section 1}")
    out = extract_latex(flatten(TexFiles({"main.tex": tex}), 10**6), "p", "r")
    by_label = {e.label: e for e in out.expressions if e.label}
    by_id = {e.expr_id: e for e in out.expressions}
    assert by_id[by_label["lem:three"].proof_expr].latex.startswith("Substituting $x = 0$")
    assert by_label["lem:one"].proof_expr is None  # "Proofs for Section 1" names no statement


RESTATABLE_TEX = r"""\documentclass{article}
\usepackage{amsmath,amsthm,thmtools,thm-restate}
\newtheorem{lemma}{Lemma}\newtheorem{theorem}{Theorem}
\begin{document}
\section{Main}
\begin{equation}\label{eq:a} f(x) = x^2 \end{equation}
\begin{restatable}[Convexity]{lemma}{convexity}\label{lem:cvx} The map $f$ is convex. \end{restatable}
\begin{restatable}{theorem}{positivity}\label{thm:pos} For all $x$, $f(x) \ge 0$. \end{restatable}
\begin{lemma}\label{lem:other} Another statement. \end{lemma}
\appendix
\section{Proofs}
\convexity*
\begin{proof} By \eqref{eq:a}, $f''(x) = 2 > 0$, so $f$ is convex on the whole real line. \end{proof}
\positivity*
\begin{proof} Since $x^2 \ge 0$ for every real $x$, \eqref{eq:a} gives $f(x) \ge 0$ everywhere. \end{proof}
\end{document}
"""


def test_thmtools_restatables_are_statements_and_their_replays_carry_the_proofs():
    out = extract_latex(flatten(TexFiles({"main.tex": RESTATABLE_TEX}), 10**6), "p", "r")
    by_id = {e.expr_id: e for e in out.expressions}
    by_label = {e.label: e for e in out.expressions if e.label}
    assert [(by_label[k].env, by_label[k].title, by_label[k].number) for k in ("lem:cvx", "thm:pos", "lem:other")] == [
        ("lemma", "Lemma (Convexity)", "1"), ("theorem", "Theorem", "1"), ("lemma", "Lemma", "2")]
    assert by_id[by_label["lem:cvx"].proof_expr].latex.startswith("By \\eqref{eq:a}")
    assert by_id[by_label["thm:pos"].proof_expr].latex.startswith("Since $x^2")
    assert by_label["lem:other"].proof_expr is None  # the proofs follow the replays, not the last statement
    edges = {(by_id[e.from_expr].label, by_id[e.to_expr].label) for e in out.edges}
    assert edges == {("lem:cvx", "eq:a"), ("thm:pos", "eq:a")}


def test_a_reptheorem_restatement_hands_its_proof_to_the_original():
    tex = r"""\documentclass{article}
\usepackage{amsmath,amsthm}
\newtheorem{theorem}{Theorem}\newtheorem{lemma}{Lemma}
\newenvironment{reptheorem}[1]{\begin{theorem}}{\end{theorem}}
\begin{document}
\begin{theorem}\label{thm:main} The bound \begin{equation}\label{eq:m} a \le b \end{equation} holds. \end{theorem}
\begin{lemma}\label{lem:aside} An aside. \end{lemma}
\appendix
\section{Proofs}
\begin{reptheorem}{thm:main} The bound \begin{equation} a \le b \end{equation} holds. \end{reptheorem}
\begin{proof} Write $b = a + (b - a)$ with $b - a \ge 0$ by construction, so $a \le b$ follows at once. \end{proof}
\end{document}
"""
    out = extract_latex(flatten(TexFiles({"main.tex": tex}), 10**6), "p", "r")
    by_label = {e.label: e for e in out.expressions if e.label}
    by_id = {e.expr_id: e for e in out.expressions}
    assert by_id[by_label["thm:main"].proof_expr].latex.startswith("Write $b = a")
    assert by_label["lem:aside"].proof_expr is None
    assert sum(e.kind == "equation" for e in out.expressions) == 1  # the restated display is not new
    assert sum(e.kind == "statement" for e in out.expressions) == 2


def _extract(body: str, preamble: str = ""):
    tex = ("\\documentclass{article}\n\\usepackage{amsmath,amsthm}\n\\newtheorem{theorem}{Theorem}\n"
           "\\newtheorem{lemma}{Lemma}\n" + preamble + "\\begin{document}\n" + body + "\n\\end{document}\n")
    out = extract_latex(flatten(TexFiles({"main.tex": tex}), 10**6), "p", "r")
    by_id = {e.expr_id: e for e in out.expressions}
    labelled = {e.label: e for e in out.expressions if e.label}
    edges = {(by_id[e.from_expr].label, by_id[e.to_expr].label, e.via) for e in out.edges}
    return out, by_id, labelled, edges


def test_a_proof_under_a_heading_proves_what_the_heading_names_not_the_last_statement():
    out, by_id, labelled, edges = _extract(r"""
\begin{theorem}\label{thm:a} $a \le b$. \end{theorem}
\appendix
\begin{lemma}\label{lem:aux} An auxiliary fact stated without proof. \end{lemma}
\subsection{Proof of Theorem~\ref{thm:a}}
\begin{proof} By Lemma~\ref{lem:aux}, the claim $a \le b$ holds for every case we consider here. \end{proof}
""")
    assert labelled["lem:aux"].proof_expr is None
    assert by_id[labelled["thm:a"].proof_expr].latex.startswith("By Lemma")
    assert ("thm:a", "lem:aux", "proof") in edges


def test_a_heading_naming_two_statements_proves_neither_and_its_proofs_name_their_own():
    out, by_id, labelled, edges = _extract(r"""
\begin{theorem}\label{thm:a} $a \le b$. \end{theorem}
\begin{theorem}\label{thm:b} $b \le c$. \end{theorem}
\appendix
\section{Proofs of Theorem~\ref{thm:a} and Theorem~\ref{thm:b}}
A shared identity used by both proofs below, stated once for the reader.
We can now prove Theorem~\ref{thm:b} after the first one.
\begin{proof}[Proof of Theorem~\ref{thm:a}] Direct, since $a \le b$ holds by the assumptions made. \end{proof}
\begin{proof}[Proof of Theorem 2] By Theorem~\ref{thm:a} and transitivity, $b \le c$ follows here. \end{proof}
""")
    assert by_id[labelled["thm:a"].proof_expr].latex.startswith("Direct")
    assert by_id[labelled["thm:b"].proof_expr].latex.startswith("By Theorem")  # by number: "Theorem 2"
    assert ("thm:a", "thm:b", "proof") not in edges
    assert ("thm:b", "thm:a", "proof") in edges


def test_a_proof_whose_first_sentence_names_its_target():
    out, by_id, labelled, _ = _extract(r"""
\begin{theorem}\label{thm:a} $a \le b$. \end{theorem}
\begin{lemma}\label{lem:b} $b \le c$. \end{lemma}
\begin{proof} We now prove Theorem~\ref{thm:a}. It follows from the definitions of $a$ and $b$ directly. \end{proof}
""")
    assert by_id[labelled["thm:a"].proof_expr].latex.startswith("We now prove")
    assert labelled["lem:b"].proof_expr is None


def test_label_and_reference_macros_are_expanded_and_discarded_text_is_skipped():
    out, by_id, labelled, edges = _extract(r"""
\begin{lemma}\lemlabel{bound} $x \le 1$. \end{lemma}
\begin{theorem}\thmlabel{main} By \lemref{bound}, \begin{equation}\eqlabel{main} x^2 \le 1 \end{equation} \end{theorem}
\cut{\begin{lemma}\label{lem:old} A lemma the authors cut. \end{lemma}}
""", preamble=r"""\newcommand{\lemlabel}[1]{\label{lem:#1}}
\newcommand{\thmlabel}[1]{\label{thm:#1}}
\newcommand{\eqlabel}[1]{\label{eq:#1}}
\newcommand{\lemref}[1]{Lemma~\ref{lem:#1}}
\newcommand{\cut}[1]{}
""")
    assert {"lem:bound", "thm:main", "eq:main"} <= set(labelled)
    assert "lem:old" not in labelled
    assert ("thm:main", "lem:bound", "statement") in edges


def test_an_environment_wrapping_a_theorem_like_is_a_statement():
    out, _, labelled, _ = _extract(r"""
\begin{ftheo}\label{thm:boxed} A boxed theorem with $a \le b$. \end{ftheo}
""", preamble=r"""\newtheorem*{theo}{Threat Model}
\newenvironment{ftheo}{\begin{center}\begin{theo}}{\end{theo}\end{center}}
""")
    assert labelled["thm:boxed"].kind == "statement"
    assert labelled["thm:boxed"].title == "Threat Model"


def test_a_statement_repeated_under_its_label_is_a_restatement_and_other_reuse_is_recorded():
    out, by_id, labelled, _ = _extract(r"""
\begin{theorem}\label{thm:a} $a \le b$ whenever \begin{equation}\label{eq:c} a = b - c \end{equation} \end{theorem}
\begin{equation}\label{eq:x} x = 1 \end{equation}
\begin{equation}\label{eq:x} x = 2 \end{equation}
\appendix
\begin{theorem}\label{thm:a} $a \le b$ whenever \begin{equation}\label{eq:c} a = b - c \end{equation} \end{theorem}
\begin{proof} Since $c \ge 0$, subtracting it from $b$ gives at most $b$, so $a \le b$ as claimed. \end{proof}
\subsection{Proof of Lemma~\ref{lem:missing}}
Some text that proves a lemma the paper never states, at reasonable length for a proof body.
""")
    assert sum(e.kind == "statement" for e in out.expressions) == 1
    assert by_id[labelled["thm:a"].proof_expr].latex.startswith("Since")
    reasons = [(i.reason, i.detail) for i in out.issues]
    assert [r for r, _ in reasons].count("duplicate_label") == 1
    assert "'eq:x' at main.tex:" in next(d for r, d in reasons if r == "duplicate_label")
    assert any(r == "dangling_proof_reference" and "lem:missing" in d for r, d in reasons)


def test_running_text_edges_need_derivation_language_and_may_cite_in_the_sentence_before():
    out, by_id, labelled, edges = _extract(r"""
\begin{equation}\label{eq:a} a = b + c \end{equation}
Consider the problem in Eq.~\eqref{eq:a}. Expanding the right-hand side, we have
\begin{equation}\label{eq:b} a = b + c_1 + c_2. \end{equation}
Eq.~\eqref{eq:a} suggests another quantity, in which we minimize
\begin{equation}\label{eq:c} \min_b (a - b)^2 \end{equation}
""")
    assert ("eq:b", "eq:a", "introduction") in edges
    assert not any(e[0] == "eq:c" for e in edges)


def test_running_text_edges_need_the_introducing_words_to_derive_and_skip_examples_and_where_clauses():
    out, by_id, labelled, edges = _extract(r"""
\begin{theorem}\label{thm:t} $a \ge 0$. \end{theorem}
\begin{equation}\label{eq:a} a = b + c \end{equation}
Problems such as \eqref{eq:a} are common. Taking the minimum over $b$ gives
\begin{equation}\label{eq:m} a^\star = \min_b (b + c) \end{equation}
The dual of \eqref{eq:a} can be represented by
\begin{equation}\label{eq:dual} a = \max_y y \end{equation}
where the objective is defined by
\begin{equation}\label{eq:obj} J(y) = y \end{equation}
where $c$ is as in \eqref{eq:a}. And since $c \ge 0$, we have
\begin{equation}\label{eq:since} a \ge b \end{equation}
Then \eqref{eq:a} holds, and the rearrangement of \eqref{eq:dual} is known. They proved the bound
\begin{equation}\label{eq:bound} b \le a \end{equation}
To simplify the notation in \eqref{eq:a}, let
\begin{equation}\label{eq:let} d = b + c \end{equation}
By Theorem~\ref{thm:t}, differentiating \eqref{eq:a} in $b$ is
\begin{equation}\label{eq:d1} \partial_b a = 1 \end{equation}
and composing with $c$ yields
\begin{equation}\label{eq:d2} \partial_c a = 1 \end{equation}
""")
    introduced = {(a, b) for a, b, via in edges if via == "introduction"}
    assert ("eq:dual", "eq:a") in introduced  # "the dual of (1) can be represented by"
    assert not any(a in ("eq:m", "eq:obj", "eq:since", "eq:bound", "eq:let") for a, _ in introduced), introduced
    # one sentence introducing two displays: both derive from what it cites
    assert {("eq:d1", "eq:a"), ("eq:d1", "thm:t"), ("eq:d2", "eq:a"), ("eq:d2", "thm:t")} <= introduced


def test_reference_commands_built_on_a_redefined_eqref_resolve_to_the_prefixed_label():
    """celerite's preamble: ``\\eqref`` redefined to add ``eq:``, ``\\eq`` → ``\\Eq`` → ``\\eqref``."""
    out, by_id, labelled, edges = _extract(r"""
\begin{equation}\eqlabel{kernel} k(\tau) = a e^{-c\tau} \end{equation}
By rewriting the exponential in \eq{kernel} as a sum, we obtain
\begin{equation}\eqlabel{sum} k(\tau) = \sum_j a_j e^{-c_j\tau} \end{equation}
with the covariance (using \eqalt{sum} and \eqref{kernel})
\begin{equation}\eqlabel{cov} K = k(0) I \end{equation}
""", preamble=r"""\renewcommand{\eqref}[1]{\ref{eq:#1}}
\newcommand{\Eq}[1]{Equation~(\eqref{#1})}
\newcommand{\eq}[1]{\Eq{#1}}
\newcommand{\eqalt}[1]{Equation~\eqref{#1}}
\newcommand{\eqlabel}[1]{\label{eq:#1}}
""")
    assert {("eq:sum", "eq:kernel", "introduction"), ("eq:cov", "eq:sum", "introduction"),
            ("eq:cov", "eq:kernel", "introduction")} <= edges
    assert not any(i.reason == "dangling_proof_reference" for i in out.issues)


def test_a_where_clause_that_opens_a_display_keeps_the_display_whole():
    out, by_id, labelled, _ = _extract(r"""
\begin{equation}\label{eq:obj} \min_\theta L(\theta) \end{equation}
where the loss is given by
\begin{equation} L(\theta) = \|y - f_\theta(x)\|_2^2. \end{equation}
Solving it is hard.
""")
    definitions = labelled["eq:obj"].definitions
    assert definitions.startswith("where the loss is given by") and definitions.endswith("\\end{equation}")


def test_a_proof_section_ends_at_the_next_proof_heading():
    out, by_id, labelled, _ = _extract(r"""
\begin{theorem}\label{thm:a} $a \le b$. \end{theorem}
\begin{theorem}\label{thm:b} $b \le c$. \end{theorem}
\appendix
\section{Proof of Theorem~\ref{thm:a}}
The first proof, long enough to be a proof body of its own in this paper.
\subsection{Proof of Theorem~\ref{thm:b}}
The second proof, also long enough to stand as the proof body of theorem b.
""")
    first = by_id[labelled["thm:a"].proof_expr].latex
    assert "first proof" in first and "second proof" not in first
    assert "second proof" in by_id[labelled["thm:b"].proof_expr].latex


def test_lyx_definitions_and_xargs_defaults_expand_without_gluing_control_words():
    out, _, labelled, _ = _extract(r"""
\begin{equation}\label{eq:x} \left\Vert \hint(\theta) \right\Vert \le\constop \quad \theta\in\thetaball + \thetaw \end{equation}
""", preamble=r"""\global\long\def\hint{\tilde{H}}
\global\long\def\thetaball{B_{\Delta}}
\newcommandx\constop[1][usedefault, addprefix=\global, 1={\text{\,}}]{C_{op}^{#1}}
\newcommandx\thetaw[1][usedefault, addprefix=\global, 1=w]{\hat{\theta}\left(#1\right)}
""")
    expanded = labelled["eq:x"].latex_expanded
    assert r"\tilde{H}(\theta)" in expanded and r"\le C_{op}^{\text{\,}}" in expanded
    assert r"\in B_{\Delta}" in expanded and r"\hat{\theta}\left(w\right)" in expanded


def test_refstyle_references_and_labels_carry_their_prefix():
    out, _, labelled, edges = _extract(r"""
\begin{lemma}\label{lem:a} \begin{equation}\eqlabel{base} a \le b \end{equation} \end{lemma}
\begin{theorem}\label{thm:b} By \eqref{base} and \lemref{a}, $a \le c$. \end{theorem}
""", preamble="\\usepackage{refstyle}\n\\newref{lem}{refcmd={Lemma \\ref{#1}}}\n")
    assert "eq:base" in labelled
    assert {("thm:b", "eq:base", "statement"), ("thm:b", "lem:a", "statement")} <= edges


def test_a_restatement_without_its_original_and_a_proof_to_the_end_are_recorded_or_bounded():
    out, by_id, labelled, _ = _extract(r"""
\begin{theorem}\label{thm:a} $a \le b$. \end{theorem}
\appendix
\begin{reptheorem}{thm:gone} A theorem the paper no longer states. \end{reptheorem}
\begin{proof} A proof of the theorem that is gone, kept but linked to nothing at all. \end{proof}
\section{Proof of Theorem~\ref{thm:a}}
It runs to the end of the document, which is where the paper stops writing.
""", preamble="\\newenvironment{reptheorem}[1]{\\begin{theorem}}{\\end{theorem}}\n")
    assert any(i.reason == "dangling_proof_reference" and "thm:gone" in i.detail for i in out.issues)
    proof = by_id[labelled["thm:a"].proof_expr].latex
    assert proof.endswith("stops writing.") and "end{document}" not in proof
    assert sum(e.kind == "statement" for e in out.expressions) == 1


def test_mathtools_paired_delimiters_expand_with_or_without_star_and_size():
    _, _, labelled, _ = _extract(r"""
\begin{equation}\label{eq:d} \abs*{x} + \abs[\big]{y} = D\infdivx{p}{q} \end{equation}
""", preamble="\\usepackage{mathtools}\n\\DeclarePairedDelimiter\\abs{\\lvert}{\\rvert}\n"
              "\\DeclarePairedDelimiterX{\\infdivx}[2]{(}{)}{#1\\;\\delimsize\\|\\;#2}\n")
    expanded = " ".join(labelled["eq:d"].latex_expanded.split())
    assert r"\lvert x \rvert + \lvert y \rvert = D( p\;\|\;q )" in expanded


@pytest.mark.parametrize("broken", [
    r"A broken \textbf{emphasis that never closes.", r"A stray \end{itemize} here.",
    r"\begin{itemize}\item a list never closed", r"A lone $ opens math and never closes it",
    r"\begin{equation} a = b \end{align}"])
@pytest.mark.parametrize("separator", ["\n\n", "\n"])
def test_a_broken_construct_costs_its_lines_not_the_rest_of_the_paper(broken, separator):
    body = ("\\begin{lemma}\\label{lem:a} $a \\le b$. \\end{lemma}\n"
            "\\begin{proof} Since a is at most b by the assumption on the first variable here. \\end{proof}\n"
            "\\section{Two}" + separator + broken + separator
            + "\\begin{theorem}\\label{thm:b} $b \\le c$. \\end{theorem}\n"
              "\\begin{proof} By Lemma~\\ref{lem:a} and the second assumption, b is at most c here. \\end{proof}\n"
              "\\begin{equation}\\label{eq:z} z = 1 \\end{equation}\n\\section{Three}\n"
              "\\begin{lemma}\\label{lem:c} $c \\le d$. \\end{lemma}\n")
    out, _, labelled, edges = _extract(body)
    assert {"lem:a", "thm:b", "eq:z", "lem:c"} <= set(labelled)
    assert labelled["thm:b"].proof_expr and ("thm:b", "lem:a", "proof") in edges
    (issue,) = [i for i in out.issues if i.reason == "unbalanced_latex"]
    line = 5 + body[:body.index(broken)].count("\n") + 1  # _extract's preamble is 5 lines
    assert issue.detail.endswith(f"left out main.tex:{line} and read the rest")


def test_commands_that_open_and_close_environments_are_read_as_those_environments():
    out, _, labelled, edges = _extract(r"""
\begin{lemma}\label{lem:a} $a \le b$. \end{lemma}
\bthm\label{thm:b} $b \le c$. \ethm
\begin{proof} By Lemma~\ref{lem:a} and the second assumption, b is at most c here. \end{proof}
\beq\label{eq:z} z = \E[1] \eeq
Substituting \eqref{eq:z} gives
\bea y &=& 2 \label{eq:y} \\ w &=& 3 \label{eq:w} \eea
\beq an opening command never closed
""", preamble=r"""\newcommand{\bthm}{\begin{theorem}}
\newcommand{\ethm}{\end{theorem}}
\def\beq{\begin{equation}}
\def\eeq{\end{equation}}
\newcommand{\bea}{\begin{eqnarray}}
\newcommand{\eea}{\end{eqnarray}}
\newcommand{\E}{\mathbb{E}}
""")
    assert labelled["thm:b"].kind == "statement" and labelled["thm:b"].proof_expr
    assert (labelled["eq:z"].number, labelled["eq:y"].number, labelled["eq:w"].number) == ("1", "2", "3")
    assert labelled["eq:z"].latex_expanded.endswith(r"z = \mathbb{E}[1]")
    assert {("thm:b", "lem:a", "proof"), ("eq:y", "eq:z", "introduction")} <= edges
    assert [i.reason for i in out.issues] == ["unclosed_environment_macro"]  # and no unbalanced_latex


def test_reference_macros_with_optional_arguments_and_redefined_discarders():
    _, _, labelled, edges = _extract(r"""
\begin{lemma}\label{lem:x} $x \le 1$. \end{lemma}
\begin{theorem}\label{thm:y} By \thmref{lem:x} $y$ and \eqref[s]{base}, \hide{\begin{equation}\label{eq:kept} k = 1 \end{equation}} done. \end{theorem}
\begin{equation}\eqlabel{base} b = 0 \end{equation}
\begin{proof}[Sketch, following Smith 2020] The first sentence uses Lemma~\ref{lem:x} at length here. \end{proof}
""", preamble="\\usepackage{refstyle}\n\\newcommand{\\thmref}[2][Lemma]{#1~\\ref{#2}}\n"
              "\\newcommand{\\hide}[1]{}\n\\renewcommand{\\hide}[1]{#1}\n")
    assert {("thm:y", "lem:x", "statement"), ("thm:y", "eq:base", "statement")} <= edges
    assert "eq:kept" in labelled  # \hide was redefined to keep its text
    assert labelled["thm:y"].proof_expr  # "[Sketch, following Smith 2020]" names no statement


def test_a_first_sentence_names_a_target_only_as_what_it_proves():
    _, by_id, labelled, edges = _extract(r"""
\begin{lemma}\label{lem:aux} $f \le 1$. \end{lemma}
\begin{proof} Immediate from the definition of f and the bound on its values. \end{proof}
\begin{theorem}\label{thm:main} $g \le 1$. \end{theorem}
\begin{proof} We first show that $g \le f$ using Lemma~\ref{lem:aux}. Then the claim follows at once. \end{proof}
""")
    assert by_id[labelled["lem:aux"].proof_expr].latex.startswith("Immediate")
    assert by_id[labelled["thm:main"].proof_expr].latex.startswith("We first show")
    assert ("thm:main", "lem:aux", "proof") in edges


def test_an_unlabelled_multiline_display_with_macros_stays_one_formula():
    out, _, _, _ = _extract(r"""
\begin{align*} a &= \frac12 \\ &\le \sum_i x_i \end{align*}
""")
    assert [e.kind for e in out.expressions] == ["equation"]

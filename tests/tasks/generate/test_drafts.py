"""Drafts by construction (tasks.generate.drafts): problems the LaTeX structure answers exactly,
and the generation stage with no LLM (drafted) and with one (the agents refine the drafts)."""

from tasks.documents.eprint import TexFiles
from tasks.extract.parse.latex import extract_latex
from tasks.extract.parse.project import flatten
from tasks.generate.agents.extractor import latex_targets
from tasks.generate.drafts import draft, portable
from tasks.generate.pipeline import PaperWork
from tasks.generate.renderable import unrenderable
from tasks.io.storage import query
from tests.llm_server import ScriptedLLM
from tests.tasks.generate.test_steps import gen_settings, paper_work, run  # noqa: F401 (a fixture)

MACROS = r"""\documentclass{article}
\usepackage{amsmath,amsthm}
\newtheorem{theorem}{Theorem}
\newcommand{\E}{\mathbb{E}}
\newcommand{\loss}[1]{\ell(#1)}
\begin{document}
\section{Main}
\begin{equation}\label{eq:def} \E[\loss{z}] \ge 0 \tag{D} \end{equation}
\begin{theorem}\label{thm:short} The bound \eqref{eq:def} holds. \end{theorem}
\begin{proof} Immediate. \end{proof}
\begin{theorem}\label{thm:noproof} Something else holds. \end{theorem}
\end{document}
"""


def _work(tex: str, paper_id: str = "arxiv:2402.00001") -> PaperWork:
    out = extract_latex(flatten(TexFiles({"main.tex": tex}), 1_000_000), paper_id, "run-x")
    return PaperWork(paper_id, "latex", out.expressions, out.edges, out.macros)


def _drafts(work: PaperWork) -> dict:
    return {t.expr.label: draft(t, work.by_id, work.macro_table) for t in latex_targets(work.expressions, work.edges, 20)}


def test_a_statement_with_its_proof_is_a_problem_answered_verbatim():
    work = paper_work()
    made = _drafts(work)["lem:gap"]
    proof = next(e for e in work.expressions if e.kind == "proof")
    assert made.answer == proof.latex and made.grounded_score == 100.0
    assert made.answer_source == f"expr:{proof.expr_id}" and made.answer_span == [0, len(proof.latex)]
    assert made.question.startswith("Prove the following lemma.")
    assert r"|\hat R(f) - R(f)| \le \sqrt{\log(2/\delta)/(2n)}" in made.question
    assert "(A1) \\[ \\hat R(f) = \\frac{1}{n}" in made.question  # the display its proof cites
    assert "\\label" not in made.question


def test_a_formula_derived_in_running_text_is_answered_by_that_passage():
    made = _drafts(paper_work())["eq:unbiased"]
    assert made.answer.startswith(r"Substituting \eqref{eq:emp} into \eqref{eq:risk} and taking expectations")
    assert made.answer.rstrip().endswith("= R(f).") and made.grounded_score == 100.0
    assert made.answer_portable.startswith("Substituting (A2) into (A1) and taking expectations, we obtain")
    assert made.answer_portable.endswith("= R(f). \\]") and "\\label" not in made.answer_portable
    assert made.question.startswith("Using the following, derive")
    assert "(A1) \\[ R(f) := " in made.question and "(A2) \\[ \\hat R(f) = " in made.question
    assert made.symbols == r"where $\ell$ is the loss and $(x, y)$ a labelled example."


def test_questions_are_portable_and_unanswerable_targets_are_left_to_the_agents():
    work = _work(MACROS)
    by_label = {e.label: e for e in work.expressions if e.label}
    assert portable(by_label["eq:def"], {}) == r"\mathbb{E}[\ell(z)] \ge 0"  # macros expanded, label and tag gone
    assert portable(by_label["thm:short"], {"eq:def": "(A1)"}) == "The bound (A1) holds."
    assert portable(by_label["thm:short"], {}) == "The bound (?) holds."
    made = _drafts(work)
    assert made.get("thm:short", "absent") is None  # "Immediate." is no derivation to pose
    assert "thm:noproof" not in made  # not a target at all: nothing proves it


def test_without_an_llm_latex_papers_land_drafted_problems(settings):
    assert not settings.llm.configured
    choices, batch = run(settings, [paper_work()])
    assert {(c.status, c.drafted_by, c.stage_reached) for c in batch.candidates} == {
        ("drafted", "rules", "question_refiner")}
    assert not batch.calls and batch.quarantined == 0
    rows = query(settings, "SELECT status, question, answer FROM derivation_problems").to_dict("records")
    assert len(rows) == 2 and {r["status"] for r in rows} == {"drafted"}
    _, again = run(settings, [paper_work()], run_id="run-2")
    assert again.skipped == 1  # unchanged without an LLM: nothing redone


def test_with_an_llm_the_agents_refine_drafts_without_asking_for_them(gen_settings):  # noqa: F811
    with ScriptedLLM() as server:
        _, batch = run(gen_settings(server, rules_drafts=True), [paper_work()])
        by_agent = dict(server.log.by_agent)
    assert {(c.status, c.drafted_by) for c in batch.candidates} == {("done", "rules")}
    assert "query_draft" not in by_agent and "answer_retriever" not in by_agent
    assert by_agent == {"context_collector": 2, "question_refiner": 2, "answer_filter": 2}
    assert all(c.grounded_score == 100.0 for c in batch.candidates)


ABBREVIATED = r"""\documentclass{article}
\usepackage{amsmath,amsthm}
\providecommand{\lemmaname}{Lemma}
\newtheorem{lem}{\protect\lemmaname}
\newtheorem{assumption}{Assumption}
\begin{document}
\begin{assumption}\label{as:bounded} Every $x_i$ lies in $[0, 1]$. \end{assumption}
\begin{lem}\label{lem:sum} Under Assumption~\ref{as:bounded}, $\sum_{i=1}^n x_i \le n$. \end{lem}
\begin{proof} Each term is at most $1$ by the assumption, and there are $n$ terms, so the sum is at most $n$. \end{proof}
\end{document}
"""


def test_theorem_likes_named_by_abbreviation_or_macro_are_drafted():
    work = _work(ABBREVIATED)
    (lemma,) = [e for e in work.expressions if e.env == "lem"]
    assert lemma.title == "Lemma"  # \protect\lemmaname, expanded
    made = _drafts(work)["lem:sum"]
    assert made.question.startswith("Prove the following lemma.")
    assert "Under Assumption~(A1)" in made.question and "(A1) Assumption: Every $x_i$" in made.question


def test_a_drafted_proof_carries_a_portable_form_and_what_katex_cannot_render(settings):
    tex = MACROS.replace(r"\begin{proof} Immediate. \end{proof}",
                         r"\begin{proof} Since $\loss{z} \ge 0$ pointwise, taking $\E$ of both sides keeps the "
                         r"sign, so \eqref{eq:def} holds. \end{proof}")
    work = _work(tex, "arxiv:2402.00002")
    choices, batch = run(settings, [work])
    (short,) = [c for c in batch.candidates if c.target_expr == next(e.expr_id for e in work.expressions
                                                                      if e.label == "thm:short")]
    assert short.status == "drafted" and r"\E" in short.answer  # verbatim, the paper's macros
    assert short.answer_portable.startswith(r"Since $\ell(z) \ge 0$ pointwise, taking $\mathbb{E}$")
    assert "(A1) holds" in short.answer_portable
    assert short.unrenderable_latex == []  # the portable form renders
    assert batch.candidates and all(isinstance(c.unrenderable_latex, list) for c in batch.candidates)


def test_displays_inside_a_derivation_passage_are_portable_too():
    made = _drafts(_work(r"""\documentclass{article}
\usepackage{amsmath}
\newcommand{\E}{\mathbb{E}}
\begin{document}
\begin{equation}\label{eq:base} f(x) = \E[g(x)] \end{equation}
Taking the gradient of \eqref{eq:base} and exchanging it with the expectation, we obtain first
\[ \nabla f(x) = \E[\nabla g(x)] \]
Then, with independent samples plugged into \eqref{eq:base}, we get
\begin{equation}\label{eq:grad} \nabla f(x) \approx \frac{1}{n} \sum_i \nabla g(x_i) \end{equation}
\end{document}
"""))["eq:grad"]
    assert r"\E[\nabla g(x)]" in made.answer  # verbatim
    assert r"\mathbb{E}[\nabla g(x)]" in made.answer_portable and r"\E" not in made.answer_portable


def test_paper_macros_in_running_text_are_expanded_in_passages_and_notation():
    work = _work(r"""\documentclass{article}
\usepackage{amsmath}
\newcommand{\D}{\mathcal{D}}
\newcommand{\loss}[2][\theta]{\ell_{#1}(#2)}
\begin{document}
We study the empirical risk. Let $\D$ be the training set and $\loss{z}$ the loss of an example. The empirical risk is
\begin{equation}\label{eq:risk} R(\theta) = \frac{1}{|\D|} \sum_{z \in \D} \loss{z} \end{equation}
Differentiating \eqref{eq:risk} term by term over $\D$, with $\loss[\phi]{z}$ smooth, we obtain
\begin{equation}\label{eq:grad} \nabla R(\theta) = \frac{1}{|\D|} \sum_{z \in \D} \nabla \loss{z} \end{equation}
\end{document}
""")
    made = _drafts(work)["eq:grad"]
    assert r"over $\D$, with $\loss[\phi]{z}$" in made.answer  # verbatim, for groundedness
    assert r"over $\mathcal{D}$, with $\ell_{\phi}(z)$ smooth" in made.answer_portable
    assert r"Let $\mathcal{D}$ be the training set and $\ell_{\theta}(z)$ the loss" in made.symbols
    assert unrenderable(made.answer_portable) == [] and unrenderable(made.question) == []
    # without the paper's macros the notation sentence could not render, so it is left out
    bare = draft(next(t for t in latex_targets(work.expressions, work.edges, 20) if t.expr.label == "eq:grad"),
                 work.by_id)
    assert bare.symbols is None or r"\D" not in bare.symbols


def test_a_draft_the_agents_have_since_finished_leaves_the_problem_lists(settings):
    from tasks.core.records import Candidate
    from tasks.io import storage
    from tests.factories import candidate_catalog

    candidate_catalog(settings, papers=1, per_paper=2, broken=False, drafted=frozenset({"c0x0", "c0x1"}))
    lake = storage.Lake.from_settings(settings)
    refined = Candidate(candidate_id="c0x0-by-another-model", paper_id="arxiv:2611.00000", target_expr="e0x0",
                        question="Derive the bound.", answer="By convexity …", status="done",
                        stage_reached="answer_filter", verdict="derive")
    lake.write_table(Candidate, [refined], "refined")
    storage.publish_catalog(settings)
    shown = set(query(settings, "SELECT candidate_id FROM derivation_problems").candidate_id)
    assert shown == {"c0x0-by-another-model", "c0x1"}  # c0x0 superseded, c0x1 still only drafted
    assert {r["candidate_id"] for r in storage.named_rows(settings, "review_items")} == shown


def test_notation_fixed_just_before_the_statement_goes_into_the_question():
    made = _drafts(_work(r"""\documentclass{article}
\usepackage{amsmath,amsthm}
\newtheorem{lemma}{Lemma}
\begin{document}
We study smooth objectives. Let $f:\mathbb{R}^d \to \mathbb{R}$ be convex and $L$-smooth. We denote by
$x^\star$ a minimiser of $f$. The next lemma bounds one gradient step.
\begin{lemma}\label{lem:step} For $\eta \le 1/L$, $f(x - \eta \nabla f(x)) \le f(x) - \frac{\eta}{2}\|\nabla f(x)\|^2$.
\end{lemma}
\begin{proof} By $L$-smoothness, $f(y) \le f(x) + \langle \nabla f(x), y - x\rangle + \frac{L}{2}\|y-x\|^2$;
take $y = x - \eta\nabla f(x)$ and use $\eta L \le 1$. \end{proof}
\end{document}
"""))["lem:step"]
    assert "Let $f:\\mathbb{R}^d \\to \\mathbb{R}$ be convex and $L$-smooth." in made.symbols
    assert "We denote by $x^\\star$ a minimiser of $f$." in made.symbols.replace("\n", " ")
    assert "The next lemma" not in made.symbols and "Notation: " in made.question

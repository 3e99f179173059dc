"""A paper's user macros (tasks.documents.latex_macros): read, stored as JSON, expanded anywhere."""

import pickle

from pylatexenc.latexwalker import LatexWalker

from tasks.documents.latex_macros import MacroTable, latex_context

PREAMBLE = r"""
\newcommand{\R}{\mathbb{R}}
\newcommand{\pair}[2][x]{(#1, #2)}
\DeclareMathOperator*{\argmin}{arg\,min}
\DeclarePairedDelimiter{\abs}{\lvert}{\rvert}
\def\inner#1#2{\langle #1, #2 \rangle}
"""


def _table() -> MacroTable:
    nodes, _, _ = LatexWalker(PREAMBLE, latex_context=latex_context(), tolerant_parsing=True).get_latex_nodes()
    return MacroTable().read(nodes)


def test_a_stored_table_expands_running_text_as_the_one_read_from_source():
    text = r"For $v \in \R^d$ the minimiser $\argmin_v \abs*{\inner{v}{w}}$ of \pair{y} is unique."
    read = _table()
    stored = MacroTable.from_json(read.to_json())
    assert stored.macros == read.macros
    assert stored.expand(text) == read.expand(text) == (
        r"For $v \in \mathbb{R}^d$ the minimiser $\operatorname*{arg\,min}_v \lvert \langle v, w \rangle \rvert$"
        r" of (x, y) is unique.")


def test_a_missing_or_foreign_column_is_an_empty_table_and_the_text_is_left_as_written():
    for stored in (None, "", "not json", "{}", '[{"name": "x"}]', "[1, 2]"):
        assert MacroTable.from_json(stored).expand(r"$\R$") == r"$\R$"


def test_a_table_crosses_to_a_worker_without_its_parser_context():
    table = _table()
    table.expand(r"$\R$")  # builds and caches the walker context
    copy = pickle.loads(pickle.dumps(table))
    assert "_context" not in copy.__dict__ and copy.expand(r"$\R$") == r"$\mathbb{R}$"


def test_the_usual_independence_symbol_built_on_mathpalette_expands_to_what_katex_renders():
    source = r"""\newcommand\independent{\protect\mathpalette{\protect\independenT}{\perp}}
\def\independenT#1#2{\mathrel{\rlap{$#1#2$}\mkern2mu{#1#2}}}"""
    nodes, _, _ = LatexWalker(source, latex_context=latex_context(), tolerant_parsing=True).get_latex_nodes()
    expanded = MacroTable().read(nodes).expand(r"X \independent Y")
    assert "mathpalette" not in expanded and "independenT" not in expanded
    assert r"\mathrel{\rlap{$\textstyle\perp$}\mkern2mu{\textstyle\perp}}" in expanded

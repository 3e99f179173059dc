"""Portable LaTeX: a formula or passage as a reader outside the paper can render it (KaTeX).

Input: LaTeX with the paper's own macros already expanded (``expressions.latex_expanded``) and a
map from labels to the names the question gives them (``(A2)``, ``Assumption 2``).
Output: the same LaTeX with labels, tags and references removed or resolved, and the spellings
of common packages that KaTeX lacks rewritten into ones it has: ``physics``/``commath``
operators (``\\dif``, ``\\grad``, ``\\vu``), ``\\intertext``, ``\\lefteqn``, ``\\MoveEqLeft``,
and the display environments KaTeX does not know (``eqnarray``, ``multline``, ``flalign``).
What is still unknown afterwards is listed by ``tasks.generate.renderable``.
"""

from __future__ import annotations

import re

_STRIP = re.compile(r"\\(?:[A-Za-z]*label|tag\*?)\s*\{[^{}]*\}"
                    r"|\\(?:nonumber|notag|qedhere|xspace|ensuremath|protect|MoveEqLeft)(?![A-Za-z])")
"""``\\label`` and its families (``\\eqlabel``, ``\\lemlabel`` left by refstyle), tags, and
commands that only steer layout or robustness."""
SPELLINGS = {
    "defeq": r"\coloneqq", "eqdef": r"\eqqcolon", "dif": r"\mathrm{d}", "grad": r"\nabla",
    "divergence": r"\nabla\cdot", "divr": r"\nabla\cdot", "curl": r"\nabla\times", "vdot": r"\cdot",
    "cross": r"\times", "qty": "", "dd": r"\mathrm{d}", "mbox": r"\text", "hdots": r"\ldots",
}
"""Commands of common packages (mathtools, physics, commath) by a spelling KaTeX knows."""
ONE_ARGUMENT = {"vu": r"\hat{\mathbf{#}}", "vb": r"\mathbf{#}", "lefteqn": "#", "intertext": r"\text{#} \\"}
"""One-argument commands KaTeX lacks, rewritten around their (brace-balanced) argument."""
ENVIRONMENTS = {"eqnarray": "align*", "eqnarray*": "align*", "multline": "gather*", "multline*": "gather*",
                "flalign": "align*", "flalign*": "align*"}
_SPELLING = re.compile(r"\\(" + "|".join(sorted(SPELLINGS, key=len, reverse=True)) + r")(?![A-Za-z])")
_ONE_ARGUMENT = re.compile(r"\\(" + "|".join(ONE_ARGUMENT) + r")\s*\{")
_ENVIRONMENT = re.compile(r"\\(begin|end)\{(" + "|".join(re.escape(e) for e in ENVIRONMENTS) + r")\}")
_MATH_IN_LAP = re.compile(r"\\(r|l)lap\s*\{\s*\$([^${}]*(?:\{[^${}]*\}[^${}]*)*)\$\s*\}")
"""``\\rlap{$\\perp$}`` (text mode around math, as in the usual ``\\independent``): ``\\mathrlap{\\perp}``,
which needs no ``$`` inside a formula."""
_REF = re.compile(r"\\(?:eqref|ref|cref|Cref|autoref|labelcref)\s*\{([^{}]*)\}")
_SPACE = re.compile(r"[ \t]+")
_AMPERSAND_OR_ENV = re.compile(r"&|\\(begin|end)\s*\{")


def portable_text(text: str, names: dict[str, str]) -> str:
    """``text`` made portable; references to named labels become their names, others ``(?)``."""
    text = _STRIP.sub("", text)
    text = _SPELLING.sub(lambda m: SPELLINGS[m.group(1)], text)
    text = _rewrite_one_argument(text)
    text = _MATH_IN_LAP.sub(lambda m: f"\\math{m.group(1)}lap{{{m.group(2)}}}", text)
    text = _ENVIRONMENT.sub(lambda m: f"\\{m.group(1)}{{{ENVIRONMENTS[m.group(2)]}}}", text)
    text = _REF.sub(lambda m: names.get(m.group(1).split(",")[0].strip(), "(?)"), text)
    return _SPACE.sub(" ", text).strip()


def display(latex: str) -> str:
    """A formula as one display: rows with alignment points (``a &= b``, a row of an ``align``,
    ``f &= \\begin{cases}…\\end{cases}``) go inside ``aligned``, which KaTeX needs for an ``&``
    that no environment holds."""
    if _has_free_ampersand(latex):
        return f"\\[ \\begin{{aligned}} {latex} \\end{{aligned}} \\]"
    return f"\\[ {latex} \\]"


def _has_free_ampersand(latex: str) -> bool:
    depth = 0
    for match in _AMPERSAND_OR_ENV.finditer(latex):
        if match.group(0) == "&":
            if depth == 0 and latex[match.start() - 1:match.start()] != "\\":
                return True
        else:
            depth += 1 if match.group(1) == "begin" else -1
    return False


def _rewrite_one_argument(text: str) -> str:
    out, at = [], 0
    for match in _ONE_ARGUMENT.finditer(text):
        if match.start() < at:  # inside an argument already rewritten
            continue
        end = _closing_brace(text, match.end() - 1)
        if end is None:
            continue
        argument = _rewrite_one_argument(text[match.end():end])
        out += [text[at:match.start()], ONE_ARGUMENT[match.group(1)].replace("#", argument)]
        at = end + 1
    return "".join(out) + text[at:]


def _closing_brace(text: str, opening: int) -> int | None:
    depth = 0
    for i in range(opening, len(text)):
        if text[i] == "\\":
            continue
        if text[i] == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif text[i] == "}" and text[i - 1] != "\\":
            depth -= 1
            if depth == 0:
                return i
    return None

"""Which LaTeX commands of a question or answer the review app's KaTeX cannot render.

Input: a ``question`` or ``answer`` (prose with inline and display math). Output: the commands
inside its math that the vendored KaTeX (``reviewapp/static/katex``; the commands its bundle
defines are listed in ``katex_commands.json``, kept equal to it by a test) does not know — e.g.
a paper macro left unexpanded, ``\\label``, ``\\eqref``. Generation stores them in the
``candidates.unrenderable_latex`` column, so the review page says why a formula shows as source.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

COMMANDS_FILE = Path(__file__).with_name("katex_commands.json")
_MATH = re.compile(
    r"\$\$(?P<a>.+?)\$\$|\\\[(?P<b>.+?)\\\]|\\\((?P<c>.+?)\\\)|(?<![\\$])\$(?P<d>[^$]+?)(?<!\\)\$"
    r"|\\begin\{(?P<env>equation|align|gather|multline|eqnarray|flalign|alignat)(?P<star>\*?)\}(?P<e>.+?)"
    r"\\end\{(?P=env)(?P=star)\}", re.S)
_COMMAND = re.compile(r"\\([A-Za-z]+)")


@lru_cache(maxsize=1)
def katex_commands() -> frozenset[str]:
    return frozenset(json.loads(COMMANDS_FILE.read_text())["commands"])


def math_segments(text: str) -> list[tuple[str, bool]]:
    """The math of ``text`` as the review page hands it to KaTeX: (LaTeX, display?) for ``$…$``,
    ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``, and display environments whole (KaTeX renders
    ``\\begin{align*}…``)."""
    out = []
    for m in _MATH.finditer(text or ""):
        if m.group("e") is not None:
            out.append((m.group(0), True))
        else:
            inline = m.group("c") if m.group("c") is not None else m.group("d")
            out.append((inline, False) if inline is not None else (m.group("a") or m.group("b"), True))
    return out


def unrenderable(text: str | None) -> list[str]:
    """Commands (``\\name``) inside the math of ``text`` that KaTeX does not define, sorted."""
    known = katex_commands()
    return sorted({f"\\{name}" for segment, _ in math_segments(text or "") for name in _COMMAND.findall(segment)
                   if name not in known})

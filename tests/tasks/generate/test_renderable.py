"""What KaTeX (the review app's vendored copy) cannot render (tasks.generate.renderable)."""

import json
import re
from pathlib import Path

from tasks.generate.renderable import COMMANDS_FILE, math_segments, unrenderable

KATEX = Path(__file__).resolve().parents[3] / "reviewapp" / "static" / "katex" / "katex.min.js"


def test_the_command_list_is_the_vendored_katexs():
    defined = sorted(set(re.findall(r'"\\\\([a-zA-Z]+)"', KATEX.read_text())))
    assert json.loads(COMMANDS_FILE.read_text())["commands"] == defined, \
        "KaTeX was updated: regenerate katex_commands.json from reviewapp/static/katex/katex.min.js"


def test_commands_katex_lacks_are_found_in_math_only():
    text = (r"Show that $\vt \le \frac{1}{2}$ where \emph{all} terms are bounded, and "
            r"\[ \E[X] = \sum_i x_i \label{eq:a} \] follows from \eqref{eq:b}. "
            r"\begin{align*} a &= \mathbb{R} \\ b &= \operatorname{tr}(A) \end{align*}")
    segments = math_segments(text)
    assert segments[0] == (r"\vt \le \frac{1}{2}", False) and segments[2][0].startswith(r"\begin{align*}")
    assert unrenderable(text) == [r"\E", r"\label", r"\vt"]  # \emph and \eqref are outside math
    assert unrenderable(r"$x^2 + \alpha$ and \$5") == [] and unrenderable(None) == []

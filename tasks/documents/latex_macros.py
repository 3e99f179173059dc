"""User macros: read their definitions, expand them in a formula or a passage.

Input: pylatexenc nodes of a source (preamble, local ``.sty`` files, body).
Output: a ``MacroTable`` whose ``expand(latex)`` returns the LaTeX with every user macro
replaced by its body (arguments substituted, optional defaults honoured, nested macros expanded
to a bounded depth), and a pylatexenc context in which user macros take their arguments.
``to_json``/``from_json``: the table as the extractor stores it (``extractions.macros``), so a
later stage expands the paper's running text as the extractor expanded its formulas.

Definitions read: ``\\newcommand``/``\\renewcommand``/``\\providecommand`` (starred too),
``\\def\\name#1#2{…}`` (undelimited parameters), ``\\DeclareMathOperator(*)``.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field

from pylatexenc.latexwalker import (
    LatexCharsNode,
    LatexEnvironmentNode,
    LatexGroupNode,
    LatexMacroNode,
    LatexMathNode,
    LatexWalker,
    LatexWalkerError,
    get_default_latex_context_db,
)
from pylatexenc.macrospec import MacroSpec

MAX_DEPTH = 8
"""Expansion rounds; a macro that still expands after this many is recursive (``\\def\\a{\\a}``)."""
MAX_EXPANDED_CHARS = 50_000
"""An expression whose expansion would pass this (or 20 times its own length) is left as
written: a self-multiplying macro (``\\newcommand\\b{\\a\\a}`` over eight levels) grows
exponentially."""

DEFINING = ("newcommand", "renewcommand", "providecommand", "DeclareMathOperator", "def",
            "DeclareRobustCommand", "newcommandx", "renewcommandx", "providecommandx",
            "DeclarePairedDelimiter", "DeclarePairedDelimiterX")
PAIRED = frozenset({"DeclarePairedDelimiter", "DeclarePairedDelimiterX"})
"""mathtools: ``\\DeclarePairedDelimiter\\abs{\\lvert}{\\rvert}``; ``…X\\infdivx[2]{(}{)}{#1\\|#2}``."""
XARGS = frozenset({"newcommandx", "renewcommandx", "providecommandx"})
"""xargs (LyX writes these): ``\\newcommandx\\f[1][usedefault, addprefix=\\global, 1=w]{…}``."""
_XARGS_DEFAULT = re.compile(r"(?:^|,)\s*1\s*=\s*(\{(?:[^{}]|\{[^{}]*\})*\}|[^,]*)")
_PARAM = re.compile(r"##|#([1-9])")
_CONTROL_WORD_END = re.compile(r"\\[A-Za-z]+$")


STRUCTURE_SPECS = (
    MacroSpec("newtheorem", "*{[{["), MacroSpec("tag", "*{"), MacroSpec("numberwithin", "[{{"),
    MacroSpec("Cref", "*{"), MacroSpec("autoref", "*{"), MacroSpec("subfile", "{"),
    MacroSpec("declaretheorem", "[{["), MacroSpec("include", "{"), MacroSpec("input", "{"),
    MacroSpec("paragraph", "*[{"), MacroSpec("subparagraph", "*[{"),
    *(MacroSpec(name, "*{[[{") for name in ("newcommandx", "renewcommandx", "providecommandx")),
    MacroSpec("DeclarePairedDelimiter", "{{{"), MacroSpec("DeclarePairedDelimiterX", "{[{{{"),
)
"""Commands whose arguments the extractor reads and pylatexenc's default context does not know."""


def latex_context(*extra: MacroSpec):
    """pylatexenc's default context plus the structural commands above (and ``extra``)."""
    db = get_default_latex_context_db().filter_context()
    db.add_context_category("stormborn", macros=[*extra, *STRUCTURE_SPECS], prepend=True)
    return db


@dataclass(frozen=True)
class Macro:
    name: str
    nargs: int
    default: str | None
    """The first argument's default when it is optional (``\\newcommand{\\x}[2][d]{…}``)."""
    body: str
    argspec: str | None = None
    """How a use is parsed when not ``[{…`` from ``nargs``/``default``: a paired delimiter's
    ``\\abs*[\\big]{x}`` is ``*[{``."""
    positions: tuple[int, ...] | None = None
    """Which parsed arguments are ``#1``, ``#2``… (the braces after a star and a size)."""

    def spec(self) -> MacroSpec:
        if self.argspec is not None:
            return MacroSpec(self.name, self.argspec)
        return MacroSpec(self.name, ("[" if self.default is not None else "{") + "{" * (self.nargs - 1)
                         if self.nargs else "")

    def substitute(self, args: list[str]) -> str:
        return _PARAM.sub(lambda m: "#" if m.group(0) == "##" else
                          (args[int(m.group(1)) - 1] if int(m.group(1)) <= len(args) else ""), self.body)


def _group_text(node) -> str | None:
    """The text inside ``{…}`` (or a bare macro's own text), ``None`` for a missing argument."""
    if node is None:
        return None
    text = node.latex_verbatim()
    if isinstance(node, LatexGroupNode):
        return text[1:-1]
    return text


def _macro_name(node) -> str | None:
    """``{\\foo}``, ``\\foo`` or ``{ \\foo }`` → ``foo``."""
    if isinstance(node, LatexMacroNode):
        return node.macroname
    if isinstance(node, LatexGroupNode):
        inner = [n for n in node.nodelist if not (isinstance(n, LatexCharsNode) and not n.chars.strip())]
        if len(inner) == 1 and isinstance(inner[0], LatexMacroNode):
            return inner[0].macroname
    return None


def iter_nodes(nodes):
    """Every node of a tree in document order, macro arguments included."""
    for node in nodes or []:
        if node is None:
            continue
        yield node
        if isinstance(node, (LatexEnvironmentNode, LatexGroupNode, LatexMathNode)):
            yield from iter_nodes(node.nodelist)
        if isinstance(node, (LatexMacroNode, LatexEnvironmentNode)) and node.nodeargd is not None:
            yield from iter_nodes(node.nodeargd.argnlist)


PLAIN_TEX = {"mathpalette": Macro("mathpalette", 2, None, r"#1\textstyle{#2}")}
"""Plain TeX macros that papers build on and KaTeX lacks: ``\\mathpalette{\\independenT}{\\perp}``
(the usual ``\\independent``) passes the style and the symbol to a two-argument macro; text style
stands for all four."""


class ExpansionTooLarge(Exception):
    """One round of macro replacements would pass the size limit."""


@dataclass
class MacroTable:
    macros: dict[str, Macro] = field(default_factory=dict)
    recursive: set[str] = field(default_factory=set)
    oversized: int = 0
    """Expressions left unexpanded because their expansion passed the size limit."""
    version: int = 0
    """Definitions made so far: the walker context is rebuilt when it changes."""

    def define(self, name: str, macro: Macro) -> None:
        self.macros[name] = macro
        self.version += 1

    def to_json(self) -> str:
        """The definitions (not the expansion state) as JSON: ``[{name, nargs, default, body, …}]``."""
        return json.dumps([asdict(m) for m in self.macros.values()], ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> MacroTable:
        """The table ``to_json`` wrote; an empty table for ``None`` or text that is not such a list
        (an extraction from before the column existed)."""
        table = cls()
        try:
            rows = json.loads(text or "[]")
        except ValueError:
            return table
        for row in rows if isinstance(rows, list) else []:
            try:
                macro = Macro(**{**row, "positions": tuple(row["positions"]) if row.get("positions") else None})
            except (TypeError, KeyError):
                continue
            table.define(macro.name, macro)
        return table

    def __getstate__(self) -> dict:
        # the walker context is rebuilt on demand; it need not (and may not) cross to a Dask worker
        return {k: v for k, v in self.__dict__.items() if k not in ("_context", "_context_for")}

    def read(self, nodes) -> MacroTable:
        """Add the definitions found in a node list (document order: later ones win)."""
        siblings = list(nodes or [])
        for index, node in enumerate(siblings):
            if not isinstance(node, LatexMacroNode):
                if isinstance(node, (LatexGroupNode, LatexEnvironmentNode)):
                    self.read(node.nodelist)
                continue
            if node.macroname == "def":
                self._read_def(siblings, index)
            elif node.macroname in DEFINING and node.nodeargd is not None:
                self._read_command(node)
        return self

    def _read_command(self, node: LatexMacroNode) -> None:
        args = node.nodeargd.argnlist
        if node.macroname == "DeclareMathOperator":
            star, name_node, body = (args + [None, None, None])[:3]
            name = _macro_name(name_node)
            if name and body is not None:
                op = "\\operatorname*" if star is not None else "\\operatorname"
                self.define(name, Macro(name, 0, None, f"{op}{{{_group_text(body)}}}"))
            return
        if node.macroname in PAIRED:
            self._read_paired(node.macroname, args)
            return
        if len(args) < 5:
            return
        _, name_node, nargs_node, default_node, body = args[:5]
        name = _macro_name(name_node)
        if not name or body is None:
            return
        try:
            nargs = int((_group_text(nargs_node) or "[0]").strip("[] "))
        except ValueError:
            nargs = 0
        default = _group_text(default_node)  # ``[d]`` arrives as a group: its text is ``d``
        if node.macroname in XARGS:  # the options name each argument's default: ``1=w``
            found = _XARGS_DEFAULT.search(default or "")
            default = found.group(1).strip().removeprefix("{").removesuffix("}") if found else None
        if node.macroname.startswith("providecommand") and name in self.macros:
            return
        self.define(name, Macro(name, min(nargs, 9), default, _group_text(body) or ""))

    def _read_paired(self, command: str, args: list) -> None:
        """A paired delimiter as a macro: the delimiters around its argument (or, for ``…X``,
        around its body with ``\\delimsize`` dropped); star and size are accepted and ignored."""
        if command == "DeclarePairedDelimiter":
            name_node, left, right = (args + [None] * 3)[:3]
            nargs, body = 1, "#1"
        else:
            name_node, nargs_node, left, right, body_node = (args + [None] * 5)[:5]
            try:
                nargs = int((_group_text(nargs_node) or "[1]").strip("[] "))
            except ValueError:
                return
            body = (_group_text(body_node) or "").replace("\\delimsize", "")
        name = _macro_name(name_node)
        if not name or left is None or right is None or not 0 < nargs <= 9:
            return
        self.define(name, Macro(name, nargs, None, f"{_group_text(left)} {body} {_group_text(right)}",
                                               argspec="*[" + "{" * nargs, positions=tuple(range(2, 2 + nargs))))

    def _read_def(self, siblings: list, index: int) -> None:
        """``\\def\\name#1#2{body}``: pylatexenc sees ``\\def``, ``\\name``, ``#1#2``, ``{body}``."""
        rest = siblings[index + 1:index + 4]
        if not rest or not isinstance(rest[0], LatexMacroNode):
            return
        name, params, body = rest[0].macroname, "", None
        argn = [a for a in (rest[0].nodeargd.argnlist if rest[0].nodeargd else []) if a is not None]
        if len(argn) == 1 and isinstance(argn[0], LatexGroupNode):
            # a name the parser knows with an argument (``\hint`` is a package's): it took the body
            self.define(name, Macro(name, 0, None, _group_text(argn[0]) or ""))
            return
        for node in rest[1:]:
            if isinstance(node, LatexCharsNode) and body is None and not params:
                params = node.chars.strip()
                continue
            if isinstance(node, LatexGroupNode):
                body = node
            break
        if body is None or (params and not re.fullmatch(r"(#[1-9])+", params)):
            return  # delimited parameters (``\def\a#1.{…}``) are not expanded
        self.define(name, Macro(name, params.count("#"), None, _group_text(body) or ""))

    # -- expansion ------------------------------------------------------------------------------

    def context(self):
        """The walker context in which user macros take their arguments."""
        return latex_context(*(m.spec() for m in {**PLAIN_TEX, **self.macros}.values()))

    def expand(self, latex: str) -> str:
        """``latex`` with user macros replaced by their definitions."""
        if not self.macros or "\\" not in latex:
            return latex
        # the walker context knows each macro's arguments: built again when definitions were added
        # since (a theorem title expanded while packages are still being read must not freeze it)
        if getattr(self, "_context_for", None) != self.version:
            self._context, self._context_for = self.context(), self.version
        context = self._context
        written, limit = latex, max(MAX_EXPANDED_CHARS, 20 * len(latex))
        for _ in range(MAX_DEPTH):
            try:
                replaced = self._expand_once(latex, context, limit)
            except ExpansionTooLarge:
                self.oversized += 1
                return written
            if replaced is None:
                return latex
            latex = replaced
        self.recursive.update(n for n in self.macros if f"\\{n}" in latex)
        return latex

    def _expand_once(self, latex: str, context, limit: int) -> str | None:
        """One round of replacements, or None when there is nothing to replace. A round that
        would pass ``limit`` characters is not built (``ExpansionTooLarge``): its size is added
        up first."""
        try:
            nodes, _, _ = LatexWalker(latex, latex_context=context, tolerant_parsing=True).get_latex_nodes()
        except LatexWalkerError:
            return None
        edits: list[tuple[int, int, str]] = []
        self._collect(nodes, edits)
        if not edits:
            return None
        if len(latex) + sum(len(text) - (end - start) for start, end, text in edits) > limit:
            raise ExpansionTooLarge
        pieces, at = [], 0
        for start, end, text in sorted(edits):
            preceding = latex[at:start] if start > at else (pieces[-1] if pieces else "")
            if text[:1].isalpha() and _CONTROL_WORD_END.search(preceding):
                text = " " + text  # ``\le\constop`` → ``\le C``, not the unknown ``\leC``
            pieces += [latex[at:start], text]
            at = end
        return "".join(pieces) + latex[at:]

    def _collect(self, nodes, edits: list) -> None:
        for node in nodes or []:
            if node is None:
                continue
            if isinstance(node, LatexMacroNode) and (macro := self.macros.get(node.macroname,
                                                                              PLAIN_TEX.get(node.macroname))):
                argn = node.nodeargd.argnlist if node.nodeargd is not None else []
                args = [_group_text(a) for a in argn]
                if macro.positions is not None:
                    args = [args[i] if i < len(args) else None for i in macro.positions]
                if macro.default is not None and args and args[0] is None:
                    args[0] = macro.default
                body = macro.substitute([a or "" for a in args])
                if not argn:
                    # ``\cp x`` → ``\bullet x``: keep the space that ended the control word
                    body += node.macro_post_space or (" " if re.search(r"\\[A-Za-z]+$", body) else "")
                edits.append((node.pos, node.pos + node.len, body))
                continue
            if isinstance(node, (LatexEnvironmentNode, LatexGroupNode, LatexMathNode)):
                self._collect(node.nodelist, edits)
            if isinstance(node, (LatexMacroNode, LatexEnvironmentNode)) and node.nodeargd is not None:
                self._collect(node.nodeargd.argnlist, edits)


MAX_DEFINITION_CHARS = 2000
"""How far a definition's body is read (for labels, refs, ``\\begin``): a bound on hostile input."""


def brace_group(text: str, start: int) -> str:
    """The text of the brace group opening at ``text[start]``, read at most ``MAX_DEFINITION_CHARS``."""
    depth, i, end = 0, start, min(len(text), start + MAX_DEFINITION_CHARS)
    while i < end:
        if text[i] == "\\":
            i += 2
            continue
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1:i]
        i += 1
    return text[start + 1:end]


_COMMAND_DEFINITION = re.compile(
    r"\\(?:(?:re)?newcommand|providecommand)\*?\s*\{?\s*\\([A-Za-z]+)\s*\}?\s*(?:\[\d\])?\s*(?:\[[^\]]*\])?\s*(?=\{)"
    r"|\\def\s*\\([A-Za-z]+)\s*(?=\{)")
BEGIN_ENV = re.compile(r"\\begin\s*\{\s*([^}\s]+)\s*\}")
END_ENV = re.compile(r"\\end\s*\{\s*([^}\s]+)\s*\}")


def environment_macros(text: str) -> dict[str, tuple[str, str, int, int]]:
    """Commands that open or close an environment by themselves (``\\def\\beq{\\begin{equation}}``,
    ``\\newcommand{\\ethm}{\\end{theorem}}``): name → (``begin`` | ``end``, environment, and the
    definition's span in ``text``, which ``blank_environment_definitions`` blanks)."""
    found = {}
    for match in _COMMAND_DEFINITION.finditer(text):
        name, body = match.group(1) or match.group(2), brace_group(text, match.end())
        begins, ends = BEGIN_ENV.findall(body), END_ENV.findall(body)
        if len(begins) != len(ends):
            side, env = ("begin", begins[-1]) if len(begins) > len(ends) else ("end", ends[0])
            found[name] = (side, env, match.start(), match.end() + len(body) + 2)
    return found


_ENV_DEFINITION = re.compile(r"\\(?:re)?newenvironment\*?\s*")


def blank_environment_definitions(text: str) -> str:
    """``text`` with each ``\\newenvironment``/``\\renewenvironment`` definition, and each command
    definition that opens or closes an environment by itself (``environment_macros``), replaced by
    spaces.

    Their bodies hold unmatched halves (``{\\begin{theorem}}{\\end{theorem}}``) that a parser
    reads as a real environment swallowing the document; nothing in them is an expression.
    Lengths and newlines are kept, so offsets stay offsets into the source. The scan is linear.
    """
    chars = list(text)
    for _, _, start, end in environment_macros(text).values():  # ``\def\beq{\begin{equation}}``
        for k in range(start, min(end, len(text))):
            if chars[k] != "\n":
                chars[k] = " "
    for match in _ENV_DEFINITION.finditer(text):
        i, groups = match.end(), 0
        while i < len(text) and groups < 5:  # {name} [n] [default] {begin} {end}
            while i < len(text) and text[i].isspace():
                i += 1
            if i >= len(text) or text[i] not in "{[":
                break
            close, depth, j = "}" if text[i] == "{" else "]", 0, i
            while j < len(text):
                if text[j] == "\\":
                    j += 2
                    continue
                if text[j] in "{[" and text[j] == text[i]:
                    depth += 1
                elif text[j] == close:
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            i, groups = j + 1, groups + (text[i] == "{")
            if groups == 3:
                break
        for k in range(match.start(), min(i, len(text))):
            if chars[k] != "\n":
                chars[k] = " "
    return "".join(chars)

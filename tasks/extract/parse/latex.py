"""The LaTeX extractor: a flattened project → sections, expressions and their dependency edges.

Input: a ``FlatSource`` (``tasks.extract.parse.project``) and the paper id.
Output: ``Extracted`` with
  ``sections``    section_id, level, number, title, path, in_appendix, source_file, char_start, char_end
  ``expressions`` expr_id, kind (equation | statement | proof), env, row, latex, latex_expanded,
                  text, label, number, title, section, section_id, in_appendix, source_file,
                  char_start, char_end, context_before, context_after, definitions, parent_expr,
                  proof_expr
  ``edges``       from_expr, to_expr, via (equation | statement | proof | introduction), command, label
  ``issues``      snake_case reasons: unbalanced_latex, recursive_macro, plus the project's own.

The source is parsed once with pylatexenc into a node tree with character positions; the tree is
walked in document order with the counters LaTeX keeps (sections, equations, theorem counters
declared by ``\\newtheorem``, ``\\numberwithin``, ``\\appendix``, ``subequations``, ``\\tag``), so a
formula's ``number`` is the one the PDF shows wherever the source says enough to reproduce it.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from itertools import product
from types import SimpleNamespace

from pylatexenc.latex2text import LatexNodes2Text
from pylatexenc.latexwalker import (
    LatexEnvironmentNode,
    LatexGroupNode,
    LatexMacroNode,
    LatexMathNode,
    LatexWalker,
    LatexWalkerError,
)
from pylatexenc.macrospec import EnvironmentSpec, MacroSpec

from tasks.core.records import Expression, ExpressionEdge, Section, stable_id
from tasks.documents.eprint import Issue, blank_comments
from tasks.documents.language import DERIVATION_CUES
from tasks.documents.latex_macros import (
    BEGIN_ENV,
    DEFINING,
    END_ENV,
    MAX_EXPANDED_CHARS,
    Macro,
    MacroTable,
    blank_environment_definitions,
    brace_group,
    environment_macros,
    iter_nodes,
    latex_context,
)
from tasks.extract.parse.project import FlatSource

EXTRACTOR = "latex"

DISPLAY_ENVS = frozenset(f"{name}{star}" for name in (
    "equation", "align", "gather", "multline", "eqnarray", "flalign", "alignat", "dmath", "dgroup",
    "displaymath") for star in ("", "*"))
ROW_ENVS = frozenset(f"{name}{star}" for name in ("align", "gather", "eqnarray", "flalign", "alignat")
                     for star in ("", "*"))
"""Environments whose rows (``\\\\``) are numbered one by one."""

DEFAULT_STATEMENTS = {
    "theorem": "Theorem", "lemma": "Lemma", "proposition": "Proposition", "corollary": "Corollary",
    "definition": "Definition", "assumption": "Assumption", "conjecture": "Conjecture",
    "claim": "Claim", "fact": "Fact", "hypothesis": "Hypothesis",
}
"""Theorem-like names a class may provide without ``\\newtheorem`` (their numbers are unknown)."""

PROOF_ENVS = frozenset({"proof", "proof*"})
RESTATABLE_ENVS = frozenset({"restatable", "restatable*"})
"""thmtools: ``\begin{restatable}[title]{lemma}{key}…`` states a lemma and defines ``\key``
(``\key*`` in the appendix replays it; a proof after the replay proves the original)."""
SKIP_ENVS = frozenset({"thebibliography", "verbatim", "verbatim*", "lstlisting", "minted", "comment",
                       "tikzpicture", "filecontents", "filecontents*"})
SECTION_LEVELS = {"chapter": 0, "section": 1, "subsection": 2, "subsubsection": 3}
REF_COMMANDS = frozenset({"ref", "eqref", "cref", "Cref", "autoref", "cpageref", "labelcref",
                          "vref", "Vref", "thmref", "lemref"})
MAX_REFERENCE_CHAIN = 4
"""Reference commands defined through other reference commands, followed this many levels."""
CORE_REFERENCES = frozenset({"ref", "eqref", "cref", "Cref", "autoref", "labelcref", "label"})
_REFSTYLE = re.compile(r"\\usepackage\s*(?:\[[^\]]*\])?\s*\{[^}]*\brefstyle\b")
REFSTYLE_PREFIXES = ("eq", "fig", "tab", "sec", "chap", "part", "enu", "thm", "lem", "prop", "cor", "def")
MAX_REPAIRS = 6
"""Broken lines left out (and the document parsed again) before reading it tolerantly."""
REPAIR_BUDGET_S = 20.0
"""Seconds of strict parsing a paper may spend on repairs: a long thesis with many breaks is read
tolerantly rather than run into the extraction deadline and lose everything."""
CONTEXT_CHARS = 1500
MIN_PARAGRAPH_CHARS = 200
_SENTENCE_END = re.compile(r"(?<![.\s]\w)[.!?](?=\s)|\n\s*\n")
_DEFINITION_START = re.compile(r"^[\s,;:.]*(where|with|here|in which|for which)\b", re.IGNORECASE)
_WHERE = re.compile(r"[\s,;:.]*where\b", re.IGNORECASE)
"""A sentence that defines the symbols of the display before it ("where $G$ is as in (3).")."""
_EXEMPLIFYING = re.compile(r"(?:such as|e\.g\.,?|\\eg|for (?:example|instance)|cf\.)\s*~?\s*"
                          r"(?:(?:Eqs?|Equations?)\.?\s*~?\s*)?\(?$", re.IGNORECASE)
"""What comes just before a reference given as an example ("such as \\cref{…}", "e.g.~(3)")."""
_DISPLAY_EDGE = re.compile(r"\\(?:begin|end)\s*\{[^{}]*\}|\\[\[\]]|\$\$")
"""Where a display (or an environment) opens or closes: a sentence with one introduced it."""
_TO_TEXT = LatexNodes2Text(math_mode="verbatim", strict_latex_spaces=True)
_PROOF_HEADING = re.compile(r"^\W*proofs?\s+(?:of|for)\b", re.IGNORECASE)
_HEADING_NUMBER = re.compile(r"\b([A-Z][a-z]+)\s*~?\s*((?:\d+|[A-Z])(?:\.\d+)*)\b")
"""``Proof of Lemma 3`` / ``Proof of Theorem A.2``: the statement by its kind and number."""
BY_NUMBER = "\0"
"""Prefix of a proof target given as ``kind number`` rather than a label."""
RUN_IN_HEADINGS = frozenset({"paragraph", "textbf", "emph", "textit", "textsc"})
"""Commands that open a run-in proof: ``\paragraph{Proof of …}``, ``\textbf{Proof of Lemma~\ref{a}:}``."""
_REF_IN = re.compile(r"\\(?:c|C|auto|eq|labelc)?ref\s*\{([^}]+)\}")
_LABEL_IN = re.compile(r"\\label\s*\{([^}]+)\}")
_USER_COMMAND = re.compile(r"\\(?:(?:re)?newcommand|providecommand|DeclareRobustCommand)\*?\s*\{?\s*\\([A-Za-z]+)\s*\}?"
                           r"\s*(?:\[(\d)\])?\s*(\[[^\]\n]{0,200}\])?\s*(?=\{)")
"""A ``\\newcommand`` up to its body's opening brace: name, argument count, optional first argument."""
_NEW_ENVIRONMENT = re.compile(r"\\(?:re)?newenvironment\*?\s*\{\s*([^}\s]+)\s*\}(?:\s*\[[^\]\n]{0,200}\])*\s*(?=\{)")
"""``\\newenvironment{ftheo}`` up to its begin code (``{\\begin{mdframed}\\begin{theo}}``)."""
_NAMES_ITS_TARGET = re.compile(
    r"^\W*(?i:(?:we|let\s+us|let's)\s+(?:now\s+|first\s+|next\s+|here\s+|finally\s+)?(?:prove|show|establish)"
    r"|(?:this\s+is\s+the\s+)?proof\s+of)\s+(?:the\s+)?(?:[A-Z][a-z]+\.?\s*~?\s*)?"
    r"(?:\\(?:c|C|auto)?ref\s*\{|(?:\d+|[A-Z])(?:\.\d+)*\b)")
"""A proof whose first sentence names what it proves: "We now prove Theorem~\\ref{b}.", "Proof of Lemma 3."."""


@dataclass
class Extracted:
    sections: list[Section] = field(default_factory=list)
    expressions: list[Expression] = field(default_factory=list)
    edges: list[ExpressionEdge] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    macros: str | None = None
    """The paper's user macros (``MacroTable.to_json``), stored with its extraction."""


@dataclass
class TheoremKind:
    title: str
    counter: str | None
    """The counter it steps (its own name, a shared one, ``equation``), ``None`` if unnumbered."""


@dataclass
class _Item:
    """An expression while the walk is under way: flat spans, then a row."""

    kind: str
    env: str
    start: int  # the formula or statement body, in flat offsets
    end: int
    outer_start: int  # the whole environment, delimiters included
    outer_end: int
    row: int | None = None
    label: str | None = None
    number: str | None = None
    title: str | None = None
    section: _OpenSection | None = None
    in_appendix: bool = False
    parent: _Item | None = None
    proof: _Item | None = None
    proof_targets: tuple[str, ...] = ()
    """What a proof names as proved: labels, or ``BY_NUMBER`` + ``kind number``."""
    adjacent: _Item | None = None
    """The statement right before a proof that names another: its proof if the name leads nowhere."""
    restates: _Item | None = None
    """A statement labelled like an earlier one of its kind: the original it repeats."""
    expr_id: str = ""


@dataclass
class _OpenSection:
    level: int
    number: str | None
    title: str
    path: str
    in_appendix: bool
    start: int
    end: int = -1
    section_id: str = ""


def _arg_text(node, index: int) -> str | None:
    args = node.nodeargd.argnlist if node.nodeargd is not None else []
    if index >= len(args) or args[index] is None:
        return None
    text = args[index].latex_verbatim()
    return text[1:-1] if isinstance(args[index], LatexGroupNode) else text


def _alph(n: int) -> str:
    return chr(ord("A") + n - 1) if 1 <= n <= 26 else str(n)


def _plain(latex: str) -> str:
    try:
        return " ".join(_TO_TEXT.latex_to_text(latex).split())
    except Exception:  # pylatexenc's renderer on pathological input: keep the source
        return " ".join(latex.split())


class LatexExtractor:
    """One paper's walk. Build it, call ``run()`` once."""

    def __init__(self, flat: FlatSource, paper_id: str, run_id: str = ""):
        self.flat, self.paper_id, self.run_id = flat, paper_id, run_id
        self.text = blank_environment_definitions(flat.text)
        self.issues: list[Issue] = list(flat.issues)
        self.macros = MacroTable()
        self.theorems: dict[str, TheoremKind] = {}
        self.counter_within: dict[str, str] = {}
        self.counters: dict[str, int] = {}
        self.sections: list[_OpenSection] = []
        self.open_sections: list[_OpenSection] = []
        self.section_counts = [0, 0, 0, 0]
        self.in_appendix = False
        self.items: list[_Item] = []
        self.refs: list[tuple[int, str, list[str]]] = []
        self.equation_format: str | None = None
        self.subequation: list | None = None
        self.last_statement: _Item | None = None
        self.proof_headings: list[tuple[int, int, _OpenSection | None, str, str]] = []
        """(heading start, body start, its section if it is one, title, target label)."""
        self.heading_starts: list[int] = []
        self.restatable: dict[str, _Item] = {}
        """thmtools keys → the statement they replay."""
        self.restated: str | None = None
        """The label a ``rep…`` environment just restated, for the proof after it."""
        self.heading_target: tuple[str, ...] = ()
        self.repaired: set[int] = set()
        """Line starts already left out after a strict-parse failure (``_broken_region``)."""
        """What the last proof heading named, for a ``\\begin{proof}`` right under it."""
        self.reference_macros, self.label_macros, self.discarding_macros = self._special_macros(flat.text)
        self.refstyle = {name: prefix for name, prefix in self._refstyle_prefixes(flat.text).items()
                         if name not in self.reference_macros and name not in self.label_macros}  # the paper's own win
        """refstyle: ``\\eqref{x}``/``\\eqlabel{x}`` mean the label ``eq:x`` (prefix per command)."""
        self.wrappers = self._wrapper_environments(flat.text)
        self.env_macros = environment_macros(flat.text)
        """``\\beq`` → (``begin``, ``equation``, …): commands that open or close an environment."""

    # -- entry point ----------------------------------------------------------------------------

    def run(self) -> Extracted:
        nodes = self._parse()
        for package in self.flat.packages:
            self._read_package(package)
        self.macros.read(nodes)
        for name, (side, env, *_) in self.env_macros.items():  # blanked definitions: ``\bpm`` in a formula
            self.macros.define(name, Macro(name, 0, None, f"\\{side}{{{env}}}"))
        self._read_declarations(nodes)
        body = next((n for n in nodes if isinstance(n, LatexEnvironmentNode)
                     and n.environmentname == "document"), None)
        self._walk(body.nodelist if body is not None else nodes, None)
        for section in self.open_sections:
            section.end = len(self.text)
        self._heading_proofs()
        rows = self._rows()
        if self.macros.recursive:
            self.issues.append(Issue("recursive_macro", f"not fully expanded: {sorted(self.macros.recursive)}"))
        if self.macros.oversized:
            self.issues.append(Issue("macro_expansion_too_large", f"{self.macros.oversized} expressions left "
                                     f"unexpanded: their expansion passes {MAX_EXPANDED_CHARS} characters"))
        return rows

    def _parse(self):
        """Strict first (to notice unbalanced input), tolerant when that fails."""
        specials = {**self.reference_macros, **self.label_macros, **self.discarding_macros,
                    **{name: "[{" if name.endswith("ref") else "{" for name in self.refstyle}}  # \eqref[s]{a}
        context = latex_context(*(MacroSpec(name, spec) for name, spec in specials.items()))
        for name in self._statement_names_in_source():
            context.add_context_category(f"env-{name}", environments=[EnvironmentSpec(name, "[")], prepend=True)
        for name in RESTATABLE_ENVS:
            context.add_context_category(f"env-{name}", environments=[EnvironmentSpec(name, "[{{")], prepend=True)
        for name in self._statement_names_in_source() - PROOF_ENVS:  # ``\begin{reptheorem}{label}``
            context.add_context_category(f"env-rep{name}", environments=[EnvironmentSpec(f"rep{name}", "{")],
                                         prepend=True)
        started = time.perf_counter()
        for attempt in range(MAX_REPAIRS + 1):
            try:
                nodes, _, _ = LatexWalker(self.text, latex_context=context, tolerant_parsing=False).get_latex_nodes()
                return nodes
            except LatexWalkerError as exc:
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                broken = self._broken_region(exc)
                spent = time.perf_counter() - started  # another strict parse costs about spent / attempts
                if broken is None or attempt == MAX_REPAIRS or spent * (attempt + 2) / (attempt + 1) > REPAIR_BUDGET_S:
                    self.issues.append(Issue("unbalanced_latex", f"{first.split(' @(')[0]}{self._where(exc)}; "
                                             "read tolerantly"))
                    break
                # a broken construct costs its lines, not the rest of the paper
                start, stop = self._file_line(self._skip_space(broken[0])), self._file_line(broken[1] - 1)
                if start and stop and start.split(":")[0] == stop.split(":")[0]:
                    stop = stop.split(":")[-1]
                lines = start if start and start.endswith(f":{stop}") else f"{start}–{stop}"
                self.issues.append(Issue("unbalanced_latex", f"{first.split(' @(')[0]}{self._where(exc)}; left out "
                                         f"{lines} and read the rest"))
                self.text = self.text[:broken[0]] + re.sub(r"[^\n]", " ", self.text[broken[0]:broken[1]]) \
                    + self.text[broken[1]:]
        nodes, _, _ = LatexWalker(self.text, latex_context=context, tolerant_parsing=True).get_latex_nodes()
        return nodes

    def _skip_space(self, pos: int) -> int:
        return pos + len(self.text[pos:pos + 200]) - len(self.text[pos:pos + 200].lstrip())

    def _broken_region(self, exc: LatexWalkerError) -> tuple[int, int] | None:
        """What to leave out: from the line where the innermost block still open began (an
        unclosed ``{``, ``$`` or ``\\begin``; else where the parser stopped) to the line where it
        stopped, within that paragraph; never the preamble or the ``document`` environment."""
        opened = getattr(exc, "open_contexts", None) or []
        inner = opened[0] if opened else None
        stopped = getattr(exc, "pos", None)
        at = inner[1] if inner and "document" not in str(inner[0]) else stopped
        body = self.text.find("\\begin{document}")
        if not isinstance(at, int) or at <= body or at >= len(self.text):
            return None
        paragraph_end = self.text.find("\n\n", at + 1)
        paragraph_end = paragraph_end if paragraph_end >= 0 else len(self.text)
        end_document = self.text.rfind("\\end{document}")
        if end_document > at:
            paragraph_end = min(paragraph_end, end_document)
        start = max(self.text.rfind("\n", 0, at) + 1, body + len("\\begin{document}"))
        # first the line where it began; when that did not help, on to where the parser stopped
        last = stopped if isinstance(stopped, int) and stopped >= at and start in self.repaired else at
        self.repaired.add(start)
        line_end = self.text.find("\n", last)
        stop = min(line_end if line_end >= 0 else len(self.text), paragraph_end)
        return (start, stop) if stop > start and self.text[start:stop].strip() else None

    def _where(self, exc: LatexWalkerError) -> str:
        """Where a human should look, in the project's own files (not the flattened text): the
        error's file and line, and the innermost block still open there."""
        opened = getattr(exc, "open_contexts", None) or []
        at = self._file_line(getattr(exc, "pos", None))
        inner = self._file_line(opened[0][1]) if opened else None
        return ((f" at {at}" if at else "")
                + (f"; innermost open block: {opened[0][0]} from {inner}" if inner else ""))

    def _file_line(self, pos) -> str | None:
        if not isinstance(pos, int):
            return None
        file, offset, _ = self.flat.span(pos, pos + 1)
        if file is None or offset is None:
            return None
        return f"{file}:{self.flat.files.get(file, '')[:offset].count(chr(10)) + 1}"

    def _statement_names_in_source(self, text: str | None = None) -> set[str]:
        """Theorem-like names, so that ``\\begin{lem}[Title]`` takes its optional title argument."""
        if text is None:  # the document and the local packages it loads (``frankstyle.sty``)
            text = "\n".join([self.text, *(self.flat.files.get(p, "") for p in self.flat.packages)])
        names = set(DEFAULT_STATEMENTS) | PROOF_ENVS
        names |= set(re.findall(r"\\newtheorem\*?\s*\{\s*([^}\s]+)\s*\}", text))
        names |= set(re.findall(r"\\declaretheorem\s*(?:\[[^\]]*\])?\s*\{\s*([^}\s]+)\s*\}", text))
        return names

    @staticmethod
    def _special_macros(text: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        """User commands the walk must read through, by name → pylatexenc argument spec: those
        that reference (``\\lemref{x}`` → ``Lemma~\\ref{lem:x}``), those that label
        (``\\lemlabel{x}`` → ``\\label{lem:x}``), and those that discard their argument
        (``\\newcommand{\\cut}[1]{}``: what is inside is not in the paper). Found in the raw
        source, before parsing, so the parse gives them their arguments; the last definition of
        a name decides (``\\renewcommand{\\cut}[1]{#1}`` in a final version keeps the text)."""
        references, labels, discarding, bodies = {}, {}, {}, {}
        for match in _USER_COMMAND.finditer(text):
            name, nargs, optional = match.group(1), int(match.group(2) or 0), match.group(3) is not None
            spec = ("[" + "{" * (nargs - 1)) if optional and nargs else "{" * nargs
            body = brace_group(text, match.end())
            for family in (references, labels, discarding, bodies):
                family.pop(name, None)
            reference = _REF_IN.search(body)
            if _LABEL_IN.search(body):
                labels[name] = spec
            elif reference and not (name in CORE_REFERENCES and reference.group(1).strip() == "#1"):
                # a core command redefined to add a prefix (``\renewcommand{\eqref}[1]{\ref{eq:#1}}``) is
                # a family; one that only restyles (``{(\ref{#1})}``) is not
                references[name] = spec
            elif nargs and not optional and not body.strip():
                discarding[name] = spec
            else:
                bodies[name] = (spec, body)
        # commands built on reference commands reference too (``\eq{x}`` → ``\Eq{x}`` → ``\eqref{x}``)
        for _ in range(MAX_REFERENCE_CHAIN):
            calls = re.compile(r"\\(?:" + "|".join(map(re.escape, references)) + r")(?![A-Za-z])") if references else None
            chained = {name: spec for name, (spec, body) in bodies.items() if calls and calls.search(body)}
            if not chained:
                break
            references.update(chained)
            for name in chained:
                bodies.pop(name)
        references.pop("ref", None)
        for name in CORE_REFERENCES:
            labels.pop(name, None)
        return references, labels, discarding

    @staticmethod
    def _refstyle_prefixes(text: str) -> dict[str, str]:
        """With refstyle loaded, ``\\<prefix>ref{x}`` and ``\\<prefix>label{x}`` stand for the label
        ``<prefix>:x``, for its own prefixes and those ``\\newref{<prefix>}`` declares."""
        if not _REFSTYLE.search(text):
            return {}
        prefixes = {*REFSTYLE_PREFIXES, *re.findall(r"\\newref\s*\{\s*([A-Za-z]+)\s*\}", text)}
        return {f"{initial}{prefix[1:]}{what}": prefix for prefix in prefixes for what in ("ref", "label")
                for initial in {prefix[0], prefix[0].upper()} if not (what == "label" and initial.isupper())}

    def _wrapper_environments(self, text: str) -> dict[str, str]:
        """``\\newenvironment{ftheo}{\\begin{mdframed}\\begin{theo}}{…}`` → ``{"ftheo": "theo"}``:
        an environment that opens a theorem-like one is that statement."""
        names = self._statement_names_in_source(text) - PROOF_ENVS
        wrappers = {}
        for match in _NEW_ENVIRONMENT.finditer(text):
            opened = [m.group(1) for m in BEGIN_ENV.finditer(brace_group(text, match.end()))]
            inner = next((env for env in reversed(opened) if env in names), None)
            if inner is not None and match.group(1) not in names:
                wrappers[match.group(1)] = inner
        return wrappers

    def _read_package(self, name: str) -> None:
        source = blank_comments(self.flat.files.get(name, ""))
        try:
            nodes, _, _ = LatexWalker(source, latex_context=latex_context(), tolerant_parsing=True).get_latex_nodes()
        except LatexWalkerError:
            return
        self.macros.read(nodes)
        self._read_declarations(nodes)

    def _read_declarations(self, nodes) -> None:
        """``\\newtheorem`` / ``\\declaretheorem`` / ``\\numberwithin`` anywhere in the source."""
        for node in iter_nodes(nodes):
            if not isinstance(node, LatexMacroNode):
                continue
            if node.macroname == "newtheorem" and (name := _arg_text(node, 1)):
                name, starred = name.strip(), _arg_text(node, 0) is not None
                shared, title, within = _arg_text(node, 2), _arg_text(node, 3), _arg_text(node, 4)
                counter = None if starred else (shared.strip() if shared else name)
                # a title may be a macro (``\protect\lemmaname``, babel-style): expanded first
                shown = _plain(self.macros.expand((title or "").replace("\\protect", ""))) if title else ""
                self.theorems[name] = TheoremKind(shown or name.title(), counter)
                if counter == name and within:
                    self.counter_within[name] = within.strip()
            elif node.macroname == "declaretheorem" and (name := _arg_text(node, 1)):
                options = dict(re.findall(r"(\w+)\s*=\s*([^,\]]+)", _arg_text(node, 0) or ""))
                name = name.strip()
                counter = None if options.get("numbered", "yes").strip() == "no" else (
                    (options.get("sibling") or options.get("numberlike") or name).strip())
                self.theorems[name] = TheoremKind(options.get("name", name.title()).strip(), counter)
                if counter == name and options.get("numberwithin"):
                    self.counter_within[name] = options["numberwithin"].strip()
            elif node.macroname == "numberwithin" and (counter := _arg_text(node, 1)):
                self.counter_within[counter.strip()] = (_arg_text(node, 2) or "").strip()

    # -- the walk ---------------------------------------------------------------------------------

    def _walk(self, nodes, parent: _Item | None) -> None:
        nodes = [n for n in nodes or [] if n is not None]
        index = 0
        while index < len(nodes):
            node = nodes[index]
            index += 1
            if isinstance(node, LatexMacroNode) and self.env_macros.get(node.macroname, ("",))[0] == "begin":
                index = self._macro_environment(nodes, index - 1, parent)
            elif isinstance(node, LatexMacroNode):
                self._macro(node, parent)
            elif isinstance(node, LatexEnvironmentNode):
                self._environment(node, parent)
            elif isinstance(node, LatexMathNode):
                if node.displaytype == "display":
                    self._display_math(node, parent)
                else:
                    self._collect_refs(node.nodelist)
            elif isinstance(node, LatexGroupNode):
                self._walk(node.nodelist, parent)

    def _macro_environment(self, nodes: list, index: int, parent: _Item | None) -> int:
        """``\\beq … \\eeq`` where ``\\def\\beq{\\begin{equation}}``: the nodes up to the command
        that closes the same environment, read as that environment. Returns the next index."""
        opening = nodes[index]
        env = self.env_macros[opening.macroname][1]
        closing = next((j for j in range(index + 1, len(nodes)) if isinstance(nodes[j], LatexMacroNode)
                        and self.env_macros.get(nodes[j].macroname, ("", ""))[:2] == ("end", env)), None)
        if closing is None:
            self.issues.append(Issue("unclosed_environment_macro", f"\\{opening.macroname} (\\begin{{{env}}}) at "
                                     f"{self._file_line(opening.pos)} has no command closing it"))
            return index + 1
        end = nodes[closing]
        stand_in = SimpleNamespace(  # what the environment handlers read of an environment node
            environmentname=env, nodelist=nodes[index + 1:closing], nodeargd=None, pos=opening.pos,
            len=end.pos + end.len - opening.pos, body_span=(opening.pos + opening.len, end.pos))
        self._environment(stand_in, parent)
        return closing + 1

    def _macro(self, node: LatexMacroNode, parent: _Item | None) -> None:
        name = node.macroname
        if name in SECTION_LEVELS:
            self._section(node)
            self._proof_heading(node, self.sections[-1])
        elif name in RUN_IN_HEADINGS and parent is None and self._proof_heading(node, None):
            return
        elif name in self.restatable:  # ``\key*``: the statement again; a proof after it proves the original
            self.last_statement = self.restatable[name]
        elif name == "appendix":
            self._start_appendix()
        elif name in self.discarding_macros:  # ``\cut{…}``: not in the paper
            return
        elif name in REF_COMMANDS or name in self.reference_macros or name in self.refstyle:
            self._collect_refs([node])
        elif name == "setcounter" and _arg_text(node, 1):
            try:
                value = int((_arg_text(node, 2) or "0").strip())
            except ValueError:
                return
            counter = _arg_text(node, 1).strip()
            if counter in ("section", "chapter"):
                self.section_counts[SECTION_LEVELS[counter]] = value
            else:
                self.counters[counter] = value
        elif name in ("renewcommand", "def") and "theequation" in node.latex_verbatim()[:40]:
            self.equation_format = _arg_text(node, 4)
        elif name not in DEFINING and node.nodeargd is not None:
            self._walk([a for a in node.nodeargd.argnlist if a is not None], parent)

    def _environment(self, node: LatexEnvironmentNode, parent: _Item | None) -> None:
        env = node.environmentname
        if env in DISPLAY_ENVS:
            self._display(node, env, parent)
        elif env in PROOF_ENVS:
            self._proof(node, parent)
        elif env in self.theorems or env.rstrip("*") in DEFAULT_STATEMENTS:
            self._statement(node, env, parent)
        elif env.startswith("rep") and (env[3:] in self.theorems or env[3:] in DEFAULT_STATEMENTS) \
                and (label := (_arg_text(node, 0) or "").strip()):
            # A restatement by label: not a new statement (its displays repeat the original's);
            # the proof that follows proves the original.
            self.restated = label
        elif env in RESTATABLE_ENVS and (kind := (_arg_text(node, 1) or "").strip()) and (
                kind in self.theorems or kind.rstrip("*") in DEFAULT_STATEMENTS):
            item = self._statement(node, kind + ("*" if env.endswith("*") else ""), parent)
            key = (_arg_text(node, 2) or "").strip()
            if key:
                self.restatable[key] = item
        elif env in self.wrappers and (self.wrappers[env] in self.theorems
                                       or self.wrappers[env].rstrip("*") in DEFAULT_STATEMENTS):
            self._statement(node, self.wrappers[env], parent)
        elif env in ("appendix", "appendices"):
            self._start_appendix()
            self._walk(node.nodelist, parent)
        elif env == "subequations":
            self.subequation = [self._next_equation_number(), 0]
            self._walk(node.nodelist, parent)
            self.subequation = None
        elif env not in SKIP_ENVS:
            self._walk(node.nodelist, parent)

    # -- sections ---------------------------------------------------------------------------------

    def _start_appendix(self) -> None:
        if not self.in_appendix:
            self.in_appendix = True
            self.section_counts[1:] = [0, 0, 0]

    def _section(self, node: LatexMacroNode) -> None:
        level = SECTION_LEVELS[node.macroname]
        starred = _arg_text(node, 0) is not None
        title = _plain(_arg_text(node, 2) or _arg_text(node, 1) or "")
        if re.match(r"appendi(x|ces)\b", title, re.IGNORECASE) and level <= 1:
            self._start_appendix()  # ``\section*{Appendix}`` instead of ``\appendix``
        number = None
        if not starred:
            self.section_counts[level] += 1
            self.section_counts[level + 1:] = [0] * (3 - level)
            number = self._section_number(level)
            for counter, within in self.counter_within.items():
                if within in SECTION_LEVELS and SECTION_LEVELS[within] >= level:
                    self.counters[counter] = 0
        while self.open_sections and self.open_sections[-1].level >= level:
            self.open_sections.pop().end = node.pos
        heading = f"{number} {title}" if number else title
        path = f"{self.open_sections[-1].path} > {heading}" if self.open_sections else heading
        section = _OpenSection(level, number, title, path, self.in_appendix, node.pos)
        section.section_id = stable_id(self.paper_id, EXTRACTOR, "section", node.pos, title)
        self.sections.append(section)
        self.open_sections.append(section)

    def _section_number(self, level: int) -> str:
        counts = self.section_counts
        top = _alph(counts[1]) if self.in_appendix else str(counts[1])
        if counts[0]:
            top = f"{counts[0]}.{top}"
        return ".".join([top, *(str(c) for c in counts[2:level + 1])])

    def _within_number(self, within: str | None) -> str | None:
        if within not in SECTION_LEVELS or within == "chapter":
            return None
        level = SECTION_LEVELS[within]
        return self._section_number(level) if self.section_counts[level] else None

    # -- numbering --------------------------------------------------------------------------------

    def _step(self, counter: str) -> str:
        if counter == "equation":
            return self._next_equation_number()
        self.counters[counter] = self.counters.get(counter, 0) + 1
        prefix = self._within_number(self.counter_within.get(counter))
        return f"{prefix}.{self.counters[counter]}" if prefix else str(self.counters[counter])

    def _next_equation_number(self) -> str:
        if self.subequation is not None:
            self.subequation[1] += 1
            return f"{self.subequation[0]}{chr(ord('a') + self.subequation[1] - 1)}"
        self.counters["equation"] = n = self.counters.get("equation", 0) + 1
        if self.equation_format:
            return self._format_equation(n)
        prefix = self._within_number(self.counter_within.get("equation"))
        return f"{prefix}.{n}" if prefix else str(n)

    def _format_equation(self, n: int) -> str:
        """``\\renewcommand{\\theequation}{A.\\arabic{equation}}`` and the like."""
        section = self.section_counts[1]
        out = self.equation_format or ""
        for pattern, value in ((r"\\arabic\s*\{equation\}", str(n)), (r"\\thesection\b", self._section_number(1)),
                               (r"\\Alph\s*\{section\}", _alph(section)), (r"\\arabic\s*\{section\}", str(section))):
            out = re.sub(pattern, lambda _, value=value: value, out)  # a function: no escapes in value
        return re.sub(r"[{}\\]|\s+", "", out) or str(n)

    # -- expressions ------------------------------------------------------------------------------

    def _body_span(self, node: LatexEnvironmentNode) -> tuple[int, int]:
        if getattr(node, "body_span", None) is not None:  # an environment opened by a command
            return node.body_span
        end = node.pos + node.len
        closing = f"\\end{{{node.environmentname}}}"
        if self.text.endswith(closing, 0, end):
            end -= len(closing)
        start = node.pos + len(f"\\begin{{{node.environmentname}}}")
        if node.nodeargd is not None:
            for arg in node.nodeargd.argnlist:
                if arg is not None:
                    start = max(start, arg.pos + arg.len)
        return start, max(start, end)

    def _display(self, node: LatexEnvironmentNode, env: str, parent: _Item | None) -> None:
        start, end = self._body_span(node)
        rows = self._rows_of(node.nodelist, start, end) if env in ROW_ENVS else [(start, end, node.nodelist)]
        numbered_env = not env.endswith("*") and env not in ("displaymath", "dgroup")
        facts = []
        for row_start, row_end, row_nodes in rows:
            macros = [n for n in iter_nodes(row_nodes) if isinstance(n, LatexMacroNode)]
            labels = [label for m in macros if (label := self._label_of(m))]
            tag = next((_arg_text(m, 1) for m in macros if m.macroname == "tag"), None)
            silent = any(m.macroname in ("nonumber", "notag") for m in macros)
            numbered = tag is not None or (numbered_env and not silent)
            facts.append((row_start, row_end, row_nodes, labels, tag, numbered))
        numbers = [(tag.strip() if tag is not None else self._next_equation_number()) if numbered else None
                   for *_, tag, numbered in facts]
        split = env in ROW_ENVS and (sum(n is not None for n in numbers) >= 2
                                     or sum(bool(f[3]) for f in facts) >= 2)
        if split:
            for index, ((row_start, row_end, row_nodes, labels, *_), number) in enumerate(zip(facts, numbers)):
                if self.text[row_start:row_end].strip():
                    self._add_formula(env, row_start, row_end, node, parent, labels, number, index)
                    self._collect_refs(row_nodes)
            return
        labels = [label for f in facts for label in f[3]]
        number = next((n for n in numbers if n is not None), None)
        self._add_formula(env, start, end, node, parent, labels, number, None)
        self._collect_refs(node.nodelist)

    def _rows_of(self, nodes, start: int, end: int) -> list[tuple[int, int, list]]:
        rows, current, row_start = [], [], start
        for node in nodes or []:
            if isinstance(node, LatexMacroNode) and node.macroname == "\\":
                rows.append((row_start, node.pos, current))
                current, row_start = [], node.pos + node.len
            else:
                current.append(node)
        rows.append((row_start, end, current))
        return rows

    def _display_math(self, node: LatexMathNode, parent: _Item | None) -> None:
        opening, closing = node.delimiters
        start, end = node.pos + len(opening), node.pos + node.len - len(closing)
        macros = [n for n in iter_nodes(node.nodelist) if isinstance(n, LatexMacroNode)]
        labels = [label for m in macros if (label := self._label_of(m))]
        tag = next((_arg_text(m, 1) for m in macros if m.macroname == "tag"), None)
        self._add_formula(opening, start, end, node, parent, labels, tag.strip() if tag else None, None)
        self._collect_refs(node.nodelist)

    def _add_formula(self, env, start, end, node, parent, labels, number, row) -> _Item:
        item = _Item("equation", env, *self._strip(start, end), node.pos, node.pos + node.len, row=row,
                     label=next((lb.strip() for lb in labels if lb), None), number=number, parent=parent)
        self._place(item)
        return item

    def _statement(self, node: LatexEnvironmentNode, env: str, parent: _Item | None) -> _Item:
        kind = self.theorems.get(env) or TheoremKind(DEFAULT_STATEMENTS[env.rstrip("*")], None)
        number = self._step(kind.counter) if kind.counter and not env.endswith("*") else None
        given = _arg_text(node, 0)
        title = f"{kind.title} ({_plain(given)})" if given else kind.title
        start, end = self._body_span(node)
        label = next((found for n in self._direct_nodes(node.nodelist)
                      if isinstance(n, LatexMacroNode) and (found := self._label_of(n))), None)
        item = _Item("statement", env, *self._strip(start, end), node.pos, node.pos + node.len,
                     label=label.strip() if label else None, number=number, title=title, parent=parent)
        self._place(item)
        self.last_statement, self.restated, self.heading_target = item, None, ()
        self._walk(node.nodelist, item)
        return item

    def _label_of(self, node: LatexMacroNode) -> str | None:
        """``\\label{a}`` → ``a``; a label macro (``\\lemlabel{x}`` → ``\\label{lem:x}``) → ``lem:x``."""
        if node.macroname == "label":
            return _arg_text(node, 0)
        if node.macroname in self.refstyle and node.macroname.endswith("label") and (arg := _arg_text(node, 0)):
            return f"{self.refstyle[node.macroname]}:{arg.strip()}"
        if node.macroname in self.label_macros:
            found = _LABEL_IN.search(self.macros.expand(node.latex_verbatim()))
            return found.group(1) if found else None
        return None

    def _direct_nodes(self, nodes):
        """Nodes of a statement outside its formulas (a formula's ``\\label`` is the formula's)."""
        for node in nodes or []:
            if node is None or (isinstance(node, LatexEnvironmentNode) and node.environmentname in DISPLAY_ENVS):
                continue
            yield node
            if isinstance(node, (LatexGroupNode, LatexEnvironmentNode)):
                yield from self._direct_nodes(node.nodelist)

    def _proof(self, node: LatexEnvironmentNode, parent: _Item | None) -> None:
        """A proof environment proves, in this order: what its optional argument names
        (``[Proof of Lemma~\\ref{a}]``, ``[Proof of Theorem 2]``), the statement a ``rep…``
        environment just restated, what its first sentence names ("We now prove Theorem~\\ref{b}."),
        what the proof heading right above it names, or else the statement right before it."""
        start, end = self._body_span(node)
        given = _arg_text(node, 0) or ""
        restated, self.restated = self.restated, None
        heading, self.heading_target = self.heading_target, ()
        body = self.text[start:min(end, start + 300)]
        first_sentence = body[:m.end()] if (m := _SENTENCE_END.search(body)) else body
        targets = (self._named_targets(given, require_cue=False) or ((restated,) if restated else ())
                   or self._named_targets(first_sentence, require_cue=True) or heading)
        item = _Item("proof", node.environmentname, *self._strip(start, end), node.pos, node.pos + node.len,
                     title=_plain(given) or "Proof", parent=parent, proof_targets=targets)
        if item.proof_targets and self.last_statement is not None and self.last_statement.proof is None:
            item.adjacent = self.last_statement
        if not item.proof_targets and self.last_statement is not None and self.last_statement.proof is None:
            item.parent = self.last_statement
            self.last_statement.proof = item
        self._place(item)
        self._walk(node.nodelist, item)

    @staticmethod
    def _named_targets(latex: str, require_cue: bool) -> tuple[str, ...]:
        """The statements a proof's title or first sentence names: by label, or by kind and
        number (``Proof of Theorem 2``: only in a "Proof of …" title, so ``[Step 1]`` names
        nothing). Several in a title (``Proofs of Theorems~\\ref{a} and~\\ref{b}``) are all named;
        the proof proves those that get no proof of their own. A first sentence names one, and
        only as the object of its verb ("We now prove Theorem~\\ref{b}", not "We first show
        that $f \\le 1$ using Lemma~\\ref{c}")."""
        if not latex.strip():
            return ()
        if require_cue:
            cue = _NAMES_ITS_TARGET.match(latex)
            if cue is None:
                return ()
            latex = latex[cue.start():cue.end() + 200]
        labels = [label.strip() for found in _REF_IN.finditer(latex) for label in found.group(1).split(",")]
        if require_cue:
            labels = labels[:1]
        if labels:
            return tuple(dict.fromkeys(label for label in labels if label))
        plain = _plain(latex)
        if not require_cue and not _PROOF_HEADING.match(plain):
            return ()
        numbered = _HEADING_NUMBER.findall(plain)
        return tuple(f"{BY_NUMBER}{kind.lower()} {number}" for kind, number in numbered[:1])

    def _proof_heading(self, node: LatexMacroNode, section: _OpenSection | None) -> bool:
        """A heading that names what it proves — ``\section{Proof of Lemma~\ref{a}}``,
        ``\paragraph{Proof of Theorem~\ref{b}.}``, ``\textbf{Proof of Eq.~\eqref{c}:}`` — is
        remembered; its body becomes a proof when the walk is over and its end is known."""
        if node.macroname == "paragraph" or section is not None:
            self.heading_starts.append(node.pos)
        arg = next((a for a in reversed(node.nodeargd.argnlist if node.nodeargd else []) if a is not None), None)
        if arg is None:
            return False
        raw = arg.latex_verbatim()
        title = _plain(raw.strip("{}"))
        targets = self._named_targets(raw, require_cue=False) if _PROOF_HEADING.match(title) else ()
        if not targets:  # not a proof heading, or "Proofs for Section 3": no statement to link
            if node.macroname == "paragraph" or section is not None:
                self.heading_target = ()  # a later \begin{proof} is not under the last proof heading
            return False
        self.proof_headings.append((node.pos, node.pos + node.len, section, title, targets))
        self.heading_target = targets
        return True

    def _heading_proofs(self) -> None:
        """Proof items for the proof headings: a section's body to its end; a run-in heading's
        text to the next heading or statement (or the end of its section)."""
        statements = sorted(i.outer_start for i in self.items if i.kind == "statement")
        document_end = self.text.rfind("\\end{document}")
        document_end = document_end if document_end >= 0 else len(self.text)
        heading_starts = sorted(h[0] for h in self.proof_headings)
        for start, body, section, title, targets in self.proof_headings:
            later = bisect_right(heading_starts, start)
            next_heading = heading_starts[later] if later < len(heading_starts) else len(self.text)
            if section is not None:  # to its end, or the next proof heading (a subsection's)
                end = min(section.end, document_end, next_heading)
            else:
                later = [p for p in (*self.heading_starts, *statements) if p > start]
                holder = next((s for s in reversed(self.sections) if s.start <= start), None)
                end = min([*later, holder.end if holder else len(self.text), document_end])
                section = holder
            body_start, body_end = self._strip(body, end)
            if body_end <= body_start:
                continue
            item = _Item("proof", "section" if section is not None and section.start == start else "paragraph",
                         body_start, body_end, start, end, title=title, proof_targets=targets,
                         section=section, in_appendix=section.in_appendix if section else self.in_appendix)
            self.items.append(item)
        self.items.sort(key=lambda i: (i.outer_start, -(i.outer_end - i.outer_start)))

    def _strip(self, start: int, end: int) -> tuple[int, int]:
        chunk = self.text[start:end]
        lead = len(chunk) - len(chunk.lstrip())
        return start + lead, max(start + lead, start + len(chunk.rstrip()))

    def _place(self, item: _Item) -> None:
        item.section = self.open_sections[-1] if self.open_sections else None
        item.in_appendix = self.in_appendix
        self.items.append(item)

    def _collect_refs(self, nodes) -> None:
        for node in iter_nodes(nodes):
            if not isinstance(node, LatexMacroNode):
                continue
            if node.macroname in self.refstyle and node.macroname.endswith("ref"):  # ``\eqref{x}`` → ``eq:x``
                prefix = self.refstyle[node.macroname]
                labels = [f"{prefix}:{lb.strip()}" for lb in (_arg_text(node, 1) or _arg_text(node, 0) or "").split(",")]
            elif node.macroname in self.reference_macros:  # ``\lemref{x}`` → ``Lemma~\ref{lem:x}``
                expanded = self.macros.expand(node.latex_verbatim())
                labels = [lb.strip() for found in _REF_IN.finditer(expanded) for lb in found.group(1).split(",")]
            elif node.macroname in REF_COMMANDS:
                labels = [lb.strip() for lb in (_arg_text(node, 0) or _arg_text(node, 1) or "").split(",")]
            else:
                continue
            if any(labels):
                self.refs.append((node.pos, node.macroname, [lb for lb in labels if lb]))

    # -- rows -------------------------------------------------------------------------------------

    def _rows(self) -> Extracted:
        out = Extracted(issues=self.issues, macros=self.macros.to_json() if self.macros.macros else None)
        for section in self.sections:
            file, start, end = self.flat.span(section.start, section.end)
            out.sections.append(Section(
                section_id=section.section_id, paper_id=self.paper_id, extractor=EXTRACTOR,
                level=section.level, number=section.number, title=section.title, path=section.path,
                in_appendix=section.in_appendix, source_file=file, char_start=start, char_end=end,
                run_id=self.run_id))
        for item in self.items:
            file, start, _ = self.flat.span(item.start, item.end)
            item.expr_id = stable_id(self.paper_id, EXTRACTOR, item.kind, file, start,
                                     self.text[item.start:item.end])
        by_label = self._labels()
        by_label |= {f"{BY_NUMBER}{(item.title or '').split(' (')[0].lower()} {item.number}": item
                     for item in self.items if item.kind == "statement" and item.number}
        proofs = [i for i in self.items if i.kind == "proof" and i.proof_targets]
        for item in proofs:
            for target in item.proof_targets:
                if target not in by_label:
                    self.issues.append(Issue("dangling_proof_reference", f"{item.title} at {self._file_line(item.outer_start)} "
                                             f"names {target.replace(BY_NUMBER, '')!r}, which no statement has"))
        # a proof naming one statement proves it (the innermost, last one wins: a heading's
        # \begin{proof}); one naming several proves each that has no proof of its own
        for item in sorted(proofs, key=lambda i: len(i.proof_targets) > 1):
            named = [by_label[t] for t in item.proof_targets if t in by_label]
            if not named and item.adjacent is not None and item.adjacent.proof is None:
                named = [item.adjacent]  # "[Proof of Theorem 9]" with no Theorem 9: the one above
            proved = named if len(item.proof_targets) == 1 else [s for s in named if s.proof is None]
            for statement in proved:
                statement.proof = item
            if proved:
                item.parent = proved[0]
            if len(proved) == 1 and item.env in ("section", "paragraph"):  # its heading said "<ref>"
                statement = proved[0]
                item.title = f"Proof of {statement.title}" + (f" {statement.number}" if statement.number else "")
        # a proof under a proof heading proves its target: the nearest heading proof before it
        # that encloses it (heading proofs end at the next proof heading, so they do not nest)
        headed = [h for h in self.items if h.kind == "proof" and h.env in ("section", "paragraph") and h.parent]
        starts = [h.outer_start for h in headed]
        for item in self.items:
            if item.kind == "proof" and item.parent is None:
                at = bisect_right(starts, item.outer_start) - 1
                holder = headed[at] if at >= 0 and headed[at] is not item else None
                if holder is not None and item.outer_end <= holder.outer_end:
                    item.parent = holder.parent
        for item in self.items:
            if not self._restating(item):
                out.expressions.append(self._expression(item))
        out.edges = self._edges(by_label)
        return out

    def _labels(self) -> dict[str, _Item]:
        """Label → item, the first one where a label is used twice. A statement of the same kind
        labelled like an earlier one is its restatement (an appendix copy): dropped, with what it
        holds, and a proof of the copy proves the original. Any other reuse is a
        ``duplicate_label``: references go to the first."""
        by_label: dict[str, _Item] = {}
        for item in self.items:
            if not item.label or self._restating(item):
                continue
            first = by_label.setdefault(item.label, item)
            if first is item:
                continue
            if item.kind == first.kind == "statement" and item.env == first.env:
                item.restates = first
                if item.proof is not None:
                    item.proof.parent = first
                    first.proof = first.proof or item.proof
                continue
            self.issues.append(Issue("duplicate_label", f"{item.label!r} at {self._file_line(first.outer_start)} "
                                     f"and {self._file_line(item.outer_start)}; references go to the first"))
        return by_label

    @staticmethod
    def _restating(item: _Item) -> bool:
        """Is the item a restatement, or inside one?"""
        seen = 0
        while item is not None and seen < 50:
            if item.restates is not None:
                return True
            item, seen = item.parent, seen + 1
        return False

    def _expression(self, item: _Item) -> Expression:
        latex = self.text[item.start:item.end]
        expanded = self.macros.expand(latex)
        file, start, end = self.flat.span(item.start, item.end)
        after = self._context_after(item.outer_end)
        definitions = None
        if item.kind == "equation" and _DEFINITION_START.match(after):
            definitions = self.macros.expand(after[:_definition_end(after)].strip(" ,;:"))
            if not _balanced_environments(definitions):
                definitions = None  # a display cut off by the context window
        return Expression(
            expr_id=item.expr_id, paper_id=self.paper_id, extractor=EXTRACTOR, kind=item.kind,
            env=item.env, row=item.row, latex=latex, latex_expanded=expanded, text=_plain(expanded),
            label=item.label, number=item.number, title=item.title,
            section=item.section.path if item.section else None,
            section_id=item.section.section_id if item.section else None, in_appendix=item.in_appendix,
            source_file=file, char_start=start, char_end=end,
            context_before=self._context_before(item.outer_start), context_after=after,
            definitions=definitions, parent_expr=item.parent.expr_id if item.parent else None,
            proof_expr=item.proof.expr_id if item.proof else None, run_id=self.run_id)

    def _context_before(self, pos: int) -> str:
        """The paragraph before ``pos`` (two, when the nearest is shorter than a sentence or two)."""
        start = self.text.rfind("\n\n", 0, pos)
        while start > 0 and pos - start < MIN_PARAGRAPH_CHARS:
            start = self.text.rfind("\n\n", 0, start)
        chunk = self.text[max(start, pos - CONTEXT_CHARS, 0):pos]
        return " ".join(chunk.split())

    def _context_after(self, pos: int) -> str:
        """From ``pos`` to the end of its paragraph (where the "where X is …" sentence stands)."""
        stop = re.compile(r"\n[ \t]*\n").search(self.text, pos + 1)
        chunk = self.text[pos:min(stop.start() if stop else len(self.text), pos + CONTEXT_CHARS)]
        return " ".join(chunk.split())

    def _edges(self, by_label: dict[str, _Item]) -> list[ExpressionEdge]:
        """Each ``\\ref``/``\\eqref`` to a labelled expression, read where it stands: inside a
        formula, a statement or a proof; or in the sentence that introduces a display in running
        text (the one before too when that one cites nothing: "… in Eq.~(3). Expanding it, we
        have"), when that sentence derives it (``DERIVATION_CUES``)."""
        kept = [i for i in self.items if not self._restating(i)]
        copies = [i for i in self.items if i.restates is not None]
        formulas = sorted((i for i in kept if i.kind == "equation"), key=lambda i: i.outer_start)
        holders = sorted(kept, key=lambda i: i.end - i.start)  # innermost first
        ref_starts = sorted(pos for pos, *_ in self.refs)
        # the words just before a display must derive it (its introducing sentence's, or the words
        # since the display before it in that sentence: "… is [D1] and composing … yields [D2]");
        # that sentence's references, or the previous sentence's when it has none, are its sources
        intro_zones = []
        for before, formula in zip([None, *formulas], formulas):
            sentence = self._sentence_start(formula.outer_start)
            words = self.text[max(sentence, before.outer_end if before is not None else 0):formula.outer_start]
            host = words.rfind(" into ")  # "substitute (3) into Poisson's equation, [D]": D is the host
            if DERIVATION_CUES.search(words) and not (host >= 0 and not DERIVATION_CUES.search(words, host)):
                intro_zones.append((self._introduction_start(formula.outer_start, ref_starts), formula.outer_start,
                                    formula))
        edges: dict[tuple, ExpressionEdge] = {}
        for pos, command, labels in self.refs:
            if any(c.outer_start <= pos < c.outer_end for c in copies):
                continue
            holder = next((i for i in holders if i.start <= pos < i.end), None)
            if holder is not None:
                via = {"equation": "equation", "statement": "statement", "proof": "proof"}[holder.kind]
                sources = [holder.parent if holder.kind == "proof" and holder.parent is not None else holder]
            elif _EXEMPLIFYING.search(self.text[max(0, pos - 40):pos]):
                continue  # "problems such as (3)": examples, not what the display is derived from
            else:
                # one sentence may introduce several displays ("… is [D1] and composing … yields [D2]")
                via, sources = "introduction", [z[2] for z in intro_zones if z[0] <= pos < z[1]]
            for source, label in product(sources, labels):
                target = by_label.get(label)
                if target is None or target is source or target.kind == "proof":
                    continue
                key = (source.expr_id, target.expr_id, via)
                edges.setdefault(key, ExpressionEdge(
                    paper_id=self.paper_id, from_expr=source.expr_id, to_expr=target.expr_id, via=via,
                    command=command, label=label, run_id=self.run_id))
        return list(edges.values())

    def _introduction_start(self, pos: int, ref_starts: list[int]) -> int:
        """The introducing sentence's start, or the one before it when it cites nothing (and
        introduces no display of its own)."""
        start = self._sentence_start(pos)
        if start > 0 and bisect_left(ref_starts, start) == bisect_left(ref_starts, pos):  # no ref in between
            earlier = self._sentence_start(start)
            last_ref = ref_starts[bisect_left(ref_starts, start) - 1] if bisect_left(ref_starts, start) else 0
            # not across a paragraph break, not references a display after them took ("… (3) takes the
            # simple form [D0]"), not a clause defining the display before ("[D0] where $G$ is as in (3).")
            after_display = max((m.end() for m in _DISPLAY_EDGE.finditer(self.text, earlier, start)), default=-1)
            if "\n\n" not in self.text[earlier:start].strip() and after_display < last_ref \
                    and not _WHERE.match(self.text, max(after_display, earlier)):
                return earlier
        return start

    def _sentence_start(self, pos: int) -> int:
        """Where the sentence that introduces a formula begins."""
        window = self.text[max(0, pos - CONTEXT_CHARS):pos]
        ends = list(_SENTENCE_END.finditer(window))
        # a display often follows "… as follows." on its own: then that sentence is the intro
        cut = ends[-1].end() if ends and window[ends[-1].end():].strip() else (ends[-2].end() if len(ends) > 1 else 0)
        return max(0, pos - CONTEXT_CHARS) + cut


def _definition_end(after: str) -> int:
    """Where the "where …" sentence after a formula ends: its first sentence end, or, when that
    period ends a display the sentence opens ("where the loss is [D: … = y.]"), that display's end."""
    for stop in _SENTENCE_END.finditer(after, 1):
        if _balanced_environments(after[:stop.start()]):
            return stop.end()
        closing = END_ENV.search(after, stop.end())
        if closing is not None and _balanced_environments(after[:closing.end()]):
            return closing.end()
    return len(after)


def _balanced_environments(text: str) -> bool:
    """Does every ``\\begin{…}`` (and ``\\[``) in ``text`` close in it?"""
    opened = len(BEGIN_ENV.findall(text)) + text.count("\\[")
    return opened == len(END_ENV.findall(text)) + text.count("\\]")


def extract_latex(flat: FlatSource, paper_id: str, run_id: str = "") -> Extracted:
    """A flattened LaTeX project → sections, expressions, edges and the issues met on the way."""
    if not flat.text.strip():
        return Extracted(issues=list(flat.issues))
    return LatexExtractor(flat, paper_id, run_id).run()

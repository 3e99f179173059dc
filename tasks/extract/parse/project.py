"""A LaTeX project as TeX would read it: the main file and its ``\\input`` tree flattened.

Input: ``TexFiles`` (``tasks.documents.eprint``: the files of an e-print or folder, comments
blanked by ``blank_comments``). Output: ``FlatSource`` (the main file with every
``\\input``/``\\include``/``\\subfile``/``\\import`` spliced in, local ``\\usepackage`` files listed
for their macros, plus a source map from each flat offset back to ``(file, offset)``).

Issues (snake_case, recorded, never raised): ``no_main_file``, ``several_main_files``,
``missing_input_file``, ``include_cycle``, ``source_too_large``.
"""

from __future__ import annotations

import bisect
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

from pylatexenc.latexwalker import LatexWalker, LatexWalkerError

from tasks.documents.eprint import Issue, TexFiles, blank_comments

PREFERRED_MAIN_STEMS = ("main", "ms", "paper", "article", "manuscript", "arxiv")
LEFTOVER_MARKERS = ("_old", "old-", "old_", "backup", "-bak", "_bak", "copy of")
NON_TEX_INPUTS = (".bbl", ".pgf", ".tikz", ".pdf_tex", ".cls", ".csv", ".dat", ".txt", ".table", ".def")
SYSTEM_INPUTS = frozenset({"xy", "epsf", "psfig", "pictex", "texdraw", "mathdots", "amssym", "diagrams"})
"""``\\input xy`` loads a TeX distribution's macro file, not a project file."""
_INCLUDE = re.compile(r"\\(input|include|subfile|import|subimport|inputfrom|subinputfrom|usepackage)(?![A-Za-z@])")
"""Where to look: a lexical scan for the few commands that pull in files; pylatexenc parses them."""


# -- main file --------------------------------------------------------------------------------

def is_leftover(name: str) -> bool:
    """``_old-intro.tex``, ``old/…``, ``backup/…``: files an author kept but TeX never reads."""
    lowered = name.lower()
    parts = lowered.split("/")
    return (any(posixpath.basename(lowered).startswith(m) or m in posixpath.basename(lowered)
                for m in LEFTOVER_MARKERS)
            or any(p in ("old", "backup", "bak", "unused", "trash") for p in parts[:-1]))


def find_main_file(files: dict[str, str], blanked: dict[str, str]) -> tuple[str | None, list[Issue]]:
    """The file with ``\\documentclass`` and ``\\begin{document}`` outside comments.

    With several, prefer one no other candidate includes, then a conventional name, then the one
    that includes the most files, then the largest.
    """
    candidates = [name for name, text in blanked.items()
                  if name.endswith(".tex") and not is_leftover(name)
                  and "\\documentclass" in text and "\\begin{document}" in text]
    if not candidates:
        return None, [Issue("no_main_file", "no .tex file has both \\documentclass and "
                                            "\\begin{document} outside comments")]
    if len(candidates) == 1:
        return candidates[0], []

    def included_names(name: str) -> set[str]:
        return {target for _, _, target in _include_commands(blanked[name], name, files)}

    includes = {name: included_names(name) for name in candidates}
    included_by_other = {t for name in candidates for t in includes[name] if t != name}
    ranked = sorted(candidates, key=lambda name: (
        name in included_by_other,
        Path(name).stem.lower() not in PREFERRED_MAIN_STEMS,
        -len(includes[name]),
        -len(files[name]),
        name))
    return ranked[0], [Issue("several_main_files", f"chose {ranked[0]} among {sorted(candidates)}")]


# -- flattening -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Segment:
    flat_start: int
    file: str
    file_start: int
    length: int


@dataclass
class FlatSource:
    """The main file with its inputs spliced in; ``locate`` maps a flat offset to its file."""

    text: str
    segments: list[Segment]
    main_file: str | None
    files: dict[str, str]
    issues: list[Issue] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    """Local ``.sty`` files the source loads: read for macro definitions, not spliced in."""
    _starts: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._starts = [s.flat_start for s in self.segments]

    def locate(self, pos: int) -> tuple[str | None, int | None]:
        if not self.segments:
            return None, None
        seg = self.segments[max(0, bisect.bisect_right(self._starts, pos) - 1)]
        return seg.file, seg.file_start + min(max(pos - seg.flat_start, 0), seg.length)

    def span(self, start: int, end: int) -> tuple[str | None, int | None, int | None]:
        """``(file, start, end)`` in the file the span starts in (cut at that file's segment end)."""
        file, begin = self.locate(start)
        seg = self.segments[max(0, bisect.bisect_right(self._starts, start) - 1)] if self.segments else None
        if file is None or seg is None or begin is None:
            return None, None, None
        return file, begin, begin + min(end - start, seg.flat_start + seg.length - start)


def _resolve(target: str, current: str, files: dict[str, str], relative: bool,
             suffix: str = ".tex") -> str | None:
    target = target.strip().strip('"')
    bases = [posixpath.dirname(current)] if relative else ["", posixpath.dirname(current)]
    for base in bases:
        stem = posixpath.normpath(posixpath.join(base, target))
        for name in (stem, stem + suffix):
            if name in files:
                return name
    return None


def _include_commands(text: str, current: str, files: dict[str, str]):
    """Yield ``(start, end, resolved name or None + raw target)`` for each file-including command."""
    walker = LatexWalker(text, tolerant_parsing=True)
    for match in _INCLUDE.finditer(text):
        command, end = match.group(1), match.end()
        if command in ("import", "subimport", "inputfrom", "subinputfrom"):
            groups = _group_args(walker, end, 2)
            if groups is None:
                continue
            (directory, name), end = groups
            target = posixpath.join(directory, name)
            yield match.start(), end, _resolve(target, current, files, command.startswith("sub")) or f"?{target}"
            continue
        groups = _group_args(walker, end, 1)
        if groups is None:
            if command != "input":
                continue
            word = re.match(r"[ \t]*([^\s{}\\]+)", text[end:])  # TeX's ``\input file`` form
            if not word:
                continue
            target, end = word.group(1), end + word.end()
        else:
            (target,), end = groups
        if command == "usepackage":
            for package in target.split(","):
                resolved = _resolve(package.strip(), current, files, False, ".sty")
                if resolved and resolved.endswith(".sty"):
                    yield match.start(), end, resolved
            continue
        yield match.start(), end, _resolve(target, current, files, command == "subfile") or f"?{target}"


def _group_args(walker: LatexWalker, pos: int, count: int):
    """Read ``count`` brace groups after ``pos`` (optional ``[...]`` arguments skipped)."""
    args = []
    text = walker.s
    while len(args) < count:
        while pos < len(text) and text[pos] in " \t\n":
            pos += 1
        if pos >= len(text) or text[pos] not in "[{":
            return None
        try:
            node, npos, length = walker.get_latex_expression(pos, strict_braces=False)
        except LatexWalkerError:
            return None
        if text[pos] == "{":
            args.append(node.latex_verbatim()[1:-1])
            pos = npos + length
        else:
            close = text.find("]", pos)
            if close < 0:
                return None
            pos = close + 1
    return args, pos


MAX_SPLICES = 2_000
"""``\\input`` splices per paper: real projects use tens; a tree of inputs of empty files would
multiply work without ever reaching ``max_chars``."""


def flatten(tex: TexFiles, max_chars: int, main: str | None = None, max_splices: int = MAX_SPLICES) -> FlatSource:
    """Splice the main file's inputs in; missing files, cycles and spent budgets are issues, not
    errors."""
    files = tex.files
    blanked = {name: blank_comments(text) for name, text in files.items()}
    issues = list(tex.issues)
    if main is None:
        main, found = find_main_file(files, blanked)
        issues += found
    if main is None:
        return _concatenate(files, blanked, issues)
    pieces: list[str] = []
    packages: list[str] = []
    segments: list[Segment] = []
    size = [0]
    splices = [0]
    commands: dict[str, list] = {}  # each file's include commands, found once however often it is spliced

    def emit(name: str, start: int, end: int) -> None:
        if end > start:
            segments.append(Segment(size[0], name, start, end - start))
            pieces.append(blanked[name][start:end])
            size[0] += end - start

    def splice(name: str, stack: tuple[str, ...]) -> bool:
        """Emit ``name`` with its inputs spliced in; False once a budget is spent (stop everything)."""
        text, cursor = blanked[name], 0
        if name not in commands:
            commands[name] = list(_include_commands(text, name, files))
        for start, end, target in commands[name]:
            if start < cursor:
                continue
            emit(name, cursor, start)
            cursor = end
            if target.startswith("?"):
                cursor = start  # keep the command's text where TeX would have failed
                raw = target[1:]
                if not raw.lower().endswith(NON_TEX_INPUTS) and raw.lower() not in SYSTEM_INPUTS:
                    issues.append(Issue("missing_input_file", f"{name}: \\input{{{raw}}} is not in the project"))
                emit(name, start, end)
                cursor = end
            elif target.endswith(".sty"):
                packages.append(target)  # read for its macros only: style files are not prose
                emit(name, start, end)
            elif target in stack:
                issues.append(Issue("include_cycle", f"{' → '.join((*stack, target))}"))
            elif len(stack) > 20:
                issues.append(Issue("include_cycle", f"include depth over 20 at {target}"))
            elif splices[0] >= max_splices:
                issues.append(Issue("include_budget_exceeded", f"more than {max_splices} \\input splices "
                                    f"(a tree of inputs); read up to {name}"))
                return False
            else:
                splices[0] += 1
                if not splice(target, (*stack, target)):
                    return False
            if size[0] > max_chars:
                return False
        emit(name, cursor, len(text))
        return True

    splice(main, (main,))
    text = "".join(pieces)
    if len(text) > max_chars:
        issues.append(Issue("source_too_large", f"{len(text)} characters after \\input; read the first {max_chars}"))
        text = text[:max_chars]
    return FlatSource(text, segments, main, files, issues, packages=list(dict.fromkeys(packages)))


def _concatenate(files: dict[str, str], blanked: dict[str, str], issues: list[Issue]) -> FlatSource:
    """No main file: read every non-leftover ``.tex`` file, in name order, so nothing is lost."""
    names = [n for n in sorted(files) if n.endswith(".tex") and not is_leftover(n)]
    segments, pieces, size = [], [], 0
    for name in names:
        segments.append(Segment(size, name, 0, len(blanked[name])))
        pieces.append(blanked[name] + "\n\n")
        size += len(blanked[name]) + 2
    return FlatSource("".join(pieces), segments, None, files, issues)

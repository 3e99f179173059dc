"""A LaTeX project as TeX would read it: the main file, its ``\\input`` tree flattened, comments blanked.

Input: an arXiv e-print body (tar.gz, gzipped single ``.tex`` or plain ``.tex``) or a folder.
Output: ``TexFiles`` (path → text, with what was skipped) and ``FlatSource`` (the main file with
every ``\\input``/``\\include``/``\\subfile``/``\\import`` spliced in, local ``\\usepackage`` files
listed for their macros, plus a source map from each flat offset back to ``(file, offset)``).

Comments are replaced by spaces of the same length instead of being removed, so every offset in
the flat text still points at the same character of its source file.

Issues (snake_case, recorded, never raised): ``binary_file_skipped``, ``non_utf8_source``,
``no_main_file``, ``several_main_files``, ``missing_input_file``, ``include_cycle``,
``source_too_large``.
"""

from __future__ import annotations

import bisect
import gzip
import io
import posixpath
import re
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from pylatexenc.latexwalker import LatexWalker, LatexWalkerError

SOURCE_SUFFIXES = (".tex", ".sty")
"""``.sty`` files are read for the user macros of local packages (``\\usepackage{mymacros}``)."""

PREFERRED_MAIN_STEMS = ("main", "ms", "paper", "article", "manuscript", "arxiv")
LEFTOVER_MARKERS = ("_old", "old-", "old_", "backup", "-bak", "_bak", "copy of")
NON_TEX_INPUTS = (".bbl", ".pgf", ".tikz", ".pdf_tex", ".cls", ".csv", ".dat", ".txt", ".table", ".def")
SYSTEM_INPUTS = frozenset({"xy", "epsf", "psfig", "pictex", "texdraw", "mathdots", "amssym", "diagrams"})
"""``\\input xy`` loads a TeX distribution's macro file, not a project file."""

_INCLUDE = re.compile(r"\\(input|include|subfile|import|subimport|inputfrom|subinputfrom|usepackage)(?![A-Za-z@])")
"""Where to look: a lexical scan for the few commands that pull in files; pylatexenc parses them."""


@dataclass(frozen=True)
class Issue:
    reason: str
    detail: str


class ProjectError(Exception):
    """The body holds no LaTeX project at all (the reason is a snake_case word)."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass
class TexFiles:
    files: dict[str, str]
    issues: list[Issue] = field(default_factory=list)


def decode_tex(raw: bytes) -> tuple[str, bool]:
    """UTF-8, else latin-1 (which never fails); the flag says latin-1 was used."""
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("latin-1"), True


def is_junk(name: str) -> bool:
    """macOS metadata (``._x.tex``, ``.DS_Store``, ``__MACOSX/``) is never a source file."""
    base = posixpath.basename(name)
    return base.startswith("._") or base == ".DS_Store" or "__MACOSX" in name


def _add_file(out: TexFiles, name: str, raw: bytes) -> None:
    if not name.lower().endswith(SOURCE_SUFFIXES) or is_junk(name):
        return
    if b"\x00" in raw[:65536]:
        out.issues.append(Issue("binary_file_skipped", f"{name}: binary content in a {Path(name).suffix} file"))
        return
    text, latin1 = decode_tex(raw)
    if latin1:
        out.issues.append(Issue("non_utf8_source", f"{name}: not UTF-8, read as latin-1"))
    out.files[posixpath.normpath(name)] = text


def read_tex_files(data: bytes) -> TexFiles:
    """The source files of an e-print body; raises ``ProjectError`` when there are none."""
    if data[:4] == b"%PDF":
        raise ProjectError("pdf_only_source", "the e-print is a PDF: the paper has no LaTeX source")
    raw = data
    if data[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ProjectError("corrupt_archive", f"gzip: {exc}") from exc
        if raw[:4] == b"%PDF":
            raise ProjectError("pdf_only_source", "the e-print is a PDF: the paper has no LaTeX source")
    out = TexFiles({})
    if len(raw) > 262 and raw[257:262] == b"ustar":
        try:
            with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
                for member in tar:
                    if member.isfile() and (handle := tar.extractfile(member)) is not None:
                        _add_file(out, member.name, handle.read())
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            if not out.files:
                raise ProjectError("corrupt_archive", f"tar: {exc}") from exc
            out.issues.append(Issue("corrupt_archive", f"tar ends early, kept {len(out.files)} files: {exc}"))
    else:
        if b"\x00" in raw[:65536]:
            raise ProjectError("no_tex_files", "the body is binary, not LaTeX")
        text, latin1 = decode_tex(raw)
        if "\\" not in text:
            raise ProjectError("no_tex_files", "the body is not LaTeX")
        if latin1:
            out.issues.append(Issue("non_utf8_source", "main.tex: not UTF-8, read as latin-1"))
        out.files["main.tex"] = text
    if not any(name.endswith(".tex") for name in out.files):
        raise ProjectError("no_tex_files", "the archive holds no .tex file")
    return out


def read_tex_dir(folder: Path) -> TexFiles:
    out = TexFiles({})
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            _add_file(out, path.relative_to(folder).as_posix(), path.read_bytes())
    if not any(name.endswith(".tex") for name in out.files):
        raise ProjectError("no_tex_files", f"{folder} holds no .tex file")
    return out


# -- comments ---------------------------------------------------------------------------------

def blank_comments(text: str) -> str:
    """Replace ``% …`` comments, ``\\iffalse … \\fi`` and ``comment`` environments by spaces.

    Lengths and newlines are kept, so offsets into the result are offsets into the file.
    """
    chars = list(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2  # an escaped character, ``\%`` included, or the start of a control word
            continue
        if c == "%":
            j = text.find("\n", i)
            j = n if j < 0 else j
            chars[i:j] = " " * (j - i)
            i = j
            continue
        i += 1
    out = "".join(chars)
    for begin, end in ((r"\iffalse", r"\fi"), (r"\begin{comment}", r"\end{comment}")):
        start = out.find(begin)
        while start >= 0:
            stop = out.find(end, start + len(begin))
            stop = len(out) if stop < 0 else stop + len(end)
            out = out[:start] + re.sub(r"[^\n]", " ", out[start:stop]) + out[stop:]
            start = out.find(begin, stop)
    return out


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


def flatten(tex: TexFiles, max_chars: int, main: str | None = None) -> FlatSource:
    """Splice the main file's inputs in; missing files and cycles are issues, not errors."""
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

    def emit(name: str, start: int, end: int) -> None:
        if end > start:
            segments.append(Segment(size[0], name, start, end - start))
            pieces.append(blanked[name][start:end])
            size[0] += end - start

    def splice(name: str, stack: tuple[str, ...]) -> None:
        text, cursor = blanked[name], 0
        for start, end, target in _include_commands(text, name, files):
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
            else:
                splice(target, (*stack, target))
            if size[0] > max_chars:
                return
        emit(name, cursor, len(text))

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

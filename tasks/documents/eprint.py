"""E-print reading: an arXiv e-print body (tar.gz, gzipped single ``.tex`` or plain ``.tex``) or a
folder → its LaTeX source files, and comment blanking.

Input: bytes of a fetched e-print, or a folder. Output: ``TexFiles`` (path → text, with what was
skipped). Every limit is checked while reading. Comments are replaced by spaces of the same
length instead of being removed, so every offset in the blanked text still points at the same
character of its source file.

Issues (snake_case, recorded, never raised): ``binary_file_skipped``, ``non_utf8_source``,
``corrupt_archive`` (a tar that ends early, with the files read so far). ``ProjectError`` (no
project at all): ``pdf_only_source``, ``corrupt_archive``, ``no_tex_files``.
"""

from __future__ import annotations

import io
import posixpath
import re
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

SOURCE_SUFFIXES = (".tex", ".sty")
"""``.sty`` files are read for the user macros of local packages (``\\usepackage{mymacros}``)."""


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


@dataclass(frozen=True)
class Limits:
    """What one e-print may cost to read, enforced while reading (a few hundred bytes of gzip can
    declare gigabytes)."""

    total_bytes: int = 64 * 2**20
    """Decompressed bytes of the whole body; past it the rest is not decompressed."""
    file_bytes: int = 16 * 2**20
    """One member; a larger one is skipped unread."""
    members: int = 20_000
    """Archive members looked at; past it the rest of the archive is not read."""


LIMITS = Limits()


def _gunzip(data: bytes, limit: int) -> tuple[bytes, bool, bool]:
    """Decompress a gzip body to at most ``limit`` bytes: (bytes, it would give more, it ends
    before its end-of-stream marker)."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    raw = inflater.decompress(data, limit + 1)
    over = len(raw) > limit
    return raw[:limit], over, not over and not inflater.eof


def read_tex_files(data: bytes, limits: Limits = LIMITS) -> TexFiles:
    """The source files of an e-print body; raises ``ProjectError`` when there are none.

    Bounded while reading: gzip is inflated up to ``limits.total_bytes`` (``source_too_large``,
    keeping the files that fit), a member's name is checked before its bytes are read, sparse
    members (which inflate to the size their header declares) and members over
    ``limits.file_bytes`` are skipped unread (``archive_member_skipped``), and at most
    ``limits.members`` members are looked at (``too_many_members``).
    """
    if data[:4] == b"%PDF":
        raise ProjectError("pdf_only_source", "the e-print is a PDF: the paper has no LaTeX source")
    raw = data
    out = TexFiles({})
    if data[:2] == b"\x1f\x8b":
        try:
            raw, truncated, cut = _gunzip(data, limits.total_bytes)
        except zlib.error as exc:
            raise ProjectError("corrupt_archive", f"gzip: {exc}") from exc
        if raw[:4] == b"%PDF":
            raise ProjectError("pdf_only_source", "the e-print is a PDF: the paper has no LaTeX source")
        if truncated:
            out.issues.append(Issue("source_too_large", f"the body inflates past {limits.total_bytes} bytes: "
                                                        "read up to there, kept the files that fit"))
        if cut:
            if not raw:
                raise ProjectError("corrupt_archive", "gzip: the stream ends before any data")
            out.issues.append(Issue("corrupt_archive", "gzip: the stream ends early; kept what it holds"))
    if len(raw) > 262 and raw[257:262] == b"ustar":
        _read_tar(raw, out, limits)
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


def _read_tar(raw: bytes, out: TexFiles, limits: Limits) -> None:
    """The source members of an (uncompressed, already bounded) tar, each checked before it is read."""
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:  # "r:": no further decompression
            for count, member in enumerate(tar, start=1):
                if count > limits.members:
                    out.issues.append(Issue("too_many_members", f"stopped after {limits.members} members"))
                    break
                if not member.isfile() or not member.name.lower().endswith(SOURCE_SUFFIXES) or is_junk(member.name):
                    continue  # never read: links, devices, figures, macOS metadata
                if member.issparse() or member.size > limits.file_bytes:
                    why = "sparse" if member.issparse() else f"{member.size} bytes > {limits.file_bytes}"
                    out.issues.append(Issue("archive_member_skipped", f"{member.name}: {why}"))
                    continue
                handle = tar.extractfile(member)
                if handle is not None:
                    _add_file(out, member.name, handle.read(limits.file_bytes + 1))
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        if not out.files:
            raise ProjectError("corrupt_archive", f"tar: {exc}") from exc
        out.issues.append(Issue("corrupt_archive", f"tar ends early, kept {len(out.files)} files: {exc}"))


def read_tex_dir(folder: Path) -> TexFiles:
    out = TexFiles({})
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            _add_file(out, path.relative_to(folder).as_posix(), path.read_bytes())
    if not any(name.endswith(".tex") for name in out.files):
        raise ProjectError("no_tex_files", f"{folder} holds no .tex file")
    return out


_NOT_NEWLINE = re.compile(r"[^\n]")


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
        pieces, at = [], 0  # one pass: spans found left to right, the text rebuilt once
        start = out.find(begin)
        while start >= 0:
            stop = out.find(end, start + len(begin))
            stop = len(out) if stop < 0 else stop + len(end)
            pieces += [out[at:start], _NOT_NEWLINE.sub(" ", out[start:stop])]
            at = stop
            start = out.find(begin, stop)
        out = "".join(pieces) + out[at:]
    return out

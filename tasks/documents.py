"""Documents: check and read a paper's PDF or LaTeX source.

Input: raw bytes of a fetched body and the kind it claims to be (``pdf`` | ``latex``).
Output: a ``Parsed`` result: the full text (for the keyword rule and later stages), page count,
and, when the body is unusable, a snake_case reason and a human-readable detail.

Reasons: ``empty_document``, ``too_large``, ``not_a_pdf`` (e.g. an HTML error page saved as
``.pdf``), ``encrypted_pdf``, ``corrupt_pdf``, ``no_pages``, ``image_only_pdf`` (a scan without a text
layer), ``no_text_layer``, ``stub_document`` (a placeholder page),
``pdf_only_source`` (arXiv serves a PDF where the e-print should be: no LaTeX exists),
``corrupt_archive``, ``no_tex_files``, and ``parse_error`` for anything unforeseen.
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pymupdf

PARSER_VERSION = "documents-1"
MIN_TEXT_CHARS_PER_PAGE = 40
"""Below this average a PDF has no usable text layer (scans, figures-only)."""

MIN_PAPER_CHARS = 1000
"""A real paper has more text than this; less is a placeholder ("this paper moved to arXiv")."""

_TEX_COMMENT = re.compile(r"(?<!\\)%.*")


@dataclass
class Parsed:
    ok: bool
    text: str | None = None
    pages: int | None = None
    reason: str | None = None
    detail: str | None = None

    @classmethod
    def reject(cls, reason: str, detail: str, pages: int | None = None) -> "Parsed":
        return cls(ok=False, reason=reason, detail=detail[:500], pages=pages)


def parse_pdf(data: bytes, max_bytes: int) -> Parsed:
    if not data.strip():
        return Parsed.reject("empty_document", "zero bytes or whitespace only")
    if len(data) > max_bytes:
        return Parsed.reject("too_large", f"{len(data)} bytes > limit {max_bytes}")
    pymupdf.TOOLS.mupdf_display_errors(False)  # MuPDF's repair chatter would flood worker logs
    try:
        doc = pymupdf.open(stream=data)
    except (pymupdf.FileDataError, RuntimeError, ValueError) as exc:
        return Parsed.reject("corrupt_pdf", f"{type(exc).__name__}: {exc}")
    with doc:
        if not doc.is_pdf:
            kind = "html" if data.lstrip()[:15].lower().startswith((b"<!doctype", b"<html")) else "unknown"
            return Parsed.reject("not_a_pdf", f"body is {kind} ({doc.metadata.get('format') or 'no format'})")
        if doc.needs_pass and not doc.authenticate(""):
            return Parsed.reject("encrypted_pdf", "a user password is required to open the file")
        if doc.page_count == 0:
            return Parsed.reject("no_pages", "the PDF opens but has no readable pages")
        try:
            text = "\n".join(page.get_text("text") for page in doc)
        except (ValueError, RuntimeError) as exc:
            reason = "encrypted_pdf" if "encrypt" in str(exc).lower() else "corrupt_pdf"
            return Parsed.reject(reason, f"{type(exc).__name__}: {exc}", pages=doc.page_count)
        pages = doc.page_count
        images = sum(len(page.get_images()) for page in doc)
    chars = len(text.strip())
    if chars < MIN_TEXT_CHARS_PER_PAGE * pages:
        if images:
            return Parsed.reject("image_only_pdf", f"{chars} text chars and {images} images on "
                                 f"{pages} pages: a scan without a text layer", pages=pages)
        return Parsed.reject("no_text_layer", f"{chars} text chars on {pages} pages", pages=pages)
    if chars < MIN_PAPER_CHARS:
        return Parsed.reject("stub_document", f"only {chars} chars of text: {text.strip()[:120]!r}",
                             pages=pages)
    return Parsed(ok=True, text=repair_pdf_text(text), pages=pages)


def repair_pdf_text(text: str) -> str:
    """Undo the PDF text layer's ligatures and end-of-line hyphenation before word counting."""
    for lig, plain in {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"}.items():
        text = text.replace(lig, plain)
    return re.sub(r"(\w)-\n(\w)", r"\1\2", text)


def strip_tex_comments(source: str) -> str:
    return "\n".join(_TEX_COMMENT.sub("", line) for line in source.splitlines())


def decode_tex(raw: bytes) -> str:
    """LaTeX sources are usually UTF-8, old ones latin-1 (which never fails to decode)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _is_junk(name: str) -> bool:
    base = Path(name).name
    return base.startswith("._") or base == ".DS_Store" or "__MACOSX" in name


def tex_files_from_bytes(data: bytes) -> dict[str, str] | Parsed:
    """The ``.tex`` files of an arXiv e-print (tar.gz, gzipped single file or plain .tex)."""
    if data[:4] == b"%PDF":
        return Parsed.reject("pdf_only_source", "the e-print is a PDF: the paper has no LaTeX source")
    raw = data
    if data[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            return Parsed.reject("corrupt_archive", f"gzip: {exc}")
        if raw[:4] == b"%PDF":
            return Parsed.reject("pdf_only_source", "the e-print is a PDF: the paper has no LaTeX source")
    if len(raw) > 262 and raw[257:262] == b"ustar":
        files: dict[str, str] = {}
        try:
            with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
                for member in tar.getmembers():
                    if member.isfile() and member.name.endswith(".tex") and not _is_junk(member.name):
                        handle = tar.extractfile(member)
                        if handle is not None:
                            files[member.name] = decode_tex(handle.read())
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            if not files:
                return Parsed.reject("corrupt_archive", f"tar: {exc}")
        if not files:
            return Parsed.reject("no_tex_files", "the archive holds no .tex file")
        return files
    text = decode_tex(raw)
    if "\\" not in text:
        return Parsed.reject("no_tex_files", "the body is not LaTeX")
    return {"main.tex": text}


def tex_files_from_dir(folder: Path) -> dict[str, str] | Parsed:
    files = {p.relative_to(folder).as_posix(): decode_tex(p.read_bytes())
             for p in sorted(folder.rglob("*.tex")) if not _is_junk(p.as_posix())}
    return files or Parsed.reject("no_tex_files", f"{folder} holds no .tex file")


def parse_latex(files: dict[str, str] | Parsed) -> Parsed:
    """All ``.tex`` files of a project, comments stripped, as one text for the keyword rule.

    Main-file detection and ``\\input`` resolution come with the expressions stage; counting
    words over every ``.tex`` file is what the derivation-language rule needs.
    """
    if isinstance(files, Parsed):
        return files
    text = "\n".join(strip_tex_comments(files[name]) for name in sorted(files))
    if not text.strip():
        return Parsed.reject("empty_document", "the LaTeX files are empty")
    return Parsed(ok=True, text=text)


def parse_document(kind: str, data: bytes, max_bytes: int) -> Parsed:
    """Read a body of the given kind; never raises: an unforeseen failure is ``parse_error``."""
    try:
        return _parse(kind, data, max_bytes)
    except Exception as exc:  # the run goes on; the reason and the exception are recorded
        return Parsed.reject("parse_error", f"{type(exc).__name__}: {exc}")


def _parse(kind: str, data: bytes, max_bytes: int) -> Parsed:
    if kind == "pdf":
        return parse_pdf(data, max_bytes)
    if not data.strip():
        return Parsed.reject("empty_document", "zero bytes")
    if len(data) > max_bytes:
        return Parsed.reject("too_large", f"{len(data)} bytes > limit {max_bytes}")
    return parse_latex(tex_files_from_bytes(data))

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

import re
from dataclasses import dataclass

import pymupdf
from pylatexenc.latex2text import LatexNodes2Text
from pylatexenc.latexwalker import LatexGroupNode, LatexMacroNode, LatexWalker, get_default_latex_context_db
from pylatexenc.macrospec import MacroSpec

from tasks.documents.eprint import ProjectError, blank_comments, read_tex_files

MIN_TEXT_CHARS_PER_PAGE = 40
"""Below this average a PDF has no usable text layer (scans, figures-only)."""

OTHER_FORMATS = ((b"<!doctype", "html"), (b"<html", "html"), (b"<?xml", "xml"), (b"\x89png", "png"),
                 (b"\xff\xd8\xff", "jpeg"), (b"gif8", "gif"), (b"pk\x03\x04", "zip"), (b"\x1f\x8b", "gzip"),
                 (b"%!ps", "postscript"))
"""Bodies served where a PDF was expected (an error page, an image, an archive): ``not_a_pdf``."""
MIN_PAPER_CHARS = 1000
"""A real paper has more text than this; less is a placeholder ("this paper moved to arXiv")."""


@dataclass
class Parsed:
    ok: bool
    text: str | None = None
    pages: int | None = None
    reason: str | None = None
    detail: str | None = None
    title: str | None = None
    """A PDF's title: its metadata's when that looks like one, else the largest type on page 1."""

    @classmethod
    def reject(cls, reason: str, detail: str, pages: int | None = None) -> "Parsed":
        return cls(ok=False, reason=reason, detail=detail[:500], pages=pages)


def parse_pdf(data: bytes, max_bytes: int) -> Parsed:
    if not data.strip():
        return Parsed.reject("empty_document", "zero bytes or whitespace only")
    if len(data) > max_bytes:
        return Parsed.reject("too_large", f"{len(data)} bytes > limit {max_bytes}")
    if b"%PDF-" not in data[:1024]:  # PDF readers accept the header anywhere in the first KiB
        kind = next((name for magic, name in OTHER_FORMATS if data.lstrip()[:16].lower().startswith(magic)), None)
        if kind:
            return Parsed.reject("not_a_pdf", f"body is {kind}, not a PDF")
        return Parsed.reject("corrupt_pdf", "no %PDF- header in the first KiB")
    pymupdf.TOOLS.mupdf_display_errors(False)  # MuPDF's repair chatter would flood worker logs
    try:
        # filetype="pdf": MuPDF never sniffs another format (XPS, EPUB, images…) from untrusted bytes
        doc = pymupdf.open(stream=data, filetype="pdf")
    except (pymupdf.FileDataError, RuntimeError, ValueError) as exc:
        return Parsed.reject("corrupt_pdf", f"{type(exc).__name__}: {exc}")
    with doc:
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
        chars = len(text.strip())
        # images only matter for a PDF without enough text (a scan): not counted for the rest
        images = sum(len(page.get_images()) for page in doc) if chars < MIN_TEXT_CHARS_PER_PAGE * pages else 0
        title = pdf_title(doc)
    if chars < MIN_TEXT_CHARS_PER_PAGE * pages:
        if images:
            return Parsed.reject("image_only_pdf", f"{chars} text chars and {images} images on "
                                 f"{pages} pages: a scan without a text layer", pages=pages)
        return Parsed.reject("no_text_layer", f"{chars} text chars on {pages} pages", pages=pages)
    if chars < MIN_PAPER_CHARS:
        return Parsed.reject("stub_document", f"only {chars} chars of text: {text.strip()[:120]!r}",
                             pages=pages)
    return Parsed(ok=True, text=repair_pdf_text(text), pages=pages, title=title)


_ARXIV_STAMP = re.compile(r"arXiv:\d{4}\.\d{4,5}", re.IGNORECASE)
_NOT_A_TITLE = re.compile(r"\.(pdf|dvi|tex|docx?)$|^(microsoft word|untitled|title|paper|main)\b", re.IGNORECASE)


def pdf_title(doc: pymupdf.Document) -> str | None:
    """The title a reader sees: the metadata's when it looks like one (not ``main.pdf``,
    ``Microsoft Word - draft``), else the lines set in the largest type in the top half of page 1."""
    meta = " ".join(((doc.metadata or {}).get("title") or "").split())
    if len(meta) >= 8 and " " in meta and not _NOT_A_TITLE.search(meta):
        return meta[:MAX_TITLE_CHARS]
    try:
        page = doc[0]
        blocks = page.get_text("dict", flags=pymupdf.TEXT_MEDIABOX_CLIP)["blocks"]
    except (ValueError, RuntimeError, IndexError):
        return None
    # horizontal lines of the top half only: arXiv's rotated side stamp is set larger than titles
    spans = [(span["size"], line["bbox"][1], span["text"].strip()) for block in blocks
             for line in block.get("lines", []) if tuple(round(d, 3) for d in line.get("dir", (1, 0))) == (1, 0)
             for span in line["spans"]
             if span["text"].strip() and line["bbox"][1] < page.rect.height / 2
             and not _ARXIV_STAMP.match(span["text"].strip())]
    if not spans:
        return None
    largest = max(size for size, _, _ in spans)
    title = " ".join(text for size, _, text in sorted(spans, key=lambda s: s[1]) if size >= largest - 0.5)
    title = repair_pdf_text(" ".join(title.split()))
    return title[:MAX_TITLE_CHARS] if len(title) >= 8 and re.search(r"[A-Za-z]{3}", title) else None


def repair_pdf_text(text: str) -> str:
    """Undo the PDF text layer's ligatures and end-of-line hyphenation before word counting."""
    for lig, plain in {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"}.items():
        text = text.replace(lig, plain)
    return re.sub(r"(\w)-\n(\w)", r"\1\2", text)


def tex_files_from_bytes(data: bytes) -> dict[str, str] | Parsed:
    """The ``.tex`` files of an arXiv e-print (tar.gz, gzipped single file or plain .tex)."""
    try:
        files = read_tex_files(data).files
    except ProjectError as exc:
        return Parsed.reject(exc.reason, exc.detail)
    return {name: text for name, text in files.items() if name.endswith(".tex")}


def parse_latex(files: dict[str, str] | Parsed) -> Parsed:
    """All ``.tex`` files of a project, comments stripped, as one text for the keyword rule.

    Main-file detection and ``\\input`` resolution come with the expressions stage; counting
    words over every ``.tex`` file is what the derivation-language rule needs.
    """
    if isinstance(files, Parsed):
        return files
    text = "\n".join(blank_comments(files[name]) for name in sorted(files))
    if not text.strip():
        return Parsed.reject("empty_document", "the LaTeX files are empty")
    return Parsed(ok=True, text=text)


_TITLE = re.compile(r"\\title\s*(?=[\[{])")
_TITLE_NOTES = frozenset({"thanks", "footnote", "footnotemark", "label"})
MAX_TITLE_CHARS = 300


def latex_title(text: str) -> str | None:
    """The paper's ``\\title{…}`` as plain text (``\\thanks`` and line breaks dropped), or None."""
    found = _TITLE.search(text)
    if found is None:
        return None
    context = get_default_latex_context_db().filter_context()
    context.add_context_category("title", macros=[MacroSpec("title", "[{"), MacroSpec("thanks", "{")], prepend=True)
    try:
        nodes, _, _ = LatexWalker(text[found.start():found.start() + 4 * MAX_TITLE_CHARS], latex_context=context,
                                  tolerant_parsing=True).get_latex_nodes(read_max_nodes=1)
        arg = nodes[0].nodeargd.argnlist[-1]
        kept = [n for n in (arg.nodelist if isinstance(arg, LatexGroupNode) else [])
                if not (isinstance(n, LatexMacroNode) and n.macroname in _TITLE_NOTES)]
        title = " ".join(LatexNodes2Text().nodelist_to_text(kept).split())
    except Exception:  # a title pylatexenc cannot read: the folder name stays
        return None
    return title[:MAX_TITLE_CHARS] or None


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

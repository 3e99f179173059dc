"""The expressions stage's tasks: each accepted paper's documents → sections, expressions, edges.

Input: the catalog's ``documents`` (parsed LaTeX source and/or PDF, by sha256) of the papers that
passed ``paper_filters``.
Output tables, written per paper (a paper's new version replaces its rows):
``extractions`` (one row per paper: extractor, status, issues, counts), ``sections``,
``expressions``, ``expression_edges``; issues go to ``rejects`` (stage ``extraction``).

The LaTeX source is read when it exists; the PDF is the fallback and, when both exist, places
the LaTeX rows on their PDF page. A paper is extracted once per (LaTeX sha256, PDF sha256, source
of the extraction code): a rerun skips it without reading anything but a small state file
(``tasks.io.memo``), and a change to the extractor's code extracts every paper again.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from tasks.core.handoff import Opaque, stage_task
from tasks.core.limits import Limited, run_bounded
from tasks.core.records import Expression, ExpressionEdge, Extraction, Reject, Section
from tasks.core.settings import Settings
from tasks.documents.eprint import Issue, ProjectError, read_tex_files
from tasks.extract.parse.latex import Extracted, extract_latex
from tasks.extract.parse.pdf import extract_pdf, map_to_pdf
from tasks.extract.parse.project import flatten
from tasks.io.memo import Memo, code_fingerprint
from tasks.io.storage import Lake, named_rows, safe_key
from tasks.io.validate import gate

EXTRACTOR_CODE = ("tasks.extract", "tasks.documents.eprint", "tasks.documents.read", "tasks.documents.language")
"""The code an extraction depends on: a change to it extracts every paper again."""
INFORMATIONAL = frozenset({"margin_line_numbers_removed", "several_main_files", "non_utf8_source"})
"""Issues that lose nothing: kept on ``extractions.issues``, not written to ``rejects``."""


def extractor_version() -> str:
    """The ``extractions.extractor_version`` of rows made by this code: its source's hash."""
    return code_fingerprint(*EXTRACTOR_CODE)[:12]


@dataclass(frozen=True)
class PaperDocuments:
    paper_id: str
    latex_sha256: str | None
    pdf_sha256: str | None


@dataclass
class ExtractedBatch:
    extractions: list[Extraction] = field(default_factory=list)
    skipped: int = 0
    """Papers whose documents and extractor version were already extracted."""
    quarantined: int = 0
    rejects: Counter = field(default_factory=Counter)


def plan_extraction(settings: Settings, paper_ids: list[str] | None = None) -> list[PaperDocuments]:
    """The accepted papers (``paper_filters.passed``) with a parsed LaTeX source or PDF."""
    if paper_ids is not None and not paper_ids:
        return []
    return [PaperDocuments(**row) for row in named_rows(settings, "extraction_plan", paper_ids=paper_ids)]


@dataclass
class DocumentBytes:
    """A paper's documents as read from the lake, by the process that holds the lake's client:
    s3fs (fsspec's async loop) is not fork-safe, so the child of ``extract_bounded`` gets bytes."""

    latex: bytes | None = None
    pdf: bytes | None = None
    error: str | None = None


def read_documents(lake: Lake, paper: PaperDocuments) -> DocumentBytes:
    try:
        return DocumentBytes(
            latex=lake.read_bytes(lake.blob_path(paper.latex_sha256)) if paper.latex_sha256 else None,
            pdf=lake.read_bytes(lake.blob_path(paper.pdf_sha256)) if paper.pdf_sha256 else None)
    except Exception as exc:  # a blob missing or unreadable: the paper fails, the batch goes on
        return DocumentBytes(error=f"{type(exc).__name__}: {exc}"[:500])


def extract_paper(settings: Settings, documents: DocumentBytes, paper: PaperDocuments,
                  run_id: str) -> tuple[Extraction, Extracted]:
    """One paper's documents → rows; never raises (an unforeseen failure is ``extraction_error``)."""
    started = time.perf_counter()
    issues: list[Issue] = []
    result, main_file, files, extractor, mapped = Extracted(), None, 0, "none", 0
    try:
        if documents.error:
            raise OSError(documents.error)
        latex = pdf = None
        if documents.latex is not None:
            try:
                tex = read_tex_files(documents.latex)
                flat = flatten(tex, settings.extract.max_source_chars)
                main_file, files = flat.main_file, len(tex.files)
                latex = extract_latex(flat, paper.paper_id, run_id)
                issues += latex.issues
            except ProjectError as exc:
                issues.append(Issue(exc.reason, exc.detail))
        if documents.pdf is not None:
            try:
                pdf, pages = extract_pdf(documents.pdf, paper.paper_id, run_id)
            except Exception as exc:  # a PDF the harvest could read but the layout pass cannot
                issues.append(Issue("pdf_layout_failed", f"{type(exc).__name__}: {exc}"[:500]))
        if latex is not None and (latex.expressions or latex.sections):
            result, extractor = latex, "latex"
            if pdf is not None:
                mapped = map_to_pdf(latex, pdf, pages)
        elif pdf is not None:
            result, extractor = pdf, "pdf"
            issues += pdf.issues
            if latex is not None:
                issues.append(Issue("latex_without_expressions", "the LaTeX source yielded nothing; used the PDF"))
    except Exception as exc:  # the run goes on; the paper is recorded with the exception
        issues.append(Issue("extraction_error", f"{type(exc).__name__}: {exc}"[:500]))
        result, extractor = Extracted(), "none"
    found = bool(result.expressions or result.sections)
    problems = [i for i in issues if i.reason not in INFORMATIONAL]
    extraction = Extraction(
        paper_id=paper.paper_id, extractor=extractor, extractor_version=extractor_version(),
        latex_sha256=paper.latex_sha256, pdf_sha256=paper.pdf_sha256, main_file=main_file, files=files,
        status="failed" if not found else ("partial" if problems else "ok"),
        issues=sorted({i.reason for i in issues}), sections=len(result.sections),
        expressions=len(result.expressions), edges=len(result.edges), pages_mapped=mapped, macros=result.macros,
        seconds=round(time.perf_counter() - started, 3), run_id=run_id)
    result.issues = issues
    return extraction, result


LIMIT_REASONS = {"timeout": "extraction_timeout", "memory_limit": "memory_limit", "crash": "extraction_error"}


def extract_bounded(settings: Settings, lake: Lake, paper: PaperDocuments, run_id: str) -> tuple[Extraction, Extracted]:
    """``extract_paper`` in a child process with a deadline and a memory ceiling; a paper over a
    limit ends ``failed`` with ``extraction_timeout`` or ``memory_limit`` and the batch goes on."""
    outcome = run_bounded(extract_paper, settings, read_documents(lake, paper), paper, run_id,
                          deadline_s=settings.extract.paper_deadline_s,
                          memory_mb=settings.extract.paper_memory_mb)
    if not isinstance(outcome, Limited):
        return outcome
    issue = Issue(LIMIT_REASONS[outcome.reason], outcome.detail)
    extraction = Extraction(
        paper_id=paper.paper_id, extractor="none", extractor_version=extractor_version(),
        latex_sha256=paper.latex_sha256, pdf_sha256=paper.pdf_sha256, status="failed", issues=[issue.reason],
        run_id=run_id)
    return extraction, Extracted(issues=[issue])


def extract_papers(settings: Settings, lake: Lake, papers: list[PaperDocuments], run_id: str,
                   force: bool = False) -> ExtractedBatch:
    """Extract, validate and land a batch of papers; papers already extracted are skipped."""
    out = ExtractedBatch()
    memo = Memo(lake, "extracted", code=EXTRACTOR_CODE)
    done: list[tuple[Extraction, Extracted]] = []
    for paper in papers:
        if not force and memo.recall(paper.paper_id, paper.latex_sha256, paper.pdf_sha256) is not None:
            out.skipped += 1
            continue
        done.append(extract_bounded(settings, lake, paper, run_id))
    if not done:
        return out
    passed: dict[str, list] = {}
    for stage, rows in (("extractions", [e for e, _ in done]),
                        ("sections", [s for _, r in done for s in r.sections]),
                        ("expressions", [x for _, r in done for x in r.expressions]),
                        ("expression_edges", [x for _, r in done for x in r.edges])):
        outcome = gate(lake, stage, rows, run_id, safe_key(papers[0].paper_id))
        passed[stage] = outcome.passed
        out.quarantined += len(outcome.quarantined)
    for extraction, result in done:
        key = safe_key(extraction.paper_id)
        for model, stage in ((Section, "sections"), (Expression, "expressions"),
                             (ExpressionEdge, "expression_edges"), (Extraction, "extractions")):
            rows = [r for r in passed[stage] if r.paper_id == extraction.paper_id]
            lake.write_table(model, rows, key, replace_empty=True)
        rejects = [Reject(run_id=run_id, stage="extraction", entity_id=f"{extraction.paper_id}#{n}",
                          reason=issue.reason, detail=issue.detail)
                   for n, issue in enumerate(result.issues) if issue.reason not in INFORMATIONAL]
        lake.write_table(Reject, rejects, f"extraction-{key}")
        out.rejects.update(f"extraction/{r.reason}" for r in rejects)
        memo.remember(extraction.paper_id, {"status": extraction.status, "expressions": extraction.expressions},
                      extraction.latex_sha256, extraction.pdf_sha256)
        out.extractions.append(extraction)
    return out


@stage_task
def extract_batch(settings: Settings, papers: Opaque, run_id: str, force: bool = False) -> ExtractedBatch:
    """A batch of papers on a Dask worker (``papers.value``: a list of ``PaperDocuments``)."""
    return extract_papers(settings, Lake.from_settings(settings), papers.value, run_id, force)

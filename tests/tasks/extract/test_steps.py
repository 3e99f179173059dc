"""The expressions stage over a real lake: extraction, fallback, caching, replacement, rejects."""

from tasks.core.records import Expression
from tasks.documents.latex_macros import MacroTable
from tasks.extract.steps import EXTRACTOR_CODE, PaperDocuments, extract_papers, extractor_version
from tasks.io.memo import Memo
from tasks.io.storage import Lake
from tests.factories import tarball
from tests.tasks.extract.parse.test_latex import BODY, PREAMBLE
from tests.tasks.extract.parse.test_pdf import make_pdf


def rows(lake, table):
    import pyarrow.parquet as pq

    return [r for path in lake.table_files(table) for r in pq.read_table(lake.fs.open(path)).to_pylist()]


def test_latex_with_pdf_fallback_cache_and_bad_source(settings):
    lake = Lake.from_settings(settings)
    latex_sha, _ = lake.put_blob(tarball({"main.tex": PREAMBLE + BODY, "._main.tex": b"\x00junk"}))
    pdf_sha, _ = lake.put_blob(make_pdf())
    junk_sha, _ = lake.put_blob(b"\x1f\x8b broken gzip")
    papers = [PaperDocuments("arxiv:1", latex_sha, pdf_sha), PaperDocuments("arxiv:2", None, pdf_sha),
              PaperDocuments("arxiv:3", junk_sha, pdf_sha), PaperDocuments("arxiv:4", junk_sha, None)]

    first = extract_papers(settings, lake, papers, "run-1")
    by_paper = {e.paper_id: e for e in first.extractions}
    assert by_paper["arxiv:1"].extractor == "latex" and by_paper["arxiv:1"].status == "ok"
    assert by_paper["arxiv:1"].pages_mapped >= 1  # LaTeX (1.1)… vs the PDF's (1)… : only shared numbers map
    assert by_paper["arxiv:2"].extractor == "pdf"
    assert (by_paper["arxiv:3"].extractor, by_paper["arxiv:3"].status) == ("pdf", "partial")
    assert (by_paper["arxiv:4"].status, by_paper["arxiv:4"].issues) == ("failed", ["corrupt_archive"])
    assert first.rejects["extraction/corrupt_archive"] == 2
    assert first.quarantined == 0
    expressions = rows(lake, "expressions")
    assert {r["extractor"] for r in expressions} == {"latex", "pdf"}
    assert len(rows(lake, "expression_edges")) == 6
    memo = Memo(lake, "extracted", code=EXTRACTOR_CODE)
    assert memo.recall("arxiv:1", latex_sha, pdf_sha) == {"status": "ok", "expressions": by_paper["arxiv:1"].expressions}
    assert memo.recall("arxiv:1", latex_sha, None) is None  # other documents: extracted again
    assert by_paper["arxiv:1"].extractor_version == extractor_version()
    # the paper's macros travel with its extraction, for the stages that show its running text
    macros = MacroTable.from_json(next(r["macros"] for r in rows(lake, "extractions") if r["paper_id"] == "arxiv:1"))
    assert macros.expand(r"$\norm{v} \le \pair{y}$") == r"$\lVert v\rVert \leqslant (x, y)$"
    assert by_paper["arxiv:2"].macros is None  # a PDF has none

    again = extract_papers(settings, lake, papers, "run-2")
    assert (again.skipped, again.extractions) == (4, [])  # a rerun does nothing
    assert rows(lake, "expressions") == expressions

    # a new version of paper 1 with no references: its old edges go, nothing else changes
    new_sha, _ = lake.put_blob(tarball({"main.tex": PREAMBLE + "\\begin{document}\n\\[ a \\]\n\\end{document}"}))
    extract_papers(settings, lake, [PaperDocuments("arxiv:1", new_sha, None)], "run-3")
    assert [r for r in rows(lake, "expression_edges") if r["paper_id"] == "arxiv:1"] == []
    assert len([r for r in rows(lake, "expressions") if r["paper_id"] == "arxiv:1"]) == 1


def test_invalid_rows_are_quarantined_not_landed(settings, monkeypatch):
    import tasks.extract.steps as extract

    lake = Lake.from_settings(settings)
    sha, _ = lake.put_blob(tarball({"main.tex": PREAMBLE + "\\begin{document}\n\\[ a \\]\n\\end{document}"}))
    real = extract.extract_paper

    def with_bad_row(*args):
        extraction, result = real(*args)
        bad = result.expressions[0].model_copy(update={"expr_id": "bad", "kind": "equation", "text": ""})
        result.expressions.append(Expression.model_validate(bad.model_dump()))
        return extraction, result

    monkeypatch.setattr(extract, "extract_paper", with_bad_row)
    out = extract_papers(settings, lake, [PaperDocuments("arxiv:9", sha, None)], "run-q")
    assert out.quarantined == 1
    assert [r["expr_id"] for r in rows(lake, "expressions")] != [] and "bad" not in {
        r["expr_id"] for r in rows(lake, "expressions")}
    assert {r["entity_id"] for r in rows(lake, "quarantine")} == {"bad"}


def test_a_paper_over_its_deadline_fails_alone(settings, monkeypatch):
    from tasks.extract import steps

    lake = Lake.from_settings(settings)
    latex_sha, _ = lake.put_blob(tarball({"main.tex": PREAMBLE + BODY}))
    real = steps.extract_paper

    def slow_for_one(settings, lake, paper, run_id):
        while paper.paper_id == "arxiv:slow":
            pass
        return real(settings, lake, paper, run_id)

    monkeypatch.setattr(steps, "extract_paper", slow_for_one)
    quick = settings.model_copy(update={"extract": settings.extract.model_copy(update={"paper_deadline_s": 2.0})})
    out = extract_papers(quick, lake, [PaperDocuments("arxiv:slow", latex_sha, None),
                                       PaperDocuments("arxiv:fine", latex_sha, None)], "run-1")
    by_paper = {e.paper_id: e for e in out.extractions}
    assert (by_paper["arxiv:slow"].status, by_paper["arxiv:slow"].issues) == ("failed", ["extraction_timeout"])
    assert by_paper["arxiv:fine"].status == "ok" and by_paper["arxiv:fine"].expressions > 0
    assert out.rejects["extraction/extraction_timeout"] == 1


def test_extraction_reads_an_s3_lake(settings, moto_server, monkeypatch):
    """The child process that extracts gets the documents' bytes: an s3fs client used before a
    fork is not fork-safe (every paper of an s3:// lake failed with extraction_error before)."""
    import uuid

    from tasks.core.settings import S3Settings

    s3 = S3Settings(endpoint_url=moto_server, access_key_id="testing", secret_access_key="testing")
    bucket = f"extract-{uuid.uuid4().hex[:8]}"
    s3_settings = settings.model_copy(update={"lake": f"s3://{bucket}/lake", "s3": s3})
    lake = Lake.from_settings(s3_settings)
    lake.fs.mkdir(bucket)
    latex_sha, _ = lake.put_blob(tarball({"main.tex": PREAMBLE + BODY}))  # the parent uses the client first
    missing = "0" * 64
    result = extract_papers(s3_settings, lake, [PaperDocuments("arxiv:1", latex_sha, None),
                                                PaperDocuments("arxiv:2", missing, None)], "run-1")
    by_paper = {e.paper_id: e for e in result.extractions}
    assert (by_paper["arxiv:1"].extractor, by_paper["arxiv:1"].status) == ("latex", "ok")
    assert (by_paper["arxiv:2"].status, by_paper["arxiv:2"].issues) == ("failed", ["extraction_error"])

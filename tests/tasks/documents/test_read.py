import gzip

import pytest

from tasks.documents.read import parse_document, repair_pdf_text
from tests.factories import (
    DERIVATION_TEXT,
    image_only_pdf,
    paper_pdf,
    pdf_bytes,
    tarball,
    tex_project,
)

LIMIT = 10_000_000


def test_good_pdf():
    parsed = parse_document("pdf", paper_pdf(pages=3), LIMIT)
    assert parsed.ok and parsed.pages == 3 and "Substituting" in parsed.text


def test_ligatures_and_hyphenation_are_repaired():
    assert repair_pdf_text("e\ufb03cient de-\nrivation of \ufb01elds") == "efficient derivation of fields"


@pytest.mark.parametrize("body,reason", [
    (b"", "empty_document"),
    (b"   \n", "empty_document"),
    (b"<!DOCTYPE html><html><body>Rate exceeded.</body></html>", "not_a_pdf"),
    (b"%PDF-1.7\n1 0 obj garbage", "no_pages"),
    (b"\x00\x01\x02binary junk" * 10, "corrupt_pdf"),
])
def test_bodies_that_are_not_usable_pdfs(body, reason):
    parsed = parse_document("pdf", body, LIMIT)
    assert not parsed.ok and parsed.reason == reason and parsed.detail


def test_encrypted_image_only_stub_and_oversized_pdfs():
    assert parse_document("pdf", pdf_bytes(["secret " * 200], "pw"), LIMIT).reason == "encrypted_pdf"
    assert parse_document("pdf", image_only_pdf(), LIMIT).reason == "image_only_pdf"
    stub = parse_document("pdf", pdf_bytes(["This paper has been moved to arXiv. " * 3]), LIMIT)
    assert stub.reason == "stub_document"
    assert parse_document("pdf", paper_pdf(), 100).reason == "too_large"


def test_truncated_pdf_is_parsed_or_rejected_never_raises():
    whole = paper_pdf(pages=3)
    for cut in (len(whole) // 4, len(whole) // 2, len(whole) - 30):
        parsed = parse_document("pdf", whole[:cut], LIMIT)
        assert parsed.ok or parsed.reason in {"corrupt_pdf", "no_pages", "no_text_layer", "stub_document"}


def test_latex_tarball_single_gz_and_plain_tex():
    project = tex_project()
    for body in (tarball(project), tarball(project, compress=False)):
        parsed = parse_document("latex", body, LIMIT)
        assert parsed.ok and "Substituting" in parsed.text
        assert "a comment that says" not in parsed.text  # comments stripped
    single = parse_document("latex", gzip.compress(project["sections/method.tex"].encode()), LIMIT)
    assert single.ok and DERIVATION_TEXT in single.text


def test_latex_bad_inputs():
    assert parse_document("latex", paper_pdf(), LIMIT).reason == "pdf_only_source"
    assert parse_document("latex", gzip.compress(paper_pdf()), LIMIT).reason == "pdf_only_source"
    assert parse_document("latex", tarball({"fig.png": b"\x89PNG..."}), LIMIT).reason == "no_tex_files"
    assert parse_document("latex", tarball({"._main.tex": "junk", ".DS_Store": "x"}), LIMIT).reason == "no_tex_files"
    assert parse_document("latex", b"\x1f\x8b\x08garbage", LIMIT).reason == "corrupt_archive"
    latin1 = tarball({"main.tex": "\\section{Caf\xe9} We derive.".encode("latin-1")})
    parsed = parse_document("latex", latin1, LIMIT)
    assert parsed.ok and "Café" in parsed.text
    truncated = tarball(tex_project())[:-40]
    assert parse_document("latex", truncated, LIMIT).reason in {"corrupt_archive", None}


def test_corrupt_gzip_stream_is_an_archive_error():
    good = tarball(tex_project())
    broken = good[:20] + bytes(b ^ 0xFF for b in good[20:60]) + good[60:]
    assert parse_document("latex", broken, LIMIT).reason == "corrupt_archive"


def test_latex_title_reads_the_title_as_plain_text():
    from tasks.documents.read import latex_title

    assert latex_title(r"\documentclass{article}\title[Short]{Robust \emph{Median}\\ Regression\thanks{Funded.}}"
                       r"\author{A}\begin{document}\end{document}") == "Robust Median Regression"
    assert latex_title(r"\documentclass{article}\begin{document}x\end{document}") is None
    assert latex_title(r"\title{") is None  # unbalanced: the folder name stays


def _titled_pdf(metadata_title: str) -> bytes:
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 90), "Convex Bounds for", fontsize=18, fontname="hebo")
    page.insert_text((72, 112), "Amortized Learning", fontsize=18, fontname="hebo")
    page.insert_textbox(pymupdf.Rect(72, 140, 540, 800), (DERIVATION_TEXT + " ") * 8, fontsize=10)
    page.insert_text((30, 400), "arXiv:2106.01234v2 [cs.LG] 3 Jun 2021", fontsize=20, rotate=90)  # the side stamp
    doc.set_metadata({"title": metadata_title})
    data = doc.tobytes()
    doc.close()
    return data


def test_a_pdf_title_is_its_metadata_when_that_is_a_title_else_its_largest_type():
    assert parse_document("pdf", _titled_pdf("Convex Bounds for Amortized Learning"), LIMIT).title \
        == "Convex Bounds for Amortized Learning"
    assert parse_document("pdf", _titled_pdf("main.pdf"), LIMIT).title == "Convex Bounds for Amortized Learning"
    assert parse_document("pdf", _titled_pdf("Microsoft Word - draft3"), LIMIT).title \
        == "Convex Bounds for Amortized Learning"

from datetime import date

from tasks.documents.read import parse_document
from tasks.harvest.sources.arxiv import Window
from tasks.harvest.sources.local import LocalSource
from tests.factories import paper_pdf, tarball, tex_project


def test_lists_pdfs_folders_and_tarballs(settings, tmp_path):
    folder = tmp_path / "papers"
    (folder / "project").mkdir(parents=True)
    for name, text in tex_project().items():
        (folder / "project" / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / "project" / name).write_text(text)
    (folder / "alpha.pdf").write_bytes(paper_pdf())
    (folder / "alpha.tar.gz").write_bytes(tarball(tex_project()))
    (folder / "beta.gz").write_bytes(tarball(tex_project()))
    (folder / "._alpha.pdf").write_bytes(b"AppleDouble junk")
    (folder / "notes.txt").write_text("ignored")
    source = LocalSource(settings, folder)
    papers = {p.paper_id: p for p in source.list_window(Window(date.today(), date.today(), ("local",)))}
    assert set(papers) == {"local:alpha", "local:beta", "local:project"}
    assert papers["local:alpha"].pdf_url and papers["local:alpha"].source_url  # one paper, both documents
    assert papers["local:project"].pdf_url is None
    assert all(p.match_method == "not_applicable" for p in papers.values())
    packed = source.fetch(papers["local:project"].source_url).data
    assert packed == source.fetch(papers["local:project"].source_url).data  # deterministic packing
    parsed = parse_document("latex", packed, 10**8)
    assert parsed.ok and "Substituting" in parsed.text
    assert source.fetch("file:///nonexistent/file.pdf").reason == "not_found"


def test_paths_with_spaces(settings, tmp_path):
    folder = tmp_path / "my papers"
    folder.mkdir()
    (folder / "a paper.pdf").write_bytes(paper_pdf())
    source = LocalSource(settings, folder)
    (paper,) = source.list_window(Window(date.today(), date.today(), ("local",)))
    assert source.fetch(paper.pdf_url).data.startswith(b"%PDF")

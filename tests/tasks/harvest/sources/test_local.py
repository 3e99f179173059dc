import gzip
import io
import os
import tarfile
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


def _paper_urls(source):
    return {p.paper_id: p for p in source.list_window(Window(date.today(), date.today(), ("local",)))}


def test_links_out_of_the_folder_fifos_and_devices_are_refused(settings, tmp_path):
    outside = tmp_path / "private"
    (outside / "secrets").mkdir(parents=True)
    (outside / "secrets" / "keys.tex").write_text("\\newcommand{\\key}{hunter22}")
    (outside / "notes.pdf").write_bytes(paper_pdf())
    folder = tmp_path / "papers"
    (folder / "project").mkdir(parents=True)
    (folder / "project" / "main.tex").write_text(tex_project()["main.tex"])
    (folder / "project" / "stolen").symlink_to(outside / "secrets", target_is_directory=True)
    (folder / "project" / "also.tex").symlink_to(outside / "secrets" / "keys.tex")
    (folder / "leak.pdf").symlink_to(outside / "notes.pdf")
    (folder / "zero.tar.gz").symlink_to("/dev/zero")
    os.mkfifo(folder / "pipe.tar.gz")
    source = LocalSource(settings, folder)
    papers = _paper_urls(source)
    assert source.fetch(papers["local:leak"].pdf_url).reason == "symlink_outside_source"
    assert source.fetch(papers["local:zero"].source_url).reason == "symlink_outside_source"
    assert source.fetch(papers["local:pipe"].source_url).reason == "not_a_regular_file"  # never opened
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(source.fetch(papers["local:project"].source_url).data))) as tar:
        assert tar.getnames() == ["main.tex"]  # neither the linked folder nor the linked file


def test_a_file_or_project_over_the_size_limit_is_too_large(settings, tmp_path):
    folder = tmp_path / "papers"
    (folder / "project").mkdir(parents=True)
    for i in range(3):
        (folder / "project" / f"part{i}.tex").write_text("%" * 400)
    (folder / "big.pdf").write_bytes(b"%PDF-" + b"0" * 2000)
    small = settings.model_copy(update={"fetch": settings.fetch.model_copy(update={"max_bytes": 1000})})
    source = LocalSource(small, folder)
    papers = _paper_urls(source)
    assert source.fetch(papers["local:big"].pdf_url).reason == "too_large"
    assert source.fetch(papers["local:project"].source_url).reason == "too_large"


def test_a_local_paper_takes_its_latex_title_not_its_folder_name(settings, tmp_path):
    from tasks.harvest.steps import process_papers
    from tasks.io.storage import Lake
    from tests.tasks.harvest.test_steps import _decisions

    folder = tmp_path / "papers" / "draft_v3_final"
    folder.mkdir(parents=True)
    project = tex_project()
    main = next(n for n, t in project.items() if "\\documentclass" in t)
    project[main] = project[main].replace("\\begin{document}",
                                          "\\title{Convex Bounds\\\\ for \\emph{Learning}\\thanks{Draft.}}\n"
                                          "\\begin{document}", 1)
    for name, text in project.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    source = LocalSource(settings, folder.parent)
    papers = source.list_window(Window(date.today(), date.today(), ("local",)))
    assert [p.title for p in papers] == ["draft_v3_final"]  # all the listing knows
    batch = process_papers(settings, source, Lake.from_settings(settings), papers, _decisions(settings, papers), "r")
    assert [p.title for p in batch.papers] == ["Convex Bounds for Learning"]


def test_a_local_pdf_only_paper_takes_the_pdfs_title(settings, tmp_path):
    from tasks.harvest.steps import process_papers
    from tasks.io.storage import Lake
    from tests.tasks.documents.test_read import _titled_pdf
    from tests.tasks.harvest.test_steps import _decisions

    (tmp_path / "papers").mkdir()
    (tmp_path / "papers" / "scan_0042.pdf").write_bytes(_titled_pdf("main.pdf"))
    source = LocalSource(settings, tmp_path / "papers")
    papers = source.list_window(Window(date.today(), date.today(), ("local",)))
    batch = process_papers(settings, source, Lake.from_settings(settings), papers, _decisions(settings, papers), "r")
    assert [p.title for p in batch.papers] == ["Convex Bounds for Amortized Learning"]

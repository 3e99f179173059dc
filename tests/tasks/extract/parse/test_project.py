"""E-print reading, main-file detection, \\input resolution and bad input."""

import gzip

import pytest

from tasks.documents.eprint import ProjectError, TexFiles, blank_comments, read_tex_files
from tasks.extract.parse.project import flatten
from tests.factories import tarball

MAIN = "\\documentclass{article}\n\\begin{document}\n\\input{intro}\nEnd.\n\\end{document}\n"


def reasons(flat):
    return [i.reason for i in flat.issues]


def test_macos_junk_and_leftovers_are_ignored_for_the_main_file():
    data = tarball({"paper.tex": MAIN, "intro.tex": "Intro text.", "._paper.tex": b"\x00\x05\x16\x07junk",
                    ".DS_Store": b"\x00\x00\x00\x01Bud1", "_old-paper.tex": MAIN.replace("intro", "old"),
                    "notes.tex": "% \\documentclass{article}\n% \\begin{document}\n"})
    tex = read_tex_files(data)
    assert "._paper.tex" not in tex.files and ".DS_Store" not in tex.files
    flat = flatten(tex, 10_000)
    assert flat.main_file == "paper.tex" and "Intro text." in flat.text and reasons(flat) == []


def test_the_including_file_wins_over_a_standalone_subfile():
    sub = "\\documentclass[main.tex]{subfiles}\n\\begin{document}\nSub.\n\\end{document}\n"
    files = {"chapter.tex": sub, "main.tex": MAIN.replace("\\input{intro}", "\\subfile{chapter}")}
    flat = flatten(TexFiles(files), 10_000)
    assert flat.main_file == "main.tex" and reasons(flat) == ["several_main_files"]
    assert "Sub." in flat.text


def test_input_forms_cycles_and_missing_files():
    files = {"main.tex": "\\documentclass{x}\\begin{document}\n\\input sec/a \n\\input{missing}\n"
                         "\\import{sec/}{b}\n\\input{refs.bbl}\n\\end{document}",
             "sec/a.tex": "A-text \\input{sec/c}", "sec/c.tex": "C-text \\input{sec/a}", "sec/b.tex": "B-text"}
    flat = flatten(TexFiles(files), 10_000)
    assert all(t in flat.text for t in ("A-text", "B-text", "C-text"))
    assert sorted(reasons(flat)) == ["include_cycle", "missing_input_file"]  # .bbl is not a source file
    file, offset = flat.locate(flat.text.index("B-text"))
    assert (file, offset) == ("sec/b.tex", 0)


def test_binary_junk_latin1_and_gzipped_single_file():
    data = tarball({"main.tex": MAIN, "intro.tex": "Caf\xe9".encode("latin-1"), "fig.tex": b"\x89PNG\x00\x00"})
    tex = read_tex_files(data)
    assert tex.files["intro.tex"] == "Caf\xe9"
    assert sorted(i.reason for i in tex.issues) == ["binary_file_skipped", "non_utf8_source"]
    single = read_tex_files(gzip.compress(MAIN.encode()))
    assert list(single.files) == ["main.tex"]


@pytest.mark.parametrize("data, reason", [
    (b"%PDF-1.5 ...", "pdf_only_source"), (b"\x1f\x8bnot gzip", "corrupt_archive"),
    (b"just words, no commands", "no_tex_files"), (tarball({"a.png": b"\x89PNG"}), "no_tex_files")])
def test_bodies_without_a_project(data, reason):
    with pytest.raises(ProjectError) as err:
        read_tex_files(data)
    assert err.value.reason == reason


def test_no_main_file_still_reads_every_file():
    flat = flatten(TexFiles({"a.tex": "\\section{A} x", "b.tex": "\\section{B} y"}), 10_000)
    assert reasons(flat) == ["no_main_file"] and "\\section{A}" in flat.text and "\\section{B}" in flat.text


def test_enormous_source_is_cut_at_the_limit():
    flat = flatten(TexFiles({"main.tex": MAIN, "intro.tex": "x" * 5000}), 1000)
    assert "source_too_large" in reasons(flat) and len(flat.text) == 1000


def test_comments_are_blanked_in_place():
    source = "a % note\n\\% kept \\\\% gone\n\\iffalse hidden \\fi b"
    blanked = blank_comments(source)
    assert len(blanked) == len(source)
    assert "note" not in blanked and "\\% kept" in blanked and "gone" not in blanked
    assert "hidden" not in blanked and blanked.endswith(" b")

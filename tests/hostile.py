"""A folder of hostile papers for the local source: each input is small on disk and would cost a
worker memory or hours if a limit were missing. Used by ``tests/test_hostile_inputs.py`` and
``benchmarks/reliability_hostile.py``.

Every entry is (stem, what it is, the reasons that may be recorded for it). The stems make one
paper each in the local source; papers meant to reach the expressions stage carry enough
derivation language to pass the keyword rule.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zlib
from pathlib import Path

from tests.factories import DERIVATION_TEXT, image_only_pdf, paper_pdf, pdf_bytes, tarball, tex_project

PROSE = f"\\section{{Method}}\n{DERIVATION_TEXT}\n"
DOC = "\\documentclass{article}\n\\begin{document}\n%s\n\\end{document}\n"


def tar_of(members: list[tarfile.TarInfo | tuple[str, bytes]], compress: bool = True) -> bytes:
    """A PAX tar (gzipped unless ``compress`` is False) of named bytes and bare headers (filled with ``%``)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member, io.BytesIO(b"%" * member.size))
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                tar.addfile(info, io.BytesIO(member[1]))
    return gzip.compress(buf.getvalue(), mtime=0) if compress else buf.getvalue()


def _tar_then_zeros(main: bytes, zeros: int) -> bytes:
    """A tar.gz holding ``main.tex`` and then a member of ``zeros`` zero bytes (compressed ~1,000 : 1)."""
    header = tarfile.TarInfo("main.tex")
    header.size = len(main)
    filler = tarfile.TarInfo("filler.tex")
    filler.size = zeros
    deflater = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = [deflater.compress(header.tobuf(tarfile.PAX_FORMAT)), deflater.compress(main + bytes(-len(main) % 512)),
           deflater.compress(filler.tobuf(tarfile.PAX_FORMAT))]
    chunk = bytes(2**20)
    for _ in range(zeros // len(chunk)):
        out.append(deflater.compress(chunk))
    return b"".join(out) + deflater.flush()


def _sparse(main: bytes) -> bytes:
    sparse = tarfile.TarInfo("sparse.tex")
    sparse.size = 8
    sparse.pax_headers = {"GNU.sparse.size": str(10**12), "GNU.sparse.map": "0,8", "GNU.sparse.numblocks": "1"}
    return tar_of([("main.tex", main), sparse])


def _macro_bomb() -> bytes:
    name = "ABCDEFGHIJKL"
    levels = "".join(f"\\newcommand{{\\m{name[i + 1]}}}{{\\m{name[i]}\\m{name[i]}\\m{name[i]}\\m{name[i]}}}\n"
                     for i in range(11))
    body = PROSE + "\\begin{equation}\\label{eq:bomb} a = \\mL \\end{equation}\n"
    return ("\\documentclass{article}\n\\newcommand{\\mA}{xy}\n" + levels + "\\begin{document}\n" + body
            + "\\end{document}\n").encode()


def build(folder: Path, outside: Path) -> list[tuple[str, str, set[str]]]:
    """Write the hostile papers into ``folder`` (and a private file into ``outside``)."""
    folder.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    main = (DOC % PROSE).encode()
    cases: list[tuple[str, str, set[str]]] = []

    def write(name: str, data: bytes) -> None:
        (folder / name).write_bytes(data)

    write("gzip-bomb.tar.gz", _tar_then_zeros(main, 256 * 2**20))
    cases.append(("gzip-bomb", "tar.gz whose second member inflates to 256 MiB of zeros", {"source_too_large"}))
    write("sparse-member.tar.gz", _sparse(main))
    cases.append(("sparse-member", "PAX sparse member declaring 1 TB", {"archive_member_skipped"}))
    write("member-flood.tar.gz", tar_of([("main.tex", main)] + [(f"f/{i}.png", b"") for i in range(25_000)]))
    cases.append(("member-flood", "25,000 archive members", {"too_many_members"}))
    write("iffalse-blocks.tar.gz", tar_of([("main.tex", (DOC % (PROSE + "\\iffalse x \\fi " * 100_000)).encode())]))
    cases.append(("iffalse-blocks", "100,000 \\iffalse…\\fi blocks (quadratic blanking)", set()))
    tree = {f"l{i}.tex": ("\\input{l%d}\n" % (i + 1) * 10).encode() for i in range(12)}
    tree["l12.tex"] = b""
    write("input-tree.tar.gz", tar_of([("main.tex", (DOC % (PROSE + "\\input{l0}")).encode()), *tree.items()]))
    cases.append(("input-tree", "\\input tree 10 wide, 12 deep, of empty files", {"include_budget_exceeded"}))
    write("macro-bomb.tar.gz", tar_of([("main.tex", _macro_bomb())]))
    cases.append(("macro-bomb", "\\newcommand doubling 4× over 11 levels", {"macro_expansion_too_large"}))
    write("unbalanced.tar.gz", tar_of([("main.tex", (DOC % (PROSE + "\\begin{equation} a = {b \\end{document")).encode())]))
    cases.append(("unbalanced", "unbalanced braces and environments", set()))
    write("html-as-pdf.pdf", b"<!DOCTYPE html><html><body>Rate exceeded.</body></html>")
    cases.append(("html-as-pdf", "an HTML error page saved as .pdf", {"not_a_pdf"}))
    write("truncated.pdf", paper_pdf()[:700])
    cases.append(("truncated", "a PDF cut after 700 bytes", {"corrupt_pdf", "no_pages", "no_text_layer", "stub_document"}))
    write("encrypted.pdf", pdf_bytes([DERIVATION_TEXT * 20], "secret"))
    cases.append(("encrypted", "a PDF with a user password", {"encrypted_pdf"}))
    write("image-only.pdf", image_only_pdf())
    cases.append(("image-only", "a scan without a text layer", {"image_only_pdf"}))
    (outside / "private.pdf").write_bytes(paper_pdf())
    (folder / "symlink-out.pdf").symlink_to(outside / "private.pdf")
    cases.append(("symlink-out", "a symbolic link to a PDF outside the folder", {"symlink_outside_source"}))
    os.mkfifo(folder / "fifo.tar.gz")
    cases.append(("fifo", "a FIFO named .tar.gz (reading it would block forever)", {"not_a_regular_file"}))
    (folder / "devzero.tar.gz").symlink_to("/dev/zero")
    cases.append(("devzero", "a link to /dev/zero named .tar.gz", {"symlink_outside_source"}))
    write("control.tar.gz", tarball(tex_project()))
    write("control.pdf", paper_pdf())
    cases.append(("control", "an ordinary paper: LaTeX source and PDF", set()))
    return cases

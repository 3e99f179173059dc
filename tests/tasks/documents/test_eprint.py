"""Hostile e-prints cost a bounded amount: gzip bombs, sparse members, huge members, member floods."""

from __future__ import annotations

import gzip
import resource
import tarfile
import zlib

import pytest

from tasks.documents.eprint import Limits, ProjectError, read_tex_files
from tests.hostile import tar_of

MAIN = b"\\documentclass{article}\\begin{document}$x$\\end{document}"


def gzip_of_zeros(n_bytes: int) -> bytes:
    """A gzip body that inflates to ``n_bytes`` zeros (about 1,000 : 1), made without holding them."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(2**20)
    parts = [deflater.compress(chunk) for _ in range(n_bytes // len(chunk))]
    return b"".join(parts) + deflater.flush()


def test_a_gzip_bomb_is_inflated_up_to_the_limit_only():
    bomb = gzip_of_zeros(512 * 2**20)  # 512 MiB of zeros in ~0.5 MB
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ProjectError) as refused:  # zeros: no LaTeX in what fits
        read_tex_files(bomb)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert refused.value.reason == "no_tex_files" and grown_mb < 200


def test_files_that_fit_before_the_limit_are_kept():
    body = gzip.compress(tar_of([("main.tex", MAIN), ("big.tex", b"%" * 3000)], compress=False))
    out = read_tex_files(body, Limits(total_bytes=2048))
    assert "main.tex" in out.files and "big.tex" not in out.files
    assert [i.reason for i in out.issues] == ["source_too_large", "corrupt_archive"]


def test_sparse_and_oversized_members_are_skipped_unread():
    sparse = tarfile.TarInfo("sparse.tex")
    sparse.size = 8
    sparse.pax_headers = {"GNU.sparse.size": str(10**12), "GNU.sparse.map": "0,8", "GNU.sparse.numblocks": "1"}
    huge = tarfile.TarInfo("huge.tex")
    huge.size = 5000
    out = read_tex_files(tar_of([("main.tex", MAIN), sparse, huge], compress=False), Limits(file_bytes=4096))
    assert list(out.files) == ["main.tex"]
    assert [(i.reason, i.detail.split(":")[0]) for i in out.issues] == [
        ("archive_member_skipped", "sparse.tex"), ("archive_member_skipped", "huge.tex")]


def test_a_flood_of_members_stops_at_the_limit():
    members = [("main.tex", MAIN)] + [(f"fig/{i}.png", b"") for i in range(50)]
    out = read_tex_files(tar_of(members), Limits(members=10))
    assert list(out.files) == ["main.tex"] and [i.reason for i in out.issues] == ["too_many_members"]


def test_a_truncated_gzip_keeps_what_it_holds():
    body = gzip.compress(MAIN)
    out = read_tex_files(body[: len(body) - 12])  # the trailer (CRC, size) and a little data cut off
    assert "main.tex" in out.files and [i.reason for i in out.issues] == ["corrupt_archive"]

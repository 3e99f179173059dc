"""Shared helpers for the benchmarks: synthetic recorded snapshots and a Prefect API."""

from __future__ import annotations

import atexit
import gzip
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
OUT = ROOT / "benchmarks" / "out"

TEX = ("\\documentclass{article}\\begin{document}\\section{Method}"
       "We derive the bound. Substituting and rearranging, we obtain the rule. It follows that "
       "the estimator is unbiased, by Lemma 1 and Theorem 2; the proof is short.\\end{document}")


def make_snapshot(folder: Path, n_papers: int, fetch_latency_s: float = 0.0) -> Path:
    """A recorded snapshot of ``n_papers`` May-2024 papers, all reviewed above weak accept.

    Each paper has a small gzipped LaTeX e-print (parsed and keyword-counted) and a PDF URL that
    the recording answers with 404 (so the benchmark measures orchestration, not PDF parsing).
    """
    (folder / "arxiv").mkdir(parents=True, exist_ok=True)
    (folder / "openreview").mkdir(exist_ok=True)
    (folder / "documents").mkdir(exist_ok=True)
    entries, notes, documents = [], [], {}
    venue = "Bench.cc/2024/Conference"
    for i in range(n_papers):
        aid = f"2405.{10000 + i}"
        day = 1 + i % 31
        entries.append(
            f"<entry><id>http://arxiv.org/abs/{aid}v1</id><title>Benchmark paper {i}</title>"
            f"<published>2024-05-{day:02d}T12:00:00Z</published><updated>2024-05-{day:02d}T12:00:00Z</updated>"
            f"<summary>Abstract {i}.</summary><author><name>Author {i}</name></author>"
            f'<category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>'
            f'<link href="https://arxiv.org/pdf/{aid}v1" rel="related" type="application/pdf" title="pdf"/>'
            f'<arxiv:primary_category term="cs.LG"/></entry>')
        body = folder / "documents" / f"{aid}.tex.gz"
        body.write_bytes(gzip.compress((TEX + f"% paper {i}\n").encode(), mtime=0))
        documents[f"https://arxiv.org/e-print/{aid}v1"] = {"path": f"documents/{aid}.tex.gz"}
        documents[f"https://arxiv.org/pdf/{aid}v1"] = {"status": 404}
        notes.append({"id": f"f{i}", "forum": f"f{i}", "invitations": [f"{venue}/-/Submission"],
                      "license": "CC BY 4.0",
                      "content": {"title": {"value": f"Benchmark paper {i}"},
                                  "html": {"value": f"https://arxiv.org/abs/{aid}"}},
                      "details": {"replies": [
                          {"id": f"r{i}-{k}", "invitations": [f"{venue}/Submission{i}/-/Official_Review"],
                           "content": {"rating": {"value": r}}} for k, r in enumerate((8, 6, 8))]}})
    (folder / "arxiv" / "listing.xml").write_text(
        "<?xml version='1.0' encoding='UTF-8'?><feed xmlns=\"http://www.w3.org/2005/Atom\" "
        "xmlns:opensearch=\"http://a9.com/-/spec/opensearch/1.1/\" xmlns:arxiv=\"http://arxiv.org/schemas/atom\">"
        f"<opensearch:totalResults>{n_papers}</opensearch:totalResults>"
        f"<opensearch:startIndex>0</opensearch:startIndex>{''.join(entries)}</feed>")
    (folder / "openreview" / "bench.jsonl").write_text("".join(json.dumps(n) + "\n" for n in notes))
    (folder / "manifest.json").write_text(json.dumps({
        "window": {"since": "2024-05-01", "until": "2024-05-31"}, "categories": ["cs.LG"],
        "arxiv_feeds": ["arxiv/listing.xml"],
        "venues": [{"venue_id": venue, "api_version": 2, "weak_accept": 6.0}],
        "openreview_notes": {venue: "openreview/bench.jsonl"},
        "documents": documents, "fetch_latency_s": fetch_latency_s}))
    return folder


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> float:
    """Run ``stormborn ARGS`` in a fresh process; returns its wall time in seconds."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "flows.cli", *args], env={**os.environ, **env}, cwd=cwd,
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_prefect(home: Path) -> str:
    """A Prefect server of this benchmark's own (its home, a free port), stopped when the
    benchmark exits: one left running would outlive its database, deleted with the home."""
    from flows.runtime import start_local_server, stop_local_server
    from tasks.core.settings import load_settings

    settings = load_settings(home=str(home), prefect_port=free_port())
    api = start_local_server(settings)
    atexit.register(stop_local_server, settings)
    return api

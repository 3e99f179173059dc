"""Parse + keyword-filter throughput on ../shared/corpus/pdf: a single-process PyMuPDF loop vs
the harvest pipeline's documents stage on 2 Dask workers, in pages per second.

    .venv/bin/python -m benchmarks.bench_parse [--copies 6]

Each corpus PDF is copied ``copies`` times with a distinct trailing comment, so the pipeline's
content-addressed parse cache cannot skip the copies. Besides the rates it prints where the
machine's CPU went: the same batches on a bare Dask LocalCluster (no Prefect: the ceiling of the
task functions on these cores), the CPU time per page of the pipeline's own work, and every
core's busy time during the harvest flow, so the bound the cores put on the stage is a figure.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import pymupdf

from benchmarks.common import CORPUS, ROOT, CpuShare, ensure_prefect, run_cli
from tasks.core.settings import DEFAULT_KEYWORDS
from tasks.harvest.filters import keyword_hits


def raw_loop(paths: list[Path]) -> tuple[int, float]:
    pymupdf.TOOLS.mupdf_display_errors(False)
    start, pages = time.perf_counter(), 0
    for path in paths:
        with pymupdf.open(path) as doc:
            text = "\n".join(page.get_text("text") for page in doc)
            pages += doc.page_count
        keyword_hits(text, list(DEFAULT_KEYWORDS))
    return pages, time.perf_counter() - start


def documents_batch(home: str, folder: str, paper_ids: list[str] | None = None) -> tuple[int, float]:
    """The documents stage's own work (read, store, parse, count) on the folder's papers (or the
    given ones), as the stage's task runs it, without Prefect: (pages parsed, seconds)."""
    from datetime import date

    from tasks.core.settings import load_settings
    from tasks.harvest.filters import rating_decision
    from tasks.harvest.sources.arxiv import Window
    from tasks.harvest.sources.local import LocalSource
    from tasks.harvest.steps import process_papers
    from tasks.io.storage import Lake

    settings = load_settings(home=home)
    source = LocalSource(settings, folder)
    papers = [p for p in source.list_window(Window(date.today(), date.today(), ("local",)))
              if paper_ids is None or p.paper_id in paper_ids]
    decisions = {p.paper_id: rating_decision(p, [], {}, "bench", 5) for p in papers}
    start = time.perf_counter()
    out = process_papers(settings, source, Lake.from_settings(settings), papers, decisions, "bench")
    return sum(d.pages or 0 for d in out.documents if d.parse_status == "ok"), time.perf_counter() - start


def bare_dask(folder: Path, home: Path, batch: int, workers: int) -> tuple[int, float]:
    """The stage's batches on a LocalCluster made as the flows make theirs, no Prefect."""
    from datetime import date

    from distributed import Client, LocalCluster
    from toolz import partition_all

    from flows.runtime import local_cluster_kwargs
    from tasks.core.settings import load_settings
    from tasks.harvest.sources.arxiv import Window
    from tasks.harvest.sources.local import LocalSource

    settings = load_settings(home=str(home), dask_workers=workers)
    ids = [p.paper_id for p in LocalSource(settings, folder).list_window(
        Window(date.today(), date.today(), ("local",)))]
    with LocalCluster(**local_cluster_kwargs(settings)) as cluster, Client(cluster) as client:
        cluster.wait_for_workers(workers, timeout=120)
        time.sleep(10)  # the workers' background warm-up done
        start = time.perf_counter()
        pages = sum(p for p, _ in client.gather([client.submit(documents_batch, str(home), str(folder), list(b),
                                                                 pure=False) for b in partition_all(batch, ids)]))
        return pages, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2, help="Dask workers of the flow and the bare-Dask run")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sb-parse-"))
    folder = work / "papers"
    folder.mkdir()
    for src in sorted((CORPUS / "pdf").glob("*.pdf")):
        for k in range(args.copies):
            (folder / f"{src.stem}-{k}.pdf").write_bytes(src.read_bytes() + f"\n% copy {k}\n".encode())
    paths = sorted(folder.glob("*.pdf"))
    with CpuShare({}) as raw_cpu:
        pages, raw_s = raw_loop(paths)
    with CpuShare({}) as one_share:  # the machine's busy time: this process and its sandbox child
        one_pages, one_s = documents_batch(str(work / "one-process"), str(folder))
    one_cpu = one_share.busy_s
    dask_pages, dask_s = bare_dask(folder, work / "bare-dask", 12, args.workers)

    api = ensure_prefect(work / "prefect-home")
    env = {"PREFECT_API_URL": api, "STORMBORN_HOME": str(work / "home"), "STORMBORN_DASK_WORKERS": str(args.workers),
           "STORMBORN_BATCH_SIZE": "12"}  # 16 tasks: enough to keep both workers busy
    with CpuShare({}) as flow_cpu:
        flow_s = run_cli(["harvest", "--source", "local", "--path", str(folder)], env, ROOT)

    from tasks.core.settings import load_settings
    from tasks.io.storage import query

    settings = load_settings(home=str(work / "home"))
    run = query(settings, "SELECT * FROM runs").iloc[0]
    parsed_pages = int(query(settings, "SELECT sum(pages) AS p FROM documents WHERE parse_status='ok'").p[0])
    docs_s = run.stage_seconds and __import__("json").loads(run.stage_seconds)["documents"]
    raw_rate, stage_rate, flow_rate = pages / raw_s, parsed_pages / docs_s, parsed_pages / flow_s
    print(f"corpus: {len(paths)} PDFs, {pages} pages ({args.copies} distinct copies of each corpus PDF)")
    print(f"single-process PyMuPDF loop:              {raw_rate:8.1f} pages/s  ({raw_s:.1f} s)")
    print(f"pipeline work, one process, no Prefect:   {one_pages / one_s:8.1f} pages/s  ({one_s:.1f} s)")
    print(f"pipeline documents stage, {args.workers} Dask workers: {stage_rate:8.1f} pages/s  ({docs_s:.1f} s)")
    print(f"whole harvest flow incl. start-up:        {flow_rate:8.1f} pages/s  ({flow_s:.1f} s)")
    print(f"same batches, bare Dask ({args.workers} workers, no Prefect): {dask_pages / dask_s:8.1f} pages/s  "
          f"({dask_s:.1f} s)")
    print(f"stage / raw: {stage_rate / raw_rate:.2f}  (target >= 0.8 x 2 workers = 1.60);  "
          f"stage / one-process pipeline: {stage_rate / (one_pages / one_s):.2f};  bare Dask / raw: "
          f"{dask_pages / dask_s / raw_rate:.2f}")
    cores = raw_cpu.available_s / max(raw_cpu.wall_s, 1e-9)
    bound = cores * one_pages / one_cpu
    print(f"CPU: the pipeline's own work costs {one_cpu / one_pages * 1000:.2f} ms of CPU per page against "
          f"{raw_s / pages * 1000:.2f} ms for the raw loop; {cores:.0f} cores doing nothing else would parse at most "
          f"{bound:.0f} pages/s = {bound / raw_rate:.2f}x raw. During the harvest flow the machine was busy "
          f"{flow_cpu.busy_s / flow_cpu.available_s:.0%} ({flow_cpu.busy_s:.1f} of {flow_cpu.available_s:.1f} "
          f"core-seconds)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

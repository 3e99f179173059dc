"""Hostile papers through `stormborn harvest --source local` (harvest + expressions): what each
costs and what is recorded for it.

    .venv/bin/python -m benchmarks.reliability_hostile

The inputs are those of ``tests/hostile.py`` (the test suite runs the same folder and asserts
the reasons and the bounds). Prints one row per input — size on disk, the reasons recorded in
``documents``, ``rejects`` and ``extractions`` — and the run's wall time and peak RSS (the
largest process of the run: the flow process or a Dask worker).
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, ensure_prefect, run_cli
from tests.hostile import build


def size_of(path: Path) -> str:
    if path.is_symlink():
        return "link"
    if path.is_fifo():
        return "FIFO"
    return f"{path.stat().st_size:,} B"


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="sb-hostile-"))
    folder = work / "papers"
    cases = build(folder, work / "outside")
    api = ensure_prefect(work / "prefect-home")
    env = {"PREFECT_API_URL": api, "STORMBORN_HOME": str(work / "home"), "STORMBORN_BATCH_SIZE": "4"}
    started = time.perf_counter()
    run_cli(["harvest", "--source", "local", "--path", str(folder)], env, ROOT)
    wall = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    from tasks.core.settings import load_settings
    from tasks.io.storage import query

    settings = load_settings(home=str(work / "home"))
    recorded = query(settings, """
        SELECT paper_id, string_agg(DISTINCT reason, ', ' ORDER BY reason) AS reasons
        FROM (SELECT split_part(entity_id, '#', 1) AS paper_id, reason FROM rejects
              UNION ALL SELECT paper_id, unnest(issues) FROM extractions
              UNION ALL SELECT paper_id, reason FROM documents)
        GROUP BY paper_id""")
    reasons = {p: r for p, r in zip(recorded.paper_id, recorded.reasons) if isinstance(r, str)}
    stages = query(settings, "SELECT stage_seconds FROM runs").stage_seconds[0]
    status = dict(zip(*query(settings, "SELECT paper_id, status FROM extractions").to_dict("list").values()))
    print("| input | on disk | recorded | extraction |")
    print("|---|---:|---|---|")
    for stem, what, _ in cases:
        files = sorted(p for p in folder.iterdir() if p.name.startswith(stem + "."))
        sizes = " + ".join(size_of(p) for p in files)
        print(f"| {what} | {sizes} | {reasons.get(f'local:{stem}') or '—'} | {status.get(f'local:{stem}', '—')} |")
    print(f"\nwhole run (harvest + expressions, {len(cases)} papers): {wall:.1f} s, peak RSS {peak_mb:.0f} MB "
          f"(target < 1,536 MB); cores {os.cpu_count()}; stages {stages}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

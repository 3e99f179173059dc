"""Hostile papers through the real command: `stormborn harvest --source local` (harvest and
expressions) in its own process. The run completes, every paper ends parsed or rejected with a
reason, the ordinary paper is unharmed, and the whole run stays within its memory and time."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tasks.core.settings import load_settings
from tasks.io.storage import query, query_rows
from tests.hostile import build

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parent.parent
PEAK_RSS_MB = 1536


def run_harvest(folder: Path, home: Path) -> tuple[int, float, float]:
    """(exit code, wall seconds, peak RSS in MB of the largest process of the run)."""
    from prefect.settings import get_current_settings

    env = {**os.environ, "PREFECT_API_URL": get_current_settings().api.url, "STORMBORN_HOME": str(home),
           "STORMBORN_BATCH_SIZE": "4", "STORMBORN_EXTRACT__PAPER_DEADLINE_S": "60"}
    # A wrapper process runs the harvest and reports the peak RSS of its own descendants: the
    # test process's children include every server earlier tests started.
    wrapper = ("import resource, subprocess, sys; "
               "code = subprocess.run(sys.argv[1:]).returncode; "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)")
    started = time.perf_counter()
    with open(home.parent / "harvest.log", "wb") as log:
        done = subprocess.run([sys.executable, "-c", wrapper, sys.executable, "-m", "flows.cli", "harvest", "--source",
                               "local", "--path", str(folder)], env=env, cwd=ROOT, stdout=log, stderr=subprocess.PIPE)
    peak_kb = int(done.stderr.decode().strip().splitlines()[-1])
    return done.returncode, time.perf_counter() - started, peak_kb / 1024


def test_every_hostile_paper_ends_with_a_reason_and_the_run_is_bounded(tmp_path):
    cases = build(tmp_path / "papers", tmp_path / "outside")
    code, wall, peak_mb = run_harvest(tmp_path / "papers", tmp_path / "home")
    assert code == 0, (tmp_path / "harvest.log").read_text()[-3000:]
    settings = load_settings(home=str(tmp_path / "home"))
    recorded = query_rows(settings, """
        SELECT paper_id, list(DISTINCT reason) FILTER (WHERE reason IS NOT NULL) AS reasons
        FROM (SELECT split_part(entity_id, '#', 1) AS paper_id, reason FROM rejects
              UNION ALL SELECT paper_id, unnest(issues) FROM extractions
              UNION ALL SELECT paper_id, reason FROM documents)
        GROUP BY paper_id""")
    reasons = {row["paper_id"]: set(row["reasons"] or []) for row in recorded}
    documents = query(settings, "SELECT paper_id, parse_status, reason FROM documents")
    assert set(documents.paper_id) == {f"local:{stem}" for stem, _, _ in cases}  # nothing lost
    assert documents[documents.parse_status == "rejected"].reason.notna().all()
    for stem, what, expected in cases:
        got = reasons.get(f"local:{stem}", set())
        if expected:
            assert got & expected, f"{stem} ({what}): recorded {got}, expected one of {expected}"
    extracted = query(settings, "SELECT paper_id, status FROM extractions")
    assert dict(zip(extracted.paper_id, extracted.status))["local:control"] == "ok"
    assert peak_mb < PEAK_RSS_MB and wall < 600

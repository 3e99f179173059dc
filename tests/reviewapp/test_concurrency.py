"""No lost work: many reviewers submitting at once, every form sent twice, the server killed and
restarted mid-session, and catalog publishes (what a monthly flow does) running alongside."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tasks.core.records import PRINCIPLES, Candidate
from tasks.curate import review
from tasks.io import storage
from tests.factories import candidate_catalog


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(home, port) -> subprocess.Popen:
    env = {**os.environ, "STORMBORN_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "review", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode())
    raise RuntimeError("review app did not start")


def test_simultaneous_double_submissions_survive_a_killed_server(settings):
    candidate_catalog(settings, papers=5, per_paper=8, broken=False)
    db = review.open_db(settings)
    tokens = {f"r{i}": review.add_reviewer(db, f"r{i}") for i in range(6)}
    port = _free_port()
    server = {"proc": _serve(settings.home, port)}  # serve loads the candidates and assigns k=2
    pairs = db.rows("SELECT candidate_id, reviewer FROM assignments")
    assert len(pairs) == 40 * 2

    rng = random.Random(7)
    sent = {(p["candidate_id"], p["reviewer"]): {
        **{k: rng.randint(1, 5) for k in PRINCIPLES}, "decision": rng.choice(["keep", "reject"]),
        "comment": f"comment by {p['reviewer']}", "submission_id": f"sub-{p['candidate_id']}-{p['reviewer']}"}
        for p in pairs}
    jobs = [key for key in sent for _ in range(2)]  # every form posted twice, at the same time
    rng.shuffle(jobs)
    restarted = threading.Event()
    posted = {"n": 0}
    lock = threading.Lock()

    def post(key) -> int:
        cid, reviewer = key
        while True:  # a browser re-posting the same form until the server answers
            try:
                r = httpx.post(f"http://127.0.0.1:{port}/api/candidates/{cid}/review", json=sent[key],
                               headers={"Authorization": f"Bearer {tokens[reviewer]}"}, timeout=30)
                with lock:
                    posted["n"] += 1
                return r.status_code
            except httpx.TransportError:
                time.sleep(0.2)

    def killer() -> None:
        while posted["n"] < len(jobs) // 3:
            time.sleep(0.01)
        os.killpg(server["proc"].pid, signal.SIGKILL)  # no shutdown, no final snapshot
        server["proc"].wait()
        server["proc"] = _serve(settings.home, port)
        restarted.set()

    stop_flow = threading.Event()

    def monthly_flow() -> None:  # new candidates landing and the catalog republished, over and over
        lake = storage.Lake.from_settings(settings)
        n = 0
        while not stop_flow.is_set():
            lake.write_table(Candidate, [Candidate(candidate_id=f"new{n}", paper_id="arxiv:2611.00000",
                                                   target_expr="e0x0", status="pending")], f"flow-{n}")
            storage.publish_catalog(settings)
            n += 1

    flow = threading.Thread(target=monthly_flow)
    kill = threading.Thread(target=killer)
    flow.start()
    kill.start()
    try:
        with ThreadPoolExecutor(max_workers=24) as pool:
            codes = list(pool.map(post, jobs))
        kill.join()
    finally:
        stop_flow.set()
        flow.join()
    assert restarted.is_set()
    assert set(codes) == {200}

    stored = review.all_reviews(db)
    assert len(stored) == len(sent) == len({(r.candidate_id, r.reviewer) for r in stored})
    for r in stored:
        want = sent[(r.candidate_id, r.reviewer)]
        assert r.revision == 1  # the second copy of each form changed nothing
        assert {k: getattr(r, k) for k in (*PRINCIPLES, "decision", "comment")} == \
            {k: want[k] for k in (*PRINCIPLES, "decision", "comment")}

    # analysts see the same rows in the catalog once the app has copied them (it does so by itself)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        n = storage.query_rows(settings, "SELECT count(*) AS n FROM expert_reviews")[0]["n"]
        if n == len(sent):
            break
        time.sleep(0.5)
    assert n == len(sent)
    os.killpg(server["proc"].pid, signal.SIGTERM)
    server["proc"].wait(timeout=30)

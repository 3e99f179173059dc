"""Loopback stand-ins for arXiv, OpenReview and a download host (tests only).

They answer over real HTTP, so the live source's real clients (httpx, openreview-py) are
exercised end to end. Answers depend on the request; faults are scripted per path.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from tests.factories import atom_feed, oai_error, oai_record


class StubWeb:
    def __init__(self, entries: list[dict], notes: list[dict], bodies: dict[str, bytes],
                 faults: dict[str, list[int]] | None = None, page_size_cap: int = 1000,
                 licenses: dict[str, str] | None = None):
        self.entries, self.notes, self.bodies = entries, notes, bodies
        self.licenses = licenses or {}
        self.faults = defaultdict(list, faults or {})
        self.requests: list[str] = []
        self.page_size_cap = page_size_cap
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                stub.requests.append(self.path)
                status, ctype, body = stub.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str) -> tuple[int, str, bytes]:
        url = urlparse(path)
        if self.faults[url.path]:
            return self.faults[url.path].pop(0), "text/plain", b"scripted fault"
        if url.path == "/api/query":
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            start, size = int(q["start"]), min(int(q["max_results"]), self.page_size_cap)
            cats = [c.split(":")[1].strip("() ") for c in q["search_query"].split(" AND ")[0].split(" OR ")]
            hits = [e for e in self.entries if set(e.get("categories", ["cs.LG"])) & set(cats)]
            page = hits[start:start + size]
            return 200, "application/atom+xml", atom_feed(page, total=len(hits), start=start,
                                                          pdf_base=f"{self.url}/pdf/").encode()
        if url.path == "/notes":
            q = parse_qs(url.query)
            venue = q["invitation"][0].split("/-/")[0]
            notes = sorted((n for n in self.notes if n["invitations"][0].startswith(venue)),
                           key=lambda n: n["id"])
            count = len(notes)
            if "after" in q:  # openreview-py pages with an id cursor (sort=id, after=<last id>)
                notes = [n for n in notes if n["id"] > q["after"][0]]
            limit = int(q.get("limit", ["1000"])[0])
            return 200, "application/json", json.dumps({"notes": notes[:limit], "count": count}).encode()
        if url.path == "/oai":
            arxiv_id = parse_qs(url.query)["identifier"][0].removeprefix("oai:arXiv.org:")
            if arxiv_id in self.licenses:
                return 200, "text/xml", oai_record(arxiv_id, self.licenses[arxiv_id]).encode()
            return 200, "text/xml", oai_error("idDoesNotExist").encode()
        if url.path in self.bodies:
            return 200, "application/octet-stream", self.bodies[url.path]
        return 404, "text/plain", b"not found"

    def close(self) -> None:
        self.server.shutdown()

"""A scripted OpenAI-compatible server for tests and benchmarks (never used by the product).

It speaks ``POST /v1/chat/completions`` over real HTTP on loopback. Its replies are computed from
the request (which agent is asking, the targets, the quoted passages), so a pipeline that sends
the wrong thing gets the wrong answer and the tests can fail. It can inject faults, chosen
deterministically from the request body and the attempt number so that retries can succeed:
``429`` (with ``Retry-After``), ``500``, ``slow`` (longer than the client timeout), ``invalid``
(not JSON), ``truncated`` (JSON cut in half, ``finish_reason: length``) and ``schema`` (valid JSON
of the wrong shape).

Like a gullible model, it obeys an instruction "IGNORE PREVIOUS INSTRUCTIONS" that it finds
outside ``<paper>…</paper>`` blocks: the prompt-injection test checks that paper text never
gets there.

Run standalone: ``python -m tests.llm_server --port 8900 --latency 0.1``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests import scripted_models

FAULTS = ("429", "500", "slow", "invalid", "truncated", "schema")
PAPER_BLOCK = re.compile(r"<paper[^>]*>.*?</paper>", re.S)
INJECTION = "IGNORE PREVIOUS INSTRUCTIONS"


@dataclass
class Script:
    latency_s: float = 0.0
    fault_rate: float = 0.0
    faults: tuple[str, ...] = FAULTS
    slow_s: float = 3.0
    reject_json_schema: bool = False
    """Answer ``response_format: json_schema`` with HTTP 500, as llama.cpp's server does."""
    echo_authorization: bool = False
    """Answer 401 with the caller's ``Authorization`` header quoted in the error message."""
    seed: str = "stormborn"
    answer_key: dict[str, dict] = field(default_factory=dict)
    """Question → the right option and result, for the scripted models under evaluation
    (``tests.scripted_models``)."""


@dataclass
class Log:
    requests: int = 0
    by_agent: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)
    modes: Counter = field(default_factory=Counter)
    served_ok: Counter = field(default_factory=Counter)
    """Body hash → valid replies served for it (a completed call repeated shows up as 2)."""
    in_flight: int = 0
    max_in_flight: int = 0


def _agent(system: str) -> str:
    for name, marker in (("extractor", "Math Expression Extractor"), ("query_draft", "Query Draft"),
                         ("answer_retriever", "Answer Retriever"), ("context_collector", "Context Collector"),
                         ("question_refiner", "Question Refiner"), ("answer_filter", "Answer Filter"),
                         ("distractor", "You write distractors"), ("candidate_scorer", "Candidate Scorer"),
                         ("question_reviewer", "Question Reviewer"), ("question_reviser", "Question Reviser"),
                         ("solver", "You are a careful mathematician. Solve"), ("joint_scorer", "pre-reviewer"),
                         ("judge", "You grade a derivation against a reference")):
        if marker in system:
            return name
    return "unknown"


def _blocks(text: str) -> dict[str, str]:
    """Quoted paper passages by their source label (``P1``…), or in order."""
    out = {}
    for n, m in enumerate(re.finditer(r'<paper(?: source="([^"]*)")?>\n(.*?)\n</paper>', text, re.S)):
        out[m.group(1) or str(n)] = m.group(2)
    return out


def _first_formula(text: str) -> str:
    for line in text.splitlines():
        if "=" in line or "\\le" in line or "\\ge" in line:
            return line.strip()[:200]
    return text.strip().splitlines()[0][:200] if text.strip() else "the result"


def reply_for(agent: str, user: str) -> dict:
    """What a well-behaved model would answer, computed from the request."""
    if agent == "extractor":
        items = re.findall(r"^\[(\d+)\] (\(\S+\) )?", user, re.M)
        return {"displays": [{"index": int(i), "derivable": bool(num), "definitions": ""} for i, num in items]}
    if agent == "query_draft":
        drafts = []
        for tid, block in re.findall(r"^(T\d+): .*?\n(.*?)(?=^T\d+: |\Z)", user, re.M | re.S):
            cites = re.search(r"^Cites: (.*)$", block, re.M)
            drafts.append({"target": tid, "preconditions": cites.group(1).split(", ") if cites else [],
                           "setting": "A supervised learning setting with a parametric model.",
                           "symbols": "x is the input, y the label, theta the parameters.",
                           "query": f"Based on the stated assumptions, derive {_first_formula(block)}"})
        return {"drafts": drafts}
    if agent == "answer_retriever":
        blocks = _blocks(user)
        labels = re.findall(r"^(P\d+) — <paper>(.*)</paper>$", user, re.M)
        proof = next((label for label, where in labels if where.startswith("Proof of")), None)
        label = proof or (labels[0][0] if labels else "P1")
        text = blocks.get(label, "")
        if "=" not in text and "\\le" not in text and proof is None:
            return {"found": False, "answer": "NO_DERIVATION_FOUND", "evidence": ""}
        if "FABRICATE" in text:  # a passage that asks the scripted model to invent its answer
            return {"found": True, "answer": "By a well-known argument, the result holds trivially for all n.",
                    "evidence": label}
        return {"found": True, "answer": text[:800], "evidence": label}
    if agent == "context_collector":
        blocks = _blocks(user)
        passages = [b.split("\n")[0][:300] for b in blocks.values() if b.strip()][:3]
        return {"passages": [*passages, "This sentence does not appear anywhere in the source."]}
    if agent == "question_refiner":
        draft = re.search(r"^Draft question: <paper>(.*?)</paper>$", user, re.M | re.S)
        setting = re.search(r"^Setting: <paper>(.*?)</paper>$", user, re.M | re.S)
        return {"question": f"{setting.group(1) if setting else ''} "
                            f"{draft.group(1) if draft else 'Derive the result.'}".strip()}
    if agent == "answer_filter":
        blocks = list(_blocks(user).values())
        answer = blocks[-1] if blocks else ""
        steps = answer.count("=") - answer.count(":=")
        if ("is defined as" in answer or ":=" in answer) and steps == 0:
            return {"verdict": "define", "rationale": "The answer only states a definition.", "confidence": 0.8}
        derive = any(s in answer for s in ("=", "\\le", "\\ge", "\\begin", "Proof", "proof"))
        return {"verdict": "derive" if derive else "other",
                "rationale": "The answer reaches the result in steps." if derive else "No derivation steps.",
                "confidence": 0.9}
    if agent == "distractor":
        blocks = list(_blocks(user).values())
        answer = blocks[-1] if blocks else ""
        if "SAME-MATH" in answer:  # a lazy model: reworded prose around the very same math
            return {"distractors": [{"derivation": f"Clearly, {answer}", "error": "none"}] * 3}
        wrong = [_mutate(answer, i) for i in range(3)]
        return {"distractors": [{"derivation": w, "error": f"mutation {i}"} for i, w in enumerate(wrong)]}
    if agent == "judge":
        return scripted_models.judge_reply(user)
    if agent in QUALITY_AGENTS:
        return QUALITY_AGENTS[agent](_blocks(user))
    return {}


def _scored(scores: dict[str, float]) -> dict:
    return {k: {"score": v, "rationale": f"{k.replace('_', ' ')} judged from the text."} for k, v in scores.items()}


def _seed_scores(blocks: dict[str, str]) -> dict:
    """The Candidate Scorer: a question marked TRIVIAL scores low, STRAY out of range; else the
    answer's steps (its ``=`` and ``\\le``) set the complexity."""
    question, answer = (list(blocks.values()) + ["", ""])[:2]
    if "TRIVIAL" in question:
        return _scored({"complexity": 0.5, "information_value": 1, "clarity": 1, "precision": 1})
    steps = answer.count("=") + answer.count("\\le")
    return _scored({"complexity": 7 if "STRAY" in question else min(5, 1 + steps), "information_value": 4,
                    "clarity": 4, "precision": 4})


_PAPER_REFERENCE = re.compile(r"(?:in|of|from) the paper|Eq(?:uation)?\.? ?\(\d+\)", re.I)


def _review(blocks: dict[str, str]) -> dict:
    """The Question Reviewer: a question that points into the paper is not self-contained."""
    question = next(iter(blocks.values()), "")
    pointing = bool(_PAPER_REFERENCE.search(question))
    return {**_scored({"clarity": 4.5, "self_containment": 2 if pointing else 5, "faithfulness": 5}),
            "comment": "Remove the references to the paper and its equations." if pointing else ""}


def _revise(blocks: dict[str, str]) -> dict:
    """The Question Reviser: removes references to the paper; one marked SAME-QUESTION returns it
    unchanged, one marked CHANGE-MATH rewrites its first formula."""
    question = next(iter(blocks.values()), "")
    if "SAME-QUESTION" in question:
        return {"question": question}
    revised = _PAPER_REFERENCE.sub("", question).replace("  ", " ").strip()
    if "CHANGE-MATH" in question:
        revised = re.sub(r"\$([^$]+)\$", lambda m: "$" + m.group(1).replace("=", "= 2 +", 1) + "$", revised, count=1)
    return {"question": revised}


def _solve(blocks: dict[str, str]) -> dict:
    """The Solver: answers with the question's last formula (the result it asks for); a question
    marked PROSE gets words only, one marked WRONG a different formula."""
    question = next(iter(blocks.values()), "")
    formulas = re.findall(r"\$([^$]+)\$", question)
    if "PROSE" in question or not formulas:
        return {"solution": "The claim follows by a standard argument.", "final_answer": "It holds."}
    final = "x^{3} + 7" if "WRONG" in question else formulas[-1]
    return {"solution": f"Expanding the definitions step by step gives ${final}$.", "final_answer": final}


def _joint_scores(blocks: dict[str, str]) -> dict:
    """The Joint Scorer: longer, denser answers score higher (1–5)."""
    answer = (list(blocks.values()) + ["", ""])[1]
    steps = answer.count("=") + answer.count("\\le")
    level = max(1, min(5, 1 + steps))
    return _scored({"reasoning_density": level, "problem_clarity": 4, "derivation_correctness": 4,
                    "problem_difficulty": level, "human_heuristics": 3})


QUALITY_AGENTS = {"candidate_scorer": _seed_scores, "question_reviewer": _review, "question_reviser": _revise,
                  "solver": _solve, "joint_scorer": _joint_scores}


def _mutate(derivation: str, i: int) -> str:
    """A wrong copy of a derivation: one sign, factor or bound changed in its math."""
    edits = ((r"\\]", r"+ 1 \\]"), (r"=", r"= 2"), (r"\\le", r"\\ge"))
    pattern, repl = edits[i]
    out, n = re.subn(pattern, repl, derivation, count=1)
    return out if n else f"{derivation} $x_{{{i}}} = {i + 2}$"


def obey_injection(agent: str) -> dict | None:
    """What the gullible model does when told to ignore its instructions."""
    return {"answer_filter": {"verdict": "other", "rationale": "PWNED", "confidence": 1.0},
            "answer_retriever": {"found": True, "answer": "PWNED", "evidence": "P1"},
            "question_refiner": {"question": "PWNED"}}.get(agent)


class ScriptedLLM:
    """The server in a background thread of the test process."""

    def __init__(self, script: Script | None = None, port: int | None = None):
        self.script = script or Script()
        self.log = Log()
        self.port = port or _free_port()
        self.app = self._build()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "ScriptedLLM":
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                limit_concurrency=1000, backlog=2048)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("scripted LLM server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    def __enter__(self) -> "ScriptedLLM":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _fault(self, body: bytes, attempt: int) -> str | None:
        if self.script.fault_rate <= 0:
            return None
        h = hashlib.sha256(self.script.seed.encode() + body + str(attempt).encode()).digest()
        if int.from_bytes(h[:4], "big") / 2**32 >= self.script.fault_rate:
            return None
        return self.script.faults[h[4] % len(self.script.faults)]

    def _build(self) -> FastAPI:
        app = FastAPI()
        attempts: Counter = Counter()

        @app.post("/v1/chat/completions")
        async def complete(request: Request):
            body = await request.body()
            data = json.loads(body)
            log = self.log
            log.requests += 1
            log.in_flight += 1
            log.max_in_flight = max(log.max_in_flight, log.in_flight)
            try:
                messages = data["messages"]
                system = next((m["content"] for m in messages if m["role"] == "system"), "")
                user = "\n".join(m["content"] for m in messages if m["role"] == "user")
                agent = _agent(system)
                log.by_agent[agent] += 1
                mode = (data.get("response_format") or {}).get("type", "text")
                log.modes[mode] += 1
                if self.script.latency_s:
                    await asyncio.sleep(self.script.latency_s)
                if self.script.echo_authorization:  # a careless gateway quoting the caller's key back
                    auth = request.headers.get("authorization", "")
                    return JSONResponse({"error": {"message": f"Incorrect API key provided: {auth} "
                                                   f"({auth.removeprefix('Bearer ')})", "code": "invalid_api_key",
                                                   "type": "invalid_request_error"}}, 401)
                if mode == "json_schema" and self.script.reject_json_schema:
                    return JSONResponse({"error": {"message": "response_format: Input should be 'text' or "
                                                   "'json_object'", "type": "internal_server_error"}}, 500)
                key = hashlib.sha256(body).hexdigest()
                attempts[key] += 1
                fault = self._fault(body, attempts[key])
                if fault:
                    log.faults[fault] += 1
                if fault == "429":
                    return JSONResponse({"error": {"message": "rate limited", "type": "rate_limit"}}, 429,
                                        headers={"retry-after": "0.05"})
                if fault == "500":
                    return JSONResponse({"error": {"message": "boom", "type": "server_error"}}, 500)
                if fault == "slow":
                    await asyncio.sleep(self.script.slow_s)
                outside = PAPER_BLOCK.sub("", "\n".join(m["content"] for m in messages))
                obeyed = obey_injection(agent) if INJECTION in outside.upper() else None
                model = str(data.get("model", ""))
                if model == "scripted-slow":
                    await asyncio.sleep(self.script.slow_s)
                if model.startswith("scripted-"):  # a model under evaluation: plain text
                    # the k-th identical request is the k-th sample: a real model at a temperature
                    # above 0 answers the same messages differently
                    content = scripted_models.answer(model, system, user, body + str(attempts[key]).encode(),
                                                     self.script.answer_key)
                else:
                    content = json.dumps(obeyed or reply_for(agent, user), ensure_ascii=False)
                finish = "stop"
                if fault == "invalid":
                    content = "Sure! Here is what you asked for: " + content.replace("{", "(")
                elif fault == "truncated":
                    content, finish = content[: len(content) // 2], "length"
                elif fault == "schema":
                    content = json.dumps({"unexpected": True})
                else:
                    log.served_ok[key] += 1
                prompt_chars = sum(len(m["content"]) for m in messages)
                return {"id": f"chatcmpl-{key[:12]}", "object": "chat.completion", "created": int(time.time()),
                        "model": data.get("model", "scripted"),
                        "choices": [{"index": 0, "finish_reason": finish,
                                     "message": {"role": "assistant", "content": content}}],
                        "usage": {"prompt_tokens": prompt_chars // 4, "completion_tokens": len(content) // 4,
                                  "total_tokens": prompt_chars // 4 + len(content) // 4}}
            finally:
                log.in_flight -= 1

        return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    args = parser.parse_args()
    server = ScriptedLLM(Script(latency_s=args.latency, fault_rate=args.fault_rate), port=args.port)
    uvicorn.run(server.app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

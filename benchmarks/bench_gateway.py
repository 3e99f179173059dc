"""The LLM gateway against its peers: client CPU per call and wall time against the ideal.

    .venv/bin/python -m benchmarks.bench_gateway [--calls 4000] [--concurrency 32] [--latency 0.1]

A lean loopback server (aiohttp, one fixed reply, pinned to core 0) answers every
``POST /v1/chat/completions`` after ``--latency`` seconds. Each client runs in its own process
pinned to core 1, one after the other in this run, sending ``--calls`` distinct requests (an
Answer Retriever prompt with its JSON schema, so the request is the size of a real one) with
``--concurrency`` in flight:

- ``aiohttp``: a bare aiohttp loop posting pre-serialised bodies (the floor);
- ``openai``: raw ``openai.AsyncOpenAI`` + an asyncio semaphore, ``response_format: json_schema``,
  the reply validated with pydantic (what any careful caller does);
- ``gateway``: ``tasks.io.llm.Gateway`` on a fresh local lake (no cache hits: every call is sent,
  cached and recorded in the ledger), then the same calls again (all cache hits);
- ``curator``: bespokelabs curator, when it is installed (it is not a dependency).

Printed per client: wall / ideal (ideal = calls × latency / concurrency) and client CPU per call
(user + system time of the client process over the calls). The ratios are the figures to compare:
every client meets the same server on the same cores in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from benchmarks.common import free_port

SERVER_CORE, CLIENT_CORE = 0, 1


def reply_body() -> bytes:
    answer = ("Since $0 \\le x_k \\le 1$ we have $x_k^2 \\le 1$ for each $k$; summing over $k$ gives "
              "$\\sum_k x_k^2 \\le n$. ") * 6
    content = json.dumps({"found": True, "answer": answer, "evidence": "P1"})
    return json.dumps({"id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "bench",
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": content}}],
                       "usage": {"prompt_tokens": 900, "completion_tokens": 160, "total_tokens": 1060}}).encode()


def serve(port: int, latency: float) -> None:
    from aiohttp import web

    body = reply_body()

    async def complete(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(latency)
        return web.Response(body=body, content_type="application/json")

    app = web.Application(client_max_size=8 * 1024 * 1024)
    app.router.add_post("/v1/chat/completions", complete)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=1024)


def messages(i: int) -> list[dict[str, str]]:
    """Agent 3's prompt for a synthetic target, different per call (no cache hit, no sharing)."""
    from tasks.generate.agents import answer_retriever
    from tasks.generate.agents.excerpt import Piece

    pieces = [Piece(label=f"P{k}", location=f"Proof of Lemma {i}.{k}",
                    text=(f"For every $n \\ge {i}$ and $x_k \\in [0, 1]$, "
                          "$\\sum_{k=1}^n x_k^2 \\le n$. ") * 12, source=f"context:{k}") for k in range(1, 4)]
    return answer_retriever.AGENT.messages(**answer_retriever.fields(f"Derive the bound of lemma {i}.", pieces))


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_aiohttp(url: str, bodies: list[list[dict]], concurrency: int, model) -> None:
    import aiohttp

    payloads = [json.dumps({"model": "bench", "messages": m}).encode() for m in bodies]
    semaphore = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def one(payload: bytes) -> None:
            async with semaphore, session.post(f"{url}/chat/completions", data=payload,
                                               headers={"content-type": "application/json"}) as response:
                reply = await response.json()
                model.model_validate_json(reply["choices"][0]["message"]["content"])
        await asyncio.gather(*(one(p) for p in payloads))


async def run_openai(url: str, bodies: list[list[dict]], concurrency: int, model) -> None:
    import openai

    schema = model.model_json_schema()
    client = openai.AsyncOpenAI(base_url=url, api_key="bench", max_retries=0)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(m: list[dict]) -> None:
        async with semaphore:
            response = await client.chat.completions.create(
                model="bench", messages=m, temperature=0.0, max_tokens=2048,
                response_format={"type": "json_schema", "json_schema": {"name": model.__name__, "schema": schema}})
            model.model_validate_json(response.choices[0].message.content)
    await asyncio.gather(*(one(m) for m in bodies))
    await client.close()


def gateway_client(url: str, concurrency: int, lake_dir: str):
    from tasks.core.settings import LLMSettings
    from tasks.io.llm import Gateway
    from tasks.io.storage import Lake

    settings = LLMSettings(base_url=url, model="bench", concurrency=concurrency)
    return Gateway(settings, Lake(lake_dir), "bench"), settings


async def run_gateway(url: str, bodies: list[list[dict]], concurrency: int, model, lake_dir: str) -> None:
    from tasks.generate.agents import answer_retriever

    gateway, settings = gateway_client(url, concurrency, lake_dir)
    agent = settings.for_agent("answer_retriever")
    async with gateway:
        results = await asyncio.gather(*(gateway.call("answer_retriever", f"c{i}", m, model,
                                                      answer_retriever.AGENT.version, agent)
                                         for i, m in enumerate(bodies)))
    bad = sum(not r.ok for r in results)
    if bad:
        raise SystemExit(f"gateway: {bad} calls without a value: {results[0].call.error}")


def run_curator(url: str, bodies: list[list[dict]], concurrency: int, model) -> None:
    from bespokelabs import curator  # not a dependency: measured when installed

    class Retriever(curator.LLM):
        def prompt(self, row):
            return row["messages"]

        def parse(self, row, response):
            return [{"found": response.found}]

    os.environ["OPENAI_API_KEY"] = "bench"
    llm = Retriever(model_name="bench", response_format=model, backend="openai",
                    backend_params={"base_url": url, "max_concurrent_requests": concurrency,
                                    "max_requests_per_minute": 10**7, "max_tokens_per_minute": 10**10,
                                    "require_all_responses": False})
    llm([{"messages": m} for m in bodies])


def client(kind: str, url: str, calls: int, concurrency: int) -> None:
    """One client's run, in this (pinned) process; prints one JSON line."""
    os.sched_setaffinity(0, {CLIENT_CORE})
    from tasks.generate.agents.answer_retriever import RetrieverReply

    bodies = [messages(i) for i in range(calls)]
    lake_dir = tempfile.mkdtemp(prefix="bench-gateway-")
    figures = {}
    runs = [("cold", None)] + ([("cache hits", None)] if kind == "gateway" else [])
    for label, _ in runs:
        cpu, wall = cpu_seconds(), time.perf_counter()
        if kind == "aiohttp":
            asyncio.run(run_aiohttp(url, bodies, concurrency, RetrieverReply))
        elif kind == "openai":
            asyncio.run(run_openai(url, bodies, concurrency, RetrieverReply))
        elif kind == "gateway":
            asyncio.run(run_gateway(url, bodies, concurrency, RetrieverReply, lake_dir))
        elif kind == "curator":
            run_curator(url, bodies, concurrency, RetrieverReply)
        figures[label] = {"wall_s": time.perf_counter() - wall, "cpu_ms_per_call": (cpu_seconds() - cpu) * 1000 / calls}
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--clients", nargs="+", default=["aiohttp", "openai", "gateway", "curator"])
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        os.sched_setaffinity(0, {SERVER_CORE})
        serve(args.serve, args.latency)
        return
    if args.client:
        client(args.client, args.url, args.calls, args.concurrency)
        return

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_gateway", "--serve", str(port),
                               "--latency", str(args.latency)])
    url = f"http://127.0.0.1:{port}/v1"
    try:
        from flows.runtime import answers

        deadline = time.monotonic() + 30
        while not answers(f"http://127.0.0.1:{port}/", ok=lambda r: r.status_code == 404, timeout_s=1):
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the bench server did not start")
            time.sleep(0.2)
        ideal = args.calls * args.latency / args.concurrency
        print(f"{args.calls} calls, concurrency {args.concurrency}, server latency {args.latency * 1000:.0f} ms "
              f"pinned to core {SERVER_CORE}, each client pinned to core {CLIENT_CORE}; ideal {ideal:.1f} s")
        print(f"{'client':<22} {'wall s':>7} {'wall/ideal':>10} {'client CPU ms/call':>19}")
        for kind in args.clients:
            if kind == "curator":
                try:
                    import bespokelabs.curator  # noqa: F401
                except ImportError:
                    print(f"{'curator':<22} not installed (pip install bespokelabs-curator to compare)")
                    continue
            done = subprocess.run([sys.executable, "-m", "benchmarks.bench_gateway", "--client", kind, "--url", url,
                                   "--calls", str(args.calls), "--concurrency", str(args.concurrency)],
                                  capture_output=True, text=True)
            if done.returncode:
                print(f"{kind:<22} failed: {done.stderr.strip()[-400:]}")
                continue
            for label, figures in json.loads(done.stdout.strip().splitlines()[-1]).items():
                name = kind if label == "cold" else f"{kind} ({label})"
                print(f"{name:<22} {figures['wall_s']:>7.2f} {figures['wall_s'] / ideal:>9.2f}× "
                      f"{figures['cpu_ms_per_call']:>19.2f}")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()

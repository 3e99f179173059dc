"""Drafts by construction (issue #13): what the rules draft on real LaTeX, and the LLM calls they save.

    .venv/bin/python -m benchmarks.bench_drafts

1. Every LaTeX project of ``../shared/corpus/tex`` and ``../shared/corpus/tex_real`` (and a
   synthetic paper of 20 lemma/proof pairs) through the real project reader and extractor:
   extraction issues, expressions, statements, statements with a linked proof, targets, and
   targets the rules draft exactly (no LLM).
2. KaTeX render rate of the drafted questions and answers (the portable answer where there is
   one): the platform's own check (commands the vendored KaTeX lacks, ``tasks.generate.
   renderable``) and, when ``node`` is on the PATH, the vendored KaTeX itself rendering every
   math segment (``benchmarks/katex_render.js``).
3. LLM calls per candidate, the same papers' targets through the six agents against the
   scripted OpenAI-compatible server of the tests (in process, no latency): ``generate.
   rules_drafts`` off (every target through every agent) and on (drafted targets skip the Query
   Draft and the Answer Retriever), side by side in one run; overall, and for the drafted
   candidates themselves (their own calls in each mode, plus their share of the Query Draft's
   batched calls), since a draft that survives to the Refiner and Filter adds calls that the
   agents-only run never made for a candidate it dropped.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.bench_generate import synthetic_paper
from benchmarks.common import CORPUS


def projects() -> list[tuple[str, object]]:
    from tasks.documents.eprint import TexFiles, read_tex_dir, read_tex_files

    out = []
    for base in ("tex", "tex_real"):
        for path in sorted((CORPUS / base).iterdir()):
            if path.is_dir() and any(path.rglob("*.tex")):
                out.append((path.name, read_tex_dir(path)))
            elif path.is_dir():  # arXiv e-prints as downloaded
                out += [(f.name.removesuffix(".gz"), read_tex_files(f.read_bytes())) for f in sorted(path.glob("*.gz"))]
    out.append(("synthetic_20_lemmas", TexFiles({"main.tex": synthetic_paper(0, 20, 20_000)})))
    return out


def extract(name: str, tex) -> tuple[object, dict]:
    from tasks.core.settings import Settings
    from tasks.extract.parse.latex import extract_latex
    from tasks.extract.parse.project import flatten
    from tasks.generate.agents.extractor import latex_targets
    from tasks.generate.drafts import draft
    from tasks.generate.pipeline import PaperWork

    limit = Settings().generate.targets_per_paper
    started = time.perf_counter()
    flat = flatten(tex, 2_000_000)
    out = extract_latex(flat, f"corpus:{name}", "bench")
    work = PaperWork(f"corpus:{name}", "latex", out.expressions, out.edges, out.macros)
    targets = latex_targets(out.expressions, out.edges, limit)
    drafts = [d for d in (draft(t, work.by_id, work.macro_table) for t in targets) if d is not None]
    statements = [e for e in out.expressions if e.kind == "statement"]
    row = {"paper": name, "issues": ",".join(sorted({i.reason for i in [*flat.issues, *out.issues]})) or "-",
           "expressions": len(out.expressions), "statements": len(statements),
           "proved": sum(bool(e.proof_expr) for e in statements), "edges": len(out.edges),
           "targets": len(targets), "drafted": len(drafts),
           "drafted_statements": sum(d.question.startswith("Prove") for d in drafts),
           "seconds": round(time.perf_counter() - started, 2)}
    row["_drafts"] = drafts
    # a project missing a file it \input's (its macros, often) cannot render what that file defined
    row["_complete_drafts"] = [] if "missing_input_file" in row["issues"] else drafts
    return (work, targets), row


def render_rates(texts: list[str]) -> tuple[float, float | None, list[str]]:
    """(share passing the command check, share KaTeX renders or None without node, first errors)."""
    from tasks.generate.renderable import math_segments, unrenderable

    checked = sum(not unrenderable(t) for t in texts) / max(1, len(texts))
    node = shutil.which("node")
    if node is None:
        return checked, None, []
    script = Path(__file__).with_name("katex_render.js")
    answer = subprocess.run([node, str(script)], input=json.dumps([math_segments(t) for t in texts]),
                            capture_output=True, text=True, check=True, cwd=script.parent)
    errors = json.loads(answer.stdout)
    return checked, sum(e is None for e in errors) / max(1, len(texts)), [e for e in errors if e][:5]


def calls_per_candidate(works: list, rules_drafts: bool) -> dict:
    from tasks.core.settings import Settings
    from tasks.generate.steps import generate_papers
    from tasks.io.storage import Lake
    from tests.llm_server import ScriptedLLM

    with tempfile.TemporaryDirectory() as home, ScriptedLLM() as server:
        settings = Settings(home=home)
        settings = settings.model_copy(update={
            "llm": settings.llm.model_copy(update={"base_url": server.base_url, "retries": 2, "backoff_s": 0.01}),
            "generate": settings.generate.model_copy(update={"rules_drafts": rules_drafts})})
        started = time.perf_counter()
        batch = generate_papers(settings, Lake.from_settings(settings), works, "bench")
        seconds = time.perf_counter() - started
        by_agent = Counter(dict(server.log.by_agent))
    statuses = Counter(c.status for c in batch.candidates)
    return {"candidates": len(batch.candidates), "calls": server.log.requests, "by_agent": dict(by_agent),
            "done": statuses["done"], "drafted_by_rules": sum(c.drafted_by == "rules" for c in batch.candidates),
            "seconds": round(seconds, 1),
            # a candidate's own calls (the Query Draft's batched calls are the paper's, not its own)
            "own_calls": Counter(call.entity_id for call in batch.calls),
            "proved": {c.candidate_id for c in batch.candidates if c.drafted_by == "rules"
                       and (c.question or "").startswith("Prove")},
            "passages": {c.candidate_id for c in batch.candidates if c.drafted_by == "rules"
                         and not (c.question or "").startswith("Prove")}}


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    rows, works = [], []
    for name, tex in projects():
        (work, targets), row = extract(name, tex)
        rows.append(row)
        if targets:
            works.append((work, targets))
    drafts = [d for r in rows for d in r.pop("_drafts")]
    complete = [d for r in rows for d in r.pop("_complete_drafts")]
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    total = {c: sum(r[c] for r in rows) for c in ("statements", "proved", "targets", "drafted")}
    print(f"total: {total}")
    for label, texts in (("questions", [d.question for d in drafts]),
                         ("answers (portable where known)", [d.answer_portable or d.answer for d in drafts]),
                         ("answers verbatim", [d.answer for d in drafts]),
                         ("questions, projects with every file", [d.question for d in complete]),
                         ("answers, projects with every file", [d.answer_portable or d.answer for d in complete])):
        checked, rendered, errors = render_rates(texts)
        print(f"KaTeX, drafted {label}: {len(texts)}; pass the command check {checked:.3f}; "
              f"render in KaTeX {'n/a (no node)' if rendered is None else f'{rendered:.3f}'}"
              + (f"; e.g. {errors[:3]}" if errors else ""))

    off = calls_per_candidate(works, rules_drafts=False)
    on = calls_per_candidate(works, rules_drafts=True)
    for label, m in (("agents only (rules_drafts off)", off), ("rules drafts first (on)", on)):
        print(f"{label}: {m['candidates']} candidates, {m['calls']} calls = "
              f"{m['calls'] / max(1, m['candidates']):.2f} per candidate; done {m['done']}, "
              f"drafted by rules {m['drafted_by_rules']}; {m['seconds']} s; by agent {m['by_agent']}")
    saved = (off["calls"] - on["calls"]) / max(1, on["drafted_by_rules"])
    print(f"calls saved per drafted candidate (all calls, off - on): {saved:.2f}; ratio of calls on/off: "
          f"{on['calls'] / max(1, off['calls']):.2f}")
    query_draft_share = ((off["by_agent"].get("query_draft", 0) - on["by_agent"].get("query_draft", 0))
                         / max(1, on["drafted_by_rules"]))
    for label, ids in (("with a linked proof", on["proved"]), ("derived in running text", on["passages"])):
        own_off = sum(off["own_calls"][i] for i in ids) / max(1, len(ids))
        own_on = sum(on["own_calls"][i] for i in ids) / max(1, len(ids))
        print(f"drafted candidates {label}: {len(ids)}; own calls {own_off:.2f} off → {own_on:.2f} on, "
              f"plus {query_draft_share:.2f} Query Draft calls saved each: "
              f"{own_off - own_on + query_draft_share:.2f} calls fewer per candidate")


if __name__ == "__main__":
    main()

"""Export of the dataset: the latest selection, or a versioned release, split by paper, in three
variants.

Input: the catalog's latest ``selections`` (selected rows) with ``candidates``, ``papers`` and
``expert_reviews`` (named queries ``release_problems`` and ``release_reviews``); with a release,
also the previous release and the retirements (``tasks.curate.release``).
Output, under ``out``:

- ``README.md``: the dataset card (counts, splits, sources, each paper's licence, flags; with a
  release, the release and what changed since the previous one);
- ``manifest.json``: selection id, counts per variant and split, reasons for what was left out,
  the files with their sha256 ``checksums``; with a release also ``release``, ``previous``,
  ``added``, ``retired`` (ids since the previous release), ``unembargoed``, ``embargoed`` and
  ``retired_items`` (every retired item with ``retired_at`` and ``retire_reason``: retired items
  are listed here, never in the data files);
- per format, one file per variant and split::

      jsonl/<variant>/<split>.jsonl
      parquet/<variant>/<split>.parquet
      hf/README.md + hf/data/<variant>/<split>-00000-of-00001.parquet   (Hugging Face layout)

Variants: ``derivation`` (``paper``, ``question``, ``whole_label`` as in STORM-BORN's release,
plus lineage), ``multiple_choice`` (the answer and three wrong derivations written through the LLM
gateway), ``fill_in_blank`` (one step of the derivation blanked out). A problem that cannot
have a variant (no distinct distractors, no step to blank) is left out of it with a ``rejects``
row (stage ``export``) and counted in the manifest.

Without a release the export is a snapshot of the latest selection. With ``release="2026-12"``
(``tasks.curate.release``) the items are the previous release's (unchanged: their rows, splits
and choices are read back from its lake copy; retired ones only in the manifest) plus the
selection's new ones; only ``active`` items are in the public files, ``embargoed`` ones are
written in the same layout to a sibling folder, ``<out>-private/``, with their own manifest (the
public manifest counts them, nothing more); derivation rows gain ``status`` and
``released_at``; JSONL is always written, and the whole release is copied into the lake under
``releases/<R>/`` with its ``releases`` and ``release_items`` rows.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq

from tasks.core.records import PRINCIPLES, LLMCall, Reject
from tasks.core.settings import Settings
from tasks.curate import distractor, review
from tasks.curate import release as lifecycle
from tasks.io import storage
from tasks.io.llm import CallTotals, Gateway

FORMATS = ("jsonl", "parquet", "hf")
VARIANTS = ("derivation", "multiple_choice", "fill_in_blank")
SPLITS = ("train", "test")
BLANK = "[BLANK]"

# -- licences ------------------------------------------------------------------------------

def licence_terms(licence: str | None) -> tuple[str, str]:
    """(short name, what it allows for a redistributed derivative dataset).

    ``allowed`` (CC BY, CC BY-SA, CC0), ``non_commercial`` (CC BY-NC*), ``no_derivatives``
    (CC *-ND: excerpts in a dataset are a derivative), ``not_permitted`` (arXiv's non-exclusive
    distribution licence grants rights to arXiv only), ``unknown``.
    """
    text = (licence or "").lower().strip()
    if not text or text == "unknown":
        return "unknown", "unknown"
    if "nonexclusive-distrib" in text or "arxiv.org/licenses" in text:
        return "arXiv non-exclusive distribution 1.0", "not_permitted"
    if "publicdomain/zero" in text or "cc0" in text:
        return "CC0 1.0", "allowed"
    m = re.search(r"licenses/([a-z-]+)/(\d\.\d)", text) or re.search(r"cc[ -]([a-z-]+)[ -]?(\d\.\d)?", text)
    if m:
        kind = m.group(1).strip("-")
        name = f"CC {kind.upper()} {m.group(2) or ''}".strip()
        if "nd" in kind.split("-"):
            return name, "no_derivatives"
        if "nc" in kind.split("-"):
            return name, "non_commercial"
        return name, "allowed"
    return licence or "unknown", "unknown"


# -- splits --------------------------------------------------------------------------------

def split_by_paper(rows: list[dict[str, Any]], test_fraction: float,
                   fixed: dict[str, str] | None = None) -> dict[str, str]:
    """paper id → split. Papers are taken in a fixed hashed order, and each goes to test when
    that brings the test split closer to ``test_fraction`` of the problems; with two or more
    papers each split gets at least one. Papers in ``fixed`` (released earlier) keep their split
    and count towards the fraction; only the others are placed."""
    fixed = fixed or {}
    counts = Counter(r["paper_id"] for r in rows)
    papers = sorted(counts, key=lambda p: hashlib.sha256(p.encode()).hexdigest())
    free = [p for p in papers if p not in fixed]
    target = test_fraction * len(rows)
    split = {p: fixed.get(p, "train") for p in papers}
    in_test = sum(counts[p] for p in papers if split[p] == "test")
    for paper in free:
        if abs(in_test + counts[paper] - target) < abs(in_test - target):
            split[paper], in_test = "test", in_test + counts[paper]
    if len(papers) >= 2 and free and "test" not in split.values():
        split[min(free, key=lambda p: (counts[p], papers.index(p)))] = "test"
    if len(papers) >= 2 and free and "train" not in split.values():
        split[min(free, key=lambda p: (counts[p], papers.index(p)))] = "train"
    return split


# -- fill in the blank ---------------------------------------------------------------------

_DISPLAY = re.compile(r"\\\[(.+?)\\\]|\$\$(.+?)\$\$|\\begin\{(equation|align|gather|multline)\*?\}(.+?)"
                      r"\\end\{\3\*?\}", re.S)
_INLINE = re.compile(r"(?<![\\$])\$([^$]+?=[^$]+?)\$")
_PLAIN = re.compile(r"[^.;:\n]*[^:<>!=]=(?!=)[^.;\n]*")  # a clause with an equation, in PDF text


def blank_step(derivation: str) -> tuple[str, str] | None:
    """(derivation with one step replaced by ``[BLANK]``, the blanked step), or None.

    The step is a displayed equation (or, without any, an inline equation with ``=``, or in text
    read from a PDF a clause with ``=``) from the middle of the derivation: the first restates
    the premise and the last is the asked result, so a middle one tests the reasoning in between.
    """
    steps = [m for m in _DISPLAY.finditer(derivation) if "=" in m.group(0) or "\\le" in m.group(0)]
    if not steps:
        steps = list(_INLINE.finditer(derivation))
    if not steps and "$" not in derivation and "\\[" not in derivation:
        steps = [m for m in _PLAIN.finditer(derivation) if len(m.group(0).strip()) >= 5]
    if not steps:
        return None
    step = steps[len(steps) // 2] if len(steps) > 2 else steps[0]
    return derivation[:step.start()] + BLANK + derivation[step.end():], step.group(0)


# -- rows ----------------------------------------------------------------------------------

def pseudonym(reviewer: str, key: str) -> str:
    """Reviewers appear in the release under a stable pseudonym, not their account name: a keyed
    hash (HMAC-SHA-256) whose key never leaves the review database, so a list of likely names
    cannot be hashed and matched."""
    return "reviewer-" + hmac.new(key.encode(), reviewer.encode(), hashlib.sha256).hexdigest()[:12]


_LAYOUT_ONLY = re.compile(r"\\(?:[A-Za-z]*label|tag\*?)\s*\{[^{}]*\}|\\(?:nonumber|notag)(?![A-Za-z])")


def portable_target(latex: str | None) -> str | None:
    """The target formula (macros expanded by the catalog query) without labels and tags: what a
    symbolic check compares a final answer with."""
    text = _LAYOUT_ONLY.sub("", latex or "").strip()
    return text or None


def derivation_row(row: dict[str, Any], split: str, reviews: list[dict[str, Any]], key: str) -> dict[str, Any]:
    name, terms = licence_terms(row["license"])
    published = lifecycle.paper_date_of(row.get("paper_date"))
    return {
        "id": row["candidate_id"],
        "paper": row["title"],
        "question": row["question"],
        "whole_label": row["answer_portable"] or row["answer"],  # portable where known exactly
        "answer_verbatim": row["answer"],  # lineage: the paper's own text, as aligned
        "split": split,
        "paper_id": row["paper_id"],
        "paper_date": published.isoformat() if published else None,  # the paper's first version (UTC)
        "arxiv_id": row["arxiv_id"],
        "license": row["license"],
        "license_name": name,
        "redistribution": terms,
        "topic": row["topic"],
        "target_expr": row["target_expr"],
        "target": portable_target(row.get("target_portable")),
        "precondition_exprs": list(row["precondition_exprs"] or []),
        "answer_evidence": row["answer_evidence"],
        "question_evidence": list(row["question_evidence"] or []),
        "answer_span": list(row["answer_span"]) if row["answer_span"] else None,
        "answer_source": row["answer_source"],
        "grounded_score": row["grounded_score"],
        "prompt_versions": json.loads(row["prompt_versions"] or "{}"),
        "models": json.loads(row["models"] or "{}"),
        "expert_score": row["expert_score"],
        "expert_reviews": [{"reviewer": pseudonym(r["reviewer"], key), "decision": r["decision"],
                            **{p: r[p] for p in PRINCIPLES}} for r in reviews],
        "selection_id": row["selection_id"],
        "selection_rank": row["rank"],
    }


def choice_row(base: dict[str, Any], wrong: list[str]) -> dict[str, Any]:
    choices = [base["whole_label"], *wrong]
    random.Random(base["id"]).shuffle(choices)  # seeded by the problem: the same order every export
    return {"id": base["id"], "paper": base["paper"], "paper_id": base["paper_id"],
            "paper_date": base.get("paper_date"),
            "split": base["split"], "question": base["question"], "choices": choices,
            "answer_index": choices.index(base["whole_label"]), "license": base["license"]}


def blank_row(base: dict[str, Any], blanked: tuple[str, str]) -> dict[str, Any]:
    return {"id": base["id"], "paper": base["paper"], "paper_id": base["paper_id"],
            "paper_date": base.get("paper_date"),
            "split": base["split"], "question": base["question"], "derivation_with_blank": blanked[0],
            "blank": blanked[1], "license": base["license"]}


# -- distractors through the gateway -------------------------------------------------------

async def write_distractors(settings: Settings, rows: list[dict[str, Any]], run_id: str
                            ) -> tuple[dict[str, list[str]], dict[str, tuple[str, str]], list[LLMCall]]:
    """problem id → distractors, problem id → (reason, detail) it has none, and the ledger rows."""
    settings.llm.check_budget(("distractor",))
    count = settings.export.distractors
    lake = storage.Lake.from_settings(settings)
    found: dict[str, list[str]] = {}
    missing: dict[str, tuple[str, str]] = {}
    async with Gateway(settings.llm, lake, run_id) as gateway:
        async def one(row: dict[str, Any]) -> None:
            result = await distractor.AGENT.ask(gateway, settings.llm, row["id"],
                                               **distractor.fields(row["question"], row["whole_label"], count))
            if not result.ok:  # the call failed: its status (invalid_output, budget_exhausted…)
                missing[row["id"]] = (result.call.status, result.call.error or "")
                return
            wrong, reason = distractor.parse(result.value, row["whole_label"], count)
            if reason:
                missing[row["id"]] = (reason, f"{len(wrong)} of {count} usable distractors")
            else:
                found[row["id"]] = wrong

        await asyncio.gather(*(one(r) for r in rows))
        return found, missing, list(gateway.calls)


# -- writing -------------------------------------------------------------------------------

def _parquet_ready(row: dict[str, Any]) -> dict[str, Any]:
    # Maps whose keys differ between rows (agents → model) are JSON text in Parquet.
    return {k: json.dumps(v, sort_keys=True) if isinstance(v, dict) else v for k, v in row.items()}


def _write(out: Path, fmt: str, variant: str, rows: list[dict[str, Any]]) -> list[Path]:
    """One file per split. Both splits' Parquet files share one schema (an empty split too), so
    readers can load them as one dataset."""
    written = []
    table = pa.Table.from_pylist([_parquet_ready(r) for r in rows]) if fmt != "jsonl" else None
    for split in SPLITS:
        mine = [r for r in rows if r["split"] == split]
        if fmt == "jsonl":
            path = out / "jsonl" / variant / f"{split}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in mine))
        else:
            path = (out / "parquet" / variant / f"{split}.parquet" if fmt == "parquet"
                    else out / "hf" / "data" / variant / f"{split}-00000-of-00001.parquet")
            path.parent.mkdir(parents=True, exist_ok=True)
            buf = io.BytesIO()
            pq.write_table(table.filter(pa.compute.equal(table["split"], split)), buf, compression="zstd")
            path.write_bytes(buf.getvalue())
        written.append(path)
    return written


@dataclass
class ExportReport:
    out: str
    selection_id: str | None
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    """variant → split → rows (public files)."""
    left_out: dict[str, dict[str, int]] = field(default_factory=dict)
    """variant → reason → problems without that variant."""
    papers: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    llm: CallTotals | None = None
    release: str | None = None
    previous: str | None = None
    added: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    """Retired since the previous release."""
    unembargoed: list[str] = field(default_factory=list)
    embargoed: list[str] = field(default_factory=list)
    embargoed_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    """variant → split → rows in ``<out>-private/``."""
    retired_items: list[dict[str, Any]] = field(default_factory=list)
    """Every retired item of the release: id, paper_id, released_at, retired_at, retire_reason."""
    embargo_from: str | None = None
    """The first embargoed paper month at this release."""
    checksums: dict[str, str] = field(default_factory=dict)
    lake_copy: str | None = None


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _release_base(plan: lifecycle.Plan, rows: list[dict[str, Any]], reviews: dict[str, list[dict[str, Any]]],
                  key: str, test_fraction: float) -> list[dict[str, Any]]:
    """The derivation rows of a release's active and embargoed items: the previous release's rows
    as written (their split kept), then the new items' rows; each with its state in the release."""
    live = {i for i, item in plan.items.items() if item.status != "retired"}
    added = set(plan.new)
    carried = [dict(plan.carried["derivation"][i]) for i in plan.items if i in live and i not in added]
    new = [r for r in rows if r["candidate_id"] in live and r["candidate_id"] in added]
    splits = split_by_paper(carried + new, test_fraction, plan.fixed_splits)
    base = carried + [derivation_row(r, splits[r["paper_id"]], reviews.get(r["candidate_id"], []), key) for r in new]
    for row in base:
        item = plan.items[row["id"]]
        row |= {"paper_date": _iso(item.paper_date), "status": item.status, "released_at": _iso(item.released_at)}
    return base


def export(settings: Settings, out: str | Path, formats: tuple[str, ...] = FORMATS,
           release: str | None = None, force: bool = False) -> ExportReport:
    """Write the latest selection (or, with ``release``, the versioned release ``YYYY-MM``); see
    the module docstring for the layout. A release that exists is refused unless ``force``, one
    older than the latest always (``tasks.curate.release.ReleaseError``, a ``ValueError``)."""
    unknown = set(formats) - set(FORMATS)
    if unknown or not formats:
        raise ValueError(f"unknown format(s) {sorted(unknown)}; choose from {', '.join(FORMATS)}"
                         if unknown else f"no format given; choose from {', '.join(FORMATS)}")
    if release is not None:
        lifecycle.first_day(release)  # a bad name fails before anything is read
        formats = tuple(dict.fromkeys(("jsonl", *formats)))  # the lake copy's JSONL is what is read back
    out = Path(out)
    lake = storage.Lake.from_settings(settings)
    rows = storage.named_rows(settings, "release_problems")
    if not rows:
        raise LookupError("no selection yet: run `stormborn select` first")
    reviews: dict[str, list[dict[str, Any]]] = {}
    for r in storage.named_rows(settings, "release_reviews"):
        reviews.setdefault(r["candidate_id"], []).append(r)
    key = review.open_db(settings).meta("pseudonym_key")
    selection_id = rows[0]["selection_id"]
    plan = lifecycle.plan(settings, release, rows, force) if release is not None else None
    if plan:
        base = _release_base(plan, rows, reviews, key, settings.export.test_fraction)
        run_id = f"export-{release}"
    else:
        splits = split_by_paper(rows, settings.export.test_fraction)
        base = [derivation_row(r, splits[r["paper_id"]], reviews.get(r["candidate_id"], []), key) for r in rows]
        run_id = f"export-{selection_id}"
    report = ExportReport(out=str(out), selection_id=selection_id)
    out.mkdir(parents=True, exist_ok=True)

    variants: dict[str, list[dict[str, Any]]] = {"derivation": base, "multiple_choice": [],
                                                 "fill_in_blank": []}
    rejects: list[Reject] = []

    def leave_out(variant: str, problem: str, reason: str, detail: str = "") -> None:
        report.left_out.setdefault(variant, Counter())[reason] += 1
        rejects.append(Reject(run_id=run_id, stage=f"export_{variant}", entity_id=problem,
                              reason=reason, detail=detail or None))

    # A released item keeps its choices: only items without a multiple-choice row get distractors.
    choices = {i: dict(r) for i, r in (plan.carried.get("multiple_choice", {}) if plan else {}).items()}
    need = [row for row in base if row["id"] not in choices]
    if need and settings.llm.configured:
        found, missing, calls = asyncio.run(write_distractors(settings, need, run_id))
        report.llm = CallTotals.of(calls)
        lake.write_table(LLMCall, calls, run_id)
        for row in need:
            if row["id"] in found:
                choices[row["id"]] = choice_row(row, found[row["id"]])
            else:
                leave_out("multiple_choice", row["id"], *missing[row["id"]])
    else:
        for row in need:
            leave_out("multiple_choice", row["id"], "no_llm_endpoint", "llm.base_url is not set")
    variants["multiple_choice"] = [choices[row["id"]] for row in base if row["id"] in choices]
    for row in base:
        blanked = blank_step(row["whole_label"] or "")
        if blanked:
            variants["fill_in_blank"].append(blank_row(row, blanked))
        else:
            leave_out("fill_in_blank", row["id"], "no_blankable_step",
                      "the derivation has no displayed or inline equation")

    status = {row["id"]: row.get("status", "active") for row in base}
    written: list[Path] = []
    hidden: list[Path] = []
    private_out = lifecycle.private_folder(out)
    for variant, vrows in variants.items():
        public = [r for r in vrows if status[r["id"]] == "active"]
        private = [r for r in vrows if status[r["id"]] == "embargoed"]
        report.counts[variant] = {s: sum(r["split"] == s for r in public) for s in SPLITS}
        if plan:
            report.embargoed_counts[variant] = {s: sum(r["split"] == s for r in private) for s in SPLITS}
        for folder, mine, files in ((out, public, written), (private_out, private, hidden)):
            if not mine:  # no rows, no columns: the variant is only in the card, with its reasons
                continue
            for fmt in formats:
                files += _write(folder, fmt, variant, mine)
    report.files = [str(p) for p in written]
    report.papers = paper_table([row for row in base if status[row["id"]] == "active"])
    report.left_out = {k: dict(v) for k, v in report.left_out.items()}
    if plan:
        report.release, report.previous = plan.release, plan.previous
        report.added, report.retired, report.unembargoed = plan.new, plan.retired, plan.unembargoed
        report.embargoed = plan.ids("embargoed")
        report.embargo_from = lifecycle.embargo_from(plan.release, settings.export.embargo_months)
        report.retired_items = [
            {"id": i.item_id, "paper_id": i.paper_id, "released_at": _iso(i.released_at),
             "retired_at": _iso(i.retired_at), "retire_reason": i.retire_reason}
            for i in plan.items.values() if i.status == "retired"]
    (out / "README.md").write_text(dataset_card(report, settings))
    written.append(out / "README.md")
    if "hf" in formats:
        (out / "hf" / "README.md").write_text(hf_front_matter(report) + dataset_card(report, settings))
        written.append(out / "hf" / "README.md")
    report.checksums = lifecycle.checksums(out, written)
    manifest: dict[str, Any] = {
        "selection_id": report.selection_id, "counts": report.counts, "left_out": report.left_out,
        "papers": report.papers, "formats": list(formats), "files": sorted(report.checksums),
        "checksums": report.checksums}
    if plan:
        manifest |= {"release": report.release, "previous": report.previous, "added": report.added,
                     "retired": report.retired, "unembargoed": report.unembargoed,
                     "embargoed_counts": report.embargoed_counts,
                     "embargo_months": settings.export.embargo_months, "embargo_from": report.embargo_from,
                     "retired_items": report.retired_items}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    if hidden:
        (private_out / "manifest.json").write_text(json.dumps(
            {"release": report.release, "embargoed": report.embargoed,
             "checksums": lifecycle.checksums(private_out, hidden)}, indent=2))
        hidden.append(private_out / "manifest.json")
    if plan:
        lifecycle.record(settings, plan, out, written, out / "manifest.json", selection_id, hidden)
        report.lake_copy = lifecycle.lake_copy(settings, plan.release)
    lake.write_table(Reject, rejects, run_id, replace_empty=True)
    storage.publish_catalog(settings)
    return report


def paper_table(base: list[dict[str, Any]]) -> list[dict[str, Any]]:
    papers: dict[str, dict[str, Any]] = {}
    for row in base:
        entry = papers.setdefault(row["paper_id"], {
            "paper_id": row["paper_id"], "title": row["paper"], "split": row["split"],
            "license": row["license"], "license_name": row["license_name"],
            "redistribution": row["redistribution"], "problems": 0})
        entry["problems"] += 1
    return sorted(papers.values(), key=lambda p: p["paper_id"])


# -- the dataset card ----------------------------------------------------------------------

_FLAGS = {"not_permitted": "⚠ redistribution not permitted", "no_derivatives": "⚠ no derivatives",
          "unknown": "⚠ licence unknown", "non_commercial": "non-commercial use only", "allowed": ""}


def hf_front_matter(report: ExportReport) -> str:
    lines = ["---", "configs:"]
    for variant in (v for v in VARIANTS if sum(report.counts[v].values())):
        lines += [f"  - config_name: {variant}", *(["    default: true"] if variant == "derivation" else []),
                  "    data_files:"]
        lines += [f"      - split: {s}\n        path: data/{variant}/{s}-*" for s in SPLITS]
    lines += ["task_categories:", "  - question-answering", "language:", "  - en", "---", ""]
    return "\n".join(lines)


def dataset_card(report: ExportReport, settings: Settings) -> str:
    flagged = [p for p in report.papers if p["redistribution"] in ("not_permitted", "no_derivatives", "unknown")]
    lines = [
        "# Derivation problems from research papers",
        "",
        "Each problem asks to derive a result of a recent research paper from stated premises; the",
        "answer (`whole_label`) is the paper's own derivation, retrieved verbatim and checked against",
        "the paper text (with the paper's own macros expanded where that is known exactly; the verbatim",
        "text is `answer_verbatim`). Experts reviewed every problem on five principles (reasoning density, problem",
        "clarity, derivation correctness, problem difficulty, human-like heuristics) and chose this set.",
        "",
        (f"Release `{report.release}`; new items from selection `{report.selection_id}`; papers are split "
         "whole (no paper is in both splits, and a released paper keeps its split)." if report.release else
         f"Selection `{report.selection_id}`; papers are split whole (no paper is in both splits)."),
        "",
        *release_section(report),
        "## Counts",
        "",
        "| variant | train | test |",
        "|---|---:|---:|",
        *[f"| {v} | {c['train']} | {c['test']} |" for v, c in report.counts.items()],
        "",
    ]
    if report.left_out:
        lines += ["Left out of a variant (problem count by reason):", ""]
        lines += [f"- {v}: " + ", ".join(f"`{r}` {n}" for r, n in sorted(rs.items()))
                  for v, rs in report.left_out.items()]
        lines += [""]
    lines += [
        "## Fields (derivation)",
        "",
        "`paper` (title), `question`, `whole_label` as in STORM-BORN's release; lineage: `paper_id`,",
        "`arxiv_id`, `license`, `target_expr` and `precondition_exprs` (expression ids in the",
        "platform's catalog), `answer_verbatim`, `answer_evidence`, `question_evidence`, `answer_span` in",
        "`answer_source`, `grounded_score`, `prompt_versions` and `models` per agent, and",
        "`expert_reviews` (pseudonymous reviewers' five scores and decision); `paper_date` (the paper's",
        "first version, for analyses by date) and `target` (the target formula's LaTeX, when known).",
        *(["In a release, `status` (`active`) and `released_at` (the first release the item was in)."]
          if report.release else []),
        "`multiple_choice` rows have `choices` and `answer_index`; `fill_in_blank` rows have",
        f"`derivation_with_blank` (one step replaced by `{BLANK}`) and `blank`.",
        "",
        f"## Sources and licences ({len(report.papers)} papers)",
        "",
        "| paper | title | split | problems | licence | note |",
        "|---|---|---|---:|---|---|",
        *[f"| {p['paper_id']} | {p['title'].replace('|', '/')} | {p['split']} | {p['problems']} | "
          f"{p['license_name']} | {_FLAGS[p['redistribution']]} |" for p in report.papers],
        "",
    ]
    if flagged:
        lines += [f"**{len(flagged)} paper(s) are flagged**: their licence does not allow (or does not",
                  "state that it allows) redistributing excerpts. Remove their problems or obtain",
                  "permission before publishing this release.", ""]
    return "\n".join(lines)


def release_section(report: ExportReport) -> list[str]:
    """The card's account of a release: what changed since the previous one, retirement, embargo."""
    if not report.release:
        return []
    active = sum(report.counts["derivation"].values())
    since = f"since `{report.previous}`" if report.previous else "(first release)"
    lines = [
        f"## Release {report.release}",
        "",
        f"Previous release: `{report.previous}`." if report.previous else "This is the first release.",
        "Items keep their id for life. An item found faulty is retired, never deleted or renumbered:",
        "retired items are not in the data files and are listed in `manifest.json` (`retired_items`,",
        "with `retired_at` and `retire_reason`). `manifest.json` has the sha256 of every file.",
        "",
        f"- active items in this release: {active}",
        f"- added {since}: {len(report.added)}",
        f"- retired {since}: {len(report.retired)}"
        + (" (" + ", ".join(f"`{i}`" for i in report.retired) + ")" if report.retired else ""),
        f"- retired in all: {len(report.retired_items)}",
    ]
    if report.unembargoed:
        lines.append(f"- public now that their embargo has ended: {len(report.unembargoed)}")
    if report.embargo_from or report.embargoed:
        lines.append(f"- embargoed (not in these files): {len(report.embargoed)}")
    lines.append("")
    if report.embargo_from:
        lines += [f"**Embargo**: items whose paper first appeared in {report.embargo_from} or later are kept",
                  "private (not part of the public release: they are published elsewhere) and become public in",
                  "the first later release whose embargo window no longer covers their paper's month.", ""]
    return lines

"""Proof links and dependency edges against a hand-labelled gold list (issue #13).

    .venv/bin/python -m benchmarks.bench_links [--misses]

The gold lists are ``benchmarks/labels/<paper>.json``: every theorem-like statement of the
compiled body with its proof's place and the labels its statement and proof cite, and the
running-text displays derived from cited labels. How they were labelled is written in
``benchmarks/labels/README.md``. Each paper is read by the real project reader and extractor
and scored:

- statements: an extracted statement matches a gold one in the same file whose body starts
  on the gold ``\\begin`` line or up to 3 lines below it;
- proof links (``proof_expr``): right when the extracted proof starts within 3 lines of the gold
  proof's first line, or after only comments and blank lines below the gold heading (a heading
  and the ``\\begin{proof}`` under it are one proof; a whole section that merely contains the
  proof is not);
- statement edges: (statement, cited label) from edges whose source is the statement, its
  proof, or a formula inside either (the extractor files a ``\\ref`` inside a display under
  the display; a statement depends on what its displays cite);
- derivation edges: (display, cited label) for ``via = introduction`` edges of displays outside
  statements and proofs, against the gold ``derivations``.

Precision and recall are micro-averaged over the papers, for all of them and for those labelled
after the extractor was tuned (``"held_out": true``: the honest figure); ``--misses`` lists
every miss and false hit, to read against the source.

PDFs (``benchmarks/labels/pdf/<paper>.json``, real PDFs of ``../shared/corpus/pdf``) are read by
the PDF extractor and scored by name within the gold's ``covered_pages``: statements as
``Lemma 3``, proof links as (statement, page where its proof starts), statement edges as
(statement, ``Lemma 2`` or ``(4)``) from the statement and its proof, derivation edges as
(display number, cited number) for ``via = introduction``.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from benchmarks.common import CORPUS

LABELS = Path(__file__).with_name("labels")
ROOT = Path(__file__).parents[1]
LINE_SLACK = 3


def extract(gold: dict):
    from tasks.documents.eprint import read_tex_dir
    from tasks.extract.parse.latex import extract_latex
    from tasks.extract.parse.project import flatten

    root = ROOT / gold["root"] if gold["root"].startswith("tests/") else CORPUS / gold["root"]
    flat = flatten(read_tex_dir(root), 2_000_000)
    return flat, extract_latex(flat, f"gold:{gold['paper']}", "bench")


def line_of(flat, file: str | None, offset: int | None) -> int | None:
    if file is None or offset is None or file not in flat.files:
        return None
    return flat.files[file][:offset].count("\n") + 1


class Score:
    def __init__(self):
        self.tp = self.fp = self.fn = 0
        self.misses: list[str] = []

    def add(self, found: set, gold: set, what: str) -> None:
        self.tp += len(found & gold)
        self.fp += len(found - gold)
        self.fn += len(gold - found)
        self.misses += [f"{what} false: {x}" for x in sorted(map(str, found - gold))]
        self.misses += [f"{what} missed: {x}" for x in sorted(map(str, gold - found))]

    def precision(self) -> float:
        return self.tp / max(1, self.tp + self.fp)

    def recall(self) -> float:
        return self.tp / max(1, self.tp + self.fn)

    def __str__(self) -> str:
        if not self.tp + self.fp + self.fn:
            return "- (none labelled, none found)"
        return f"P {self.precision():.2f} R {self.recall():.2f} ({self.tp} right, {self.fp} false, {self.fn} missed)"


def score_paper(gold: dict) -> dict[str, Score]:
    flat, out = extract(gold)
    by_id = {e.expr_id: e for e in out.expressions}

    def place(expr, end: bool = False) -> tuple[str | None, int | None]:
        return expr.source_file, line_of(flat, expr.source_file, expr.char_end if end else expr.char_start)

    def covered(expr) -> bool:
        """A gold list may cover part of a long paper (``covered``: file and line ranges)."""
        if "covered" not in gold:
            return True
        file, line = place(expr)
        return any(c["file"] == file and line is not None and c["from_line"] <= line <= c["to_line"]
                   for c in gold["covered"])

    statements = [e for e in out.expressions if e.kind == "statement" and covered(e)]
    gold_of: dict[str, int] = {}  # extracted statement id → gold statement index
    for index, g in enumerate(gold["statements"]):
        for s in statements:
            file, line = place(s)
            if s.expr_id not in gold_of and file == g["file"] and line is not None \
                    and g["line"] <= line <= g["line"] + LINE_SLACK:
                gold_of[s.expr_id] = index
                break
    names = {s.expr_id: (f"#{gold_of[s.expr_id]} {gold['statements'][gold_of[s.expr_id]]['label']}"
                         if s.expr_id in gold_of else f"{s.title} at {':'.join(map(str, place(s)))}")
             for s in statements}
    scores = {k: Score() for k in ("statements", "proof_links", "statement_edges", "derivation_edges")}
    scores["statements"].add({names[s.expr_id] for s in statements},
                             {f"#{i} {g['label']}" for i, g in enumerate(gold["statements"])}, "statement")

    def proof_covers(s, g) -> bool:
        proof = by_id.get(s.proof_expr)
        if proof is None or proof.source_file != g["proof"]["file"]:
            return False
        first = line_of(flat, proof.source_file, proof.char_start)
        if first is None:
            return False
        if abs(first - g["proof"]["line"]) <= LINE_SLACK:  # the proof starts where the gold one does
            return True
        # a heading, then only comments and blank lines before the proof's first words
        between = flat.files[proof.source_file].splitlines()[g["proof"]["line"]:first - 1]
        return g["proof"]["line"] < first and all(not x.strip() or x.lstrip().startswith("%") for x in between)

    found_links = {names[s.expr_id] + (" (wrong proof)" if s.expr_id not in gold_of
                                        or not gold["statements"][gold_of[s.expr_id]]["proof"]
                                        or not proof_covers(s, gold["statements"][gold_of[s.expr_id]]) else "")
                   for s in statements if s.proof_expr}
    gold_links = {f"#{i} {g['label']}" for i, g in enumerate(gold["statements"]) if g["proof"]}
    scores["proof_links"].add(found_links, gold_links, "proof link")

    def statement_of(expr):
        """The statement an expression belongs to: itself, its proof's statement, a formula's holder."""
        seen = 0
        while expr is not None and seen < 20:
            if expr.kind == "statement":
                return expr
            if expr.kind == "proof":
                return by_id.get(expr.parent_expr)
            expr, seen = by_id.get(expr.parent_expr), seen + 1
        return None

    found_edges, found_derivations = set(), set()
    for edge in out.edges:
        source = by_id[edge.from_expr]
        holder = statement_of(source)
        if holder is not None:
            if holder.expr_id in names:
                found_edges.add((names[holder.expr_id], edge.label))
        elif edge.via == "introduction" and source.kind == "equation" and covered(source):
            found_derivations.add((":".join(map(str, place(source))), edge.label))
    gold_edges = {(f"#{i} {g['label']}", label) for i, g in enumerate(gold["statements"]) for label in g["cites"]}
    scores["statement_edges"].add(found_edges, gold_edges, "statement edge")

    # a derivation's display: the extracted formula whose body starts on its line or just below
    formulas = [e for e in out.expressions if e.kind == "equation" and statement_of(e) is None and covered(e)]
    gold_derivations = set()
    for d in gold["derivations"]:
        match = next((f for f in formulas if f.source_file == d["file"]
                      and d["line"] <= (place(f)[1] or 0) <= d["line"] + LINE_SLACK), None)
        key = ":".join(map(str, place(match))) if match else f"{d['file']}:{d['line']}"
        gold_derivations |= {(key, label) for label in d["cites"]}
    scores["derivation_edges"].add(found_derivations, gold_derivations, "derivation edge")
    return scores


def _reference(label: str) -> str:
    """``lemma 2`` → ``Lemma 2``; ``(4)`` stays."""
    kind, _, number = label.strip().partition(" ")
    return label.strip() if label.strip().startswith("(") else f"{kind.capitalize()} {number.strip()}"


def score_pdf(gold: dict) -> dict[str, Score]:
    """One PDF against its gold list, by statement names and equation numbers."""
    from tasks.extract.parse.pdf import extract_pdf

    out, _ = extract_pdf((CORPUS / gold["pdf"]).read_bytes(), f"gold:{gold['paper']}", "bench")
    first, last = gold["covered_pages"]
    by_id = {e.expr_id: e for e in out.expressions}
    statements = [e for e in out.expressions if e.kind == "statement" and e.page and first <= e.page <= last]
    name = {s.expr_id: f"{s.env.capitalize()} {s.number}" for s in statements}
    gold_names = {f"{g['kind']} {g['number']}" for g in gold["statements"]}
    scores: dict[str, Score] = defaultdict(Score)
    scores["statements"].add(set(name.values()), gold_names, "statement")
    scores["proof_links"].add({(name[s.expr_id], by_id[s.proof_expr].page) for s in statements if s.proof_expr},
                              {(f"{g['kind']} {g['number']}", g["proof_page"]) for g in gold["statements"]
                               if g["proof_page"]}, "proof link")
    found_edges, found_derivations = set(), set()
    for edge in out.edges:
        source = by_id[edge.from_expr]
        if edge.via in ("statement", "proof") and source.expr_id in name:
            found_edges.add((name[source.expr_id], _reference(edge.label)))
        elif edge.via == "introduction" and source.page and first <= source.page <= last:
            found_derivations.add((f"({source.number})" if source.number else f"unnumbered p{source.page}",
                                   _reference(edge.label)))
    scores["statement_edges"].add(found_edges, {(f"{g['kind']} {g['number']}", _reference(c))
                                                for g in gold["statements"] for c in g["cites"]}, "statement edge")
    scores["derivation_edges"].add(found_derivations, {
        (d["display"] if d["display"].startswith("(") else f"unnumbered p{d['page']}", _reference(c))
        for d in gold["derivations"] for c in d["cites"]}, "derivation edge")
    return scores


COLUMNS = ("statements", "proof_links", "statement_edges", "derivation_edges")


def _table(paths: list[Path], score, misses: bool) -> None:
    totals: dict[str, dict[str, Score]] = defaultdict(lambda: defaultdict(Score))
    print("| paper | statements | proof links | statement edges | derivation edges |")
    print("|---|---|---|---|---|")
    for path in paths:
        gold = json.loads(path.read_text())
        scores = score(gold)
        held_out = " (held out)" if gold.get("held_out") else ""
        print(f"| {gold['paper']}{held_out} | " + " | ".join(str(scores[k]) for k in COLUMNS) + " |")
        for group in ("all", "held out") if held_out else ("all",):
            for key, one in scores.items():
                total = totals[group][key]
                total.tp, total.fp, total.fn = total.tp + one.tp, total.fp + one.fp, total.fn + one.fn
        if misses:
            for one in scores.values():
                print("\n".join(f"    {gold['paper']}: {m}" for m in one.misses))
    for group, total in totals.items():
        print(f"| **{group}** | " + " | ".join(str(total[k]) for k in COLUMNS) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--misses", action="store_true", help="list every miss and false hit")
    args = parser.parse_args()
    print("LaTeX projects:\n")
    _table(sorted(LABELS.glob("*.json")), score_paper, args.misses)
    pdfs = sorted((LABELS / "pdf").glob("*.json"))
    if pdfs:
        print("\nPDFs (text references by number):\n")
        _table(pdfs, score_pdf, args.misses)


if __name__ == "__main__":
    main()

"""Expressions stage: throughput, label recall on the corpus LaTeX, PDF-fallback coverage.

    .venv/bin/python -m benchmarks.bench_extract

1. Throughput: every LaTeX source of ../shared/corpus/tex and every PDF of ../shared/corpus/pdf
   through the extractors (one process), expressions per second.
2. Recall: an independent count of the ``\\label``s that stand inside display-math and
   theorem-like environments of each flattened source (a plain scan of ``\\begin…\\end`` blocks),
   against the labels the extractor attached to expressions.
3. PDF coverage: each LaTeX source that ``pdflatex`` can compile here (the corpus paper
   1707.08043 and the test suite's generated paper) is compiled, and the PDF fallback runs on the
   result: the share of the LaTeX display formulas it finds (numbered: same number; unnumbered:
   rapidfuzz partial ratio ≥ 70 of the rendered text on the same page). Needs ``pdflatex``
   (``apt-get install texlive-latex-base texlive-latex-recommended texlive-fonts-recommended``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from rapidfuzz import fuzz

from benchmarks.common import CORPUS
from tasks.documents.eprint import TexFiles, read_tex_dir, read_tex_files
from tasks.extract.parse.latex import DISPLAY_ENVS, extract_latex
from tasks.extract.parse.pdf import extract_pdf, map_to_pdf
from tasks.extract.parse.project import flatten

_BEGIN = re.compile(r"\\begin\{([A-Za-z*]+)\}")


def latex_sources() -> dict[str, TexFiles]:
    out = {}
    for path in sorted((CORPUS / "tex").iterdir()):
        for item in ([path] if any(path.glob("*.tex")) else sorted(path.glob("*.gz"))):
            out[item.name] = read_tex_dir(item) if item.is_dir() else read_tex_files(item.read_bytes())
    return out


def labels_by_scan(text: str) -> set[str]:
    """Labels inside display or theorem-like blocks, by a scan independent of the extractor."""
    theorem_names = set(re.findall(r"\\newtheorem\*?\{([^}]+)\}", text)) | {
        "theorem", "lemma", "proposition", "corollary", "definition", "assumption"}
    found = set()
    for match in _BEGIN.finditer(text):
        name = match.group(1)
        if name in DISPLAY_ENVS or name in theorem_names:
            end = text.find(f"\\end{{{name}}}", match.end())
            block = text[match.end():end if end >= 0 else len(text)]
            found.update(label.strip() for label in re.findall(r"\\label\{([^}]+)\}", block))
    found.update(re.findall(r"\\\[(?:(?!\\\]).)*?\\label\{([^}]+)\}", text, re.DOTALL))
    return found


def compile_pdf(files: dict[str, str], main: str) -> bytes | None:
    if not shutil.which("pdflatex"):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in files.items():
            (Path(tmp) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / name).write_text(text, encoding="latin-1", errors="replace")
        for _ in range(2):  # twice, so references resolve
            subprocess.run(["pdflatex", "-interaction=nonstopmode", main], cwd=tmp,
                           capture_output=True, timeout=120)
        pdf = Path(tmp) / main.replace(".tex", ".pdf")
        return pdf.read_bytes() if pdf.exists() else None


def main() -> None:
    sources = latex_sources()
    started, n_latex, results = time.perf_counter(), 0, {}
    for name, tex in sources.items():
        flat = flatten(tex, 5_000_000)
        results[name] = (flat, extract_latex(flat, name))
        n_latex += len(results[name][1].expressions)
    latex_s = time.perf_counter() - started
    started, n_pdf, pdfs = time.perf_counter(), 0, sorted((CORPUS / "pdf").glob("*.pdf"))
    for path in pdfs:
        n_pdf += len(extract_pdf(path.read_bytes(), path.name)[0].expressions)
    pdf_s = time.perf_counter() - started
    print("## throughput (one process)")
    print(f"latex: {len(sources)} sources, {n_latex} expressions in {latex_s:.2f} s = {n_latex / latex_s:.1f} expr/s")
    print(f"pdf:   {len(pdfs)} PDFs, {n_pdf} expressions in {pdf_s:.2f} s = {n_pdf / pdf_s:.1f} expr/s")

    print("\n## label recall (independent scan vs extractor)")
    total = hit = 0
    for name, (flat, out) in results.items():
        truth = labels_by_scan(flat.text)
        got = {e.label for e in out.expressions if e.label}
        total, hit = total + len(truth), hit + len(truth & got)
        print(f"{name}: {len(truth & got)}/{len(truth)} missing={sorted(truth - got)}")
    print(f"recall = {hit}/{total} = {hit / max(total, 1):.3f}")

    print("\n## PDF fallback coverage of LaTeX display formulas (compiled here with pdflatex)")
    from tests.tasks.extract.parse.test_latex import BODY, PREAMBLE

    pairs = {"engrafo_arxiv1707.08043_cc-by": (sources["engrafo_arxiv1707.08043_cc-by"].files, "main.tex"),
             "generated (tests.tasks.extract.parse.test_latex.py)": ({"main.tex": PREAMBLE + BODY}, "main.tex")}
    for name, (files, main_file) in pairs.items():
        pdf = compile_pdf(files, main_file)
        if pdf is None:
            print(f"{name}: skipped (pdflatex missing or compile failed)")
            continue
        out = extract_latex(flatten(TexFiles(dict(files)), 5_000_000), name)
        fallback, pages = extract_pdf(pdf, name)
        mapped = map_to_pdf(out, fallback, pages)
        formulas = [e for e in out.expressions if e.kind == "equation"]
        found = 0
        for formula in formulas:
            if formula.number:
                found += any(p.number == formula.number for p in fallback.expressions)
            else:
                found += any(fuzz.partial_ratio(formula.text, p.text) >= 70 for p in fallback.expressions)
        print(f"{name}: {found}/{len(formulas)} LaTeX display formulas found by the PDF fallback "
              f"({found / max(len(formulas), 1):.2f}); numbered {sum(bool(f.number) for f in formulas)}; "
              f"LaTeX rows placed on a PDF page: {mapped}/{len(out.expressions)}")


if __name__ == "__main__":
    main()

"""Generated test inputs: PDFs (good and broken), LaTeX projects, tarballs, OpenReview notes."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pymupdf

DERIVATION_TEXT = (
    "We derive the update rule. Substituting the definition of the loss and rearranging, "
    "we obtain the gradient. It follows that the estimator is unbiased. By Lemma 1 and "
    "Theorem 2, the proof is complete. A Taylor expansion yields the approximation."
)
PLAIN_TEXT = "This report describes a survey of user interviews and a list of product features. " * 3


def pdf_bytes(pages: list[str], encrypt_user_password: str | None = None) -> bytes:
    doc = pymupdf.open()
    for text in pages:
        page = doc.new_page()
        page.insert_textbox(pymupdf.Rect(50, 50, 550, 800), text, fontsize=10)
    kwargs = {}
    if encrypt_user_password:
        kwargs = dict(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=encrypt_user_password,
                      owner_pw=encrypt_user_password + "-owner")
    data = doc.tobytes(**kwargs)
    doc.close()
    return data


def paper_pdf(text: str = DERIVATION_TEXT, pages: int = 2) -> bytes:
    return pdf_bytes([f"Page {i + 1}. " + (text + " ") * 6 for i in range(pages)])


def image_only_pdf() -> bytes:
    doc = pymupdf.open()
    page = doc.new_page()
    pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 64, 64), False)
    pix.set_rect(pix.irect, (200, 200, 200))
    page.insert_image(pymupdf.Rect(50, 50, 300, 300), pixmap=pix)
    data = doc.tobytes()
    doc.close()
    return data


def tex_project(body: str = DERIVATION_TEXT) -> dict[str, str]:
    return {
        "main.tex": "\\documentclass{article}\n\\begin{document}\n\\input{sections/method}\n"
                    "% a comment that says derive derive derive derive derive\n\\end{document}\n",
        "sections/method.tex": f"\\section{{Method}}\n{body}\n\\begin{{equation}}a=b\\end{{equation}}\n",
    }


def tarball(files: dict[str, str | bytes], compress: bool = True) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0) if compress else raw


def v2_note(venue: str, number: int, title: str, ratings: list, authors: list[str] | None = None,
            arxiv_id: str | None = None, license: str | None = "CC BY 4.0",
            decision: str | None = None) -> dict:
    content = {"title": {"value": title}, "pdf": {"value": f"/pdf/{number}.pdf"}}
    if authors is not None:
        content["authors"] = {"value": authors}
    if arxiv_id:
        content["html"] = {"value": f"https://arxiv.org/abs/{arxiv_id}"}
    replies = [{"id": f"r{number}-{i}", "invitations": [f"{venue}/Submission{number}/-/Official_Review"],
                "content": {"rating": {"value": r}, "confidence": {"value": 4}}}
               for i, r in enumerate(ratings)]
    if decision:
        replies.append({"id": f"d{number}", "invitations": [f"{venue}/Submission{number}/-/Decision"],
                        "content": {"decision": {"value": decision}}})
    note = {"id": f"f{number}", "forum": f"f{number}", "invitations": [f"{venue}/-/Submission"],
            "content": content, "details": {"replies": replies}}
    if license:
        note["license"] = license
    return note


def atom_feed(entries: list[dict], total: int | None = None, start: int = 0,
              pdf_base: str = "https://arxiv.org/pdf/") -> str:
    """An export-API answer in the current format (same shape as the recorded fixtures)."""
    items = []
    for e in entries:
        authors = "".join(f"<author><name>{a}</name></author>" for a in e.get("authors", ["A. Author"]))
        cats = "".join(f'<category term="{c}" scheme="http://arxiv.org/schemas/atom"/>'
                       for c in e.get("categories", ["cs.LG"]))
        items.append(
            f"<entry><id>http://arxiv.org/abs/{e['id']}v1</id><title>{e['title']}</title>"
            f"<updated>{e['published']}</updated><published>{e['published']}</published>"
            f"<summary>{e.get('summary', 'An abstract.')}</summary>{authors}{cats}"
            f'<link href="{pdf_base}{e["id"]}v1" rel="related" type="application/pdf" title="pdf"/>'
            f'<arxiv:primary_category term="{e.get("categories", ["cs.LG"])[0]}"/></entry>')
    return (
        "<?xml version='1.0' encoding='UTF-8'?>"
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">'
        "<id>https://arxiv.org/api/test</id><title>test</title><updated>2024-06-01T00:00:00Z</updated>"
        f"<opensearch:itemsPerPage>{len(entries)}</opensearch:itemsPerPage>"
        f"<opensearch:totalResults>{len(entries) if total is None else total}</opensearch:totalResults>"
        f"<opensearch:startIndex>{start}</opensearch:startIndex>{''.join(items)}</feed>")


def oai_record(arxiv_id: str, license: str | None) -> str:
    """An OAI-PMH GetRecord answer (metadataPrefix=arXiv) in arXiv's documented shape."""
    licence = f"<license>{license}</license>" if license else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        "<responseDate>2024-06-01T00:00:00Z</responseDate>"
        f'<request verb="GetRecord" identifier="oai:arXiv.org:{arxiv_id}" metadataPrefix="arXiv">'
        "https://oaipmh.arxiv.org/oai</request><GetRecord><record><header>"
        f"<identifier>oai:arXiv.org:{arxiv_id}</identifier><datestamp>2024-05-03</datestamp>"
        "<setSpec>cs</setSpec></header><metadata>"
        '<arXiv xmlns="http://arxiv.org/OAI/arXiv/">'
        f"<id>{arxiv_id}</id><created>2024-05-02</created><title>T</title>"
        f"<categories>cs.LG</categories>{licence}<abstract>A.</abstract></arXiv>"
        "</metadata></record></GetRecord></OAI-PMH>")


def oai_error(code: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
            f'<responseDate>2024-06-01T00:00:00Z</responseDate><request>x</request>'
            f'<error code="{code}">explanation</error></OAI-PMH>')


BROKEN_LATEX = r"Derive \[ \frac{a}{ b \] from the bound $x \le $ and conclude."
LICENSES = ("http://creativecommons.org/licenses/by/4.0/",
            "http://arxiv.org/licenses/nonexclusive-distrib/1.0/",
            "http://creativecommons.org/licenses/by-nc-sa/4.0/",
            "CC BY-ND 4.0")


def derivation(paper: int, n: int) -> str:
    return (f"Start from the premise \\[ L_{{{n}}}(\\theta) = \\sum_i \\ell_i(\\theta) + {paper} \\]. "
            f"Differentiating term by term, \\[ \\nabla L_{{{n}}} = \\sum_i \\nabla \\ell_i \\]. "
            f"By convexity \\[ \\nabla L_{{{n}}} \\le {n + 1} G \\], which is the claim.")


def candidate_catalog(settings, papers: int = 3, per_paper: int = 4, broken: bool = True,
                      answers: dict[str, str] | None = None, drafted: frozenset[str] = frozenset(),
                      questions: dict[str, str] | None = None, run_id: str = "") -> list[str]:
    """A lake with finished candidates (papers, expressions, a PDF each) and a published catalog.

    Returns the candidate ids. The first candidate's question has broken LaTeX when ``broken``;
    ``answers`` and ``questions`` replace the derivation and question of some candidates (by id); ``drafted`` ids are
    rules-drafted (status ``drafted``, no verdict); ``run_id`` is every candidate's run.
    """
    from tasks.core.records import Candidate, Document, Expression, Paper
    from tasks.io import storage

    lake = storage.Lake.from_settings(settings)
    ids = []
    for p in range(papers):
        paper_id = f"arxiv:2611.{p:05d}"
        lake.write_table(Paper, [Paper(
            paper_id=paper_id, source="arxiv", title=f"Paper {p}: convex learning, part {p}",
            arxiv_id=f"2611.{p:05d}", primary_category=("cs.LG", "stat.ML")[p % 2],
            license=LICENSES[p % len(LICENSES)])], paper_id)
        sha, uri = lake.put_blob(paper_pdf(pages=2))
        lake.write_table(Document, [Document(paper_id=paper_id, kind="pdf", uri=uri, sha256=sha, pages=2,
                                             parse_status="ok")], paper_id)
        exprs, cands = [], []
        for n in range(per_paper):
            expr_id = f"e{p}x{n}"
            exprs.append(Expression(expr_id=expr_id, paper_id=paper_id, extractor="latex", kind="equation",
                                    env="equation", latex=f"\\nabla L_{n} \\le {n + 1} G", number=str(n + 1),
                                    page=1 + n % 2, bbox=[60.0, 80.0, 300.0, 120.0],
                                    context_before="We assume each loss is convex and G-Lipschitz. ",
                                    context_after=" This bound is used throughout."))
            question = (BROKEN_LATEX if broken and p == 0 and n == 0 else
                        f"Let $L_{n}(\\theta) = \\sum_i \\ell_i(\\theta) + {p}$ with each $\\ell_i$ convex "
                        f"and G-Lipschitz. Derive a bound on $\\nabla L_{n}$.")
            cid = f"c{p}x{n}"
            question = (questions or {}).get(cid, question)
            cands.append(Candidate(
                candidate_id=cid, paper_id=paper_id, target_expr=expr_id, target_number=str(n + 1),
                target_latex=f"\\nabla L_{n} \\le {n + 1} G", query="Derive the bound.", question=question,
                answer=(answers or {}).get(f"c{p}x{n}", derivation(p, n)), answer_evidence=f"Proof of Lemma {n + 1}",
                question_evidence=["We assume each loss is convex and G-Lipschitz."],
                verdict="derive", verdict_confidence=0.9, grounded_score=97.0, answer_span=[10, 200],
                answer_source="main.tex", stage_reached="answer_filter", status="done",
                prompt_versions={"answer_filter": "v1abc"}, models={"answer_filter": "scripted"}, run_id=run_id))
            if cid in drafted:
                cands[-1] = cands[-1].model_copy(update={"status": "drafted", "drafted_by": "rules", "verdict": None,
                                                         "stage_reached": "question_refiner"})
            ids.append(cid)
        lake.write_table(Expression, exprs, paper_id)
        lake.write_table(Candidate, cands, paper_id)
    storage.publish_catalog(settings)
    return ids


DISTINCT_PROBLEMS = [  # nine unrelated derivations (question, answer): no two near duplicates
    (r"For gradient descent with step $\eta \le 1/L$ on an $L$-smooth convex $f$, derive the rate "
     r"$f(x_T) - f^* \le \|x_0 - x^*\|^2 / (2 \eta T)$.",
     r"Smoothness gives the descent lemma $f(x_{t+1}) \le f(x_t) - \frac{\eta}{2}\|\nabla f(x_t)\|^2$; "
     r"convexity bounds the gap by the distance to the optimum; summing the telescoping terms over $T$ steps "
     r"gives the rate."),
    (r"Derive the evidence lower bound $\log p(x) \ge \mathbb{E}_q[\log p(x,z)] - \mathbb{E}_q[\log q(z)]$.",
     r"Write $\log p(x) = \log \int q(z) \frac{p(x,z)}{q(z)} dz$ and apply Jensen's inequality to the "
     r"concave logarithm; the expectation under $q$ of the log ratio is the bound."),
    (r"Show that the importance sampling estimator $\hat\mu = \frac1n \sum_i w(x_i) f(x_i)$ with "
     r"$w = p/q$ is unbiased.",
     r"Each term has expectation $\mathbb{E}_q[w f] = \int q \frac{p}{q} f = \mathbb{E}_p[f]$, and the mean "
     r"of $n$ such terms keeps it by linearity of expectation."),
    (r"Bound the spectral norm of an $n \times n$ matrix with independent standard Gaussian entries: "
     r"$\mathbb{E}\|G\| \le 2\sqrt{n}$.",
     r"Slepian's comparison between the Gaussian processes $\langle Gu, v\rangle$ and "
     r"$\langle g, u\rangle + \langle h, v\rangle$ over unit spheres bounds the supremum by the two "
     r"norms, each of expectation at most $\sqrt{n}$."),
    (r"Prove that the Bellman optimality operator $T$ is a $\gamma$-contraction in the sup norm.",
     r"For two value functions, the difference of maxima is at most the maximum difference: "
     r"$|TV(s) - TW(s)| \le \gamma \max_{s'} |V(s') - W(s')|$, since rewards cancel and the transition "
     r"probabilities sum to one."),
    (r"Derive the variance of the score-function gradient estimator $\hat g = f(x) \nabla \log p_\theta(x)$.",
     r"The variance is $\mathbb{E}[f^2 \|\nabla \log p\|^2] - \|\nabla \mathbb{E} f\|^2$, and a "
     r"baseline $b$ subtracted from $f$ leaves the mean unchanged while reducing the second moment."),
    (r"Derive the regret of online mirror descent with a strongly convex regulariser $R$: "
     r"$\mathrm{Reg}_T \le \frac{R(u)}{\eta} + \frac{\eta}{2} \sum_t \|g_t\|_*^2$.",
     r"The three-point identity of Bregman divergences telescopes the linearised losses; strong convexity "
     r"of the regulariser controls each step by the dual norm of the gradient."),
    (r"Show that the Langevin diffusion $dX = -\nabla U(X) dt + \sqrt{2} dB$ has stationary density "
     r"proportional to $e^{-U}$.",
     r"The Fokker-Planck equation reads $\partial_t \rho = \nabla \cdot (\rho \nabla U) + \Delta \rho$; "
     r"substituting $\rho \propto e^{-U}$ makes the flux vanish, so the density is stationary."),
    (r"Derive the closed form of ridge regression $\hat\beta = (X^\top X + \lambda I)^{-1} X^\top y$.",
     r"Setting the gradient of $\|y - X\beta\|^2 + \lambda \|\beta\|^2$ to zero gives the normal "
     r"equations $(X^\top X + \lambda I)\beta = X^\top y$, and the matrix is invertible for $\lambda > 0$."),
]


def keep_everything(settings, ids: list[str], reviewers: tuple[str, ...] = ("ana", "ben")) -> None:
    """Two reviewers (accounts made here) review and keep every candidate of ``ids``; scores vary
    with the position (3, 4, 5, 3, …) so selection has an order."""
    from tasks.core.records import PRINCIPLES
    from tasks.curate import review

    db = review.open_db(settings)
    people = [review.Reviewer(name, "reviewer") for name in reviewers]
    for person in people:
        review.add_reviewer(db, person.name)
    review.load_items(settings, db)
    review.assign(db, len(people))
    for i, cid in enumerate(ids):
        for person in people:
            review.submit(db, person, cid, review.ReviewForm(**{k: 3 + i % 3 for k in PRINCIPLES}, decision="keep",
                                                             submission_id=f"s-{cid}-{person.name}"))


def dashboard_catalog(settings, reviews: bool = True) -> list[str]:
    """``candidate_catalog`` (3 papers × 4 candidates of run ``run-2024-06``) plus what the analyst
    dashboard shows, with known numbers: two runs (May: completed; June: stopped by the budget),
    rejects, LLM calls, validations and quarantined rows, a dropped candidate, a dependency edge,
    and (``reviews``) a ranked review queue, two reviewers' reviews and a selection."""
    from datetime import UTC, date, datetime

    from tasks.core.records import (
        Candidate,
        ExpertReview,
        ExpressionEdge,
        LLMCall,
        Quarantine,
        QueueEntry,
        Reject,
        ReviewAssignment,
        Run,
        Selection,
        Validation,
    )
    from tasks.io import storage

    lake = storage.Lake.from_settings(settings)
    may, june = datetime(2024, 6, 2, 3, tzinfo=UTC), datetime(2024, 7, 1, 3, tzinfo=UTC)
    lake.write_table(Run, [
        Run(run_id="run-2024-05", flow="monthly-harvest", source="snapshot", since=date(2024, 5, 1),
            until=date(2024, 5, 31), lake=lake.url, status="completed", started_at=may, finished_at=may,
            listed=120, matched=80, rating_pass=40, documents_fetched=38, keyword_pass=30, papers_extracted=25,
            candidates=10, candidates_kept=6, candidates_drafted=1, rejected=7, quarantined=2, llm_calls=3,
            cost_usd=0.03),
        Run(run_id="run-2024-06", flow="monthly-harvest", source="snapshot", since=date(2024, 6, 1),
            until=date(2024, 6, 30), lake=lake.url, status="stopped", started_at=june, finished_at=june,
            listed=200, matched=150, rating_pass=90, documents_fetched=88, keyword_pass=70, papers_extracted=60,
            candidates=13, candidates_kept=12, candidates_drafted=0, rejected=5, llm_calls=2, cost_usd=1.0)],
        "runs")
    lake.write_table(Reject, [Reject(run_id="run-2024-05", stage="harvest", entity_id=f"p{i}", reason="below_rating",
                                     at=may) for i in range(4)]
                     + [Reject(run_id="run-2024-05", stage="harvest", entity_id=f"q{i}", reason="few_keywords", at=may)
                        for i in range(3)]
                     + [Reject(run_id="run-2024-06", stage="harvest", entity_id=f"r{i}", reason="below_rating", at=june)
                        for i in range(5)], "rejects")
    calls = [LLMCall(call_id=f"m{i}", run_id="run-2024-05", stage="query_draft", entity_id="arxiv:2611.00001",
                     model="gpt-4o-mini", cache_key=f"k{i}", prompt_tokens=1000, completion_tokens=200,
                     cost_usd=0.01, status="ok", at=may) for i in range(3)]
    calls.append(LLMCall(call_id="m-hit", run_id="run-2024-05", stage="query_draft", entity_id="arxiv:2611.00001",
                         model="gpt-4o-mini", cache_key="k0", cache_hit=True, status="ok", at=may))
    calls += [LLMCall(call_id=f"j{i}", run_id="run-2024-06", stage="answer_filter", entity_id="c1x0", model="gpt-4o",
                      cache_key=f"j{i}", prompt_tokens=20000, completion_tokens=5000, cost_usd=0.5, status="ok", at=june)
              for i in range(2)]
    calls.append(LLMCall(call_id="j-stop", run_id="run-2024-06", stage="answer_filter", entity_id="c1x1",
                         model="gpt-4o", cache_key="j-stop", status="budget_exhausted", at=june))
    lake.write_table(LLMCall, calls, "calls")
    lake.write_table(Validation, [  # the papers' suite ran on two batches of 60; one failed
        Validation(run_id="run-2024-05", stage="papers", suite="papers", expectation="expect_column_values_to_not_be_null",
                   column="title", success=False, element_count=60, unexpected_count=2, validated_at=may, batch="b1"),
        Validation(run_id="run-2024-05", stage="papers", suite="papers", expectation="expect_column_values_to_not_be_null",
                   column="title", success=True, element_count=60, unexpected_count=0, validated_at=june, batch="b2"),
        Validation(run_id="run-2024-05", stage="papers", suite="papers", expectation="expect_column_values_to_be_unique",
                   column="paper_id", success=True, element_count=120, unexpected_count=0, validated_at=may),
        Validation(run_id="run-2024-05", stage="candidates", suite="candidates",
                   expectation="expect_column_values_to_be_in_set", column="status", success=True, element_count=10,
                   unexpected_count=0, validated_at=may)], "validations")
    lake.write_table(Quarantine, [Quarantine(run_id="run-2024-05", stage="papers", entity_id=f"bad{i}",
                                             expectation="expect_column_values_to_not_be_null", column="title",
                                             row_json="{}", at=may) for i in range(2)], "quarantine")
    lake.write_table(Candidate, [Candidate(candidate_id="d0", paper_id="arxiv:2611.00002", target_expr="e2x0",
                                           status="dropped", reason="ungrounded_answer", grounded_score=40.0,
                                           run_id="run-2024-06")], "dropped")
    lake.write_table(ExpressionEdge, [ExpressionEdge(paper_id="arxiv:2611.00001", from_expr="e1x0", to_expr="e1x1",
                                                     via="proof", command="eqref", label="eq:2")], "edges")
    if reviews:
        ids = [f"c{p}x{n}" for p in range(3) for n in range(4)]
        lake.write_table(QueueEntry, [QueueEntry(candidate_id=c, paper_id=f"arxiv:2611.{int(c[1]):05d}", rank=i + 1,
                                                 raw_score=4.0 - i / 10, curated_score=4.0 - i / 10)
                                      for i, c in enumerate(ids)], "queue")
        reviewed = ids[:4]
        lake.write_table(ReviewAssignment, [ReviewAssignment(candidate_id=c, reviewer=r)
                                            for c in reviewed for r in ("ana", "ben")], "assignments")
        scores = {"reasoning_density": 4, "problem_clarity": 4, "derivation_correctness": 4,
                  "problem_difficulty": 3, "human_heuristics": 3}
        rows = [ExpertReview(candidate_id=c, reviewer="ana", decision="keep", **scores) for c in reviewed]
        rows += [ExpertReview(candidate_id=c, reviewer="ben", decision="keep" if i < 2 else "reject",
                              **{**scores, "problem_clarity": 2 if i == 2 else 4})
                 for i, c in enumerate(reviewed[:3])]
        lake.write_table(ExpertReview, rows, "reviews")
        lake.write_table(Selection, [Selection(selection_id="s1", candidate_id=c, paper_id="arxiv:2611.00000",
                                               topic="cs.LG", selected=True, rank=i + 1, reason="selected")
                                     for i, c in enumerate(reviewed[:2])], "selection")
    return candidate_catalog(settings, papers=3, per_paper=4, run_id="run-2024-06")


SNAPSHOT_TEX = ("\\documentclass{article}\\begin{document}\\section{Method}"
                "We derive the bound. Substituting and rearranging, we obtain the rule. It follows that "
                "the estimator is unbiased, by Lemma 1 and Theorem 2; the proof is short.\\end{document}")


def recorded_snapshot(folder: Path, n_papers: int, fetch_latency_s: float = 0.0) -> Path:
    """A recorded snapshot of ``n_papers`` May-2024 papers, all reviewed above weak accept.

    Each paper has a small gzipped LaTeX e-print (parsed and keyword-counted) and a PDF URL that
    the recording answers with 404 (so a benchmark measures orchestration, not PDF parsing; the
    window is 2024-05-01 → 2024-05-31).
    """
    (folder / "arxiv").mkdir(parents=True, exist_ok=True)
    (folder / "openreview").mkdir(exist_ok=True)
    (folder / "documents").mkdir(exist_ok=True)
    entries, notes, documents = [], [], {}
    venue = "Bench.cc/2024/Conference"
    for i in range(n_papers):
        aid = f"2405.{10000 + i}"
        day = 1 + i % 31
        entries.append(
            f"<entry><id>http://arxiv.org/abs/{aid}v1</id><title>Benchmark paper {i}</title>"
            f"<published>2024-05-{day:02d}T12:00:00Z</published><updated>2024-05-{day:02d}T12:00:00Z</updated>"
            f"<summary>Abstract {i}.</summary><author><name>Author {i}</name></author>"
            f'<category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>'
            f'<link href="https://arxiv.org/pdf/{aid}v1" rel="related" type="application/pdf" title="pdf"/>'
            f'<arxiv:primary_category term="cs.LG"/></entry>')
        body = folder / "documents" / f"{aid}.tex.gz"
        body.write_bytes(gzip.compress((SNAPSHOT_TEX + f"% paper {i}\n").encode(), mtime=0))
        documents[f"https://arxiv.org/e-print/{aid}v1"] = {"path": f"documents/{aid}.tex.gz"}
        documents[f"https://arxiv.org/pdf/{aid}v1"] = {"status": 404}
        notes.append({"id": f"f{i}", "forum": f"f{i}", "invitations": [f"{venue}/-/Submission"],
                      "license": "CC BY 4.0",
                      "content": {"title": {"value": f"Benchmark paper {i}"},
                                  "html": {"value": f"https://arxiv.org/abs/{aid}"}},
                      "details": {"replies": [
                          {"id": f"r{i}-{k}", "invitations": [f"{venue}/Submission{i}/-/Official_Review"],
                           "content": {"rating": {"value": r}}} for k, r in enumerate((8, 6, 8))]}})
    (folder / "arxiv" / "listing.xml").write_text(
        "<?xml version='1.0' encoding='UTF-8'?><feed xmlns=\"http://www.w3.org/2005/Atom\" "
        "xmlns:opensearch=\"http://a9.com/-/spec/opensearch/1.1/\" xmlns:arxiv=\"http://arxiv.org/schemas/atom\">"
        f"<opensearch:totalResults>{n_papers}</opensearch:totalResults>"
        f"<opensearch:startIndex>0</opensearch:startIndex>{''.join(entries)}</feed>")
    (folder / "openreview" / "bench.jsonl").write_text("".join(json.dumps(n) + "\n" for n in notes))
    (folder / "manifest.json").write_text(json.dumps({
        "window": {"since": "2024-05-01", "until": "2024-05-31"}, "categories": ["cs.LG"],
        "arxiv_feeds": ["arxiv/listing.xml"],
        "venues": [{"venue_id": venue, "api_version": 2, "weak_accept": 6.0}],
        "openreview_notes": {venue: "openreview/bench.jsonl"},
        "documents": documents, "fetch_latency_s": fetch_latency_s}))
    return folder

"""Generated test inputs: PDFs (good and broken), LaTeX projects, tarballs, OpenReview notes."""

from __future__ import annotations

import gzip
import io
import tarfile

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
                      questions: dict[str, str] | None = None) -> list[str]:
    """A lake with finished candidates (papers, expressions, a PDF each) and a published catalog.

    Returns the candidate ids. The first candidate's question has broken LaTeX when ``broken``;
    ``answers`` and ``questions`` replace the derivation and question of some candidates (by id); ``drafted`` ids are
    rules-drafted (status ``drafted``, no verdict).
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
                prompt_versions={"answer_filter": "v1abc"}, models={"answer_filter": "scripted"}))
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

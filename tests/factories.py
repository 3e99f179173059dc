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

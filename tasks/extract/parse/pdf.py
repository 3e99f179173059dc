"""The PDF fallback: PyMuPDF's layout → sections and display equations with page and bbox.

Input: a PDF body and the paper id.
Output: ``Extracted`` (see ``tasks.extract.parse.latex``) with ``extractor = pdf``: ``sections`` (level,
number, title, page, bbox); ``expressions`` of kind ``equation`` (env ``display``: ``text``,
``number``, ``page``, ``bbox``, section, contexts, "where …" definitions, ``parent_expr``), of kind
``statement`` (a paragraph opened by "Lemma 3." / "Theorem 2.1 (Title)."; env the kind, ``number``,
``title``, ``proof_expr``) and ``proof`` ("Proof." / "Proof of Lemma 3." / "Proof of (3)." to the
end-of-proof mark, the next statement or section; ``parent_expr`` its statement or display); no
``latex``; ``edges`` from text references by number ("Lemma 2", "Eq. (3)", "(3)", "equation 3"
where a display has that number): inside a statement or proof (``via`` statement / proof, from
the statement), and in the sentence before a display when it derives it (``via`` introduction).
``map_to_pdf`` puts LaTeX rows on their PDF page.

What the layout tells, in order: margin line numbers of submitted versions (digits outside the
text column) and page numbers are dropped; a line ending in a right-margin number such as
``(3)`` or ``(A.2)`` is a numbered equation, with the math lines just above it; a centred line
set mostly in math fonts is an unnumbered display; a short numbered line (``3.2 Method``) or a
known heading word is a section heading; everything from "References" to the next appendix
heading is left out. Ligatures and end-of-line hyphenation are repaired.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

import pymupdf

from tasks.core.records import Expression, ExpressionEdge, Section, stable_id
from tasks.documents.eprint import Issue
from tasks.documents.language import DERIVATION_CUES
from tasks.documents.read import repair_pdf_text
from tasks.extract.parse.latex import CONTEXT_CHARS, Extracted

EXTRACTOR = "pdf"
MATH_FONT = re.compile(r"CMMI|CMSY|CMEX|CMBSY|MSBM|MSAM|EUFM|EUSM|RSFS|Math|Symbol|STIX|LMMono|"
                       r"rtxmi|txsy|txex|pxsy|pxmi|esint|wasy|Cambria", re.IGNORECASE)
MATH_CHARS = set("∑∏∫∮√∞∂∇≤≥≠≈≡∈∉⊂⊆⊃∪∩∀∃→←↦⇒⇔±×÷·∘⊗⊕αβγδεζηθικλμνξπρσςτυφχψωΓΔΘΛΞΠΣΦΨΩ=+−<>|∥⟨⟩")
EQUATION_NUMBER = re.compile(r"^\((\d+(?:\.\d+)*[a-z]?|[A-Z](?:\.\d+)+[a-z]?)\)$")
HEADING = re.compile(r"^((?:\d+|[A-Z])(?:\.\d+){0,3})\.?\s+(\S.{0,90})$")
NAMED_HEADINGS = {"abstract", "references", "bibliography", "acknowledgments", "acknowledgements",
                  "appendix", "appendices", "introduction", "conclusion", "conclusions",
                  "related work", "supplementary material"}
REFERENCE_HEADINGS = {"references", "bibliography", "reference"}
_WHERE = re.compile(r"^[\s,;:.]*(where|with|here|in which)\b", re.IGNORECASE)
KINDS = r"Theorem|Lemma|Proposition|Corollary|Claim|Fact|Definition|Assumption|Conjecture"
NUMBER = r"(?:\d+|[A-Z])(?:\.\d+)*"
STATEMENT_START = re.compile(rf"^({KINDS})\s+({NUMBER})\s*(\([^)]{{1,80}}\))?\s*[.:]\s*(.*)$")
PROOF_START = re.compile(rf"^Proof(?:\s+of\s+(?:({KINDS})\s+({NUMBER})|(?:Eq(?:uation)?\.?\s*)?\(({NUMBER}[a-z]?)\)))?"
                         r"\s*[.:]\s*(.*)$")
END_OF_PROOF = re.compile(r"(?:[□∎■◻]|\bQ\.?\s?E\.?\s?D\.?)\s*$")
EQUATION_NUMBER_TEXT = r"\d+(?:\.\d+)*[a-z]?|[A-Z]\.\d+[a-z]?"
TEXT_REFERENCE = re.compile(rf"\b({KINDS})s?\s+({NUMBER})\b|\(({EQUATION_NUMBER_TEXT})\)"
                            rf"|\b(?i:Eq|Eqn|Equation)s?\.?\s*~?\s*({EQUATION_NUMBER_TEXT})\b")
"""``Lemma 2``, ``Theorem A.1``; ``(3)``, ``Eq. (2.4)``, and without brackets ``equation 4``, ``Eq. 4``
(cleveref's default in ICLR papers); a number counts only where a display has it."""
MAX_STATEMENT_LINES, MAX_PROOF_LINES = 15, 80
_ENDS_SENTENCE = re.compile(r"(?:[.!?:)□∎■]|\bQ\.?E\.?D\.?)\s*$")


@dataclass
class Line:
    page: int
    block: int
    bbox: tuple[float, float, float, float]
    text: str
    size: float
    math_share: float
    bold: bool
    first_in_block: bool

    @property
    def center(self) -> float:
        return (self.bbox[0] + self.bbox[2]) / 2


@dataclass
class PageLayout:
    lines: list[Line] = field(default_factory=list)
    left: float = 0.0
    right: float = 0.0
    line_numbers: int = 0


def _line(page: int, block: int, raw: dict, first: bool) -> Line:
    spans = [s for s in raw["spans"] if s["text"].strip()]
    text = repair_pdf_text("".join(s["text"] for s in raw["spans"])).strip()
    chars = sum(len(s["text"].strip()) for s in spans) or 1
    math = sum(len(s["text"].strip()) for s in spans if MATH_FONT.search(s["font"]))
    math += sum(1 for s in spans if not MATH_FONT.search(s["font"]) for c in s["text"] if c in MATH_CHARS)
    bold = bool(spans) and all("Bold" in s["font"] or s["flags"] & 16 for s in spans)
    size = max((s["size"] for s in spans), default=0.0)
    return Line(page, block, tuple(raw["bbox"]), text, size, min(1.0, math / chars), bold, first)


def _overlap(a: Line, b: Line) -> float:
    """Vertical overlap as a share of the shorter line's height."""
    shared = min(a.bbox[3], b.bbox[3]) - max(a.bbox[1], b.bbox[1])
    return max(0.0, shared) / max(1.0, min(a.bbox[3] - a.bbox[1], b.bbox[3] - b.bbox[1]))


def _merge_same_row(lines: list[Line]) -> list[Line]:
    """PyMuPDF splits ``3.2`` and ``METHOD`` of one heading into two lines of a block: rejoin them."""
    out: list[Line] = []
    for line in lines:
        prev = out[-1] if out else None
        if (prev is not None and prev.block == line.block and abs(prev.bbox[1] - line.bbox[1]) < 2
                and line.bbox[0] >= prev.bbox[2] - 1 and not EQUATION_NUMBER.match(line.text)):
            out[-1] = Line(prev.page, prev.block, (prev.bbox[0], min(prev.bbox[1], line.bbox[1]), line.bbox[2],
                                                   max(prev.bbox[3], line.bbox[3])),
                           f"{prev.text} {line.text}", max(prev.size, line.size),
                           (prev.math_share * len(prev.text) + line.math_share * len(line.text))
                           / max(1, len(prev.text) + len(line.text)), prev.bold and line.bold, prev.first_in_block)
        else:
            out.append(line)
    return out


def read_layout(page: pymupdf.Page, number: int) -> PageLayout:
    """A page's text lines in reading order, margin line numbers and page furniture removed."""
    data = page.get_text("dict", flags=pymupdf.TEXT_DEHYPHENATE | pymupdf.TEXT_MEDIABOX_CLIP)
    lines = []
    for block_no, block in enumerate(data["blocks"]):
        for index, raw in enumerate(block.get("lines", [])):
            if any(s["text"].strip() for s in raw["spans"]):
                lines.append(_line(number, block_no, raw, index == 0))
    lines = _merge_same_row(lines)
    long_lines = [ln for ln in lines if len(ln.text) >= 30]
    layout = PageLayout()
    if long_lines:
        layout.left = min(statistics.quantiles([ln.bbox[0] for ln in long_lines], n=20)[0]
                          if len(long_lines) > 1 else long_lines[0].bbox[0], long_lines[0].bbox[0])
        layout.right = max(ln.bbox[2] for ln in long_lines)
    else:
        layout.left, layout.right = page.rect.width * 0.1, page.rect.width * 0.9
    height = page.rect.height
    for line in lines:
        digits = line.text.isdigit() and len(line.text) <= 4
        if digits and (line.bbox[2] < layout.left - 2 or line.bbox[0] > layout.right + 2):
            layout.line_numbers += 1  # the margin numbers of a submitted version
            continue
        if digits and (line.bbox[1] > height * 0.92 or line.bbox[3] < height * 0.06):
            continue  # page number
        layout.lines.append(line)
    return layout


class PdfExtractor:
    def __init__(self, doc: pymupdf.Document, paper_id: str, run_id: str = ""):
        self.doc, self.paper_id, self.run_id = doc, paper_id, run_id
        self.out = Extracted()
        self.page_texts: list[str] = []
        self.open: list[Section] = []  # the headings above the current line

    def run(self) -> Extracted:
        layouts = [read_layout(page, index + 1) for index, page in enumerate(self.doc)]
        self.bounds = {index + 1: (layout.left, layout.right) for index, layout in enumerate(layouts)}
        sizes = [ln.size for layout in layouts for ln in layout.lines if len(ln.text) > 30]
        self.body_size = statistics.median(sizes) if sizes else 10.0
        removed = sum(layout.line_numbers for layout in layouts)
        if removed:
            self.out.issues.append(Issue("margin_line_numbers_removed", f"{removed} margin line numbers"))
        self.page_texts = ["\n".join(ln.text for ln in layout.lines) for layout in layouts]
        section: Section | None = None
        in_references = in_appendix = False
        pending: list[tuple[Line, str, Section | None]] = []
        for layout in layouts:
            used: set[int] = set()
            equations = self._numbered_equations(layout, used)
            for index, line in enumerate(layout.lines):
                if index in used and index not in equations:
                    continue  # a formula's other lines and its number
                heading = self._heading(line)
                if heading is not None:
                    number, title = heading
                    lowered = title.lower()
                    if lowered in REFERENCE_HEADINGS:
                        in_references = True
                        continue
                    appendix_like = bool(number and number[0].isalpha()) or lowered.startswith("appendi")
                    if in_references and not appendix_like:
                        continue
                    in_references = False
                    in_appendix = in_appendix or appendix_like
                    section = self._section(line, number, title, in_appendix)
                    continue
                if in_references:
                    continue
                if index in equations:
                    number, lines = equations[index]
                    pending.append((lines, f"number:{number}", section))
                    continue
                pending.append((line, "text", section))
        displays = self._emit(pending)
        self._statements_and_proofs(pending, displays)
        return self.out

    # -- layout rules -----------------------------------------------------------------------------

    def _numbered_equations(self, layout: PageLayout, used: set[int]) -> dict[int, tuple[str, list[Line]]]:
        """``index of the first line → (number, lines)`` for each line pair ``formula … (3)``."""
        found: dict[int, tuple[str, list[Line]]] = {}
        width = max(layout.right - layout.left, 1.0)
        lines = layout.lines
        for index, line in enumerate(lines):
            match = EQUATION_NUMBER.match(line.text)
            if not match or line.bbox[0] < layout.left + width * 0.6:
                continue
            parts = [i for i, other in enumerate(lines)
                     if i != index and i not in used and other.bbox[2] <= line.bbox[0] + 1
                     and _overlap(other, line) >= 0.4]
            if not parts:
                continue
            top = min(parts, key=lambda i: lines[i].bbox[1])
            while True:  # multi-line formulas: the math lines right above belong to it
                above = [i for i, other in enumerate(lines) if i not in used and i not in parts
                         and other.page == line.page and other.math_share >= 0.5
                         and 0 <= lines[top].bbox[1] - other.bbox[3] < 6
                         and other.bbox[0] > layout.left + 10 and not EQUATION_NUMBER.match(other.text)]
                if not above:
                    break
                top = above[0]
                parts.append(top)
            parts += self._stacked(lines, parts, used, line, layout.left)
            used.update(parts)
            used.add(index)
            ordered = sorted(parts, key=lambda i: (lines[i].bbox[1], lines[i].bbox[0]))
            found[ordered[0]] = (match.group(1), [lines[i] for i in ordered])
        return found

    def _stacked(self, lines: list[Line], parts: list[int], used: set[int], number: Line,
                 left_edge: float) -> list[int]:
        """Numerators, denominators and limits set as lines of their own around a formula's row."""
        top = min(lines[i].bbox[1] for i in parts) - 12
        bottom = max(lines[i].bbox[3] for i in parts) + 12
        return [i for i, other in enumerate(lines) if i not in parts and i not in used
                and other is not number and top <= other.bbox[1] and other.bbox[3] <= bottom
                and other.bbox[2] <= number.bbox[0] + 1 and other.bbox[0] > left_edge + 10
                and (other.math_share >= 0.3 or other.size < self.body_size * 0.9)]

    def _is_display(self, line: Line, layout_left: float, layout_right: float) -> bool:
        width = layout_right - layout_left
        centred = abs(line.center - (layout_left + layout_right) / 2) < width * 0.15
        narrow = (line.bbox[2] - line.bbox[0]) < width * 0.85 and line.bbox[0] > layout_left + 15
        full_size = line.size >= self.body_size * 0.9  # not a script line on its own
        return centred and narrow and full_size and line.math_share >= 0.6 and len(line.text) >= 3

    def _heading(self, line: Line) -> tuple[str | None, str] | None:
        text = line.text.strip()
        if len(text) > 100 or text.endswith((".", ",", ";")) or line.math_share > 0.3:
            return None
        plain = re.sub(r"^\d+(\.\d+)*\.?\s+", "", text).strip().lower()
        if plain in NAMED_HEADINGS and (line.bold or line.size > self.body_size + 0.5 or text.isupper()
                                         or line.first_in_block):
            number = text.split()[0].rstrip(".") if plain != text.lower() else None
            return number, text[len(number):].strip(" .") if number else text
        match = HEADING.match(text)
        if not match:
            return None
        title = match.group(2)
        looks = line.bold or line.size > self.body_size + 0.5 or (title.isupper() and len(title) > 3)
        if looks and title[:1].isupper() and not re.search(r"\d{3,}", title):
            return match.group(1), title
        return None

    def _section(self, line: Line, number: str | None, title: str, in_appendix: bool) -> Section:
        level = number.count(".") + 1 if number else 1
        heading = f"{number} {title}" if number else title
        while self.open and self.open[-1].level >= level:
            self.open.pop()
        path = f"{self.open[-1].path} > {heading}" if self.open else heading
        section = Section(section_id=stable_id(self.paper_id, EXTRACTOR, "section", line.page, line.bbox, title),
                          paper_id=self.paper_id, extractor=EXTRACTOR, level=level, number=number,
                          title=title, path=path, in_appendix=in_appendix, page=line.page,
                          bbox=[round(v, 1) for v in line.bbox], run_id=self.run_id)
        self.out.sections.append(section)
        self.open.append(section)
        return section

    # -- rows -------------------------------------------------------------------------------------

    def _emit(self, pending: list) -> dict[int, Expression]:
        """Turn the page-ordered stream into expressions with the prose around them as context;
        returns each display by the index of its first entry in ``pending``."""
        texts = [self._text(p[0]) for p in pending]
        displays = []
        for index, (item, kind, section) in enumerate(pending):
            if kind.startswith("number:"):
                displays.append((index, kind[7:], item, section))
            elif kind == "text" and isinstance(item, Line):
                if self._is_display(item, *self.bounds[item.page]):
                    displays.append((index, None, [item], section))
        merged = []
        for entry in displays:  # consecutive unnumbered display lines are one formula
            prev = merged[-1] if merged else None
            if (prev and entry[1] is None and prev[1] is None and entry[0] == prev[0] + len(prev[2])
                    and entry[2][0].page == prev[2][-1].page):
                merged[-1] = (prev[0], None, prev[2] + entry[2], prev[3])
            else:
                merged.append(entry)
        merged = [(i, n, lines + [p[0] for p in pending[i + 1:i + 4] if p[1] == "text"
                                  and self._is_script_of(p[0], lines)], sec) if n is None else (i, n, lines, sec)
                  for i, n, lines, sec in merged]
        by_index: dict[int, Expression] = {}
        for index, number, lines, section in merged:
            span = len(lines) if number is None else 1
            before = _prose(texts[max(0, index - 12):index])[-CONTEXT_CHARS:]
            after = _prose(texts[index + span:index + span + 12])[:CONTEXT_CHARS]
            text = " ".join(ln.text for ln in lines)
            box = [round(min(ln.bbox[0] for ln in lines), 1), round(min(ln.bbox[1] for ln in lines), 1),
                   round(max(ln.bbox[2] for ln in lines), 1), round(max(ln.bbox[3] for ln in lines), 1)]
            definitions = None
            if _WHERE.match(after):
                stop = re.search(r"[.!?](\s|$)", after)
                definitions = after[:stop.end() if stop else len(after)].strip(" ,;:")
            self.out.expressions.append(Expression(
                expr_id=stable_id(self.paper_id, EXTRACTOR, "equation", lines[0].page, box, text),
                paper_id=self.paper_id, extractor=EXTRACTOR, kind="equation", env="display",
                text=text, number=number, section=section.path if section else None,
                section_id=section.section_id if section else None,
                in_appendix=section.in_appendix if section else False, page=lines[0].page, bbox=box,
                context_before=before, context_after=after, definitions=definitions, run_id=self.run_id))
            by_index.update({i: self.out.expressions[-1] for i in range(index, index + span)})
        return by_index

    # -- statements, proofs and their references ------------------------------------------------------

    def _statements_and_proofs(self, pending: list, displays: dict[int, Expression]) -> None:
        """Statements ("Lemma 3."), proofs ("Proof." / "Proof of Lemma 3.") and the references by
        number in them and in the sentence before each display."""
        items: list[dict] = []
        current: dict | None = None
        previous = ""
        for index, (item, kind, section) in enumerate(pending):
            text = self._text(item)
            line = item if isinstance(item, Line) else None
            # a statement or proof opens a paragraph, or follows a finished sentence: not a wrapped
            # "… proved in / Lemma 3. Next …"
            opens = kind == "text" and line is not None and (line.first_in_block or _ENDS_SENTENCE.search(previous))
            started = STATEMENT_START.match(text) if opens else None
            proof = PROOF_START.match(text) if opens and not started else None
            if current is not None and (started or proof or section is not current["section"]
                                        or self._ends(current, line, index, displays)):
                items.append(current)
                current = None
            if started or proof:
                current = {"kind": "statement" if started else "proof", "match": started or proof,
                           "section": section, "entries": [], "closed": False}
            previous = text
            if current is not None:
                current["entries"].append(index)
                if current["kind"] == "proof" and END_OF_PROOF.search(text):
                    current["closed"] = True
        if current is not None:
            items.append(current)
        self._add_items(items, pending, displays)

    def _ends(self, current: dict, line: Line | None, index: int, displays: dict[int, Expression]) -> bool:
        """Does ``pending[index]`` fall outside the open statement or proof?"""
        if current["closed"]:
            return True
        cap = MAX_STATEMENT_LINES if current["kind"] == "statement" else MAX_PROOF_LINES
        if len(current["entries"]) >= cap:
            return True
        # a statement is its paragraph (displays included): a new block after a full stop ends it
        previous = current["entries"][-1]
        return (current["kind"] == "statement" and line is not None and line.first_in_block
                and index not in displays and previous not in displays)

    def _add_items(self, items: list[dict], pending: list, displays: dict[int, Expression]) -> None:
        texts = [self._text(p[0]) for p in pending]
        numbered = {e.number: e for e in displays.values() if e.number}
        statements: dict[tuple[str, str], Expression] = {}
        edges: dict[tuple, ExpressionEdge] = {}
        last_statement: Expression | None = None
        made: list[tuple[dict, Expression, str]] = []
        for entry in items:
            indices, match, section = entry["entries"], entry["match"], entry["section"]
            lines = [ln for i in indices for ln in (pending[i][0] if isinstance(pending[i][0], list) else [pending[i][0]])]
            prose = _prose(texts[i] for i in indices if i not in displays)
            box = [round(min(ln.bbox[0] for ln in lines), 1), round(min(ln.bbox[1] for ln in lines), 1),
                   round(max(ln.bbox[2] for ln in lines), 1), round(max(ln.bbox[3] for ln in lines), 1)]
            if entry["kind"] == "statement":
                kind, number, given = match.group(1), match.group(2), match.group(3)
                title = f"{kind} ({given.strip('()')})" if given else kind
            else:
                named = ((match.group(1), match.group(2)) if match.group(1)
                         else ("equation", match.group(3)) if match.group(3) else None)
                title = ("Proof" if not named else f"Proof of ({named[1]})" if named[0] == "equation"
                         else f"Proof of {named[0]} {named[1]}")
            expr = Expression(
                expr_id=stable_id(self.paper_id, EXTRACTOR, entry["kind"], lines[0].page, box, prose),
                paper_id=self.paper_id, extractor=EXTRACTOR, kind=entry["kind"],
                env=match.group(1).lower() if entry["kind"] == "statement" else "proof",
                text=_prose(texts[i] for i in indices), number=number if entry["kind"] == "statement" else None,
                title=title, section=section.path if section else None,
                section_id=section.section_id if section else None,
                in_appendix=section.in_appendix if section else False, page=lines[0].page, bbox=box,
                context_before=_prose(texts[max(0, indices[0] - 12):indices[0]])[-CONTEXT_CHARS:],
                run_id=self.run_id)
            if entry["kind"] == "statement":
                statements.setdefault((kind.lower(), number), expr)
                last_statement = expr
            else:
                entry["named"] = named
                if not named and last_statement is not None and last_statement.proof_expr is None:
                    last_statement.proof_expr, expr.parent_expr = expr.expr_id, last_statement.expr_id
            for i in indices:
                if i in displays and displays[i].parent_expr is None:
                    displays[i].parent_expr = expr.expr_id
            self.out.expressions.append(expr)
            made.append((entry, expr, prose))
        by_id = {e.expr_id: e for e in self.out.expressions}
        for entry, expr, _ in made:  # proofs by name, then references, once every statement is known
            if entry["kind"] == "proof" and entry.get("named"):
                kind, number = entry["named"]
                target = numbered.get(number) if kind == "equation" else statements.get((kind.lower(), number))
                if target is None:
                    self.out.issues.append(Issue("dangling_proof_reference", f"{expr.title} on page {expr.page} "
                                                 "names a statement the PDF does not show"))
                else:
                    target.proof_expr, expr.parent_expr = expr.expr_id, target.expr_id
        def cite(source: Expression, text: str, via: str, skip: Expression) -> None:
            """An edge from ``source`` to each statement or numbered display ``text`` names."""
            for ref_kind, ref_number, bracketed, written in (m.groups() for m in TEXT_REFERENCE.finditer(text)):
                equation = bracketed or written
                to = numbered.get(equation) if equation else statements.get((ref_kind.lower(), ref_number))
                if to is not None and to is not source and to is not skip:
                    edges.setdefault((source.expr_id, to.expr_id, via), ExpressionEdge(
                        paper_id=self.paper_id, from_expr=source.expr_id, to_expr=to.expr_id, via=via,
                        command="text", label=f"({equation})" if equation else f"{ref_kind} {ref_number}",
                        run_id=self.run_id))

        for entry, expr, prose in made:
            holder = by_id.get(expr.parent_expr) if entry["kind"] == "proof" and expr.parent_expr else expr
            cite(holder, prose, "statement" if entry["kind"] == "statement" else "proof", skip=expr)
        for display in {id(e): e for e in displays.values()}.values():  # the sentence before a display
            if display.parent_expr is not None:
                continue
            sentence = re.split(r"(?<=[.!?])\s+(?=[A-Z])", display.context_before[-400:])[-1]
            if DERIVATION_CUES.search(sentence):
                cite(display, sentence, "introduction", skip=display)
        self.out.edges = list(edges.values())

    def _is_script_of(self, line, lines: list[Line]) -> bool:
        return (isinstance(line, Line) and line.page == lines[0].page and line.size < self.body_size * 0.9
                and len(line.text) <= 20 and line.bbox[1] - max(ln.bbox[3] for ln in lines) < 8
                and min(ln.bbox[0] for ln in lines) - 5 <= line.bbox[0])

    @staticmethod
    def _text(item) -> str:
        return " ".join(ln.text for ln in item) if isinstance(item, list) else item.text


_HYPHENATED = re.compile(r"(?<=[a-z])- (?=[a-z])")


def _prose(lines) -> str:
    """Lines as running text: a word hyphenated at a line end ("be- comes") is whole again."""
    return _HYPHENATED.sub("", " ".join(lines))


def extract_pdf(data: bytes, paper_id: str, run_id: str = "") -> tuple[Extracted, list[str]]:
    """A PDF → sections and display equations, plus each page's cleaned text (for page mapping)."""
    pymupdf.TOOLS.mupdf_display_errors(False)
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        extractor = PdfExtractor(doc, paper_id, run_id)
        return extractor.run(), extractor.page_texts


def map_to_pdf(latex: Extracted, pdf: Extracted, page_texts: list[str]) -> int:
    """Give LaTeX rows the page (and bbox) the PDF shows them on; returns how many were placed.

    Numbered formulas match the PDF's equation numbers, numbered sections its headings, and
    statements the first page that names them (``Lemma 3.2``).
    """
    by_number = {e.number: e for e in pdf.expressions if e.number}
    sections = {s.number: s for s in pdf.sections if s.number}
    placed = 0
    for expr in latex.expressions:
        match = by_number.get(expr.number) if expr.kind == "equation" and expr.number else None
        if match is not None:
            expr.page, expr.bbox = match.page, match.bbox
        elif expr.kind == "statement" and expr.number and expr.title:
            name = f"{expr.title.split(' (')[0]} {expr.number}"
            expr.page = next((i + 1 for i, text in enumerate(page_texts) if name in text), None)
        placed += expr.page is not None
    for section in latex.sections:
        if section.number in sections:
            section.page, section.bbox = sections[section.number].page, sections[section.number].bbox
    return placed

"""Pydantic records: one model per entity, one table per model, and the allowed values.

Each model's ``TABLE`` is the analyst-facing table name (a contract: keep them) and ``KEY`` the
columns that identify a row. Storage writes and dedupes by ``KEY``, so a rerun of the same work
replaces rows instead of adding duplicates.

Every closed set of values (statuses, verdicts, kinds, reasons) is a ``Literal`` alias defined
here once; the models use it, and the expectation suites and the code read it through
``allowed(...)`` instead of copying the list.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Literal, get_args

from pydantic import BaseModel, Field

# -- allowed values -------------------------------------------------------------------------------

SNAKE_CASE = r"^[a-z][a-z0-9_]*$"
"""Every ``reason`` is a snake_case word, so it can be counted and grouped."""

RunStatus = Literal["running", "completed", "failed", "stopped"]
PaperSource = Literal["arxiv", "openreview", "local", "snapshot"]
MatchMethod = Literal["arxiv_id", "title_authors", "title_only", "none", "not_applicable"]
RatingRule = Literal["pass", "fail", "skipped"]
KeywordRule = Literal["pass", "fail", "not_evaluated"]
TextSource = Literal["latex", "pdf", "none"]
DocumentKind = Literal["pdf", "latex"]
ParseStatus = Literal["ok", "rejected"]
Extractor = Literal["latex", "pdf"]
ExtractorUsed = Literal["latex", "pdf", "none"]
"""``none``: nothing could be read (the extraction then has status ``failed``)."""
ExtractionStatus = Literal["ok", "partial", "failed"]
ExpressionKind = Literal["equation", "statement", "proof"]
TargetKind = Literal["equation", "statement"]
"""What a derivation problem can ask for: a formula or a theorem-like statement (never a proof)."""
EdgeVia = Literal["equation", "statement", "proof", "introduction"]
CallStatus = Literal["ok", "invalid_output", "failed", "budget_exhausted"]
Verdict = Literal["derive", "define", "other"]
AgentStage = Literal["target", "query_draft", "answer_retriever", "context_collector",
                     "question_refiner", "answer_filter"]
"""How far a candidate got, in pipeline order."""
CandidateStatus = Literal["pending", "drafted", "done", "dropped", "failed"]
DraftedBy = Literal["rules", "llm"]
Decision = Literal["keep", "reject"]
Role = Literal["reviewer", "admin"]
SelectionReason = Literal["selected", "paper_cap", "below_cut", "rejected_by_experts",
                          "awaiting_adjudication", "incomplete_reviews", "low_correctness"]
ScoreStage = Literal["candidate_score", "joint_score"]
"""``candidate_score``: the seed filter's four criteria (0–5); ``joint_score``: the experts'
rubric (1–5) applied by an LLM to the question and the paper's answer together."""
SEED_CRITERIA: tuple[str, ...] = ("complexity", "information_value", "clarity", "precision")
"""AgenticMath's seed-filter criteria, each 0–5."""
ScoreCriterion = Literal["complexity", "information_value", "clarity", "precision", "reasoning_density",
                         "problem_clarity", "derivation_correctness", "problem_difficulty", "human_heuristics"]
"""A ``quality_scores`` criterion: the seed criteria, then the experts' principles (``PRINCIPLES``)."""
REVIEW_CRITERIA: tuple[str, ...] = ("clarity", "self_containment", "faithfulness")
"""What the question reviewer scores, each 0–5."""
RevisionOutcome = Literal["original", "accepted", "refused"]
"""Round 0 is the ``original`` question; a later round's revision is ``accepted`` or ``refused``
(``reason``: ``revision_changed_math``, ``revision_unchanged``, an LLM failure…)."""
SolveOutcome = Literal["solved", "not_solved", "undecided"]
DecidedBy = Literal["math_verify", "sympy", "numeric", "string", "none"]
"""Which comparison decided a solution (``tasks.core.equivalence``): Math-Verify, SymPy's
simplification of the difference, random-point numeric checks, normalised strings, or nothing
(``undecided``: no final formula, a bound, no tier could decide, or the check failed or timed
out)."""
SimilarityMethod = Literal["minhash", "embedding", "ngram"]
QueueReason = Literal["ranked", "uncorrected_no_embeddings", "uncorrected_no_transition_matrix",
                      "uncorrected_by_setting", "unscored"]
"""``ranked``: curated with DS²; ``uncorrected_no_embeddings``: no embedding, raw score used;
``uncorrected_no_transition_matrix``: the transition matrix could not be estimated (too few
scored candidates, one level only, or embeddings that do not cluster by level), raw score used;
``uncorrected_by_setting``: ``refine.transition_correction`` is off; ``unscored``: no joint
score, queued after every scored one."""
QualityDrop = Literal["low_quality_score", "near_duplicate", "contaminated"]
"""Reasons the quality layer drops a candidate (``candidates.status = dropped``)."""
SCREEN_DROPS: tuple[str, ...] = ("contaminated", "near_duplicate")
"""The quality layer's drops its screens decide again every run (``low_quality_score`` belongs
to its LLM stages)."""
QUEUED_STATUSES: tuple[str, ...] = ("done", "drafted")
"""Candidate statuses that go to expert review (and through the quality layer)."""
EvalFormat = Literal["mc", "options_only", "judge", "symbolic"]
"""How an answer is graded: ``mc`` (a letter among shuffled options), ``options_only`` (the same
options without the question: above chance means the distractors leak the answer), ``judge``
(an LLM grades a free-form derivation against the paper's), ``symbolic`` (the derivation's final
result against the target)."""
Grade = Literal["correct", "incorrect", "undecided", "unparsed", "failed"]
"""``undecided``: graded, but no tier could decide (symbolic) or the judge's two orders
disagree; ``unparsed``: the answer could not be read (no letter, two letters, no final result, a
judge reply outside the rubric); ``failed``: no answer (the call failed, timed out, or the budget
ran out). Neither of the last two ever counts as wrong."""
GradeTier = Literal["letter", "judge", "string", "math_verify", "sympy", "numeric", "none"]
"""Which grader decided: the letter parser, the LLM judge, normalised strings, Math-Verify,
SymPy's simplification of ``lhs - rhs``, random-point numeric checks, or nothing."""
AuditFlag = Literal["all_fail", "all_pass", "split", "judge_symbolic_disagree", "options_only_solvable"]
"""Why an item needs a human look: every model fails (often a wrong key), every model solves
(hidden triviality), models split (parsing ambiguity), the judge and the symbolic check disagree,
or the options alone give the answer away."""
AuditStatus = Literal["open", "kept", "retired"]
AuditDecision = Literal["keep", "retire"]
"""What an admin decides about an audited item."""
"""An audited item in the review app's adjudication queue: waiting, or kept or retired by an admin."""
RetireReason = Literal["wrong_key", "trivial", "ambiguous", "leaky_options", "contaminated",
                       "licence", "duplicate", "other"]
ItemStatus = Literal["active", "retired", "embargoed"]
"""An item's state in one release: ``embargoed`` items are released privately until the embargo
ends."""


def allowed(values: Any) -> list[str]:
    """The values of a ``Literal`` alias, in their declared order (for suites and checks)."""
    return list(get_args(values))



def utcnow() -> datetime:
    return datetime.now(UTC)


def stable_id(*parts: object) -> str:
    """A short deterministic id for a tuple of inputs."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return h[:16]


class Record(BaseModel):
    TABLE: ClassVar[str]
    KEY: ClassVar[tuple[str, ...]]
    TIME: ClassVar[str]
    """The timestamp column: when two rows share a KEY, the latest wins."""


class Run(Record):
    TABLE: ClassVar[str] = "runs"
    KEY: ClassVar[tuple[str, ...]] = ("run_id",)
    TIME: ClassVar[str] = "started_at"

    run_id: str
    flow: str
    source: str
    since: date | None = None
    until: date | None = None
    lake: str
    status: RunStatus = "running"
    """``stopped``: the LLM budget ran out; running it again resumes where it stopped."""
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    listed: int = 0
    matched: int = 0
    rating_pass: int = 0
    documents_fetched: int = 0
    keyword_pass: int = 0
    rejected: int = 0
    """Rows this run wrote to ``rejects`` (candidates that were dropped or failed are counted in
    ``candidates`` by status and reason, not here)."""
    quarantined: int = 0
    papers_extracted: int = 0
    """Papers whose documents were turned into expressions in this run (not counting cached ones)."""
    expressions: int = 0
    expression_edges: int = 0
    candidates: int = 0
    """Derivation candidates generated or updated in this run (any status)."""
    candidates_kept: int = 0
    """Of those, ``status == "done"`` with verdict ``derive``."""
    candidates_drafted: int = 0
    """Of those, ``status == "drafted"``: drafted by the rules, no LLM verdict yet."""
    candidates_refined: int = 0
    """Candidates the quality layer scored, reviewed and solved in this run (not counting those
    refined before from the same inputs)."""
    candidates_queued: int = 0
    """Candidates in the expert review queue after this run."""
    items_evaluated: int = 0
    evaluations: int = 0
    """Graded answers this run landed (``evaluations`` rows: items × models × formats × samples)."""
    llm_calls: int = 0
    """Calls sent to the LLM endpoint (cache hits not counted), by every stage of the run."""
    cost_usd: float = 0.0
    stage_seconds: dict[str, float] = Field(default_factory=dict)
    """Wall time per stage (listing, reviews, documents, validation, publish)."""
    prefect_flow_run_id: str | None = None


class Paper(Record):
    TABLE: ClassVar[str] = "papers"
    KEY: ClassVar[tuple[str, ...]] = ("paper_id",)
    TIME: ClassVar[str] = "ingested_at"

    paper_id: str
    """``arxiv:<id without version>``, ``openreview:<forum>`` or ``local:<sha256 prefix>``."""
    source: PaperSource
    title: str
    authors: list[str] = Field(default_factory=list)
    abstract: str = ""
    arxiv_id: str | None = None
    arxiv_version: str | None = None
    categories: list[str] = Field(default_factory=list)
    primary_category: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    pdf_url: str | None = None
    source_url: str | None = None
    local_path: str | None = None
    openreview_id: str | None = None
    venue: str | None = None
    decision: str | None = None
    license: str = "unknown"
    license_source: str = "unknown"
    match_method: MatchMethod = "none"
    match_score: float | None = None
    run_id: str = ""
    ingested_at: datetime = Field(default_factory=utcnow)


class Submission(BaseModel):
    """An OpenReview submission with its reviews, before it is joined to an arXiv paper."""

    forum_id: str
    venue: str
    api_version: int
    title: str
    authors: list[str] = Field(default_factory=list)
    arxiv_id: str | None = None
    pdf_url: str | None = None
    license: str | None = None
    decision: str | None = None
    reviews: list[Review] = Field(default_factory=list)


class Review(Record):
    TABLE: ClassVar[str] = "reviews"
    KEY: ClassVar[tuple[str, ...]] = ("review_id",)
    TIME: ClassVar[str] = "ingested_at"

    review_id: str
    forum_id: str
    paper_id: str | None = None
    venue: str
    rating_field: str | None = None
    rating_raw: str | None = None
    rating: float | None = None
    confidence_raw: str | None = None
    confidence: float | None = None
    run_id: str = ""
    ingested_at: datetime = Field(default_factory=utcnow)


class PaperFilter(Record):
    TABLE: ClassVar[str] = "paper_filters"
    KEY: ClassVar[tuple[str, ...]] = ("paper_id",)
    TIME: ClassVar[str] = "decided_at"

    paper_id: str
    run_id: str = ""
    venue: str | None = None
    rating_rule: RatingRule
    ratings: list[float] = Field(default_factory=list)
    rating_mean: float | None = None
    rating_threshold: float | None = None
    keyword_rule: KeywordRule = "not_evaluated"
    keyword_hits: dict[str, int] = Field(default_factory=dict)
    keyword_total: int = 0
    keyword_threshold: int = 5
    keyword_text_source: TextSource = "none"
    passed: bool = False
    reason: str | None = None
    decided_at: datetime = Field(default_factory=utcnow)


class Document(Record):
    TABLE: ClassVar[str] = "documents"
    KEY: ClassVar[tuple[str, ...]] = ("paper_id", "kind")
    TIME: ClassVar[str] = "fetched_at"

    paper_id: str
    kind: DocumentKind
    source_url: str | None = None
    uri: str | None = None
    """Lake URI of the raw bytes, content-addressed by sha256."""
    text_uri: str | None = None
    sha256: str | None = None
    bytes: int = 0
    pages: int | None = None
    chars: int = 0
    parse_status: ParseStatus
    reason: str | None = None
    detail: str | None = None
    run_id: str = ""
    fetched_at: datetime = Field(default_factory=utcnow)


class Extraction(Record):
    """One paper's pass through the expressions stage: what was read, what came out, what went wrong."""

    TABLE: ClassVar[str] = "extractions"
    KEY: ClassVar[tuple[str, ...]] = ("paper_id",)
    TIME: ClassVar[str] = "extracted_at"

    paper_id: str
    extractor: ExtractorUsed
    extractor_version: str
    latex_sha256: str | None = None
    pdf_sha256: str | None = None
    main_file: str | None = None
    files: int = 0
    status: ExtractionStatus
    """``partial``: something was extracted and at least one issue was recorded."""
    issues: list[str] = Field(default_factory=list)
    """snake_case reasons, one per issue (details are in ``rejects``)."""
    sections: int = 0
    expressions: int = 0
    edges: int = 0
    pages_mapped: int = 0
    """LaTeX expressions placed on a PDF page."""
    macros: str | None = None
    """The paper's user macros as JSON (``[{name, nargs, default, body, …}]``, read by
    ``tasks.documents.latex_macros``): later stages expand its running text with them."""
    seconds: float = 0.0
    run_id: str = ""
    extracted_at: datetime = Field(default_factory=utcnow)


class Section(Record):
    TABLE: ClassVar[str] = "sections"
    KEY: ClassVar[tuple[str, ...]] = ("section_id",)
    TIME: ClassVar[str] = "extracted_at"

    section_id: str
    paper_id: str
    extractor: Extractor
    level: int
    """1 section, 2 subsection, 3 subsubsection (0 chapter)."""
    number: str | None = None
    title: str
    path: str
    """Titles from the top, ``" > "``-separated, each with its number."""
    in_appendix: bool = False
    source_file: str | None = None
    char_start: int | None = None
    char_end: int | None = None
    page: int | None = None
    """1-based PDF page."""
    bbox: list[float] | None = None
    run_id: str = ""
    extracted_at: datetime = Field(default_factory=utcnow)


class Expression(Record):
    """A display formula (or one numbered row of it), a theorem-like statement, or a proof."""

    TABLE: ClassVar[str] = "expressions"
    KEY: ClassVar[tuple[str, ...]] = ("expr_id",)
    TIME: ClassVar[str] = "extracted_at"

    expr_id: str
    """Stable: a hash of the paper, extractor, kind, place and text."""
    paper_id: str
    extractor: Extractor
    kind: ExpressionKind
    env: str
    """``equation``, ``align*``, ``\\[``, ``$$``, ``theorem``, ``lemma``, ``proof``, ``display`` (PDF)…"""
    row: int | None = None
    """The row of a multi-line environment split at ``\\\\``, else ``None``."""
    latex: str | None = None
    """The source between the delimiters, as written but with comments blanked to spaces (so
    ``char_start``/``char_end`` still index the file); ``None`` for PDF rows."""
    latex_expanded: str | None = None
    """``latex`` with the paper's own macros expanded."""
    text: str = ""
    """Plain-text rendering (LaTeX → Unicode, or the PDF text layer)."""
    label: str | None = None
    number: str | None = None
    """The number the PDF shows: ``3``, ``2.4``, ``A.1``, a ``\\tag``; ``None`` when unnumbered."""
    title: str | None = None
    """A statement's display name and optional title: ``Lemma (Hoeffding)``."""
    section: str | None = None
    section_id: str | None = None
    in_appendix: bool = False
    source_file: str | None = None
    char_start: int | None = None
    char_end: int | None = None
    page: int | None = None
    bbox: list[float] | None = None
    context_before: str = ""
    context_after: str = ""
    definitions: str | None = None
    """The "where X is …" sentence that follows a formula, with the paper's macros expanded."""
    parent_expr: str | None = None
    """The statement or proof a formula sits in; a proof's statement."""
    proof_expr: str | None = None
    """A statement's proof."""
    run_id: str = ""
    extracted_at: datetime = Field(default_factory=utcnow)


class ExpressionEdge(Record):
    """``from_expr`` depends on ``to_expr``: it cites it where it is derived or proved."""

    TABLE: ClassVar[str] = "expression_edges"
    KEY: ClassVar[tuple[str, ...]] = ("from_expr", "to_expr", "via")
    TIME: ClassVar[str] = "extracted_at"

    paper_id: str
    from_expr: str
    to_expr: str
    via: EdgeVia
    """Where the reference stands: inside the formula, the statement, its proof, or the sentence
    introducing the formula."""
    command: str
    """``eqref``, ``ref``, ``cref``…"""
    label: str
    run_id: str = ""
    extracted_at: datetime = Field(default_factory=utcnow)


class LLMCall(Record):
    """One LLM request of one agent for one entity: the ledger of tokens, money and failures."""

    TABLE: ClassVar[str] = "llm_calls"
    KEY: ClassVar[tuple[str, ...]] = ("call_id",)
    TIME: ClassVar[str] = "at"

    call_id: str
    """Unique per attempt sequence: cache key + run."""
    run_id: str
    stage: str
    """The agent: ``query_draft``, ``answer_retriever``…"""
    entity_id: str
    """The paper or candidate the call was for."""
    model: str
    cache_key: str
    prompt_version: str | None = None
    """The agent's prompt version (a hash of its template and response schema): calibration
    compares graders per prompt version."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    cache_hit: bool = False
    attempts: int = 0
    """HTTP requests made (0 for a cache hit)."""
    output_mode: str | None = None
    """How structured output was obtained: ``json_schema``, ``json_object``, ``text``."""
    status: CallStatus
    error: str | None = None
    at: datetime = Field(default_factory=utcnow)


class Candidate(Record):
    """A derivation problem from one paper: derive the target from its preconditions.

    Built up by the six agents; ``stage_reached`` says how far it got and ``status``/``reason``
    why it stopped. The analyst contract (issue #4): candidate_id, paper_id, target_expr,
    precondition_exprs, query, answer, answer_evidence, question_evidence, question, verdict,
    verdict_rationale, grounded_score, answer_span, stage_reached, status, reason,
    prompt_versions, models, run_id; the other columns may grow.
    """

    TABLE: ClassVar[str] = "candidates"
    KEY: ClassVar[tuple[str, ...]] = ("candidate_id",)
    TIME: ClassVar[str] = "updated_at"

    candidate_id: str
    """A hash of the paper, the target and the inputs that produced it."""
    paper_id: str
    target_expr: str
    target_kind: TargetKind = "equation"
    target_number: str | None = None
    target_latex: str = ""
    precondition_exprs: list[str] = Field(default_factory=list)
    setting: str | None = None
    symbols: str | None = None
    query: str | None = None
    answer: str | None = None
    answer_evidence: str | None = None
    """Where the answer is in the paper: ``Proof of Lemma 3 (Appendix B)``, an expression id…"""
    answer_portable: str | None = None
    """The answer as a reader outside the paper can compile it (the paper's macros expanded,
    labels removed), where it is known exactly (a rules-drafted proof); ``answer`` stays verbatim."""
    unrenderable_latex: list[str] = Field(default_factory=list)
    """Commands in the question's or answer's math that the review app's KaTeX cannot render."""
    question_evidence: list[str] = Field(default_factory=list)
    """Verbatim passages the question needs (Context Collector)."""
    question: str | None = None
    verdict: Verdict | None = None
    verdict_rationale: str | None = None
    verdict_confidence: float | None = None
    grounded_score: float | None = None
    """rapidfuzz alignment of the answer with the paper text, 0–100."""
    answer_span: list[int] | None = None
    """``[start, end]`` of the aligned answer in ``answer_source``."""
    answer_source: str | None = None
    """The text the answer was aligned in: a LaTeX file (offsets index it) or ``expr:<id>``."""
    evidence_grounded: float | None = None
    """Mean alignment score of the question-evidence passages."""
    drafted_by: DraftedBy | None = None
    """Who wrote the query and the answer: ``rules`` (the LaTeX structure: a statement and its
    proof, a formula and the passage deriving it, ``tasks.generate.drafts``) or ``llm`` (the
    Query Draft and Answer Retriever agents)."""
    stage_reached: AgentStage = "target"
    status: CandidateStatus = "pending"
    """``done``: all six stages ran and the verdict is ``derive``; ``drafted``: drafted by the
    rules with no LLM (a real, grounded problem, but no verdict yet: an LLM run refines it);
    ``dropped``: a rule removed it (``reason``); ``failed``: an LLM call failed or gave no usable
    output (``reason``); ``pending``: not finished (budget ran out, or no LLM for a target the
    rules cannot draft: ``awaiting_llm``); a rerun continues it."""
    reason: str | None = None
    refined_with: str | None = None
    """The quality layer's fingerprint of the inputs and code it refined this candidate with;
    ``None`` until it has (or after generation rewrote the candidate): the next refine run takes
    it up."""
    revised_question: str | None = None
    """The question after the quality layer's review → revise loop, when a revision was accepted
    (``question_revisions``); reviewers read it instead of ``question``."""
    transient_failure: bool = False
    """``failed`` for a reason the next run retries (a transport failure after every retry:
    such calls are not cached), rather than a final one (``invalid_output``…)."""
    prompt_versions: dict[str, str] = Field(default_factory=dict)
    models: dict[str, str] = Field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    run_id: str = ""
    updated_at: datetime = Field(default_factory=utcnow)


class Reject(Record):
    TABLE: ClassVar[str] = "rejects"
    KEY: ClassVar[tuple[str, ...]] = ("stage", "entity_id", "reason")
    TIME: ClassVar[str] = "at"

    run_id: str
    stage: str
    entity_id: str
    source_path: str | None = None
    reason: str
    """snake_case, countable."""
    detail: str | None = None
    at: datetime = Field(default_factory=utcnow)


class Quarantine(Record):
    TABLE: ClassVar[str] = "quarantine"
    KEY: ClassVar[tuple[str, ...]] = ("stage", "entity_id", "expectation")
    TIME: ClassVar[str] = "at"

    run_id: str
    stage: str
    entity_id: str
    expectation: str
    column: str | None = None
    row_json: str
    at: datetime = Field(default_factory=utcnow)


class Validation(Record):
    TABLE: ClassVar[str] = "validations"
    KEY: ClassVar[tuple[str, ...]] = ("run_id", "stage", "batch", "expectation", "column")
    TIME: ClassVar[str] = "validated_at"

    run_id: str
    stage: str
    suite: str
    expectation: str
    column: str = ""
    batch: str = ""
    """The batch of the run this outcome is for (a stage validates per task: many per run);
    summed over batches by ``validation_summary``. Empty in rows written before it existed."""
    success: bool
    element_count: int
    unexpected_count: int
    validated_at: datetime = Field(default_factory=utcnow)


PRINCIPLES: tuple[str, ...] = ("reasoning_density", "problem_clarity", "derivation_correctness",
                               "problem_difficulty", "human_heuristics")
"""The five-principle rubric experts score from 1 to 5 (``human_heuristics``: approximations and
heuristic steps a human would take)."""


class Rubric(BaseModel):
    """An expert's judgement: the five principles (1–5), keep or reject, and a comment."""

    reasoning_density: int = Field(ge=1, le=5)
    problem_clarity: int = Field(ge=1, le=5)
    derivation_correctness: int = Field(ge=1, le=5)
    problem_difficulty: int = Field(ge=1, le=5)
    human_heuristics: int = Field(ge=1, le=5)
    decision: Decision
    comment: str = Field(default="", max_length=5000)


class ReviewerOfCandidate(BaseModel):
    candidate_id: str
    reviewer: str


class ExpertReview(Rubric, ReviewerOfCandidate, Record):
    """One reviewer's judgement of one candidate. The review app's database is the system of
    record; the lake holds a copy of it for analysts. (Columns: candidate and reviewer first,
    then the rubric: pydantic orders inherited fields from the last base to the first.)"""

    TABLE: ClassVar[str] = "expert_reviews"
    KEY: ClassVar[tuple[str, ...]] = ("candidate_id", "reviewer")
    TIME: ClassVar[str] = "submitted_at"

    revision: int = 1
    """1 for the first submission; a reviewer who changes their mind raises it."""
    submitted_at: datetime = Field(default_factory=utcnow)

    def scores(self) -> dict[str, int]:
        return {p: getattr(self, p) for p in PRINCIPLES}


class ReviewAssignment(ReviewerOfCandidate, Record):
    TABLE: ClassVar[str] = "review_assignments"
    KEY: ClassVar[tuple[str, ...]] = ("candidate_id", "reviewer")
    TIME: ClassVar[str] = "assigned_at"

    assigned_at: datetime = Field(default_factory=utcnow)


class Adjudication(Record):
    """An admin's final word on a candidate whose reviewers disagreed."""

    TABLE: ClassVar[str] = "adjudications"
    KEY: ClassVar[tuple[str, ...]] = ("candidate_id",)
    TIME: ClassVar[str] = "decided_at"

    candidate_id: str
    adjudicator: str
    decision: Decision
    comment: str = ""
    decided_at: datetime = Field(default_factory=utcnow)


class Selection(Record):
    """One candidate's place in one selection run: chosen or not, and why."""

    TABLE: ClassVar[str] = "selections"
    KEY: ClassVar[tuple[str, ...]] = ("selection_id", "candidate_id")
    TIME: ClassVar[str] = "selected_at"

    selection_id: str
    candidate_id: str
    paper_id: str
    topic: str
    selected: bool
    rank: int | None = None
    """1-based order of choice among the selected; ``None`` when not selected."""
    expert_score: float | None = None
    """Mean of the reviewers' five principle scores."""
    adjusted_score: float | None = None
    """``expert_score`` minus the paper and topic spread penalties when it was chosen."""
    reviewers: int = 0
    reason: SelectionReason
    detail: str = ""
    selected_at: datetime = Field(default_factory=utcnow)


# -- the quality layer (tasks.refine) --------------------------------------------------------------


class QualityScore(Record):
    """One LLM score of one candidate on one criterion, with its rationale."""

    TABLE: ClassVar[str] = "quality_scores"
    KEY: ClassVar[tuple[str, ...]] = ("candidate_id", "stage", "criterion")
    TIME: ClassVar[str] = "scored_at"

    candidate_id: str
    stage: ScoreStage
    criterion: ScoreCriterion
    score: float
    rationale: str = ""
    model: str = ""
    run_id: str = ""
    scored_at: datetime = Field(default_factory=utcnow)


class QuestionRevision(Record):
    """One round of the review → revise loop: the question of that round and its review."""

    TABLE: ClassVar[str] = "question_revisions"
    KEY: ClassVar[tuple[str, ...]] = ("candidate_id", "round")
    TIME: ClassVar[str] = "revised_at"

    candidate_id: str
    round: int
    """0: the question generation wrote; 1…: the reviser's rewrites."""
    question: str
    outcome: RevisionOutcome
    reason: str | None = None
    clarity: float | None = None
    self_containment: float | None = None
    faithfulness: float | None = None
    review_score: float | None = None
    """Mean of the reviewer's three scores for this round's question (``None``: not reviewed)."""
    review_comment: str = ""
    run_id: str = ""
    revised_at: datetime = Field(default_factory=utcnow)


class Solution(Record):
    """One solver sample: a chain-of-thought solution written without the paper's answer, and
    whether its final result matches the paper's target."""

    TABLE: ClassVar[str] = "solutions"
    KEY: ClassVar[tuple[str, ...]] = ("candidate_id", "sample")
    TIME: ClassVar[str] = "solved_at"

    candidate_id: str
    sample: int
    solution: str = ""
    final_answer: str | None = None
    outcome: SolveOutcome
    decided_by: DecidedBy
    reason: str | None = None
    model: str = ""
    run_id: str = ""
    solved_at: datetime = Field(default_factory=utcnow)


class Duplicate(Record):
    """A candidate dropped as a near duplicate, and the twin that was kept."""

    TABLE: ClassVar[str] = "duplicates"
    KEY: ClassVar[tuple[str, ...]] = ("candidate_id",)
    TIME: ClassVar[str] = "found_at"

    candidate_id: str
    twin_id: str
    """The kept candidate (of this run, an earlier run or a release)."""
    method: SimilarityMethod
    similarity: float
    twin_earlier: bool = False
    """The twin came from an earlier run or release, not this one."""
    run_id: str = ""
    found_at: datetime = Field(default_factory=utcnow)


class Contamination(Record):
    """A candidate that overlaps an item of a configured benchmark."""

    TABLE: ClassVar[str] = "contamination"
    KEY: ClassVar[tuple[str, ...]] = ("candidate_id", "benchmark", "item_id")
    TIME: ClassVar[str] = "found_at"

    candidate_id: str
    benchmark: str
    item_id: str
    method: SimilarityMethod
    matched_span: str
    """The overlapping text (normalised n-grams joined), or the benchmark item's opening for an
    embedding match."""
    similarity: float
    run_id: str = ""
    found_at: datetime = Field(default_factory=utcnow)


class QueueEntry(Record):
    """A candidate's place in the expert review queue (DS² ranking)."""

    TABLE: ClassVar[str] = "review_queue"
    KEY: ClassVar[tuple[str, ...]] = ("candidate_id",)
    TIME: ClassVar[str] = "ranked_at"

    candidate_id: str
    paper_id: str
    rank: int
    """1-based order in which experts read. The queue is rewritten whole every run: a candidate
    dropped since has no entry."""
    raw_score: float | None = None
    """Mean joint score (1–5) as the LLM gave it."""
    curated_score: float | None = None
    """The joint score corrected with the transition matrix (DS²); the raw score when there are
    no embeddings (``reason``)."""
    long_tail_score: float | None = None
    """Mean distance to the k nearest neighbours in embedding space: higher is rarer."""
    solve_rate: float | None = None
    reason: QueueReason = "ranked"
    run_id: str = ""
    ranked_at: datetime = Field(default_factory=utcnow)


# -- releases and evaluation (tasks.curate.release, tasks.evaluate) -------------------------------


class Release(Record):
    """One versioned release: which selection it came from and what changed since the last."""

    TABLE: ClassVar[str] = "releases"
    KEY: ClassVar[tuple[str, ...]] = ("release",)
    TIME: ClassVar[str] = "created_at"

    release: str = Field(pattern=r"^\d{4}-\d{2}$")
    """The release's month, ``2026-12``."""
    previous: str | None = None
    selection_id: str | None = None
    items_active: int = 0
    items_added: int = 0
    items_retired: int = 0
    """Retired since the previous release."""
    items_embargoed: int = 0
    manifest_sha256: str = ""
    created_at: datetime = Field(default_factory=utcnow)


class ReleaseItem(Record):
    """One item's state in one release. Items are never deleted or renumbered: an item keeps its
    id (its candidate's) for life, and once retired it stays in every later release as retired."""

    TABLE: ClassVar[str] = "release_items"
    KEY: ClassVar[tuple[str, ...]] = ("release", "item_id")
    TIME: ClassVar[str] = "recorded_at"

    release: str
    item_id: str
    paper_id: str
    paper_date: date | None = None
    """The paper's first-version date (arXiv v1, or the venue's publication date)."""
    status: ItemStatus
    released_at: date
    """The first release the item was in (its month's first day)."""
    retired_at: datetime | None = None
    retire_reason: RetireReason | None = None
    recorded_at: datetime = Field(default_factory=utcnow)


class Retirement(Record):
    """A decision to retire an item from the next release on (from an audit or by hand)."""

    TABLE: ClassVar[str] = "retirements"
    KEY: ClassVar[tuple[str, ...]] = ("item_id",)
    TIME: ClassVar[str] = "retired_at"

    item_id: str
    reason: RetireReason
    detail: str = ""
    retired_by: str = ""
    retired_at: datetime = Field(default_factory=utcnow)


class Evaluation(Record):
    """One graded answer of one model to one item, in one format, for one sample. Items never
    change, so an answer is a fact about the item: evaluating it again (at a later release, or
    rerunning) replaces its row, and ``eval_id``/``dataset`` name the run that landed it last."""

    TABLE: ClassVar[str] = "evaluations"
    KEY: ClassVar[tuple[str, ...]] = ("item_id", "model", "format", "sample", "prompt_version", "grader_model")
    TIME: ClassVar[str] = "evaluated_at"

    eval_id: str
    """The evaluation run."""
    dataset: str
    """The release (``2026-12``) or the dataset file's name."""
    item_id: str
    paper_id: str = ""
    paper_month: str | None = None
    """``YYYY-MM`` of the paper's first version, for the contamination-by-date curve."""
    model: str
    format: EvalFormat
    sample: int
    prompt_version: str
    raw_answer: str = ""
    parsed_answer: str | None = None
    expected: str | None = None
    """The correct letter (``mc``, ``options_only``) or the target result (``symbolic``)."""
    grade: Grade
    tier: GradeTier
    reason: str | None = Field(default=None, pattern=SNAKE_CASE)
    choice_order: list[int] = Field(default_factory=list)
    """``mc``/``options_only``: the item's options in the order shown (indices into its choices)."""
    correctness: float | None = None
    clarity: float | None = None
    completeness: float | None = None
    similarity: float | None = None
    """``judge``: the rubric (0–2 each), mean of the two orders."""
    order_disagreement: bool | None = None
    """``judge``: the two orders (reference first, answer first) gave different verdicts."""
    grader_model: str | None = None
    """``judge``: the judge's model (part of the key: another judge's grades sit beside these)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    """The model's answer call. One derivation serves the ``judge`` and ``symbolic`` rows and is
    charged once (on the ``symbolic`` row when there is one), so sums over rows are the spend."""
    grader_cost_usd: float = 0.0
    """``judge``: the judge's two readings."""
    cache_hit: bool = False
    evaluated_at: datetime = Field(default_factory=utcnow)


class ItemAudit(Record):
    """An item flagged by an audit of evaluations, with the evidence a human needs."""

    TABLE: ClassVar[str] = "item_audits"
    KEY: ClassVar[tuple[str, ...]] = ("audit_id", "item_id", "flag")
    TIME: ClassVar[str] = "audited_at"

    audit_id: str
    item_id: str
    flag: AuditFlag
    solve_rate: float | None = None
    models: int = 0
    attempts: int = 0
    detail: str = ""
    evidence: str = ""
    """JSON: each model's answers and grades."""
    audited_at: datetime = Field(default_factory=utcnow)


assert allowed(ScoreCriterion) == [*SEED_CRITERIA, *PRINCIPLES]


ALL_RECORDS: tuple[type[Record], ...] = (
    Run, Paper, Review, PaperFilter, Document, Extraction, Section, Expression, ExpressionEdge,
    LLMCall, Candidate, Reject, Quarantine, Validation, ExpertReview, ReviewAssignment,
    Adjudication, Selection, QualityScore, QuestionRevision, Solution, Duplicate, Contamination,
    QueueEntry, Release, ReleaseItem, Retirement, Evaluation, ItemAudit,
)

Submission.model_rebuild()

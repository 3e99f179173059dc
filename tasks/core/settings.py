"""One settings object for the whole platform.

Values come, in increasing priority, from defaults, `stormborn.toml` in the working directory
(or the file named by ``STORMBORN_CONFIG``), and environment variables ``STORMBORN_*`` (nested
fields use ``__``, e.g. ``STORMBORN_OPENREVIEW__USERNAME``). Secrets are ``SecretStr``: they print
as ``**********`` and are only unwrapped at the single place that hands them to a client.
Business code never reads ``os.environ``; it receives a ``Settings``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from tasks.core.records import EvalFormat

DEFAULT_KEYWORDS: tuple[str, ...] = (
    # Verbs and phrases that announce a derivation step.
    "derive", "derives", "derived", "deriving", "derivation", "derivations",
    "we obtain", "we get", "we have", "it follows", "follows from", "yields", "leads to",
    "implies", "therefore", "hence", "thus",
    "substituting", "substitute", "plugging", "rearranging", "simplifying", "expanding",
    "taking the derivative", "differentiating", "integrating", "by induction",
    "approximation", "approximate", "taylor expansion", "first-order", "upper bound", "lower bound",
    # Theorem-like structure.
    "lemma", "theorem", "proposition", "corollary", "proof",
)
"""Default derivation vocabulary (case-insensitive, whole-word/phrase matches).

Chosen from the STORM-BORN keyword idea (derive/derivation) widened with the connectives that
mark derivation steps in ML papers and with theorem-like words. Note that generic connectives
(``thus``, ``hence``) make the count a density signal: the default threshold of 5 is on the
total of all hits, and per-keyword counts are stored so a stricter rule can be applied later.
"""


class VenueRule(BaseModel):
    """How to read one OpenReview venue's reviews and what counts as "above weak accept"."""

    venue_id: str
    api_version: Literal[1, 2] = 2
    rating_fields: list[str] = Field(default_factory=lambda: ["rating", "recommendation"])
    weak_accept: float = 6.0
    """The venue's weak-accept level on its own scale; a paper passes when the mean is above it."""
    submission_invitation: str | None = None
    """Default: ``<venue>/-/Submission`` (API v2) or ``<venue>/-/Blind_Submission`` (API v1);
    set it for venues that name it otherwise (e.g. a non-blind v1 venue's ``/-/Submission``)."""
    review_invitation_suffix: str = "Official_Review"
    decision_invitation_suffix: str = "Decision"


class OpenReviewSettings(BaseModel):
    baseurl_v2: str = "https://api2.openreview.net"
    baseurl_v1: str = "https://api.openreview.net"
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    venues: list[VenueRule] = Field(
        default_factory=lambda: [
            VenueRule(venue_id="ICLR.cc/2025/Conference"),
            VenueRule(venue_id="NeurIPS.cc/2024/Conference"),
        ]
    )


class ArxivSettings(BaseModel):
    api_url: str = "https://export.arxiv.org/api/query"
    oai_url: str = "https://oaipmh.arxiv.org/oai"
    """arXiv's OAI-PMH endpoint: the only arXiv API that states a paper's licence."""
    eprint_url: str = "https://arxiv.org/e-print/"
    """Where a paper's LaTeX source (e-print) is downloaded from; the id and version are appended."""
    categories: list[str] = Field(default_factory=lambda: ["cs.LG", "stat.ML", "cs.CL", "cs.AI"])
    page_size: int = 500
    max_results_per_window: int = 10_000
    """arXiv's export API refuses to page beyond ~10,000 results per query: windows are split until
    each one stays below this."""
    seconds_per_request: float = 3.0
    retries: int = 5
    timeout_s: float = 60.0


def no_credentials_in_url(url: str | None) -> str | None:
    """Refuse ``https://user:password@host``: a URL is printed, logged and stored as a flow-run
    parameter, so credentials go in their own secret settings instead."""
    if url and "@" in urlsplit(url).netloc:
        raise ValueError("credentials in a URL are refused (it is printed, logged and stored); give them "
                         "as a secret setting instead (llm.api_key, s3.access_key_id/secret_access_key)")
    return url


class S3Settings(BaseModel):
    endpoint_url: str | None = None
    """An S3-compatible endpoint (MinIO, moto); falls back to the standard AWS_ENDPOINT_URL."""

    _plain_url = field_validator("endpoint_url")(no_credentials_in_url)
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    region: str | None = None


class FetchSettings(BaseModel):
    timeout_s: float = 60.0
    """Per connect and per read."""
    deadline_s: float = 600.0
    """A whole download, retries included: a server dripping bytes cannot hold a worker longer."""
    retries: int = 4
    max_bytes: int = 50_000_000
    redirect_hosts: list[str] = Field(default_factory=lambda: ["arxiv.org", "openreview.net"])
    """Redirects are followed only to https on these hosts (and their subdomains)."""
    parse_deadline_s: float = 120.0
    """Reading one body (PDF text, e-print files) in a child process; past it: ``parse_timeout``."""
    parse_memory_mb: int = 1536
    """Memory the child reading one body may add; past it: ``memory_limit``."""
    downloads_per_second: float = 1.0
    user_agent: str = "stormborn/0.1 (research dataset builder; polite harvester)"


class ExtractSettings(BaseModel):
    paper_deadline_s: float = 120.0
    """Extracting one paper, in a child process; past it: ``extraction_timeout``."""
    paper_memory_mb: int = 2048
    """Memory the child extracting one paper may add; past it: ``memory_limit``."""
    max_source_chars: int = 5_000_000
    """A flattened LaTeX source longer than this is read up to it (``source_too_large``)."""
    papers_per_task: int = 8
    """Papers per extraction task. A paper takes about a second to extract; Great Expectations
    validates each task's rows once, so a few papers per task keep validation off the critical path."""


AGENTS: tuple[str, ...] = ("extractor", "query_draft", "answer_retriever", "context_collector",
                          "question_refiner", "answer_filter")


class AgentSettings(BaseModel):
    """What one agent calls: a model and its sampling. Empty fields fall back to ``LLMSettings``."""

    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None


class Price(BaseModel):
    """US dollars per million tokens."""

    prompt: float = 0.0
    completion: float = 0.0


class LLMSettings(BaseModel):
    """The OpenAI-compatible endpoint every agent calls (OpenAI, vLLM, Ollama, llama.cpp…)."""

    base_url: str | None = None
    """``https://api.openai.com/v1``, ``http://localhost:8000/v1``…; empty means no LLM is configured."""

    _plain_url = field_validator("base_url")(no_credentials_in_url)
    api_key: SecretStr | None = None
    model: str = "gpt-4o-mini"
    temperature: float = 0.0
    max_tokens: int = 2048
    agents: dict[str, AgentSettings] = Field(default_factory=dict)
    """Per-agent overrides, keyed by agent name (``answer_filter``…)."""
    timeout_s: float = 120.0
    retries: int = 6
    """Attempts after the first for 429, 5xx, timeouts and connection errors."""
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0
    concurrency: int = 32
    """Calls in flight at once for the whole run, however many Dask workers its tasks run on
    (they share it: ``tasks.io.llm.limit``)."""
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    """Shared by all workers through Prefect rate limits; ``None`` means no limit."""
    prices: dict[str, Price] = Field(default_factory=lambda: {
        "gpt-4o-mini": Price(prompt=0.15, completion=0.60),
        "gpt-4o": Price(prompt=2.50, completion=10.00),
        "gpt-4.1-mini": Price(prompt=0.40, completion=1.60),
        "gpt-4.1": Price(prompt=2.00, completion=8.00),
    })
    """Model → price; a model not listed costs 0 (a local server)."""
    budget_usd: float | None = None
    """Stop issuing new calls once the run has spent this much; the run can be resumed. Every
    model the run calls needs a price then (``check_budget``): an unpriced one would cost $0."""

    @property
    def configured(self) -> bool:
        return bool(self.base_url)

    def unpriced(self, agents: tuple[str, ...]) -> list[str]:
        """The models these agents call that have no price: with a budget they would cost $0 and
        the budget would never stop them."""
        return sorted({self.for_agent(a).model for a in agents} - set(self.prices))

    def check_budget(self, agents: tuple[str, ...]) -> None:
        """Refuse a budget that cannot be enforced (``ValueError`` naming the unpriced models)."""
        missing = self.unpriced(agents) if self.budget_usd is not None else []
        if missing:
            raise ValueError(f"with a budget every model needs a price: {', '.join(missing)} has none; set "
                             f"llm.prices.<model> (prompt and completion USD per million tokens, 0 for a free "
                             f"local model)")

    def for_agent(self, agent: str) -> AgentSettings:
        """The model and sampling ``agent`` uses, with defaults filled in."""
        own = self.agents.get(agent, AgentSettings())
        return AgentSettings(model=own.model or self.model,
                             temperature=self.temperature if own.temperature is None else own.temperature,
                             max_tokens=own.max_tokens or self.max_tokens)


class GenerateSettings(BaseModel):
    target: int = 2000
    """Derivation candidates to generate per run (the extractor's targets, across papers)."""
    targets_per_paper: int = 20
    """At most this many targets from one paper, so one long paper cannot fill the run."""
    draft_batch: int = 20
    """Targets per Query Draft call (STORM-BORN batches 20)."""
    papers_per_task: int = 50
    """At most this many papers per generation task; the flow makes at least one task per Dask
    worker and spreads papers evenly. Calls inside a task run concurrently, and Great Expectations
    validates each task's candidates once (a fixed cost per suite run), so few large tasks are
    faster than many small ones."""
    grounded_threshold: float = 85.0
    """rapidfuzz partial-alignment score (0–100) an answer must reach against the paper text."""
    excerpt_chars: int = 12_000
    """Upper bound on the paper text sent with one call."""
    rules_drafts: bool = True
    """Draft LaTeX targets the structure answers exactly (a statement and its proof, a formula and
    the passage deriving it) with no LLM (``tasks.generate.drafts``); the agents then skip the
    Query Draft and the Answer Retriever for them. Off: every target goes through all agents."""
    paper_deadline_s: float = 1800.0
    """Wall-clock limit on one paper's agents 2–6 (every call, retry and back-off). A paper over
    it ends ``failed/generation_timeout``, retried by the next run from the LLM cache; the other
    papers of the task go on."""


class ReviewSettings(BaseModel):
    db: str = ""
    """The review database (SQLite, always local to the app). Empty means ``{home}/review.sqlite``."""
    host: str = "127.0.0.1"
    port: int = 8800
    reviewers_per_candidate: int = 2
    """k: each candidate goes to this many reviewers, blind."""
    disagreement: float = 2.0
    """A candidate goes to adjudication when its reviewers' decisions differ, or when one
    principle's scores (1–5) are this far apart."""
    secure_cookies: bool | None = None
    """Mark the login cookies ``Secure`` (sent over HTTPS only). Unset: Secure unless the app
    listens on loopback, so an app reachable from the network never sends a session in clear
    text; set ``false`` only on a network you trust."""
    session_days: float = 14.0
    """A browser login lasts this long (logging out ends it at once)."""
    snapshot_seconds: float = 10.0
    """At most one copy of the reviews into the lake (and catalog republish) per this many
    seconds while reviewers work; the copy takes ~0.5 s of the app's CPU at 4,000 reviews."""


    def cookies_secure(self) -> bool:
        if self.secure_cookies is not None:
            return self.secure_cookies
        if self.host == "localhost":
            return False
        try:
            return not ipaddress.ip_address(self.host).is_loopback
        except ValueError:  # a host name: assume it is reachable from elsewhere
            return True


class DashboardSettings(BaseModel):
    """The analyst dashboard (``stormborn dashboard``): read-only pages over the catalog."""

    host: str = "127.0.0.1"
    """It has no login: keep it on loopback, or put it behind a proxy that authenticates."""
    port: int = 8850


class OpsSettings(BaseModel):
    """Who hears about a failed run."""

    webhook_url: SecretStr | None = None
    """Every flow run that fails POSTs a JSON message here (Slack- and Teams-style incoming
    webhooks take its ``text``; others read the fields). A secret: such URLs carry their token.
    ``prefect-secret:NAME`` reads it from a Prefect Secret block. Unset: no notification."""
    webhook_timeout_s: float = 10.0
    webhook_attempts: int = 3
    """Tries per notification (exponential back-off between them); a receiver that stays down
    is logged, never turns the run's own failure into another error."""
    ui_url: str = ""
    """The Prefect UI's address for links in notifications (e.g. ``https://prefect.internal``);
    empty: derived from the API URL (``…/api`` → ``…``)."""


class SelectSettings(BaseModel):
    n: int = 100
    per_paper: int = 3
    """At most this many problems from one paper."""
    topic_penalty: float = 0.15
    """Score taken off a candidate for each problem already chosen from its topic (arXiv primary
    category or venue), so the set spreads across topics before it deepens in one."""
    paper_penalty: float = 0.3
    """Score taken off for each problem already chosen from its paper."""
    min_correctness: int = 3
    """A problem whose reviewers' mean derivation-correctness is below this is never chosen."""


class ExportSettings(BaseModel):
    test_fraction: float = 0.3
    """Share of problems (whole papers at a time) in the test split."""
    distractors: int = 3
    """Wrong derivations per multiple-choice problem."""
    embargo_months: int = Field(default=0, ge=0)
    """Releases keep items whose paper first appeared in the last N months up to the release
    private (``private/``), until a later release's window has passed them; 0: no embargo."""


class BenchmarkFile(BaseModel):
    """A benchmark to decontaminate against: a JSONL file, a Parquet file or a local Hugging Face
    dataset folder (``save_to_disk``: Arrow files), with the fields holding its text."""

    name: str
    path: str
    text_fields: list[str] = Field(default_factory=lambda: ["question", "problem", "answer", "solution"])
    """Fields whose text is compared (those present in a row; a row with none is recorded)."""
    id_field: str | None = None
    """The field naming an item; unset, an item is named by its row number."""
    encoding: str = "utf-8"


class ModelCard(BaseModel):
    """A model under evaluation: where it answers, what it costs, and what it may have seen."""

    base_url: str | None = None
    """Its OpenAI-compatible endpoint; empty: ``llm.base_url``."""

    _plain_url = field_validator("base_url")(no_credentials_in_url)
    api_key: SecretStr | None = None
    """Empty: ``llm.api_key``."""
    training_cutoff: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}$")
    """``YYYY-MM``, as the model's maker states it: papers after it cannot have been read in
    training, so accuracy by paper month around it is a leak probe."""
    price: Price | None = None


class EvaluateSettings(BaseModel):
    """Evaluating models on a release or a dataset file (``tasks.evaluate``)."""

    samples: int = Field(default=4, ge=1)
    """Answers per item, model and format."""
    temperature: float = 0.7
    """Sampling temperature of the models under evaluation (above 0: samples differ)."""
    max_tokens: int = 4096
    formats: list[EvalFormat] = Field(default_factory=lambda: ["mc", "options_only", "judge", "symbolic"])
    judge_model: str | None = None
    """The judge's model on ``llm.base_url``; empty: ``llm.model``."""
    symbolic_timeout_s: float = 10.0
    """Wall-clock limit on one symbolic comparison (a child process, killed at the limit)."""
    symbolic_memory_mb: int = 1024
    concurrency: int = 16
    """Calls in flight at once per endpoint: each model under evaluation and the judge have
    their own allowance (they are different servers, or different models on one)."""
    models: dict[str, ModelCard] = Field(default_factory=dict)
    """Per-model endpoint, price and training cutoff, keyed by the model's name."""
    min_models_for_audit: int = 2
    """An item is flagged ``all_fail``/``all_pass``/``split`` only when at least this many models
    answered it."""


class RefineSettings(BaseModel):
    """The quality layer between generation and expert review (``tasks.refine``)."""

    score_floor: float = 2.0
    """A candidate whose mean seed score (0–5) is below this is ``dropped/low_quality_score``."""
    review_bar: float = 4.5
    """The question reviewer's mean score (0–5) that ends the review → revise loop."""
    revise_rounds: int = 3
    """At most this many revisions of one question."""
    solve_samples: int = 1
    """Solver samples per candidate; their share solved is the solve rate."""
    verify_timeout_s: float = 5.0
    """Wall-clock limit on one symbolic comparison (run in a subprocess, killed at the limit)."""
    minhash_threshold: float = 0.6
    """Estimated Jaccard similarity of word 5-gram shingles above which two candidates are near
    duplicates. 0.6, not 0.7: on ~70-word texts a dropped sentence or three changed words take a
    true twin below 0.7 (planted-pair recall 0.87 at 0.7, 0.98 at 0.6, precision 1.00 at both:
    BENCHMARKS.md §12)."""
    minhash_permutations: int = 128
    embedding_threshold: float = 0.92
    """Cosine similarity of question embeddings above which two candidates are paraphrases."""
    benchmarks: list[BenchmarkFile] = Field(default_factory=list)
    """Benchmarks to decontaminate against (none bundled)."""
    ngram: int = 13
    """Length of the word n-grams compared for contamination."""
    contamination_similarity: float = 0.95
    """Cosine similarity to a benchmark item's embedding that counts as contamination."""
    knn: int = 10
    """Neighbours for DS²'s transition matrix and long-tail score."""
    transition_correction: bool = True
    """Correct the joint scores with DS²'s transition matrix. It helps when embedding neighbours
    share a quality level and costs reviews when they only partly do (BENCHMARKS.md §11): once
    experts have reviewed the head of a queue, compare ``raw_score`` and ``curated_score``
    against their decisions (``queue_health``) and switch it off if the raw order did better."""
    page_size: int = 20
    """Queue entries per page of the review queue."""
    per_paper_per_page: int = 2
    """At most this many candidates of one paper on one queue page."""
    embedding_model: str = "all-MiniLM-L6-v2"
    """The sentence-embedding model (installed from the registry; nothing is downloaded)."""
    candidates_per_task: int = 200


class StackSettings(BaseModel):
    """``stormborn stack up``: the production-shaped stack on this machine (PostgreSQL, a Prefect
    server and worker, a Dask scheduler and workers, moto's S3 server as the lake, the review app
    and the dashboard), each on loopback on its own port, with pid and log files under
    ``{home}/stack/``. ``infra/compose.yaml`` is the same topology in containers."""

    workers: int = Field(default=2, ge=1)
    """Dask worker processes (one thread each); ``stormborn stack up --workers N`` overrides it."""
    postgres_port: int = 54329
    """PostgreSQL, Prefect's database (``prefect`` on it)."""
    prefect_port: int = 4210
    """The stack's Prefect server (API under ``/api``, UI at ``/``). Not ``prefect_port``: the
    server other commands start on demand keeps its own port and database."""
    dask_port: int = 8786
    """The Dask scheduler (``tcp://127.0.0.1:<port>``)."""
    dask_dashboard_port: int = 8787
    s3_port: int = 9010
    """moto's S3 server, the stack's lake (``s3://{bucket}/lake``). Its objects live in memory:
    ``stack down`` forgets them."""
    review_port: int = 8810
    dashboard_port: int = 8860
    bucket: str = "stormborn"
    s3_access_key_id: SecretStr = SecretStr("stormborn-stack")
    """The credentials every stack process gets for the lake (moto accepts any; still secrets)."""
    s3_secret_access_key: SecretStr = SecretStr("stormborn-stack-secret")
    postgres_bin: str = ""
    """The folder of ``initdb`` and ``pg_ctl``; empty: the newest ``/usr/lib/postgresql/*/bin``."""
    start_timeout_s: float = 180.0
    """How long each component may take to become ready before ``up`` gives up."""
    worker_query_seconds: float = 2.0
    """How often the Prefect worker polls for scheduled runs (``PREFECT_WORKER_QUERY_SECONDS``)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STORMBORN_",
        env_nested_delimiter="__",
        toml_file="stormborn.toml",
        extra="ignore",
    )

    home: str = ".stormborn"
    lake: str = ""
    """Lake URL: a local path or ``s3://bucket/prefix``. Empty means ``{home}/lake``."""
    catalog: str = ""
    """DuckDB catalog file (always local). Empty means ``{home}/catalog.duckdb``."""
    batch_size: int = 50
    """Papers per document task. Each Prefect task submission costs tens of milliseconds of
    orchestration; 50 papers of fetching and parsing take tens of seconds, so batches of 50
    keep the overhead small and still spread a month's papers across the workers."""
    keyword_threshold: int = 5
    keywords: list[str] = Field(default_factory=lambda: list(DEFAULT_KEYWORDS))
    match_title_threshold: float = 92.0
    match_author_overlap: float = 0.5
    dask_workers: int = 2
    dask_address: str | None = None
    prefect_port: int = 4200
    arxiv: ArxivSettings = Field(default_factory=ArxivSettings)
    openreview: OpenReviewSettings = Field(default_factory=OpenReviewSettings)
    s3: S3Settings = Field(default_factory=S3Settings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    extract: ExtractSettings = Field(default_factory=ExtractSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    generate: GenerateSettings = Field(default_factory=GenerateSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    select: SelectSettings = Field(default_factory=SelectSettings)
    export: ExportSettings = Field(default_factory=ExportSettings)
    refine: RefineSettings = Field(default_factory=RefineSettings)
    evaluate: EvaluateSettings = Field(default_factory=EvaluateSettings)
    ops: OpsSettings = Field(default_factory=OpsSettings)
    stack: StackSettings = Field(default_factory=StackSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = os.environ.get("STORMBORN_CONFIG", "stormborn.toml")
        return (
            init_settings,
            env_settings,
            file_secret_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_path),
        )

    @property
    def lake_url(self) -> str:
        return self.lake or str(Path(self.home) / "lake")

    @property
    def catalog_path(self) -> str:
        return self.catalog or str(Path(self.home) / "catalog.duckdb")

    @property
    def review_db_path(self) -> str:
        return self.review.db or str(Path(self.home) / "review.sqlite")

    def masked(self) -> dict[str, Any]:
        """The effective settings as plain data with every secret masked."""
        return _mask(self.model_dump(mode="python"))

    def secret_values(self) -> list[str]:
        """Every secret these settings hold, in clear, for ``redact`` only (a ``prefect-secret:``
        reference counts as its name; the shapes ``redact`` knows catch common key formats)."""
        return [s.get_secret_value() for s in _secrets_in(self.model_dump(mode="python"))]


def _mask(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return "**********"
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def _secrets_in(value: Any) -> list[SecretStr]:
    if isinstance(value, SecretStr):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _secrets_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in _secrets_in(v)]
    return []


def load_settings(**overrides: Any) -> Settings:
    """Build the settings; keyword overrides (from the CLI) win over env and file."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


PREFECT_SECRET_PREFIX = "prefect-secret:"
REDACTED = "[redacted]"
_SECRET_SHAPES = (
    re.compile(r"(?<=Bearer )[^\s\"',)]+", re.I),  # an Authorization header quoted back
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),  # OpenAI-style API keys
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),  # user:password@ in a URL
)
MIN_SECRET_CHARS = 4
"""Shorter configured values are not searched for: they would blank ordinary words."""


def redact(text: str, secrets: list[str | None]) -> str:
    """``text`` with every configured secret value and every key-like shape replaced, for error
    text that is stored, logged or exported (an endpoint may quote the caller's key back)."""
    for secret in sorted((s for s in secrets if s and len(s) >= MIN_SECRET_CHARS), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    for shape in _SECRET_SHAPES:
        text = shape.sub(REDACTED, text)
    return text


def describe_error(exc: BaseException, settings: Settings) -> str:
    """An exception as stored error text (``rejects.detail`` and the like): its class and
    message, at most 500 characters, with every secret of ``settings`` and every key-like shape
    redacted — a remote service's error may quote a credential or a signed URL back."""
    return redact(f"{type(exc).__name__}: {exc}", settings.secret_values())[:500]


def reveal(secret: SecretStr | None) -> str | None:
    """Unwrap a secret for handing to a client, never for printing.

    A value of the form ``prefect-secret:NAME`` is read from the Prefect Secret block ``NAME``,
    so production credentials can live in Prefect instead of env or files.
    """
    if secret is None:
        return None
    raw = secret.get_secret_value()
    if raw.startswith(PREFECT_SECRET_PREFIX):
        from prefect.blocks.system import Secret

        return str(Secret.load(raw[len(PREFECT_SECRET_PREFIX):]).get())
    return raw

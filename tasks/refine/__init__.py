"""The quality layer between generation and expert review (AgenticMath's scoring, review and
revision, solutions and joint scoring; DS² ranking), one module per stage, in pipeline order:

1. ``candidate_scorer``: complexity, information value, clarity, precision (0–5) → drop below
   the floor (``low_quality_score``);
2. ``question_review``: reviewer → reviser, at most ``refine.revise_rounds`` rounds; a revision
   that changes the mathematics is refused (``revision_changed_math``);
3. ``solver`` (with ``tasks.core.equivalence``): chain-of-thought solutions without the paper's
   answer, their final result compared with the target → solve rate;
4. ``joint_scorer``: the experts' five-principle rubric on question and answer together;
5. ``near_duplicates``: MinHash LSH and embeddings, within the run and against earlier ones;
6. ``contamination``: 13-gram overlap and embeddings against configured benchmark files;
7. ``ranking``: DS² curated scores, long-tail scores, the per-paper page cap → ``review_queue``.

``steps`` runs them: the LLM stages per batch of candidates on the Dask workers, the whole-run
stages (5–7) once over the run's candidates.
"""

from pathlib import Path

PROMPTS = Path(__file__).parent / "prompts"

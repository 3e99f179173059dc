-- Named queries the stages, the review app's loader and the CLI run against the catalog
-- (tasks/io/storage/catalog.py: `named_rows(settings, "<name>", **params)`). Parameters are
-- bound (`$name`), never quoted in. `$paper_ids` is a list of paper ids, or NULL for all papers.

-- name: recent_runs
SELECT * FROM run_funnel LIMIT $limit;

-- name: extraction_plan
-- Accepted papers (paper_filters.passed) with a parsed LaTeX source and/or PDF.
SELECT f.paper_id,
       max(d.sha256) FILTER (WHERE d.kind = 'latex') AS latex_sha256,
       max(d.sha256) FILTER (WHERE d.kind = 'pdf') AS pdf_sha256
FROM paper_filters f JOIN documents d USING (paper_id)
WHERE f.passed AND d.parse_status = 'ok'
  AND (CAST($paper_ids AS VARCHAR[]) IS NULL OR list_contains(CAST($paper_ids AS VARCHAR[]), f.paper_id))
GROUP BY f.paper_id
ORDER BY f.paper_id;

-- name: generation_papers
-- Papers with extracted expressions (extraction ok or partial), with their user macros.
SELECT paper_id, extractor, macros
FROM extractions
WHERE status IN ('ok', 'partial') AND expressions > 0
  AND (CAST($paper_ids AS VARCHAR[]) IS NULL OR list_contains(CAST($paper_ids AS VARCHAR[]), paper_id))
ORDER BY paper_id;

-- name: generation_expressions
SELECT x.*
FROM expressions x JOIN extractions e USING (paper_id)
WHERE e.status IN ('ok', 'partial') AND e.expressions > 0
  AND (CAST($paper_ids AS VARCHAR[]) IS NULL OR list_contains(CAST($paper_ids AS VARCHAR[]), e.paper_id))
ORDER BY x.paper_id, x.source_file NULLS LAST, x.char_start NULLS LAST, x.page, x.expr_id;

-- name: generation_edges
SELECT x.*
FROM expression_edges x JOIN extractions e USING (paper_id)
WHERE e.status IN ('ok', 'partial') AND e.expressions > 0
  AND (CAST($paper_ids AS VARCHAR[]) IS NULL OR list_contains(CAST($paper_ids AS VARCHAR[]), e.paper_id));

-- name: review_items
-- Finished (or rules-drafted) candidates as a reviewer sees them: question (as the quality layer revised it),
-- derivation, evidence, the PDF page; and their place in the review queue with the LLM's pre-review (admins only).
SELECT c.candidate_id, c.paper_id, p.title, p.license, p.arxiv_id,
       coalesce(p.primary_category, p.venue, p.source) AS topic,
       coalesce(c.revised_question, c.question) AS question, c.answer, c.answer_portable, c.unrenderable_latex, c.answer_evidence, c.question_evidence,
       c.target_expr, c.target_kind,
       c.target_number, c.target_latex, c.setting, c.grounded_score, c.verdict_confidence,
       e.page, e.bbox, e.context_before, e.context_after, d.uri AS pdf_uri, c.status, c.drafted_by,
       q.rank AS queue_rank, q.raw_score AS pre_review_score, q.curated_score, q.solve_rate
FROM candidates c
JOIN papers p USING (paper_id)
LEFT JOIN review_queue q ON q.candidate_id = c.candidate_id
LEFT JOIN expressions e ON e.expr_id = c.target_expr
LEFT JOIN documents d ON d.paper_id = c.paper_id AND d.kind = 'pdf' AND d.parse_status = 'ok'
WHERE c.status IN ('done', 'drafted') AND c.candidate_id NOT IN (SELECT candidate_id FROM superseded_drafts)
ORDER BY q.rank NULLS LAST, c.paper_id, c.candidate_id;

-- name: release_problems
-- The selected problems of the latest selection, with their paper and lineage; paper_date is the
-- paper's first-version timestamp (papers.published; the export takes its UTC date), target_portable
-- the target formula with the paper's macros expanded (else as written).
WITH latest AS (SELECT selection_id FROM selections ORDER BY selected_at DESC LIMIT 1)
SELECT s.selection_id, s.rank, s.expert_score, s.topic, c.candidate_id, c.paper_id, p.title,
       p.arxiv_id, p.license, p.license_source, p.source AS paper_source, p.venue, p.published AS paper_date,
       c.question, c.answer, c.answer_portable, c.target_expr,
       COALESCE(NULLIF(e.latex_expanded, ''), NULLIF(c.target_latex, '')) AS target_portable,
       c.precondition_exprs, c.answer_evidence,
       c.question_evidence, c.answer_span, c.answer_source, c.grounded_score,
       c.prompt_versions, c.models
FROM selections s JOIN latest USING (selection_id)
JOIN candidates c USING (candidate_id)
JOIN papers p ON p.paper_id = c.paper_id
LEFT JOIN expressions e ON e.expr_id = c.target_expr
WHERE s.selected
ORDER BY s.rank;

-- name: release_reviews
-- Every expert review with the five principles of the rubric (tasks.core.records.PRINCIPLES).
SELECT candidate_id, reviewer, decision, reasoning_density, problem_clarity,
       derivation_correctness, problem_difficulty, human_heuristics
FROM expert_reviews
ORDER BY candidate_id, reviewer;

-- name: refine_candidates
-- Every candidate (the quality layer rewrites a touched paper's rows whole), with whether an LLM twin supersedes it.
SELECT c.*, c.candidate_id IN (SELECT candidate_id FROM superseded_drafts) AS superseded
FROM candidates c
ORDER BY c.paper_id, c.candidate_id;

-- name: refine_earlier
-- Candidates kept before this run: reviewed, released, or queued by an earlier run.
SELECT candidate_id FROM expert_reviews
UNION SELECT candidate_id FROM selections WHERE selected
UNION SELECT candidate_id FROM review_queue WHERE run_id <> $run_id;

-- name: refine_embedding_twins
-- The near duplicates the embeddings found last time (kept dropped while the embedding model cannot load).
SELECT * FROM duplicates WHERE method = 'embedding';

-- name: refine_signals
-- The ranking's inputs from earlier runs: mean joint score (every criterion within $low..$high) and solve rate,
-- from each candidate's latest refinement only (the run of its round-0 question row, written every time it is
-- refined): a failed call or fewer samples must not let an older run's rows stand in.
WITH latest AS (SELECT candidate_id, run_id FROM question_revisions WHERE round = 0),
joint AS (
    SELECT q.candidate_id, avg(q.score) AS joint_score
    FROM quality_scores q JOIN latest l ON l.candidate_id = q.candidate_id AND l.run_id = q.run_id
    WHERE q.stage = 'joint_score'
    GROUP BY q.candidate_id HAVING bool_and(q.score BETWEEN $low AND $high)),
solved AS (
    SELECT s.candidate_id, avg(CASE WHEN s.outcome = 'solved' THEN 1.0 ELSE 0.0 END) AS solve_rate
    FROM solutions s JOIN latest l ON l.candidate_id = s.candidate_id AND l.run_id = s.run_id
    WHERE s.outcome <> 'undecided' GROUP BY s.candidate_id)
SELECT candidate_id, j.joint_score, s.solve_rate
FROM joint j FULL OUTER JOIN solved s USING (candidate_id);

-- name: evaluation_rows
-- The latest graded answers (the catalog keeps the latest row per item, model, format, sample
-- and prompt version) of one dataset or release, or of all when `$dataset` is NULL.
SELECT item_id, paper_id, paper_month, model, format, sample, prompt_version, grade, tier, reason,
       parsed_answer, expected, raw_answer, choice_order, dataset
FROM evaluations
WHERE CAST($dataset AS VARCHAR) IS NULL OR dataset = $dataset
ORDER BY item_id, model, format, sample;

-- name: evaluation_run
-- The graded answers one evaluation run landed.
SELECT item_id, paper_month, model, format, sample, grade, tier, reason, parsed_answer, expected, choice_order
FROM evaluations
WHERE eval_id = $eval_id;

-- name: calibration_grader_scores
-- The quality layer's LLM scores of the candidates experts reviewed (tasks.evaluate.calibration): those in
-- expert_reviews, or the given $candidate_ids (a list, e.g. the review database's reviewed candidates).
-- The prompt version is the scoring agent's, from the ledger row of the same candidate and run.
SELECT q.candidate_id, q.stage, q.criterion, q.score, q.model, q.run_id,
       (SELECT max(c.prompt_version) FROM llm_calls c
        WHERE c.entity_id = q.candidate_id AND c.run_id = q.run_id AND c.status = 'ok'
          AND c.stage = CASE q.stage WHEN 'candidate_score' THEN 'candidate_scorer' ELSE 'joint_scorer' END
       ) AS prompt_version
FROM quality_scores q
WHERE CASE WHEN CAST($candidate_ids AS VARCHAR[]) IS NULL
           THEN q.candidate_id IN (SELECT candidate_id FROM expert_reviews)
           ELSE q.candidate_id IN (SELECT unnest(CAST($candidate_ids AS VARCHAR[]))) END
ORDER BY q.stage, q.model, q.candidate_id, q.criterion;

-- name: calibration_expert_reviews
-- Every expert review with the five principles and its candidate's adjudication (NULL: none).
SELECT r.candidate_id, r.reviewer, r.decision, r.reasoning_density, r.problem_clarity,
       r.derivation_correctness, r.problem_difficulty, r.human_heuristics, j.decision AS adjudicated
FROM expert_reviews r LEFT JOIN adjudications j USING (candidate_id)
ORDER BY r.candidate_id, r.reviewer;

-- name: calibration_judge_pairs
-- Every judge grade with its reference grade, if any (the view judge_reference_pairs).
SELECT item_id, model, sample, prompt_version, grader_model, judge_grade, reference_grade, reference_source,
       reference_tier
FROM judge_reference_pairs
ORDER BY prompt_version, grader_model, model, item_id, sample;

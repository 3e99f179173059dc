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

-- The analyst dashboard (dashboards/app.py) ----------------------------------------------------------
-- Read-only, one read-only connection per page; every value is a bound parameter.

-- name: dashboard_funnel_by_month
SELECT * FROM funnel_by_month ORDER BY month DESC LIMIT $limit;

-- name: dashboard_funnel_by_run
SELECT * FROM run_funnel_stages LIMIT $limit;

-- name: dashboard_rejects_by_month
-- Rejects by reason per month (every stage), the newest $limit months.
WITH months AS (SELECT DISTINCT month FROM rejects_by_month ORDER BY month DESC LIMIT $limit)
SELECT month, reason, sum(n)::BIGINT AS n
FROM rejects_by_month JOIN months USING (month)
GROUP BY ALL
ORDER BY month, n DESC, reason;

-- name: dashboard_rejects_by_stage
SELECT stage, reason, sum(n)::BIGINT AS n FROM rejects_by_month GROUP BY ALL ORDER BY n DESC, stage, reason LIMIT $limit;

-- name: dashboard_validation_by_run
-- Validation outcome per run and stage, with the rows quarantined there; newest runs first.
SELECT v.run_id, v.stage, v.expectations, v.passed, v.expectations - v.passed AS failed, v.unexpected_rows,
       (SELECT count(*) FROM quarantine q WHERE q.run_id = v.run_id AND q.stage = v.stage) AS quarantined,
       r.started_at
FROM validation_summary v LEFT JOIN runs r USING (run_id)
ORDER BY r.started_at DESC NULLS LAST, v.run_id DESC, v.stage
LIMIT $limit;

-- name: dashboard_failed_expectations
SELECT run_id, stage, suite, expectation, "column", sum(element_count)::BIGINT AS element_count,
       sum(unexpected_count)::BIGINT AS unexpected_count, max(validated_at) AS validated_at
FROM validations
GROUP BY run_id, stage, suite, expectation, "column"
HAVING NOT bool_and(success)
ORDER BY validated_at DESC, run_id, stage, expectation
LIMIT $limit;

-- name: dashboard_quarantine_by_stage
SELECT stage, expectation, count(*) AS rows, count(DISTINCT run_id) AS runs, max("at") AS latest
FROM quarantine
GROUP BY ALL
ORDER BY rows DESC, stage, expectation
LIMIT $limit;

-- name: dashboard_spend_by_month
SELECT month, round(sum(cost_usd), 6) AS cost_usd, sum(calls)::BIGINT AS calls, sum(cache_hits)::BIGINT AS cache_hits,
       sum(prompt_tokens)::BIGINT AS prompt_tokens, sum(completion_tokens)::BIGINT AS completion_tokens
FROM llm_spend_by_month
GROUP BY month
ORDER BY month DESC
LIMIT $limit;

-- name: dashboard_spend_by_agent
-- Per agent, model and month: calls sent, cache hits, tokens, dollars (the newest $limit rows).
SELECT * FROM llm_spend_by_month ORDER BY month DESC, cost_usd DESC, agent, model LIMIT $limit;

-- name: dashboard_budget_stops
-- Runs the LLM budget stopped (running them again resumes where they stopped).
SELECT r.run_id, m.month, r.flow, r.started_at, r.finished_at, r.candidates, r.llm_calls, r.cost_usd
FROM runs r JOIN run_months m USING (run_id)
WHERE r.status = 'stopped'
ORDER BY r.started_at DESC
LIMIT $limit;

-- name: dashboard_candidate_status
SELECT status, count(*) AS n FROM candidates GROUP BY status ORDER BY n DESC, status;

-- name: dashboard_candidates_by_reason
SELECT * FROM candidates_by_reason LIMIT $limit;

-- name: dashboard_candidate_count
-- The candidate browser's filters: paper id contains $paper (NULL: any), status (NULL: any),
-- grounded score at least $min_score (NULL: any).
SELECT count(*) AS n
FROM candidates
WHERE (CAST($paper AS VARCHAR) IS NULL OR contains(lower(paper_id), lower($paper)))
  AND (CAST($status AS VARCHAR) IS NULL OR status = $status)
  AND (CAST($min_score AS DOUBLE) IS NULL OR grounded_score >= $min_score);

-- name: dashboard_candidate_list
SELECT candidate_id, paper_id, status, coalesce(reason, '') AS reason, stage_reached, drafted_by, target_kind,
       target_number, grounded_score, verdict_confidence, left(coalesce(revised_question, question, query, ''), 160) AS question
FROM candidates
WHERE (CAST($paper AS VARCHAR) IS NULL OR contains(lower(paper_id), lower($paper)))
  AND (CAST($status AS VARCHAR) IS NULL OR status = $status)
  AND (CAST($min_score AS DOUBLE) IS NULL OR grounded_score >= $min_score)
ORDER BY paper_id, candidate_id
LIMIT $limit OFFSET $offset;

-- name: dashboard_candidate
SELECT c.*, p.title, p.arxiv_id, p.source AS paper_source, p.venue, p.license, p.published,
       q.rank AS queue_rank, q.raw_score, q.curated_score, q.solve_rate, q.reason AS queue_reason
FROM candidates c
LEFT JOIN papers p USING (paper_id)
LEFT JOIN review_queue q ON q.candidate_id = c.candidate_id
WHERE c.candidate_id = $candidate_id;

-- name: dashboard_candidate_expressions
-- The candidate's target and preconditions (the formulas it is derived from and to).
SELECT expr_id, kind, env, title, number, label, section, page, latex
FROM expressions
WHERE list_contains(CAST($expr_ids AS VARCHAR[]), expr_id)
ORDER BY list_position(CAST($expr_ids AS VARCHAR[]), expr_id);

-- name: dashboard_candidate_edges
-- Dependency edges A → B of the paper that touch the candidate's formulas.
SELECT from_expr, from_kind, from_what, from_number, via, command, to_expr, to_kind, to_what, to_number
FROM expression_dependencies
WHERE paper_id = $paper_id
  AND (list_contains(CAST($expr_ids AS VARCHAR[]), from_expr) OR list_contains(CAST($expr_ids AS VARCHAR[]), to_expr))
ORDER BY from_expr, to_expr
LIMIT $limit;

-- name: dashboard_candidate_run
SELECT r.run_id, m.month, r.flow, r.source, r.status, r.started_at, r.finished_at
FROM runs r JOIN run_months m USING (run_id)
WHERE r.run_id = $run_id;

-- name: dashboard_candidate_calls
-- The agents' LLM calls for the candidate (and for its paper), per agent and model.
SELECT stage AS agent, model, run_id, count(*) AS calls, count(*) FILTER (WHERE cache_hit) AS cache_hits,
       sum(prompt_tokens)::BIGINT AS prompt_tokens, sum(completion_tokens)::BIGINT AS completion_tokens,
       round(sum(cost_usd), 6) AS cost_usd, string_agg(DISTINCT status, ', ') AS statuses
FROM llm_calls
WHERE entity_id = $candidate_id OR entity_id = $paper_id
GROUP BY ALL
ORDER BY min("at"), agent
LIMIT $limit;

-- name: dashboard_candidate_reviews
SELECT count(*) AS reviews, count(*) FILTER (WHERE decision = 'keep') AS keeps,
       count(*) FILTER (WHERE decision = 'reject') AS rejects,
       round(avg((reasoning_density + problem_clarity + derivation_correctness + problem_difficulty
                  + human_heuristics) / 5.0), 2) AS mean_score,
       (SELECT any_value(decision) FROM adjudications WHERE candidate_id = $candidate_id) AS adjudicated
FROM expert_reviews
WHERE candidate_id = $candidate_id;

-- name: dashboard_review_counts
SELECT (SELECT count(*) FROM review_queue) AS queued,
       (SELECT count(*) FROM review_assignments) AS assignments,
       (SELECT count(*) FROM expert_reviews) AS reviews,
       (SELECT count(DISTINCT candidate_id) FROM expert_reviews) AS reviewed_candidates,
       (SELECT count(*) FROM adjudications) AS adjudicated,
       (SELECT count(*) FROM expert_keepers) AS keepers;

-- name: dashboard_queue_health
SELECT * FROM queue_health;

-- name: dashboard_reviewer_progress
-- Per reviewer: candidates assigned, reviewed, kept and rejected, mean score, last submission.
SELECT a.reviewer, count(*) AS assigned, count(r.candidate_id) AS reviewed,
       count(*) FILTER (WHERE r.decision = 'keep') AS keeps, count(*) FILTER (WHERE r.decision = 'reject') AS rejects,
       round(avg((r.reasoning_density + r.problem_clarity + r.derivation_correctness + r.problem_difficulty
                  + r.human_heuristics) / 5.0), 2) AS mean_score,
       max(r.submitted_at) AS last_review
FROM review_assignments a
LEFT JOIN expert_reviews r USING (candidate_id, reviewer)
GROUP BY a.reviewer
ORDER BY a.reviewer;

-- name: dashboard_review_agreement
-- Agreement between two reviewers of the same candidate, over every such pair: how often the
-- decisions agree and how far apart each principle's scores are (Krippendorff's α per principle:
-- `stormborn review stats`).
WITH pairs AS (
    SELECT a.decision = b.decision AS same,
           abs(a.reasoning_density - b.reasoning_density) AS reasoning_density,
           abs(a.problem_clarity - b.problem_clarity) AS problem_clarity,
           abs(a.derivation_correctness - b.derivation_correctness) AS derivation_correctness,
           abs(a.problem_difficulty - b.problem_difficulty) AS problem_difficulty,
           abs(a.human_heuristics - b.human_heuristics) AS human_heuristics
    FROM expert_reviews a JOIN expert_reviews b ON a.candidate_id = b.candidate_id AND a.reviewer < b.reviewer)
SELECT count(*) AS pairs, round(avg(same::INTEGER), 3) AS decision_agreement,
       round(avg(reasoning_density), 2) AS reasoning_density, round(avg(problem_clarity), 2) AS problem_clarity,
       round(avg(derivation_correctness), 2) AS derivation_correctness,
       round(avg(problem_difficulty), 2) AS problem_difficulty, round(avg(human_heuristics), 2) AS human_heuristics
FROM pairs;

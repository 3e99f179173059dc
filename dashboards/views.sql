-- Analyst views, created in the DuckDB catalog by every publish step (tasks/io/storage/catalog.py).
-- Dashboards read only these views and the contract tables (runs, papers, reviews,
-- paper_filters, documents, extractions, sections, expressions, expression_edges, rejects,
-- validations, quarantine, candidates, llm_calls).

-- One row per run with its funnel, newest first.
CREATE OR REPLACE VIEW run_funnel AS
SELECT run_id, flow, source, since, until, status, started_at, finished_at,
       listed, matched, rating_pass, documents_fetched, keyword_pass, papers_extracted,
       expressions, expression_edges, candidates, candidates_kept, candidates_drafted, llm_calls, cost_usd,
       rejected, quarantined
FROM runs
ORDER BY started_at DESC;

-- Why records were dropped, per run and stage.
CREATE OR REPLACE VIEW rejects_by_reason AS
SELECT run_id, stage, reason, count(*) AS n
FROM rejects
GROUP BY ALL
ORDER BY run_id, stage, n DESC;

-- Papers that passed both rules, with their evidence and documents.
CREATE OR REPLACE VIEW accepted_papers AS
SELECT p.paper_id, p.title, p.venue, p.license, f.rating_mean, f.rating_threshold,
       f.keyword_total, f.keyword_text_source,
       (SELECT count(*) FROM documents d WHERE d.paper_id = p.paper_id AND d.parse_status = 'ok')
           AS documents_ok
FROM papers p JOIN paper_filters f USING (paper_id)
WHERE f.passed;

-- Validation outcome per run and stage.
CREATE OR REPLACE VIEW validation_summary AS
SELECT run_id, stage, count(*) AS expectations, count(*) FILTER (WHERE success) AS passed,
       sum(unexpected_count)::BIGINT AS unexpected_rows
FROM validations
GROUP BY ALL
ORDER BY run_id, stage;

-- Per paper: how much mathematics it holds ("which papers have the most numbered derivations").
CREATE OR REPLACE VIEW paper_math AS
SELECT x.paper_id, p.title, x.extractor, x.status,
       count(e.expr_id) FILTER (WHERE e.kind = 'equation') AS equations,
       count(e.expr_id) FILTER (WHERE e.kind = 'equation' AND e.number IS NOT NULL) AS numbered_equations,
       count(e.expr_id) FILTER (WHERE e.kind = 'statement') AS statements,
       count(e.expr_id) FILTER (WHERE e.kind = 'proof') AS proofs,
       (SELECT count(*) FROM expression_edges g WHERE g.paper_id = x.paper_id) AS edges
FROM extractions x
LEFT JOIN papers p USING (paper_id)
LEFT JOIN expressions e USING (paper_id)
GROUP BY ALL
ORDER BY numbered_equations DESC, statements DESC;

-- Each dependency with both ends readable ("what does equation (7) of paper X depend on").
CREATE OR REPLACE VIEW expression_dependencies AS
SELECT g.paper_id, g.via, g.command,
       f.expr_id AS from_expr, f.kind AS from_kind, coalesce(f.title, f.env) AS from_what,
       f.number AS from_number, f.label AS from_label,
       t.expr_id AS to_expr, t.kind AS to_kind, coalesce(t.title, t.env) AS to_what,
       t.number AS to_number, t.label AS to_label, t.latex AS to_latex
FROM expression_edges g
JOIN expressions f ON f.expr_id = g.from_expr
JOIN expressions t ON t.expr_id = g.to_expr;

-- Theorem-like statements with the span of their proof ("every lemma with its proof span").
CREATE OR REPLACE VIEW statements_with_proofs AS
SELECT s.paper_id, s.expr_id, s.env, s.title, s.number, s.label, s.section, s.in_appendix,
       s.source_file, s.char_start, s.char_end, s.page,
       p.expr_id AS proof_expr, p.source_file AS proof_file, p.char_start AS proof_start,
       p.char_end AS proof_end
FROM expressions s
LEFT JOIN expressions p ON p.expr_id = s.proof_expr
WHERE s.kind = 'statement';

-- Derivation candidates by how far they got and why they stopped.
CREATE OR REPLACE VIEW candidates_by_reason AS
SELECT status, coalesce(reason, '') AS reason, stage_reached, count(*) AS n,
       round(avg(grounded_score), 1) AS mean_grounded_score
FROM candidates
GROUP BY ALL
ORDER BY n DESC;

-- LLM spend per run, agent and model: calls sent, cache hits, tokens, dollars, failures.
CREATE OR REPLACE VIEW llm_spend AS
SELECT run_id, stage AS agent, model,
       count(*) FILTER (WHERE NOT cache_hit AND status <> 'budget_exhausted') AS calls,
       count(*) FILTER (WHERE cache_hit) AS cache_hits,
       sum(prompt_tokens)::BIGINT AS prompt_tokens, sum(completion_tokens)::BIGINT AS completion_tokens,
       round(sum(cost_usd), 6) AS cost_usd,
       count(*) FILTER (WHERE status = 'invalid_output') AS invalid_output,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       round(avg(latency_ms) FILTER (WHERE NOT cache_hit), 1) AS mean_latency_ms
FROM llm_calls
GROUP BY ALL
ORDER BY run_id, agent;

-- The derivation problems with their paper: what the expert review starts from. ``done``: kept
-- by the LLM agents' verdict; ``drafted``: drafted by the rules from the LaTeX structure, no
-- verdict yet.
-- A rules draft whose target the agents have since finished (a candidate ``done`` for the same
-- paper and target expression, e.g. after an endpoint or another model was configured) is
-- superseded: it leaves the problem lists; reviews already written of it stay.
-- (An LLM twin the quality layer's screens dropped as a duplicate or as contaminated still supersedes
-- its draft: the draft is the same problem.)
CREATE OR REPLACE VIEW superseded_drafts AS
SELECT d.candidate_id
FROM candidates d
WHERE d.status = 'drafted'
  AND EXISTS (SELECT 1 FROM candidates c
              WHERE c.paper_id = d.paper_id AND c.target_expr = d.target_expr
                AND (c.status = 'done' OR (c.status = 'dropped' AND c.reason IN ('near_duplicate', 'contaminated'))));

CREATE OR REPLACE VIEW derivation_problems AS
SELECT c.candidate_id, c.paper_id, p.title, c.status, c.drafted_by, c.target_kind, c.target_number,
       c.question, c.answer, c.answer_evidence, c.grounded_score, c.verdict_confidence, c.precondition_exprs
FROM candidates c LEFT JOIN papers p USING (paper_id)
WHERE c.status IN ('done', 'drafted') AND c.candidate_id NOT IN (SELECT candidate_id FROM superseded_drafts)
ORDER BY c.status = 'drafted', c.verdict_confidence DESC NULLS LAST, c.grounded_score DESC;

-- Expert review, per candidate: reviewers assigned and done, mean score, decisions, adjudication.
CREATE OR REPLACE VIEW review_progress AS
SELECT a.candidate_id, c.paper_id, p.title,
       count(*) AS assigned, count(r.reviewer) AS reviewed,
       round(avg((r.reasoning_density + r.problem_clarity + r.derivation_correctness
                  + r.problem_difficulty + r.human_heuristics) / 5.0), 2) AS mean_score,
       count(*) FILTER (WHERE r.decision = 'keep') AS keeps,
       count(*) FILTER (WHERE r.decision = 'reject') AS rejects,
       any_value(j.decision) AS adjudicated
FROM review_assignments a
LEFT JOIN expert_reviews r USING (candidate_id, reviewer)
LEFT JOIN candidates c USING (candidate_id)
LEFT JOIN papers p ON p.paper_id = c.paper_id
LEFT JOIN adjudications j ON j.candidate_id = a.candidate_id
GROUP BY ALL
ORDER BY reviewed, a.candidate_id;

-- The quality layer (tasks.refine) ------------------------------------------------------------

-- A candidate the experts keep: an admin adjudicated it keep, or every reviewer so far said keep.
CREATE OR REPLACE VIEW expert_keepers AS
SELECT r.candidate_id
FROM expert_reviews r LEFT JOIN adjudications j USING (candidate_id)
GROUP BY r.candidate_id
HAVING coalesce(any_value(j.decision) = 'keep', bool_and(r.decision = 'keep'));

-- How far down the review queue the team is, by rank decile: scores, reviews and keepers found.
CREATE OR REPLACE VIEW queue_health AS
WITH queued AS (
    SELECT q.*, ntile(10) OVER (ORDER BY q.rank) AS decile
    FROM review_queue q),
reviewed AS (SELECT DISTINCT candidate_id FROM expert_reviews)
SELECT decile, min(rank) AS first_rank, max(rank) AS last_rank, count(*) AS candidates,
       round(avg(raw_score), 2) AS mean_raw_score, round(avg(curated_score), 2) AS mean_curated_score,
       round(avg(long_tail_score), 3) AS mean_long_tail, round(avg(solve_rate), 2) AS mean_solve_rate,
       count(r.candidate_id) AS reviewed, count(k.candidate_id) AS keepers,
       sum(count(k.candidate_id)) OVER (ORDER BY decile) AS keepers_so_far
FROM queued q
LEFT JOIN reviewed r USING (candidate_id)
LEFT JOIN expert_keepers k USING (candidate_id)
GROUP BY decile
ORDER BY decile;

-- The review → revise loop, round by round: the reviewer's mean score of each round's question
-- and of the question it replaced, and how the revisions fared.
CREATE OR REPLACE VIEW revision_effect AS
SELECT r.round, count(*) AS questions,
       count(*) FILTER (WHERE r.outcome = 'accepted') AS accepted,
       count(*) FILTER (WHERE r.outcome = 'refused') AS refused,
       round(avg(p.review_score), 3) AS score_before,
       round(avg(r.review_score), 3) AS score_after,
       round(avg(r.review_score - p.review_score), 3) AS mean_change
FROM question_revisions r
LEFT JOIN question_revisions p ON p.candidate_id = r.candidate_id AND p.round = r.round - 1
GROUP BY r.round
ORDER BY r.round;

-- Solver samples per candidate: how many matched the paper's target, and which check decided.
CREATE OR REPLACE VIEW solve_rates AS
SELECT s.candidate_id, c.paper_id, count(*) AS samples,
       count(*) FILTER (WHERE s.outcome = 'solved') AS solved,
       count(*) FILTER (WHERE s.outcome = 'not_solved') AS not_solved,
       count(*) FILTER (WHERE s.outcome = 'undecided') AS undecided,
       round(count(*) FILTER (WHERE s.outcome = 'solved')
             / nullif(count(*) FILTER (WHERE s.outcome <> 'undecided'), 0), 3) AS solve_rate,
       list(DISTINCT s.decided_by) AS decided_by
FROM solutions s LEFT JOIN candidates c USING (candidate_id)
GROUP BY s.candidate_id, c.paper_id
ORDER BY solve_rate NULLS LAST, s.candidate_id;

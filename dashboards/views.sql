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
-- Per run and stage: each expectation over all the run's batches (it passed if every batch did).
CREATE OR REPLACE VIEW validation_summary AS
WITH per_expectation AS (
    SELECT run_id, stage, expectation, "column", bool_and(success) AS success,
           sum(unexpected_count) AS unexpected
    FROM validations
    GROUP BY ALL
)
SELECT run_id, stage, count(*) AS expectations, count(*) FILTER (WHERE success) AS passed,
       sum(unexpected)::BIGINT AS unexpected_rows
FROM per_expectation
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

-- The quality layer's solver samples per candidate: how many matched the paper's target, and which check decided.
CREATE OR REPLACE VIEW candidate_solve_rates AS
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

-- Evaluation: per item, model and format, how the graded answers came out. The solve rate counts
-- only graded answers: unreadable answers, failed calls and undecided checks are shown, never
-- counted as failures.
CREATE OR REPLACE VIEW solve_rates AS
SELECT e.item_id, e.paper_id, e.paper_month, e.model, e.format, e.dataset, count(*) AS answers,
       count(*) FILTER (WHERE e.grade = 'correct') AS correct,
       count(*) FILTER (WHERE e.grade = 'incorrect') AS incorrect,
       count(*) FILTER (WHERE e.grade = 'undecided') AS undecided,
       count(*) FILTER (WHERE e.grade = 'unparsed') AS unparsed,
       count(*) FILTER (WHERE e.grade = 'failed') AS failed,
       round(count(*) FILTER (WHERE e.grade = 'correct')
             / nullif(count(*) FILTER (WHERE e.grade IN ('correct', 'incorrect')), 0), 3) AS solve_rate
FROM evaluations e
GROUP BY ALL
ORDER BY e.item_id, e.model, e.format;

-- Accuracy by the paper's first-version month, per model and format: read beside the model's
-- stated training cutoff (evaluate.models.<model>.training_cutoff; `stormborn evaluate` prints
-- both), a drop for papers after the cutoff is the leak probe RealMath and LiveAoPSBench use.
CREATE OR REPLACE VIEW accuracy_by_month AS
SELECT e.model, e.format, e.paper_month,
       count(*) FILTER (WHERE e.grade IN ('correct', 'incorrect')) AS graded,
       count(*) FILTER (WHERE e.grade = 'correct') AS correct,
       round(count(*) FILTER (WHERE e.grade = 'correct')
             / nullif(count(*) FILTER (WHERE e.grade IN ('correct', 'incorrect')), 0), 3) AS accuracy,
       count(DISTINCT e.item_id) AS items
FROM evaluations e
WHERE e.format <> 'options_only'
GROUP BY ALL
ORDER BY e.model, e.format, e.paper_month NULLS FIRST;

-- Position bias in multiple choice: the share of answers per letter shown, against the share
-- of correct answers at that letter (options are shuffled per sample, so both are near 1/n
-- for an unbiased model).
CREATE OR REPLACE VIEW position_bias AS
SELECT e.model, e.format, e.parsed_answer AS letter, count(*) AS picked,
       round(count(*) / sum(count(*)) OVER (PARTITION BY e.model, e.format), 3) AS share_picked,
       (SELECT round(count(*) FILTER (WHERE x.expected = e.parsed_answer) / nullif(count(*), 0), 3)
        FROM evaluations x WHERE x.model = e.model AND x.format = e.format
          AND x.grade IN ('correct', 'incorrect')) AS share_correct
FROM evaluations e
WHERE e.format IN ('mc', 'options_only') AND e.grade IN ('correct', 'incorrect')
GROUP BY e.model, e.format, e.parsed_answer
ORDER BY e.model, e.format, letter;

-- Grader calibration (tasks.evaluate.calibration) -------------------------------------------------

-- Every judge grade with the reference it is calibrated against: the symbolic check's grade of
-- the same answer (same item, model and sample) where a symbolic tier decided it. Among several
-- symbolic rows of one answer: the same answer text first, then the same prompt version, the
-- same evaluation run, the latest. NULL reference: not in the calibration set. (Experts' audit
-- verdicts can join `decided` as another `reference_source`.)
CREATE OR REPLACE VIEW judge_reference_pairs AS
WITH decided AS (
    SELECT *, 'symbolic' AS reference_source
    FROM evaluations
    WHERE format = 'symbolic' AND grade IN ('correct', 'incorrect')
      AND tier IN ('math_verify', 'sympy', 'numeric', 'string'))
SELECT j.eval_id, j.dataset, j.item_id, j.model, j.sample, j.prompt_version, j.grader_model,
       j.grade AS judge_grade, s.grade AS reference_grade, s.reference_source, s.tier AS reference_tier
FROM evaluations j
LEFT JOIN decided s ON s.item_id = j.item_id AND s.model = j.model AND s.sample = j.sample
WHERE j.format = 'judge'
QUALIFY row_number() OVER (
    PARTITION BY j.item_id, j.model, j.sample, j.prompt_version
    ORDER BY s.raw_answer IS NOT DISTINCT FROM j.raw_answer DESC, s.prompt_version = j.prompt_version DESC NULLS LAST,
             s.eval_id = j.eval_id DESC NULLS LAST, s.evaluated_at DESC NULLS LAST) = 1;

-- How far each LLM grader agrees with its reference: the quality layer's scorers (grader
-- `joint_score`, `candidate_score`) against the experts, the evaluation judge against the
-- symbolic check. Per grader, model and prompt version (NULL: the quality layer does not record
-- it), one row per `measure`:
-- - a principle: `n` reviewed candidates, `bias` = mean of grader − experts' mean on 1–5 (the
--   seed criteria clarity → problem_clarity, complexity → problem_difficulty, as 1 + 4·s/5);
-- - `keep`: the grader's mean score ≥ 3 (joint, 1–5) or ≥ 2 (seed, 0–5: refine.score_floor's
--   default) against the experts' decision (the adjudication, else the strict majority; ties
--   left out): `positives` = kept by the experts, true/false positive rates;
-- - `pass`: the judge's correct/incorrect against the reference: sensitivity, specificity.
-- Cohen's κ, Krippendorff's α, the configured thresholds and the corrected pass rates:
-- `stormborn evaluate calibrate`.
CREATE OR REPLACE VIEW judge_calibration AS
WITH expert_scores AS (
    SELECT candidate_id, principle, avg(score) AS expert_score
    FROM (UNPIVOT expert_reviews
          ON reasoning_density, problem_clarity, derivation_correctness, problem_difficulty, human_heuristics
          INTO NAME principle VALUE score)
    GROUP BY ALL),
expert_decisions AS (
    SELECT r.candidate_id,
           CASE WHEN any_value(j.decision) IS NOT NULL THEN any_value(j.decision) = 'keep'
                WHEN 2 * count(*) FILTER (WHERE r.decision = 'keep') > count(*) THEN true
                WHEN 2 * count(*) FILTER (WHERE r.decision = 'reject') > count(*) THEN false END AS expert_keep
    FROM expert_reviews r LEFT JOIN adjudications j USING (candidate_id)
    GROUP BY r.candidate_id),
versions AS (  -- the scoring agent's prompt version, from the ledger row of the same candidate and run
    SELECT entity_id AS candidate_id, run_id,
           CASE stage WHEN 'candidate_scorer' THEN 'candidate_score' ELSE 'joint_score' END AS stage,
           max(prompt_version) AS prompt_version
    FROM llm_calls
    WHERE stage IN ('candidate_scorer', 'joint_scorer') AND status = 'ok'
    GROUP BY ALL),
graded AS (  -- complete score sets within the stage's scale, of reviewed candidates
    SELECT q.candidate_id, q.stage, q.model, v.prompt_version, round(avg(q.score), 3) AS grader_mean
    FROM quality_scores q LEFT JOIN versions v USING (candidate_id, run_id, stage)
    WHERE q.candidate_id IN (SELECT candidate_id FROM expert_reviews)
    GROUP BY ALL
    HAVING bool_and(q.score BETWEEN CASE q.stage WHEN 'joint_score' THEN 1 ELSE 0 END AND 5)
       AND count(DISTINCT q.criterion) = CASE q.stage WHEN 'joint_score' THEN 5 ELSE 4 END),
principle_pairs AS (
    SELECT g.stage, g.model, g.prompt_version, e.principle,
           CASE WHEN g.stage = 'joint_score' THEN q.score ELSE 1 + 4 * q.score / 5 END AS grader_score,
           e.expert_score
    FROM graded g
    JOIN quality_scores q USING (candidate_id, stage, model)
    JOIN expert_scores e ON e.candidate_id = g.candidate_id
     AND e.principle = CASE WHEN g.stage = 'joint_score' THEN q.criterion
                            WHEN q.criterion = 'clarity' THEN 'problem_clarity'
                            WHEN q.criterion = 'complexity' THEN 'problem_difficulty' END),
decisions AS (
    SELECT g.stage AS grader, g.model, g.prompt_version, 'experts' AS reference,
           'keep' AS measure, g.grader_mean >= CASE g.stage WHEN 'joint_score' THEN 3.0 ELSE 2.0 END AS said,
           d.expert_keep AS truth
    FROM graded g JOIN expert_decisions d USING (candidate_id)
    WHERE d.expert_keep IS NOT NULL
    UNION ALL
    SELECT 'judge', coalesce(grader_model, ''), prompt_version, reference_source, 'pass',
           judge_grade = 'correct', reference_grade = 'correct'
    FROM judge_reference_pairs
    WHERE judge_grade IN ('correct', 'incorrect') AND reference_grade IN ('correct', 'incorrect')),
rates AS (
    SELECT grader, model, prompt_version, reference, measure, count(*) AS n,
           count(*) FILTER (WHERE truth) AS positives, count(*) FILTER (WHERE NOT truth) AS negatives,
           count(*) FILTER (WHERE said AND truth) / nullif(count(*) FILTER (WHERE truth), 0) AS tpr,
           count(*) FILTER (WHERE said AND NOT truth) / nullif(count(*) FILTER (WHERE NOT truth), 0) AS fpr
    FROM decisions
    GROUP BY ALL)
SELECT grader, model, prompt_version, reference, measure, n, bias, positives, negatives,
       true_positive_rate, false_positive_rate, sensitivity, specificity
FROM (
    SELECT stage AS grader, model, prompt_version, 'experts' AS reference, principle AS measure,
           count(*) AS n, round(avg(grader_score - expert_score), 3) AS bias,
           NULL::BIGINT AS positives, NULL::BIGINT AS negatives, NULL::DOUBLE AS true_positive_rate,
           NULL::DOUBLE AS false_positive_rate, NULL::DOUBLE AS sensitivity, NULL::DOUBLE AS specificity,
           list_position(['reasoning_density', 'problem_clarity', 'derivation_correctness', 'problem_difficulty',
                          'human_heuristics'], principle) AS _order
    FROM principle_pairs
    GROUP BY ALL
    UNION ALL
    SELECT grader, model, prompt_version, reference, measure, n, NULL, positives, negatives,
           round(tpr, 3), round(fpr, 3), round(tpr, 3), round(1 - fpr, 3), 6
    FROM rates)
ORDER BY grader = 'judge', grader <> 'joint_score', model, prompt_version, _order;

-- The analyst dashboard (dashboards/app.py) --------------------------------------------------------

-- The month a run worked on: the start of its harvest window, else the day it started (UTC).
CREATE OR REPLACE VIEW run_months AS
SELECT run_id, strftime(coalesce(since, (started_at AT TIME ZONE 'UTC')::DATE), '%Y-%m') AS month
FROM runs;

-- Each run's funnel, stage by stage: listed → matched → rating pass → keyword pass → extracted →
-- candidates → kept (done or rules-drafted: what goes to review) → reviewed → selected. Reviewed and
-- selected count the run's candidates (``candidates.run_id``) that experts reviewed and that the
-- latest selection chose.
CREATE OR REPLACE VIEW run_funnel_stages AS
WITH reviewed AS (
    SELECT c.run_id, count(DISTINCT r.candidate_id) AS n
    FROM expert_reviews r JOIN candidates c USING (candidate_id)
    GROUP BY c.run_id),
latest AS (SELECT selection_id FROM selections ORDER BY selected_at DESC LIMIT 1),
chosen AS (
    SELECT c.run_id, count(*) AS n
    FROM selections s JOIN latest USING (selection_id) JOIN candidates c USING (candidate_id)
    WHERE s.selected
    GROUP BY c.run_id)
SELECT r.run_id, m.month, r.flow, r.source, r.status, r.started_at, r.finished_at,
       r.listed, r.matched, r.rating_pass, r.keyword_pass, r.papers_extracted AS extracted,
       r.candidates, r.candidates_kept + r.candidates_drafted AS kept,
       coalesce(v.n, 0) AS reviewed, coalesce(s.n, 0) AS selected,
       r.rejected, r.quarantined, r.llm_calls, r.cost_usd
FROM runs r
JOIN run_months m USING (run_id)
LEFT JOIN reviewed v USING (run_id)
LEFT JOIN chosen s USING (run_id)
ORDER BY r.started_at DESC;

-- The funnel per month, over the month's runs that did not fail. Every rerun of a month lists the
-- whole window again, so the listing stages (listed … keyword pass) are the largest of its runs;
-- the work stages count only what each run did anew (unchanged papers are skipped), so they add up.
CREATE OR REPLACE VIEW funnel_by_month AS
SELECT month, count(*) AS runs,
       max(listed)::BIGINT AS listed, max(matched)::BIGINT AS matched, max(rating_pass)::BIGINT AS rating_pass,
       max(keyword_pass)::BIGINT AS keyword_pass, sum(extracted)::BIGINT AS extracted,
       sum(candidates)::BIGINT AS candidates, sum(kept)::BIGINT AS kept, sum(reviewed)::BIGINT AS reviewed,
       sum(selected)::BIGINT AS selected, sum(rejected)::BIGINT AS rejected,
       sum(quarantined)::BIGINT AS quarantined, round(sum(cost_usd), 6) AS cost_usd
FROM run_funnel_stages
WHERE status <> 'failed'
GROUP BY month
ORDER BY month;

-- Why records were dropped, per month (the run's month; rows of no known run by when they were written).
CREATE OR REPLACE VIEW rejects_by_month AS
SELECT coalesce(m.month, strftime(j."at" AT TIME ZONE 'UTC', '%Y-%m')) AS month, j.stage, j.reason, count(*) AS n
FROM rejects j LEFT JOIN run_months m USING (run_id)
GROUP BY ALL
ORDER BY month, n DESC;

-- LLM spend per month (the run's month, as in the funnel; calls of no known run by when they were
-- made), agent and model.
CREATE OR REPLACE VIEW llm_spend_by_month AS
SELECT coalesce(m.month, strftime(c."at" AT TIME ZONE 'UTC', '%Y-%m')) AS month, c.stage AS agent, c.model,
       count(*) FILTER (WHERE NOT cache_hit AND status <> 'budget_exhausted') AS calls,
       count(*) FILTER (WHERE cache_hit) AS cache_hits,
       sum(prompt_tokens)::BIGINT AS prompt_tokens, sum(completion_tokens)::BIGINT AS completion_tokens,
       round(sum(cost_usd), 6) AS cost_usd,
       count(*) FILTER (WHERE status = 'budget_exhausted') AS budget_exhausted,
       count(*) FILTER (WHERE status IN ('invalid_output', 'failed')) AS failed
FROM llm_calls c LEFT JOIN run_months m USING (run_id)
GROUP BY ALL
ORDER BY month, agent, model;

-- Analyst views, created in the DuckDB catalog by every publish step (tasks/storage.py).
-- Dashboards read only these views and the contract tables (runs, papers, reviews,
-- paper_filters, documents, rejects, validations, quarantine).

-- One row per run with its funnel, newest first.
CREATE OR REPLACE VIEW run_funnel AS
SELECT run_id, flow, source, since, until, status, started_at, finished_at,
       listed, matched, rating_pass, documents_fetched, keyword_pass, rejected, quarantined
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

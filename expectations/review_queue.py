"""Suite for ``review_queue``: each candidate once, ranks unique and positive, scores on their
scales (curated and raw 1–5, solve rate 0–1), a known reason."""

import great_expectations as gx

from tasks.core.records import QueueReason, allowed

STAGE = "review_queue"
ENTITY = "candidate_id"


def expectations():
    E = gx.expectations
    return [
        E.ExpectColumnValuesToBeUnique(column="candidate_id"),
        E.ExpectColumnValuesToBeUnique(column="rank"),
        E.ExpectColumnValuesToBeBetween(column="rank", min_value=1),
        E.ExpectColumnValuesToBeBetween(column="raw_score", min_value=1, max_value=5),
        E.ExpectColumnValuesToBeBetween(column="curated_score", min_value=1, max_value=5),
        E.ExpectColumnValuesToBeBetween(column="solve_rate", min_value=0, max_value=1),
        E.ExpectColumnValuesToBeInSet(column="reason", value_set=allowed(QueueReason)),
    ]

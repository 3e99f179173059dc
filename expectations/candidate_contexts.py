"""Suite for ``candidates`` after the Context Collector: evidence passages are a list and their
mean alignment with the paper is in range."""

import great_expectations as gx

STAGE = "candidate_contexts"
ENTITY = "candidate_id"


def expectations():
    E = gx.expectations
    return [
        E.ExpectColumnValuesToNotBeNull(column="question_evidence"),
        E.ExpectColumnValuesToMatchRegex(column="question_evidence", regex=r"^\[.*\]$"),
        E.ExpectColumnValuesToBeBetween(column="evidence_grounded", min_value=0, max_value=100),
    ]

"""Suite for ``candidates`` after the Answer Retriever: an answer, where it is, and a grounded
score in range (a low score is a ``dropped``/``ungrounded_answer`` candidate, not a failure)."""

import great_expectations as gx

STAGE = "candidate_answers"
ENTITY = "candidate_id"


def expectations():
    E = gx.expectations
    return [
        E.ExpectColumnValueLengthsToBeBetween(column="answer", min_value=1, max_value=100_000),
        E.ExpectColumnValuesToNotBeNull(column="grounded_score"),
        E.ExpectColumnValuesToBeBetween(column="grounded_score", min_value=0, max_value=100),
        E.ExpectColumnValuesToNotBeNull(column="answer_span", row_condition='status == "done"',
                                        condition_parser="pandas"),
    ]

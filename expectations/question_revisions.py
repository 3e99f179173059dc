"""Suite for ``question_revisions``: round 0 is the original, later rounds are accepted or refused
(a refusal says why, in snake_case), every question is non-empty, and review scores are 0–5."""

import great_expectations as gx

from tasks.core.records import SNAKE_CASE, RevisionOutcome, allowed

STAGE = "question_revisions"
ENTITY = "candidate_id"


def expectations():
    E = gx.expectations
    return [
        E.ExpectColumnValuesToBeInSet(column="outcome", value_set=allowed(RevisionOutcome)),
        E.ExpectColumnValuesToBeInSet(column="outcome", value_set=["original"], row_condition="round == 0",
                                      condition_parser="pandas"),
        E.ExpectColumnValuesToBeInSet(column="outcome", value_set=["accepted", "refused"],
                                      row_condition="round > 0", condition_parser="pandas"),
        E.ExpectColumnValuesToNotBeNull(column="reason", row_condition='outcome == "refused"',
                                        condition_parser="pandas"),
        E.ExpectColumnValuesToMatchRegex(column="reason", regex=SNAKE_CASE),
        E.ExpectColumnValueLengthsToBeBetween(column="question", min_value=1),
        *(E.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=5)
          for c in ("clarity", "self_containment", "faithfulness", "review_score")),
    ]

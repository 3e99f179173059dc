"""Suite for ``selections``: every candidate once, a known reason, and ranks and scores where
they belong (a chosen row has a rank and an expert score on the 1–5 scale)."""

import great_expectations as gx

from tasks.core.records import SNAKE_CASE, SelectionReason, allowed

STAGE = "selections"
ENTITY = "candidate_id"


def expectations():
    E = gx.expectations
    return [
        E.ExpectColumnValuesToBeUnique(column="candidate_id"),
        E.ExpectColumnValuesToBeInSet(column="reason", value_set=allowed(SelectionReason)),
        E.ExpectColumnValuesToMatchRegex(column="reason", regex=SNAKE_CASE),
        E.ExpectColumnValueLengthsToBeBetween(column="detail", min_value=1),
        E.ExpectColumnValuesToBeBetween(column="expert_score", min_value=1, max_value=5),
        E.ExpectColumnValuesToNotBeNull(column="rank", row_condition="selected == True",
                                        condition_parser="pandas"),
        E.ExpectColumnValuesToBeInSet(column="reason", value_set=["selected"],
                                      row_condition="selected == True", condition_parser="pandas"),
        E.ExpectColumnValuesToBeUnique(column="rank"),
    ]

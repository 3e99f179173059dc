"""Suite for ``paper_filters``: decisions are well-formed and every drop says why."""

import great_expectations as gx

from tasks.core.records import SNAKE_CASE, KeywordRule, RatingRule, allowed

STAGE = "paper_filters"
ENTITY = "paper_id"


def expectations():
    E = gx.expectations
    return [
        E.ExpectColumnValuesToNotBeNull(column="paper_id"),
        E.ExpectColumnValuesToBeUnique(column="paper_id"),
        E.ExpectColumnValuesToBeInSet(column="rating_rule", value_set=allowed(RatingRule)),
        E.ExpectColumnValuesToBeInSet(column="keyword_rule", value_set=allowed(KeywordRule)),
        E.ExpectColumnValuesToBeBetween(column="rating_mean", min_value=0, max_value=10),
        E.ExpectColumnValuesToBeBetween(column="keyword_total", min_value=0),
        E.ExpectColumnValuesToMatchRegex(column="reason", regex=SNAKE_CASE),
        E.ExpectColumnValuesToNotBeNull(column="reason", row_condition='passed == False',
                                        condition_parser="pandas"),
    ]

"""Suite for ``reviews``: every kept review has a numeric rating on a 0–10 scale."""

import great_expectations as gx

STAGE = "reviews"
ENTITY = "review_id"


def expectations():
    E = gx.expectations
    return [
        E.ExpectColumnValuesToNotBeNull(column="review_id"),
        E.ExpectColumnValuesToBeUnique(column="review_id"),
        E.ExpectColumnValuesToNotBeNull(column="forum_id"),
        E.ExpectColumnValuesToNotBeNull(column="rating"),
        E.ExpectColumnValuesToBeBetween(column="rating", min_value=0, max_value=10),
        E.ExpectColumnValuesToBeBetween(column="confidence", min_value=0, max_value=5),
    ]

"""Suite for ``duplicates``: each dropped candidate once, pointing at another candidate, found
by a known method with a similarity in (0, 1]."""

import great_expectations as gx

from tasks.core.records import SimilarityMethod, allowed

STAGE = "duplicates"
ENTITY = "candidate_id"


def expectations():
    E = gx.expectations
    return [
        E.ExpectColumnValuesToBeUnique(column="candidate_id"),
        E.ExpectColumnValuesToNotBeNull(column="twin_id"),
        E.ExpectColumnValuesToBeInSet(column="method", value_set=allowed(SimilarityMethod)),
        E.ExpectColumnValuesToBeBetween(column="similarity", min_value=0, max_value=1, strict_min=True),
    ]

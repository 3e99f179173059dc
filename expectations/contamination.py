"""Suite for ``contamination``: a benchmark, an item and a matched span for every hit, a known
method and a similarity in (0, 1]."""

import great_expectations as gx

from tasks.core.records import SimilarityMethod, allowed

STAGE = "contamination"
ENTITY = "candidate_id"


def expectations():
    E = gx.expectations
    return [
        E.ExpectColumnValueLengthsToBeBetween(column="benchmark", min_value=1),
        E.ExpectColumnValueLengthsToBeBetween(column="item_id", min_value=1),
        E.ExpectColumnValueLengthsToBeBetween(column="matched_span", min_value=1),
        E.ExpectColumnValuesToBeInSet(column="method", value_set=allowed(SimilarityMethod)),
        E.ExpectColumnValuesToBeBetween(column="similarity", min_value=0, max_value=1, strict_min=True),
    ]

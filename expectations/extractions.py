"""Suite for ``extractions``: one row per paper, a known extractor and status, snake_case issues."""

import great_expectations as gx

from tasks.core.records import ExtractionStatus, ExtractorUsed, allowed

STAGE = "extractions"
ENTITY = "paper_id"


def expectations():
    E = gx.expectations
    return [
        E.ExpectColumnValuesToNotBeNull(column="paper_id"),
        E.ExpectColumnValuesToBeUnique(column="paper_id"),
        E.ExpectColumnValuesToBeInSet(column="extractor", value_set=allowed(ExtractorUsed)),
        E.ExpectColumnValuesToBeInSet(column="status", value_set=allowed(ExtractionStatus)),
        E.ExpectColumnValuesToBeBetween(column="expressions", min_value=0),
        E.ExpectColumnValuesToBeBetween(column="seconds", min_value=0),
    ]

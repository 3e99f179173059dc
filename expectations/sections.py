"""Suite for ``sections``: every heading has a title, a level and a place (file span or page)."""

import great_expectations as gx

from tasks.core.records import Extractor, allowed

STAGE = "sections"
ENTITY = "section_id"


def expectations():
    E = gx.expectations
    return [
        E.ExpectColumnValuesToNotBeNull(column="section_id"),
        E.ExpectColumnValuesToBeUnique(column="section_id"),
        E.ExpectColumnValuesToNotBeNull(column="paper_id"),
        E.ExpectColumnValuesToBeInSet(column="extractor", value_set=allowed(Extractor)),
        E.ExpectColumnValuesToBeBetween(column="level", min_value=0, max_value=3),
        E.ExpectColumnValuesToNotBeNull(column="title"),
        E.ExpectColumnValuesToNotBeNull(column="source_file", row_condition='extractor == "latex"',
                                        condition_parser="pandas"),
        E.ExpectColumnValuesToBeBetween(column="page", min_value=1, row_condition='extractor == "pdf"',
                                        condition_parser="pandas"),
    ]

"""Suite for ``papers``: identity, titles, provenance and licence are always present."""

import great_expectations as gx

STAGE = "papers"
ENTITY = "paper_id"


def expectations():
    E = gx.expectations
    return [
        E.ExpectColumnValuesToNotBeNull(column="paper_id"),
        E.ExpectColumnValuesToBeUnique(column="paper_id"),
        E.ExpectColumnValuesToMatchRegex(column="paper_id", regex=r"^(?:arxiv|openreview|local):\S+$"),
        E.ExpectColumnValuesToNotBeNull(column="title"),
        E.ExpectColumnValueLengthsToBeBetween(column="title", min_value=1, max_value=1000),
        E.ExpectColumnValuesToBeInSet(column="source", value_set=["arxiv", "openreview", "local", "snapshot"]),
        E.ExpectColumnValuesToNotBeNull(column="license"),
        E.ExpectColumnValuesToBeInSet(
            column="match_method",
            value_set=["arxiv_id", "title_authors", "title_only", "none", "not_applicable"]),
        E.ExpectColumnValuesToBeBetween(column="match_score", min_value=0, max_value=100),
    ]

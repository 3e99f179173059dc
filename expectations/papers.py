"""Suite for ``papers``: identity, titles, provenance and licence are always present."""

import great_expectations as gx

from tasks.core.records import MatchMethod, PaperSource, allowed

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
        E.ExpectColumnValuesToBeInSet(column="source", value_set=allowed(PaperSource)),
        E.ExpectColumnValuesToNotBeNull(column="license"),
        E.ExpectColumnValuesToBeInSet(
            column="match_method",
            value_set=allowed(MatchMethod)),
        E.ExpectColumnValuesToBeBetween(column="match_score", min_value=0, max_value=100),
    ]

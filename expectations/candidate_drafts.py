"""Suite for ``candidates`` after the Query Draft: a non-empty draft question that asks for a
derivation or a proof."""

import great_expectations as gx

STAGE = "candidate_drafts"
ENTITY = "candidate_id"


def expectations():
    E = gx.expectations
    return [
        E.ExpectColumnValueLengthsToBeBetween(column="query", min_value=10, max_value=20_000),
        E.ExpectColumnValuesToMatchRegex(column="query", regex=r"(?i)(?:deriv|prove|show|obtain|establish)"),
    ]

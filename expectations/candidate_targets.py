"""Suite for ``candidates`` at the Math Expression Extractor: every candidate names its paper and
a target expression, and carries the prompt versions and models that will produce it."""

import great_expectations as gx

from tasks.core.records import SNAKE_CASE, CandidateStatus, TargetKind, allowed

STAGE = "candidate_targets"
ENTITY = "candidate_id"


def expectations():
    E = gx.expectations
    return [
        E.ExpectColumnValuesToNotBeNull(column="candidate_id"),
        E.ExpectColumnValuesToBeUnique(column="candidate_id"),
        E.ExpectColumnValuesToNotBeNull(column="paper_id"),
        E.ExpectColumnValuesToNotBeNull(column="target_expr"),
        E.ExpectColumnValueLengthsToBeBetween(column="target_latex", min_value=1),
        E.ExpectColumnValuesToBeInSet(column="target_kind", value_set=allowed(TargetKind)),
        E.ExpectColumnValuesToBeInSet(column="status", value_set=allowed(CandidateStatus)),
        E.ExpectColumnValuesToMatchRegex(column="reason", regex=SNAKE_CASE),
    ]

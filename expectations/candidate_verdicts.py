"""Suite for ``candidates`` after the Answer Filter: a verdict in the allowed set with a
rationale and a confidence in [0, 1]; ``done`` only for ``derive``."""

import great_expectations as gx

from tasks.core.records import Verdict, allowed

STAGE = "candidate_verdicts"
ENTITY = "candidate_id"


def expectations():
    E = gx.expectations
    return [
        E.ExpectColumnValuesToBeInSet(column="verdict", value_set=allowed(Verdict)),
        E.ExpectColumnValuesToNotBeNull(column="verdict"),
        E.ExpectColumnValuesToBeBetween(column="verdict_confidence", min_value=0, max_value=1),
        E.ExpectColumnValueLengthsToBeBetween(column="verdict_rationale", min_value=1),
        E.ExpectColumnValuesToBeInSet(column="verdict", value_set=["derive"], row_condition='status == "done"',
                                      condition_parser="pandas"),
    ]

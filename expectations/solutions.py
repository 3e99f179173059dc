"""Suite for ``solutions``: a known outcome and deciding check; a decided sample was decided by a
tier of ``tasks.core.equivalence`` (strings, Math-Verify, SymPy, numeric points), an undecided one
says why."""

import great_expectations as gx

from tasks.core.records import SNAKE_CASE, DecidedBy, SolveOutcome, allowed

STAGE = "solutions"
ENTITY = "candidate_id"


def expectations():
    E = gx.expectations
    return [
        E.ExpectColumnValuesToBeInSet(column="outcome", value_set=allowed(SolveOutcome)),
        E.ExpectColumnValuesToBeInSet(column="decided_by", value_set=allowed(DecidedBy)),
        E.ExpectColumnValuesToBeInSet(column="decided_by", value_set=[t for t in allowed(DecidedBy) if t != "none"],
                                      row_condition='outcome != "undecided"', condition_parser="pandas"),
        E.ExpectColumnValuesToNotBeNull(column="reason", row_condition='outcome == "undecided"',
                                        condition_parser="pandas"),
        E.ExpectColumnValuesToMatchRegex(column="reason", regex=SNAKE_CASE),
        E.ExpectColumnValuesToBeBetween(column="sample", min_value=1),
    ]

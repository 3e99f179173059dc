"""Suite for ``evaluations``: a known format, grade and tier; a graded answer was decided by a
grader, an ungraded one says why; a letter format's answer is a letter; judge scores stay in the
rubric (0–2)."""

import great_expectations as gx

from tasks.core.records import SNAKE_CASE, EvalFormat, Grade, GradeTier, allowed

STAGE = "evaluations"
ENTITY = "item_id"


def expectations():
    E = gx.expectations
    return [
        E.ExpectColumnValuesToBeInSet(column="format", value_set=allowed(EvalFormat)),
        E.ExpectColumnValuesToBeInSet(column="grade", value_set=allowed(Grade)),
        E.ExpectColumnValuesToBeInSet(column="tier", value_set=allowed(GradeTier)),
        E.ExpectColumnValuesToBeInSet(column="tier", value_set=[t for t in allowed(GradeTier) if t != "none"],
                                      row_condition='grade == "correct" or grade == "incorrect"',
                                      condition_parser="pandas"),
        E.ExpectColumnValuesToNotBeNull(column="reason", row_condition='grade == "unparsed" or grade == "failed"',
                                        condition_parser="pandas"),
        E.ExpectColumnValuesToMatchRegex(column="reason", regex=SNAKE_CASE),
        E.ExpectColumnValuesToMatchRegex(column="parsed_answer", regex=r"^[A-J]$",
                                         row_condition='format == "mc" or format == "options_only"',
                                         condition_parser="pandas"),
        E.ExpectColumnValuesToBeBetween(column="correctness", min_value=0, max_value=2),
        E.ExpectColumnValuesToBeBetween(column="sample", min_value=1),
    ]

"""Suite for ``candidates`` after the Question Refiner: a non-empty, self-contained question that
does not point into the paper ("the paper", "Section 3", "Eq. (4)", "Appendix B", "Figure 2")."""

import great_expectations as gx

STAGE = "candidate_questions"
ENTITY = "candidate_id"

POINTS_INTO_PAPER = (
    r"(?i)(?:\b(?:this|the) (?:paper|article|work|manuscript)\b|\bthe authors\b|\b(?:sec(?:tion)?|§)\.?\s*\d"
    r"|\b(?:eq(?:uation)?s?|eqn)\.?\s*\(?\d|\(\d+(?:\.\d+)?\)\s*(?:above|below)|\bappendix\b"
    r"|\b(?:fig(?:ure)?|table)\.?\s*\d)"
)


def expectations():
    E = gx.expectations
    return [
        E.ExpectColumnValueLengthsToBeBetween(column="question", min_value=20, max_value=20_000),
        E.ExpectColumnValuesToNotMatchRegex(column="question", regex=POINTS_INTO_PAPER),
    ]

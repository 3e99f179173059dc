"""Suite for ``expressions``: a known kind, text to show, and provenance that points back to the
source (file and character span for LaTeX, page and bounding box for PDF)."""

import great_expectations as gx

from tasks.core.records import ExpressionKind, Extractor, allowed

STAGE = "expressions"
ENTITY = "expr_id"

LATEX = 'extractor == "latex"'
PDF = 'extractor == "pdf"'


def expectations():
    E = gx.expectations
    return [
        E.ExpectColumnValuesToNotBeNull(column="expr_id"),
        E.ExpectColumnValuesToBeUnique(column="expr_id"),
        E.ExpectColumnValuesToNotBeNull(column="paper_id"),
        E.ExpectColumnValuesToBeInSet(column="extractor", value_set=allowed(Extractor)),
        E.ExpectColumnValuesToBeInSet(column="kind", value_set=allowed(ExpressionKind)),
        E.ExpectColumnValueLengthsToBeBetween(column="text", min_value=1, max_value=200_000),
        E.ExpectColumnValuesToNotBeNull(column="latex", row_condition=LATEX, condition_parser="pandas"),
        E.ExpectColumnValuesToNotBeNull(column="latex_expanded", row_condition=LATEX, condition_parser="pandas"),
        E.ExpectColumnValuesToNotBeNull(column="source_file", row_condition=LATEX, condition_parser="pandas"),
        E.ExpectColumnValuesToBeBetween(column="char_start", min_value=0, row_condition=LATEX,
                                        condition_parser="pandas"),
        E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="char_end", column_B="char_start", or_equal=True,
                                                  ignore_row_if="either_value_is_missing"),
        E.ExpectColumnValuesToBeBetween(column="page", min_value=1, row_condition=PDF, condition_parser="pandas"),
        E.ExpectColumnValuesToNotBeNull(column="bbox", row_condition=PDF, condition_parser="pandas"),
        E.ExpectColumnValuesToMatchRegex(column="number", regex=r"^\S{1,24}$"),
    ]

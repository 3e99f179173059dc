"""Suite for ``documents``: parsed bodies are content-addressed; rejected ones say why."""

import great_expectations as gx

from tasks.core.records import SNAKE_CASE, DocumentKind, ParseStatus, allowed

STAGE = "documents"
ENTITY = "paper_id"


def expectations():
    E = gx.expectations
    return [
        E.ExpectColumnValuesToNotBeNull(column="paper_id"),
        E.ExpectColumnValuesToBeInSet(column="kind", value_set=allowed(DocumentKind)),
        E.ExpectColumnValuesToBeInSet(column="parse_status", value_set=allowed(ParseStatus)),
        E.ExpectColumnValuesToMatchRegex(column="sha256", regex=r"^[0-9a-f]{64}$"),
        E.ExpectColumnValuesToMatchRegex(column="reason", regex=SNAKE_CASE),
        E.ExpectColumnValuesToNotBeNull(column="reason", row_condition='parse_status == "rejected"',
                                        condition_parser="pandas"),
        E.ExpectColumnValuesToNotBeNull(column="sha256", row_condition='parse_status == "ok"',
                                        condition_parser="pandas"),
        E.ExpectColumnValuesToBeBetween(column="chars", min_value=1, row_condition='parse_status == "ok"',
                                        condition_parser="pandas"),
        E.ExpectColumnValuesToBeBetween(column="pages", min_value=0),
    ]

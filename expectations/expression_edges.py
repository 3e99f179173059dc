"""Suite for ``expression_edges``: a known kind of reference between two different expressions."""

import great_expectations as gx

from tasks.core.records import EdgeVia, allowed

STAGE = "expression_edges"
ENTITY = "from_expr"


def expectations():
    E = gx.expectations
    return [
        E.ExpectColumnValuesToNotBeNull(column="from_expr"),
        E.ExpectColumnValuesToNotBeNull(column="to_expr"),
        E.ExpectColumnValuesToBeInSet(column="via", value_set=allowed(EdgeVia)),
        E.ExpectCompoundColumnsToBeUnique(column_list=["from_expr", "to_expr", "via"]),
        E.ExpectColumnValuesToNotBeNull(column="label"),
    ]

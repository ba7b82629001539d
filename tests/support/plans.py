"""What a request makes PostgreSQL do, read from its plans: for tests of a cost that must not
grow with size (a page at depth)."""
from service.db import db
from tests.support.api import ok


def rows_read(app, response_of):
    """How many rows the list statement of the request `response_of()` makes PostgreSQL read
    to choose its page (EXPLAIN ANALYZE of the same statement, run again: the rows every node
    under its LIMIT produced; the total's count is apart, and the same at any depth)."""
    captured = []
    db.obj.query_hooks.append(lambda event: captured.append((event.sql, event.params)))
    try:
        ok(response_of())
    finally:
        db.obj.query_hooks.pop()
    sql, params = captured[-1]
    with app.app_context(), db.connection_context():
        # The plan that the indexes allow, whatever statistics the tables have here (the tests
        # run on small tables, which the planner would rather read whole).
        db.execute_sql("SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_sort = off")
        try:
            (plan,) = db.execute_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params).fetchone()[0]
        finally:
            db.execute_sql("RESET enable_seqscan; RESET enable_bitmapscan; RESET enable_sort")
    nodes, read = [(plan["Plan"], False)], 0
    while nodes:
        node, under_limit = nodes.pop()
        if under_limit:
            read += node["Actual Rows"] * node["Actual Loops"]
        nodes.extend((child, under_limit or node["Node Type"] == "Limit") for child in node.get("Plans", []))
    return read


"""The whole database read through the models, for tests that show a request wrote nothing:
take table_rows() before it, then assert_unchanged(before)."""
from service.db import db
from service.models import MODELS


def table_rows():
    """{table: every row as a tuple, sorted}: the row count and contents of every table."""
    with db.connection_context():
        return {model._meta.table_name: sorted(model.select().tuples(), key=repr) for model in MODELS}


def assert_unchanged(before, context=""):
    after = table_rows()
    counts = {table: (len(before[table]), len(rows)) for table, rows in after.items()}
    assert all(was == now for was, now in counts.values()), (context, "rows before, after:", counts)
    assert after == before, context

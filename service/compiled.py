"""Reads and writes through SQL that peewee writes once per query shape.

peewee writes a query's SQL anew on every call; for the small reads that every request makes
(the namespace, the project, a page of a list) writing the SQL costs more than PostgreSQL
takes to answer it. A read here is a function `build(*args, **shape)` that returns a peewee
query: its positional arguments are values, which must reach the SQL as parameters; its
keyword arguments choose the shape of the SQL (which filters, which lock). The SQL of each
shape is written once per kind of database, with stand-ins for the values, and every call
puts its own values in their places. A list of values of any length travels as one
parameter (`array`, read with `in_array`), so its length never changes the shape.

Writes go the same way: `insert` of a model's row, and `rows`, `first` or `execute` of any
other statement (UPDATE, DELETE, INSERT … SELECT). Values that a field would convert (JSON)
are converted by the caller (`assigned`: each field's `db_value`) and put in as they are
(`given`, `assignments`).

bench/results.md ("Compiled SQL") has what this buys; `SQL_CACHE=false` turns it off (each
statement then has peewee write its SQL, and runs it the same way), to measure it again."""
import json
from collections import namedtuple
from functools import lru_cache

from peewee import SQL, DateTimeField, NodeList, Value

from .db import db, is_postgres
from .models import MODELS, JSONField

enabled = True
_COMPILED = {}
_ROW_TYPES = {}  # by SQL text
# The columns that SQLite hands over as text: timestamps, and JSON.
_CONVERTERS = {field.column_name: field.python_value for model in MODELS for field in model._meta.sorted_fields
               if isinstance(field, (DateTimeField, JSONField))}


def array(values):
    """A list of values as one SQL parameter: an array on PostgreSQL, JSON text on SQLite."""
    return list(values) if is_postgres() else json.dumps(list(values))


def in_array(column, values):
    """SQL: `column` is one of `values`, an `array` parameter (its stand-in, when compiling)."""
    if is_postgres():
        return NodeList((column, SQL("= ANY(%s::text[])", [values])))
    return NodeList((column, SQL("IN (SELECT value FROM json_each(?))", [values])))


def _compiled(build, args, shape):
    """(sql, params) of `build(*args, **shape)`, its SQL written once per shape."""
    key = (build, tuple(sorted(shape.items())), len(args), type(db.obj))
    compiled = _COMPILED.get(key)
    if compiled is None:
        stand_ins = [f"\x00stand-in {i}\x00" for i in range(len(args))]
        sql, params = build(*stand_ins, **shape).sql()
        slots = [stand_ins.index(p) if isinstance(p, str) and p in stand_ins else (p,) for p in params]
        if {slot for slot in slots if isinstance(slot, int)} != set(range(len(args))):
            raise RuntimeError(f"{build.__name__}: every argument must reach the SQL as a parameter")
        compiled = _COMPILED[key] = sql, slots
    sql, slots = compiled
    return sql, [args[slot] if isinstance(slot, int) else slot[0] for slot in slots]


def _statement(build, args, shape):
    """(sql, params) of `build(*args, **shape)`: compiled, or written by peewee with SQL_CACHE off."""
    return _compiled(build, args, shape) if enabled else build(*args, **shape).sql()


@lru_cache(maxsize=64)
def _row_type(columns):
    return namedtuple("Row", columns)


def rows(build, *args, **shape):
    """The rows of `build(*args, **shape)` as named tuples of its columns (row.id,
    row.created_at, ...), with the values its fields would give."""
    sql, params = _statement(build, args, shape)
    cursor = db.execute_sql(sql, params)
    row_type = _ROW_TYPES.get(sql)  # one SQL text, one set of columns
    if row_type is None:
        row_type = _ROW_TYPES[sql] = _row_type(tuple(column[0] for column in cursor.description))
    fetched = cursor.fetchall()
    if is_postgres():  # psycopg2 already gives datetimes and decoded jsonb
        return list(map(row_type._make, fetched))
    converters = [_CONVERTERS.get(name) for name in row_type._fields]
    return [row_type._make([c(v) if c else v for c, v in zip(converters, row, strict=True)]) for row in fetched]


def values(build, *args, **shape):
    """The rows of `build(*args, **shape)` as plain tuples, for a long read of columns that need
    no conversion (text, integers): no named tuple made per row."""
    sql, params = _statement(build, args, shape)
    return db.execute_sql(sql, params).fetchall()


def first(build, *args, **shape):
    """The first row of `rows(build, *args, **shape)`, or None."""
    found = rows(build, *args, **shape)
    return found[0] if found else None


def execute(build, *args, **shape):
    """Run `build(*args, **shape)` (a write), its SQL written once per shape; returns the number
    of rows it changed."""
    sql, params = _statement(build, args, shape)
    return db.execute_sql(sql, params).rowcount


def given(value):
    """A value of a write put in the SQL as it is, without its field's conversion."""
    return Value(value, converter=False)


def assigned(model, values):
    """(names, values) of a write's `values` ({field name: value}), each value as its field
    stores it (db_value): the arguments of a compiled write, with `assignments` in its build."""
    names = tuple(values)
    return names, [model._meta.fields[name].db_value(values[name]) for name in names]


def assignments(model, names, values):
    """{field: value} of an INSERT or an UPDATE, the values `given`."""
    return {model._meta.fields[name]: given(value) for name, value in zip(names, values, strict=True)}


def _insert(*values, model, names):
    return model.insert(assignments(model, names, values))


@lru_cache(maxsize=64)
def _insert_layout(model, given_names):
    """(the fields an insert of `given_names` writes, in the model's order; their names; the
    defaults of those not given; its row type)."""
    fields = [field for field in model._meta.sorted_fields
              if field.name in given_names or field in model._meta.defaults]
    defaults = [(field.name, model._meta.defaults[field]) for field in fields if field.name not in given_names]
    return (tuple(fields), tuple(field.name for field in fields), tuple(defaults),
            _row_type(tuple(field.column_name for field in fields)))


def insert(model, **values):
    """Insert one row of `model`, as Model.create does (the fields' defaults fill what is not
    given), its SQL written once per set of fields; returns the row as a read gives it (a named
    tuple of its columns)."""
    fields, names, defaults, row_type = _insert_layout(model, tuple(values))
    for name, default in defaults:
        values[name] = default() if callable(default) else default
    stored = [field.db_value(values[field.name]) for field in fields]
    sql, params = _statement(_insert, stored, {"model": model, "names": names})
    db.execute_sql(sql, params)
    return row_type._make(values[name] for name in names)

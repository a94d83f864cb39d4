"""Database helpers shared by the apps."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Field, Model
from django.db.models.expressions import RawSQL
from django.db.models.sql import InsertQuery


def _run_prepared(
    sql: str, params: Sequence[Any] | Mapping[str, Any], fetch: Callable[[Any], Any], *, binary: bool = False
) -> Any:
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper itself, not the context-local proxy
    db.ensure_connection()
    raw = db.connection
    cursor = getattr(raw, "_open137_routing_cursor", None)
    if cursor is None or cursor.closed:
        # Django sets psycopg's client-binding cursor as the connection's default; a plain Cursor
        # binds on the server, which is what lets the statement be prepared. It is kept with the
        # connection (it holds no state between calls) and dies with it.
        cursor = psycopg.Cursor(raw)
        raw._open137_routing_cursor = cursor  # type: ignore[attr-defined]

    def run(sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        with db.wrap_database_errors:
            cursor.execute(sql, params, prepare=True, binary=binary)
            return fetch(cursor)

    # Hooks installed with connection.execute_wrapper (monitoring, a test's query blocker) see these
    # statements as they see the ORM's.
    executor = run
    for wrapper in reversed(db.execute_wrappers):
        executor = functools.partial(wrapper, executor)
    context = {"connection": db, "cursor": cursor}
    if not db.queries_logged:
        return executor(sql, params, False, context)
    # DEBUG, or a test capturing queries: listed in connection.queries like the ORM's own.
    start = time.monotonic()
    try:
        return executor(sql, params, False, context)
    finally:
        db.queries_log.append({"sql": sql, "time": f"{time.monotonic() - start:.3f}"})


def fetchone_prepared(sql: str, params: Sequence[Any] | Mapping[str, Any]) -> tuple | None:
    """Run a hot statement (routing, the category of a new report, its INSERT) as a server-side
    prepared statement, and return its first row.

    These run on every report and every locate call, with the same few query shapes; Django's
    cursor binds parameters client-side, so PostgreSQL would plan each call again (most of the time
    a lookup takes). psycopg prepares the statement once per connection and reuses the plan. It runs
    on Django's own connection, so it shares the caller's transaction, and its errors are Django's
    (an IntegrityError is django.db.IntegrityError, as from the ORM).
    """
    result: tuple | None = _run_prepared(sql, params, lambda cursor: cursor.fetchone())
    return result


def fetchone_with_names(
    sql: str, params: Sequence[Any] | Mapping[str, Any]
) -> tuple[list[str], tuple] | None:
    """As fetchone_prepared, with the column names: for a row that becomes a model instance."""

    def fetch(cursor: Any) -> tuple[list[str], tuple] | None:
        row = cursor.fetchone()
        return None if row is None else ([column.name for column in cursor.description], row)

    result: tuple[list[str], tuple] | None = _run_prepared(sql, params, fetch)
    return result


def fetchall_prepared(sql: str, params: Sequence[Any] | Mapping[str, Any]) -> tuple[list[str], list[tuple]]:
    """As fetchone_prepared, for a hot read of several rows (a staff inbox's page): the column names
    and every row. The rows come in binary form: a page's timestamps are read without parsing text."""

    def fetch(cursor: Any) -> tuple[list[str], list[tuple]]:
        return [column.name for column in cursor.description], cursor.fetchall()

    result: tuple[list[str], list[tuple]] = _run_prepared(sql, params, fetch, binary=True)
    return result


# insert_sql's statements by shape: the model, the columns returned, and per column either the
# placeholder of a value or the SQL and parameters of a RawSQL (see insert_sql).
_INSERT_SQL: dict[tuple[Any, ...], str] = {}


@cache
def _insert_fields(model: type[Model]) -> list[tuple[Field, Callable[..., str] | None]]:
    """The columns `save()` inserts for a new row of `model`, each with its field's placeholder
    function (a geometry may need one) or None for a plain %s."""
    meta = model._meta
    return [
        (f, getattr(f, "get_placeholder", None))
        for f in meta.local_concrete_fields
        if f is not meta.auto_field and not f.generated
    ]


def insert_sql(obj: Model, *, returning: Sequence[str] = ()) -> tuple[str, list[Any]]:
    """The INSERT Django's `save()` would run for the unsaved `obj` (every concrete column but an
    automatic primary key, values prepared by the fields, `auto_now_add` stamped on `obj`), with
    `RETURNING` the named columns, as SQL with %s placeholders and its parameters, without running it,
    for Django's default connection (where fetchone_prepared runs it).

    For a write of a few rows in one statement (a data-modifying WITH), where each row is still
    built by the ORM: a value may be an expression, such as the id a preceding CTE returned.

    The statement's text is built by the ORM's insert compiler and kept per shape: the model, the
    columns returned, each value's placeholder, and a RawSQL value's SQL and parameters (on a
    citizen's report, assembling the text cost more than preparing the values). A statement with any
    other expression is compiled every time. Each call prepares its values with the fields' own
    `get_db_prep_save`, as the compiler does, and the compiler reads the values `pre_save` stamped
    here (raw), so the row and `obj` hold the same times."""
    model = type(obj)
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: through the `connection` proxy, every
    # field's use of it was a look-up in asgiref's context-local storage
    fields = _insert_fields(model)
    shape: list[Any] = [model, tuple(returning)]
    params: list[Any] = []
    cacheable = True
    for field, get_placeholder in fields:
        value = field.pre_save(obj, True)
        if hasattr(value, "resolve_expression"):
            if isinstance(value, RawSQL):
                shape.append((value.sql, tuple(value.params)))
                params.extend(value.params)
            else:
                cacheable = False
            continue
        shape.append("%s" if get_placeholder is None else get_placeholder(value, None, db))
        params.append(field.get_db_prep_save(value, connection=db))
    key: tuple[Any, ...] | None = tuple(shape) if cacheable else None
    try:
        sql = _INSERT_SQL.get(key) if key is not None else None
    except TypeError:  # a RawSQL parameter that cannot be a key (a list): compiled every time
        key, sql = None, None
    if sql is not None:
        return sql, params
    query = InsertQuery(model)
    query.insert_values([field for field, _ in fields], [obj], raw=True)
    compiler = query.get_compiler(connection=db)
    compiler.returning_fields = [model._meta.get_field(name) for name in returning] or None
    [(sql, compiled_params)] = compiler.as_sql()
    if key is None or len(compiled_params) != len(params):
        return sql, list(compiled_params)
    _INSERT_SQL[key] = sql
    return sql, params


def sql_substituted(sql: str, old: str, new: str) -> str:
    """`sql` with `old` replaced by `new`, for a query built from another one (a parameter turned into
    a column of the outer query). If `sql` stops containing `old`, this fails at import rather than
    leaving a query that silently does something else."""
    if old not in sql:
        raise AssertionError(f"the SQL changed: {old!r} not found")
    return sql.replace(old, new)

"""Database helpers shared by the apps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import psycopg
from django.db import connection


def fetchone_prepared(
    sql: str, params: Sequence[float | int | str | None] | Mapping[str, float | int | str | None]
) -> tuple | None:
    """Run a hot read (routing, the category of a new report) as a server-side prepared statement.

    These run on every report and every locate call, with the same few query shapes; Django's
    cursor binds parameters client-side, so PostgreSQL would plan each call again (most of the time
    a lookup takes). psycopg prepares the statement once per connection and reuses the plan. It runs
    on Django's own connection, so it shares the caller's transaction.
    """
    connection.ensure_connection()
    raw = connection.connection
    cursor = getattr(raw, "_open137_routing_cursor", None)
    if cursor is None or cursor.closed:
        if not isinstance(raw, psycopg.Connection):  # another driver: a plain Django cursor
            with connection.cursor() as django_cursor:
                django_cursor.execute(sql, params)
                return django_cursor.fetchone()
        # Django sets psycopg's client-binding cursor as the connection's default; a plain Cursor
        # binds on the server, which is what lets the statement be prepared. It is kept with the
        # connection (it holds no state between calls) and dies with it.
        cursor = psycopg.Cursor(raw)
        raw._open137_routing_cursor = cursor  # type: ignore[attr-defined]
    cursor.execute(sql, params, prepare=True)
    return cursor.fetchone()

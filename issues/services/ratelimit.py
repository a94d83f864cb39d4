"""Write-limit counters shared by every app process (issues/throttling.py reads them)."""

from __future__ import annotations

import secrets

from django.db import connection


def rate_counter_hit(*, key: str, window_start: float, keep_seconds: float) -> int:
    """Count one request of `key` in the window starting at `window_start` (a Unix time) and return
    the window's count so far, in one statement. The first hit of a window also clears the key's
    older windows, and now and then everyone's windows older than `keep_seconds`."""
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO issues_ratecounter (key, window_start, hits) VALUES (%s, to_timestamp(%s), 1)
               ON CONFLICT (key, window_start) DO UPDATE SET hits = issues_ratecounter.hits + 1
               RETURNING hits""",
            [key, window_start],
        )
        hits = int(cursor.fetchone()[0])
        if hits == 1:
            cursor.execute(
                "DELETE FROM issues_ratecounter WHERE key = %s AND window_start < to_timestamp(%s)",
                [key, window_start],
            )
            if secrets.randbelow(200) == 0:
                cursor.execute(
                    "DELETE FROM issues_ratecounter WHERE window_start < to_timestamp(%s)",
                    [window_start - keep_seconds],
                )
    return hits

"""Keyset pages and capped counts for the public lists (`GET /api/reports/`, Open311 `GET requests`).

A page by offset costs every row before it: page 1,000 of a million-report archive read 100,000
rows to throw them away. A page by key starts where the last one ended: the lists are ordered newest
first by (created_at, id), both in an index for every filter (issues/models.py, `Report.Meta`), so a
page reads about a page of rows however deep it is and however large the archive.

The key travels as an opaque cursor: the base64url of the direction, the time in microseconds and the
id, signed with the project's SECRET_KEY (a cursor cannot be forged into a malformed key, and a bad
one is told apart from a good one without a query). Rotating the key invalidates the cursors in
flight: a client starts again from the first page, as after any 400 `bad_cursor`.

A count of a million matching reports is a million rows read; the lists count up to `COUNT_CAP`
and say when there are more (`count_capped`), which costs at most `COUNT_CAP` index entries.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core import signing
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

# Counting stops here: the answer says "10,000 or more".
COUNT_CAP = 10_000
# Pages by number go this deep (offset plus page size), no further: deeper is by cursor.
OFFSET_MAX = 10_000
CURSOR_MAX_CHARS = 200
_SALT = "open137.issues.cursor"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PAYLOAD = re.compile(r"^([np])(-?\d{1,19})\.(\d{1,19})$")


class CursorError(ValueError):
    """A cursor that is not one of ours (mangled, truncated, from another installation or key)."""

    code = "bad_cursor"

    def __init__(self) -> None:
        super().__init__(
            _(
                "is not a valid cursor: follow the `next` link of a page as given, or start from the first page."
            )
        )
        self.message = str(self.args[0])


@dataclass(frozen=True)
class PageCursor:
    """A position in a list's order: the page after (created_at, id), or the page before it when
    `backward` (a `previous` link). For a list ordered on another time (the updates feed's event
    `at`), `created_at` holds that time."""

    created_at: datetime
    id: int
    backward: bool = False


def _signer(scope: str) -> signing.Signer:
    # Each list signs with a salt of its own: a cursor of one list is a bad cursor for another.
    return signing.Signer(salt=f"{_SALT}.{scope}" if scope else _SALT, sep=".")


def cursor_encode(cursor: PageCursor, *, scope: str = "") -> str:
    micros = (cursor.created_at - _EPOCH) // timedelta(microseconds=1)
    payload = f"{'p' if cursor.backward else 'n'}{micros}.{cursor.id}"
    token = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    return _signer(scope).sign(token)


def cursor_decode(text: str, *, scope: str = "") -> PageCursor:
    """The cursor a `next`/`previous` link carries, or CursorError. `scope` names the list (empty
    for the reports' lists, `updates` for Open311's updates feed): it must be the encoder's."""
    if not text or len(text) > CURSOR_MAX_CHARS or not text.isascii():
        raise CursorError()
    try:
        token = _signer(scope).unsign(text)
        payload = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (signing.BadSignature, binascii.Error, ValueError):
        raise CursorError() from None
    match = _PAYLOAD.match(payload)
    if match is None:
        raise CursorError()
    try:
        created_at = _EPOCH + timedelta(microseconds=int(match[2]))
    except OverflowError:
        raise CursorError() from None
    return PageCursor(created_at=created_at, id=int(match[3]), backward=match[1] == "p")


@dataclass(frozen=True)
class KeysetPage:
    rows: list[dict[str, Any]]
    next: PageCursor | None
    previous: PageCursor | None


def _key(row: dict[str, Any], *, key: str, backward: bool) -> PageCursor:
    return PageCursor(created_at=row[key], id=row["id"], backward=backward)


def keyset_page(
    qs: QuerySet[Any, dict[str, Any]],
    *,
    cursor: PageCursor | None,
    limit: int,
    offset: int = 0,
    key: str = "created_at",
    ascending: bool = False,
) -> KeysetPage:
    """One page of `qs` (`.values()` rows with `key` and `id`) in the list's order, newest first by
    (`key`, id) or oldest first when `ascending` (the Open311 updates feed, on events' `at`), after or
    before `cursor` (the first page without one), or at `offset` (a shallow page by number, which the
    callers keep under OFFSET_MAX), with the cursors of the pages around it (by number, the caller
    links the page before). A cursor's `created_at` holds the value of `key`.

    `key <= cursor` (newest first; `>=` oldest first) is written out next to the exact comparison so
    that it is the index condition: the scan starts at the key instead of filtering its way down to
    it."""
    forward_order = (key, "id") if ascending else (f"-{key}", "-id")
    backward_order = (f"-{key}", "-id") if ascending else (key, "id")
    # The comparisons that go on in the list's order ("after") and back against it ("before").
    after, after_eq = ("gt", "gte") if ascending else ("lt", "lte")
    before, before_eq = ("lt", "lte") if ascending else ("gt", "gte")
    if offset:
        rows = list(qs.order_by(*forward_order)[offset : offset + limit + 1])
        more = len(rows) > limit
        rows = rows[:limit]
        return KeysetPage(rows, _key(rows[-1], key=key, backward=False) if more else None, None)
    if cursor is None or not cursor.backward:
        if cursor is not None:
            qs = qs.filter(**{f"{key}__{after_eq}": cursor.created_at}).filter(
                Q(**{f"{key}__{after}": cursor.created_at}) | Q(**{f"id__{after}": cursor.id})
            )
        rows = list(qs.order_by(*forward_order)[: limit + 1])
        more = len(rows) > limit
        rows = rows[:limit]
        previous = None
        if cursor is not None:
            previous = (
                _key(rows[0], key=key, backward=True)
                if rows
                else PageCursor(cursor.created_at, cursor.id, True)
            )
        return KeysetPage(rows, _key(rows[-1], key=key, backward=False) if more else None, previous)
    qs = qs.filter(**{f"{key}__{before_eq}": cursor.created_at}).filter(
        Q(**{f"{key}__{before}": cursor.created_at}) | Q(**{f"id__{before}": cursor.id})
    )
    rows = list(qs.order_by(*backward_order)[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit][::-1]
    return KeysetPage(
        rows,
        _key(rows[-1], key=key, backward=False) if rows else PageCursor(cursor.created_at, cursor.id, False),
        _key(rows[0], key=key, backward=True) if more else None,
    )


def count_capped(qs: QuerySet[Any], *, cap: int | None = None) -> tuple[int, bool]:
    """(how many rows `qs` has, up to `cap`; whether there are more than `cap`): `SELECT count(*)
    FROM (SELECT id ... ORDER BY created_at DESC, id DESC LIMIT cap + 1)`. The order is the lists'
    own, kept on purpose: it makes the plan walk the index that serves the page and stop after `cap`
    + 1 rows, where without it PostgreSQL may gather every match in a bitmap first (all 166,000 open
    reports of the bench's archive, 40 ms, where the walk takes a few)."""
    cap = COUNT_CAP if cap is None else cap
    found = qs.order_by("-created_at", "-id").values("pk")[: cap + 1].count()
    return (cap, True) if found > cap else (found, False)

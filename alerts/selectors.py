"""Reads for alerts: what a subscription asks for (with names, no contact), and the feeds' rows.

The feeds read the newest reports of a district or a category through the reports' own
newest-first indexes: a district's through (district, created_at, id), one probe per district row
carrying the code (a region's sub-districts too, and the rows of older boundary sets), each
stopped after N rows; a category's through (category, created_at, id). Only public columns are
read: never the reporter's name, phone, e-mail or tokens.
"""

from __future__ import annotations

from typing import Any

from django.db import connection

from alerts.models import Subscription
from alerts.texts import Criteria
from districts.models import District
from issues.models import Category

FEED_SIZE = 50


def district_code_active(*, code: str) -> bool:
    """Whether a district of the active boundary set (below the jurisdiction) has this code."""
    return District.objects.filter(code=code, boundary_set__active=True, level__gt=0).exists()


def district_active_get(*, code: str) -> dict[str, Any] | None:
    row = (
        District.objects.filter(code=code, boundary_set__active=True, level__gt=0)
        .values("code", "name_fa", "name_en")
        .first()
    )
    return dict(row) if row is not None else None


def category_public_get(*, code: str) -> dict[str, Any] | None:
    row = Category.objects.filter(code=code, active=True).values("id", "code", "name_fa", "name_en").first()
    return dict(row) if row is not None else None


def criteria_of(*, subscription: Subscription) -> Criteria:
    district = district_active_get(code=subscription.district_code) if subscription.district_code else None
    category = subscription.category
    center = subscription.center
    return Criteria(
        district_code=subscription.district_code,
        district_name_fa=(district or {}).get("name_fa", subscription.district_code),
        district_name_en=(district or {}).get("name_en", subscription.district_code),
        category_code=category.code if category else "",
        category_name_fa=category.name_fa if category else "",
        category_name_en=category.name_en if category else "",
        radius_m=subscription.radius_m,
        lat=center.y if center is not None else None,
        lon=center.x if center is not None else None,
    )


def subscription_public(*, subscription: Subscription) -> dict[str, Any]:
    """A subscription as its requester may see it: what it asks for and its state, never the
    contact (the caller sent that, and nobody else may read it back), nor its state: a request for
    a subscription that is already active gets the same answer as a new one, so the answer does not
    tell who is subscribed to what."""
    criteria = criteria_of(subscription=subscription)
    return {
        "channel": subscription.channel,
        "language": subscription.language,
        "district": criteria.district_code or None,
        "category": criteria.category_code or None,
        "lat": criteria.lat,
        "lon": criteria.lon,
        "radius_m": criteria.radius_m,
    }


# The public columns of a feed's entry. `updated_at` is the entry's <updated>.
_FEED_COLUMNS = """
    r.id, r.tracking_code, r.status, r.description, r.created_at, r.updated_at, r.generated,
    c.code AS category_code, c.name_fa AS category_name_fa, c.name_en AS category_name_en,
    d.code AS district_code, d.name_fa AS district_name_fa, d.name_en AS district_name_en"""
_FEED_JOINS = """
    JOIN issues_category c ON c.id = r.category_id
    LEFT JOIN districts_district d ON d.id = r.district_id"""

FEED_DISTRICT_SQL = f"""
    SELECT {_FEED_COLUMNS}
      FROM (SELECT DISTINCT dd.id FROM districts_district dd
             LEFT JOIN districts_district parent ON parent.id = dd.parent_id
            WHERE dd.code = %(code)s OR parent.code = %(code)s) AS ids
     CROSS JOIN LATERAL (
           SELECT * FROM issues_report r0
            WHERE r0.district_id = ids.id
            ORDER BY r0.created_at DESC, r0.id DESC
            LIMIT %(limit)s) AS r
     {_FEED_JOINS}
     ORDER BY r.created_at DESC, r.id DESC
     LIMIT %(limit)s"""

FEED_CATEGORY_SQL = f"""
    SELECT {_FEED_COLUMNS}
      FROM issues_report r {_FEED_JOINS}
     WHERE r.category_id = %(category)s
     ORDER BY r.created_at DESC, r.id DESC
     LIMIT %(limit)s"""

FEED_ALL_SQL = f"""
    SELECT {_FEED_COLUMNS}
      FROM issues_report r {_FEED_JOINS}
     ORDER BY r.created_at DESC, r.id DESC
     LIMIT %(limit)s"""


def _rows(sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [col[0] for col in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def feed_reports(
    *, district_code: str = "", category_id: int | None = None, limit: int = FEED_SIZE
) -> list[dict[str, Any]]:
    """The newest `limit` reports of a district (by code, its sub-districts included), of a
    category, or of the whole city; public columns only, newest first."""
    if district_code:
        return _rows(FEED_DISTRICT_SQL, {"code": district_code, "limit": limit})
    if category_id is not None:
        return _rows(FEED_CATEGORY_SQL, {"category": category_id, "limit": limit})
    return _rows(FEED_ALL_SQL, {"limit": limit})

"""Small conversions the report APIs, Open311 and the services share."""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

from django.conf import settings


@cache
def _city_zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_iso(moment: datetime | None) -> str | None:
    """A time in the city's zone, ISO 8601 with its offset (`2026-11-28T19:30:00+03:30`).

    Lists write four of these per row: the zone is looked up once, not through Django's current
    time zone on every call (a tenth of an inbox page's time)."""
    return moment.astimezone(_city_zone(settings.TIME_ZONE)).isoformat(timespec="seconds") if moment else None


def token_hash(token: str) -> str:
    """What is stored of a secret (a private token, an API key): its SHA-256, never the secret."""
    return hashlib.sha256(token.encode()).hexdigest()

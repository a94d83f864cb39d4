"""Small conversions the report APIs, Open311 and the services share."""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.utils import timezone


def local_iso(moment: datetime | None) -> str | None:
    """A time in the city's zone, ISO 8601 with its offset (`2026-11-28T19:30:00+03:30`)."""
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else None


def token_hash(token: str) -> str:
    """What is stored of a secret (a private token, an API key): its SHA-256, never the secret."""
    return hashlib.sha256(token.encode()).hexdigest()

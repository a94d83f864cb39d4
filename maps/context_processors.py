from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import get_language_bidi


def site(request: HttpRequest) -> dict[str, Any]:
    return {
        "TILE_URL": settings.OPEN137_TILE_URL,
        "TILE_ATTRIBUTION": settings.OPEN137_TILE_ATTRIBUTION,
        "TEXT_DIRECTION": "rtl" if get_language_bidi() else "ltr",
    }

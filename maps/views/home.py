"""The home page: the city's districts on a map, with what the platform offers."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from districts.selectors import district_summary


def home(request: HttpRequest) -> HttpResponse:
    """The city's districts on a map, with what the platform offers."""
    context = {
        "summary": district_summary(),
        "center": settings.LEAFLET_CONFIG["DEFAULT_CENTER"],
        "zoom": settings.LEAFLET_CONFIG["DEFAULT_ZOOM"],
    }
    return render(request, "maps/home.html", context)

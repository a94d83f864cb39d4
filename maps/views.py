from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from districts.selectors import district_summary


def home(request: HttpRequest) -> HttpResponse:
    """The city's districts on a map, with what the platform offers."""
    return render(request, "maps/home.html", {"summary": district_summary()})

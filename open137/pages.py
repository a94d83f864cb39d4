"""Pages shared by the staff apps (console, council), which may not import each other."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def forbidden_page(
    request: HttpRequest, *, frame: str, message: str, back_url: str, back_label: str
) -> HttpResponse:
    """The staff pages' one 403 (templates/forbidden.html) inside the app's own `frame` (its base
    template): what is not allowed, and where to go instead."""
    context = {"base_template": frame, "message": message, "back_url": back_url, "back_label": back_label}
    return render(request, "forbidden.html", context, status=403)

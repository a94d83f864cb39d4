"""Tiles answered early in the middleware chain, as WhiteNoise answers static files.

A map asks for a dozen tiles at each pan and zoom, and a median tile is a query of about a
millisecond: the middleware after this one (the session, the language, CSRF, authentication, the
messages, the URL resolver) would add a fifth to it, for nothing a tile uses. A tile is public and
the same for every visitor in every language: no session, no user, no translated text (and so no
`Vary: Accept-Language` to split a proxy's cache). The middleware before it still applies: the
security headers, HSTS and nosniff, and the 503 when the database is away.

Only a well-formed request is answered here (GET or HEAD, a tile that exists, filters that parse);
anything else goes on through the whole chain to the view (issues.oversight.views.report_tile),
which gives the same 400 or 405 in the visitor's language as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from geo.tiles import TileError, tile_parse
from issues.filters import FilterError, report_filters_parse
from issues.oversight.views import tile_answer

# The address of issues/oversight/urls.py's one pattern, under open137/urls.py's "tiles/".
_TILE_PATH = re.compile(r"/tiles/reports/([^/]+)/([^/]+)/([^/]+)\.mvt")


class TileMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        found = _TILE_PATH.fullmatch(request.path_info)
        if found is None or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        try:
            tile = tile_parse(*found.groups())
            filters = report_filters_parse(request.GET)
        except (TileError, FilterError):
            return self.get_response(request)
        return tile_answer(request, tile=tile, filters=filters)

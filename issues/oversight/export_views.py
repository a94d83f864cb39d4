"""GET /api/hotspots/map/{heatmap|choropleth|hotspots}.html?<filters>: the offline map of
`manage.py export_map` as a download (issues.oversight.exports), for the council dashboard's
"download" links. Public, like the data it aggregates; bad parameters are the API's 400."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from issues.filters import FilterError, report_filters_parse
from issues.oversight.exports import EXPORT_KINDS, export_file_name, map_export_html
from issues.oversight.hotspot_views import _metres, _whole
from issues.oversight.hotspots import HotspotParameterError
from issues.oversight.sql import oversight_settings
from issues.oversight.views import field_error_response


@require_safe
def map_export(request: HttpRequest, kind: str) -> HttpResponse:
    """The map of `kind` (in the path: `kind` in the query is the filters' message kind)."""
    if kind not in EXPORT_KINDS:
        return field_error_response(
            "kind", _("must be one of: %(kinds)s.") % {"kinds": ", ".join(EXPORT_KINDS)}
        )
    try:
        filters = report_filters_parse(request.GET)
        page = map_export_html(
            kind=kind,
            filters=filters,
            min_reports=_whole(request.GET, "min_reports"),
            radius_m=_metres(request.GET, "radius_m"),
            days=_whole(request.GET, "days"),
        )
    except (FilterError, HotspotParameterError) as exc:
        return field_error_response(exc.field, exc.message)
    response = HttpResponse(page, content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export_file_name(kind=kind)}"'
    response["Cache-Control"] = f"public, max-age={oversight_settings().max_age}"
    return response

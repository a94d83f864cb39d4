"""`{% report_map_config as config %}`: what reportmap.js needs to draw the reports' tiles, for a
page whose view does not build it (the home page), then `{{ config|json_script:"..." }}`."""

from __future__ import annotations

from typing import Any

from django import template

from maps.views_map import report_map_config as _report_map_config

register = template.Library()


@register.simple_tag
def report_map_config() -> dict[str, Any]:
    return _report_map_config()

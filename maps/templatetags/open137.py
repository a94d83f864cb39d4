"""Template filters for Persian and English pages.

Persian pages show dates in the Jalali (Solar Hijri) calendar, the one Iranians live by, with Persian
digits; English pages show Gregorian dates. Times are in the city's time zone (TIME_ZONE).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import jdatetime
from django import template
from django.utils import formats, timezone
from django.utils.safestring import SafeString
from django.utils.translation import get_language

from geo.text import to_persian_digits
from maps.icons import icon_svg

register = template.Library()


def _persian() -> bool:
    return (get_language() or "").split("-")[0] == "fa"


def _local(value: dt.datetime | dt.date) -> dt.datetime | dt.date:
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


@register.filter
def localdigits(value: Any) -> str:
    """The value as text, with Persian digits on a Persian page."""
    if value is None:
        return ""
    text = str(value)
    return to_persian_digits(text) if _persian() else text


@register.filter
def localdate(value: dt.datetime | dt.date | None) -> str:
    """`۱ فروردین ۱۴۰۴` on a Persian page, `21 March 2025` on an English one."""
    if not value:
        return ""
    local = _local(value)
    if _persian():
        day = jdatetime.date.fromgregorian(date=local if not isinstance(local, dt.datetime) else local.date())
        month = jdatetime.date.j_months_fa[day.month - 1]
        return to_persian_digits(f"{day.day} {month} {day.year}")
    return formats.date_format(local, "j F Y")


@register.filter
def localdatetime(value: dt.datetime | None) -> str:
    """The date as `localdate`, then the time (24-hour clock)."""
    if not value:
        return ""
    local = _local(value)
    clock = f"{local:%H:%M}" if isinstance(local, dt.datetime) else ""
    if _persian():
        return f"{localdate(value)}، ساعت {to_persian_digits(clock)}" if clock else localdate(value)
    return f"{localdate(value)}, {clock}" if clock else localdate(value)


@register.filter
def isodatetime(value: dt.datetime | None) -> str:
    """For <time datetime="...">: machine-readable, whatever the page's calendar."""
    return value.isoformat() if value else ""


@register.filter
def trackingcode(code: str | None) -> str:
    """A tracking code grouped by four for reading over the phone: ACDEFGHJ -> ACDE-FGHJ."""
    if not code:
        return ""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


@register.filter
def tr(obj: Any, field: str) -> str:
    """The Persian or English variant of a bilingual field (`name` -> name_fa / name_en), falling
    back to Persian, which every record has."""
    lang = "fa" if _persian() else "en"
    if obj is None:
        return ""
    if isinstance(obj, Mapping):
        value = obj.get(f"{field}_{lang}") or obj.get(f"{field}_fa")
    else:
        value = getattr(obj, f"{field}_{lang}", "") or getattr(obj, f"{field}_fa", "")
    return str(value or "")


@register.simple_tag
def category_icon(name: str, size: int = 24) -> SafeString:
    return icon_svg(name, size=size)

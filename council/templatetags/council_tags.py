"""Numbers on the council's pages: Persian digits on a Persian page, shares as percentages, an empty
value as a dash (with words for screen readers)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from geo.text import to_persian_digits

register = template.Library()


def _local(text: str) -> str:
    return to_persian_digits(text) if (get_language() or "fa").startswith("fa") else text


def _none() -> SafeString:
    return format_html('<span aria-label="{}">–</span>', _("no value"))


@register.filter
def num(value: Any, digits: int = 0) -> SafeString | str:
    """A count or a measure: thousands separated, `digits` decimals."""
    if value is None or value == "":
        return _none()
    text = f"{float(value):,.{int(digits)}f}" if digits else f"{round(float(value)):,}"
    return _local(text.replace(",", "٬") if (get_language() or "fa").startswith("fa") else text)


@register.filter
def percent(value: Any) -> SafeString | str:
    """A share (0..1) as a percentage with one decimal."""
    if value is None:
        return _none()
    return _local(f"{float(value) * 100:.1f}") + ("٪" if (get_language() or "fa").startswith("fa") else "%")


@register.filter
def pick(row: dict[str, Any], lang: str) -> str:
    """The row's name in the page's language (the other if missing)."""
    first, second = ("name_fa", "name_en") if lang == "fa" else ("name_en", "name_fa")
    return str(row.get(first) or row.get(second) or "")


@register.filter
def label(row: dict[str, Any], lang: str) -> str:
    return str(row.get(f"label_{lang}") or "")

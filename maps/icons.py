"""Category icons as inline SVG, keyed by `Category.icon`.

Inline SVG rather than emoji: emoji look different on every phone and are missing on many older
Android and desktop systems; SVG draws the same everywhere and takes the text colour. The shapes are
simple line drawings on a 24-unit grid, drawn for this project.
"""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

_SHAPES: dict[str, str] = {
    "pothole": '<path d="M2 19h20"/><ellipse cx="12" cy="14" rx="7" ry="2.6"/><path d="M6 8l2 2M18 8l-2 2M12 5v3"/>',
    "sidewalk": '<circle cx="13" cy="4" r="2"/><path d="M13 7l-2 6 3 3v5M11 13l-3 8M9 9l4-2 3 3"/>',
    "snowplow": '<path d="M12 2v20M3.3 7l17.4 10M20.7 7L3.3 17M9.5 3.5 12 6l2.5-2.5M9.5 20.5 12 18l2.5 2.5"/>',
    "salt": '<path d="M8 10h8l-1.2 11H9.2z"/><path d="M9 10l1-5h4l1 5"/><path d="M11 2.5h.01M13 2.5h.01"/>',
    "bin": '<path d="M3 6h18M9 6V3h6v3M5.5 6l1.2 15h10.6L18.5 6M10 10v7M14 10v7"/>',
    "trash": '<path d="M6 9h12l1.5 12h-15z"/><path d="M9 9c0-4 6-4 6 0M8 5l2 2M16 5l-2 2"/>',
    "debris": '<rect x="2.5" y="14" width="9" height="6"/><rect x="12.5" y="14" width="9" height="6"/><rect x="7.5" y="8" width="9" height="6"/>',
    "lamp": '<path d="M7 22h6M10 22V7a4 4 0 0 1 4-4h2"/><path d="M14 6h6l-1-3h-4z"/><path d="M17 9v2M14 9l-1 1.5M20 9l1 1.5"/>',
    "tree": '<circle cx="12" cy="9" r="6.5"/><path d="M12 12v10M9 22h6M12 14l-3-3M12 13l3-2.5"/>',
    "blocked": '<rect x="2.5" y="7" width="19" height="6" rx="1"/><path d="M7 7l-3 6M13 7l-4 6M19 7l-4 6M5 13v8M19 13v8"/>',
    "brush": '<rect x="6" y="9" width="8" height="13" rx="1.5"/><path d="M8 9V6h4v3M17 4h.01M20 3h.01M19 7h.01M17 10h.01"/>',
    "dog": '<path d="M3 11h11l2-4h2l1 2h2v2l-3 1v9M6 11v10M10 15v6M15 15v6M6 11 3 8"/>',
    "paw": '<ellipse cx="12" cy="16" rx="4.5" ry="3.8"/><circle cx="6" cy="10" r="1.8"/><circle cx="9.5" cy="6" r="1.8"/><circle cx="14.5" cy="6" r="1.8"/><circle cx="18" cy="10" r="1.8"/>',
    "sign": '<rect x="3.5" y="3" width="17" height="10" rx="1.5"/><path d="M12 13v9M9 22h6M7.5 8h9"/>',
    "traffic-light": '<rect x="8" y="2" width="8" height="17" rx="2"/><circle cx="12" cy="6.2" r="1.5"/><circle cx="12" cy="10.5" r="1.5"/><circle cx="12" cy="14.8" r="1.5"/><path d="M12 19v3"/>',
    "water": '<path d="M12 3c4 5 6.5 8 6.5 11.2a6.5 6.5 0 0 1-13 0C5.5 11 8 8 12 3z"/><path d="M9 15a3 3 0 0 0 3 3"/>',
    "drain": '<rect x="3" y="6" width="18" height="12" rx="1.5"/><path d="M7.5 6v12M12 6v12M16.5 6v12"/>',
    "crane": '<path d="M6 22V3h15M6 7l4-4M18 3v8M3 22h7"/><rect x="16" y="11" width="4" height="3"/>',
    "complaint": '<path d="M3 10v4h4l8 5V5L7 10z"/><path d="M18.5 8.5a5 5 0 0 1 0 7"/><path d="M7 14l1 6h3l-1-5"/>',
    "thumbs-down": '<circle cx="12" cy="12" r="9"/><path d="M8 16.5c2.2-2.2 5.8-2.2 8 0"/><path d="M9 9.5h.01M15 9.5h.01"/>',
    "comment": '<path d="M4 4h16v12H10l-6 4.5z"/><path d="M8 9h8M8 12h5"/>',
    "lightbulb": '<path d="M9 18h6M10 21h4"/><path d="M12 3a6 6 0 0 0-4 10.5c.7.8 1 1.6 1 2.5h6c0-.9.3-1.7 1-2.5A6 6 0 0 0 12 3z"/>',
    "heart": '<path d="M12 20s-8-4.6-8-10.2A4.3 4.3 0 0 1 12 7.2a4.3 4.3 0 0 1 8 2.6C20 15.4 12 20 12 20z"/>',
    # Any category whose icon is not drawn here: a map pin.
    "": '<path d="M12 22s7-7 7-12.2a7 7 0 0 0-14 0C5 15 12 22 12 22z"/><circle cx="12" cy="9.8" r="2.5"/>',
}


def icon_svg(name: str, *, size: int = 24) -> SafeString:
    """The icon as an inline, decorative <svg> (the category name next to it is the accessible text)."""
    shape = _SHAPES.get(name or "", _SHAPES[""])
    return format_html(
        '<svg class="icon" width="{}" height="{}" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
        'stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" '
        'focusable="false">{}</svg>',
        size,
        size,
        mark_safe(shape),  # noqa: S308 - constant shapes defined above, never user input
    )

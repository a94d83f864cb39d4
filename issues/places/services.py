"""Writes of the gazetteer: a place is created or saved only here, so its search key always
matches its names."""

from __future__ import annotations

from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from geo.srid import GEO_SRID
from geo.text import normalize_persian
from issues.places.models import Place, PlaceKind

NAME_MAX = 200
SOURCE_MAX = 300


def place_search_text(*, name_fa: str, name_en: str = "") -> str:
    """The names as search compares them: normalised, one per line (a match never spans both)."""
    return "\n".join(n for n in (normalize_persian(name_fa), normalize_persian(name_en)) if n)


def place_clean(*, name_fa: str, name_en: str, kind: str, location: Point | None, source: str) -> None:
    errors: dict[str, list[str]] = {}
    if not (name_fa or "").strip():
        errors["name_fa"] = [_("A place needs a Persian name.")]
    for field, value, limit in (
        ("name_fa", name_fa, NAME_MAX),
        ("name_en", name_en, NAME_MAX),
        ("source", source, SOURCE_MAX),
    ):
        if len(value or "") > limit:
            errors.setdefault(field, []).append(_("At most %(n)d characters.") % {"n": limit})
    if kind not in PlaceKind.values:
        errors["kind"] = [
            _("Unknown kind “%(kind)s”: choose one of %(kinds)s.")
            % {"kind": kind, "kinds": ", ".join(PlaceKind.values)}
        ]
    if location is None or location.empty:
        errors["location"] = [_("A place needs a point.")]
    elif location.srid not in (None, GEO_SRID):
        errors["location"] = [_("The point must be in longitude/latitude (EPSG:4326).")]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def place_create(
    *, name_fa: str, location: Point, name_en: str = "", kind: str = PlaceKind.OTHER, source: str = ""
) -> Place:
    name_fa, name_en, source = name_fa.strip(), (name_en or "").strip(), (source or "").strip()
    place_clean(name_fa=name_fa, name_en=name_en, kind=kind, location=location, source=source)
    return Place.objects.create(
        name_fa=name_fa,
        name_en=name_en,
        kind=kind,
        location=Point(location.x, location.y, srid=GEO_SRID),
        source=source,
        name_search=place_search_text(name_fa=name_fa, name_en=name_en),
    )


@transaction.atomic
def place_save(*, place: Place) -> Place:
    """Save a place edited in the admin, with its search key written from its names."""
    place.name_fa, place.name_en = place.name_fa.strip(), place.name_en.strip()
    place_clean(
        name_fa=place.name_fa,
        name_en=place.name_en,
        kind=place.kind,
        location=place.location,
        source=place.source,
    )
    place.name_search = place_search_text(name_fa=place.name_fa, name_en=place.name_en)
    place.save()
    return place

"""Gazetteer import: a GIS file of named places (a municipality's street and neighbourhood layers,
an OpenStreetMap extract, a surveyed list of landmarks) becomes rows of the `Place` table.

Any format GDAL reads, in any coordinate system (reprojected to longitude/latitude). Points are
taken as they are; a street (a line) becomes a point on it and a neighbourhood (a polygon) a point
inside it, which is all the call screen needs to move the map there. Features without a name or a
geometry are counted and skipped; a place already in the table (same name, kind and point) is not
written twice, so importing a file again adds nothing. Without `commit` nothing is written.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.gis.gdal import CoordTransform, GDALException, OGRGeometry, SpatialReference
from django.contrib.gis.gdal.layer import Layer
from django.contrib.gis.gdal.prototypes import ds as ds_api
from django.contrib.gis.geos import GEOSGeometry, Point
from django.db import transaction
from django.utils.translation import gettext as _

from districts.importing import (  # the GDAL reading shared with the boundary import
    BoundaryImportError,
    _as_text,
    _FieldPath,
    _open_layer,
    _read_value,
    _resolve_field,
    _source_srs,
    _srs_label,
    reproject,
)
from geo.srid import GEO_SRID
from issues.places.models import Place, PlaceKind
from issues.places.services import NAME_MAX, SOURCE_MAX, place_search_text

# What files call the kinds, in English and Persian, besides the kinds' own names (OSM's place=*
# and highway=* values among them). Compared lower-cased.
_KIND_SYNONYMS: dict[PlaceKind, tuple[str, ...]] = {
    PlaceKind.NEIGHBOURHOOD: ("neighborhood", "quarter", "suburb", "محله", "محل", "شهرک", "کوی"),
    PlaceKind.LANDMARK: (
        "poi",
        "monument",
        "building",
        "station",
        "square",
        "نشانه",
        "بنا",
        "ایستگاه",
        "میدان",
    ),
    PlaceKind.STREET: (
        "road",
        "avenue",
        "boulevard",
        "highway",
        "alley",
        "primary",
        "secondary",
        "tertiary",
        "residential",
        "خیابان",
        "بلوار",
        "کوچه",
        "بزرگراه",
        "جاده",
        "معبر",
    ),
    PlaceKind.OTHER: ("سایر", "دیگر"),
}
KIND_WORDS: dict[str, str] = {
    word: kind.value for kind, words in _KIND_SYNONYMS.items() for word in (kind.value, *words)
}
_MAX_LISTED = 10


class PlaceImportError(Exception):
    """The file cannot be imported as it is; the message says why and what to do."""


@dataclass
class PlaceImportSummary:
    path: str
    layer: str
    driver: str
    source_srs: str
    source: str
    committed: bool
    features: int = 0
    imported: int = 0
    already_there: int = 0  # the same name, kind and point already in the table (or twice in the file)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> features
    kinds: dict[str, int] = field(default_factory=dict)  # kind -> places imported
    examples: list[str] = field(default_factory=list)  # a few names, to recognise the file


@dataclass(frozen=True)
class _Row:
    name_fa: str
    name_en: str
    kind: str
    point: Point


def _kind_of(value: str) -> str | None:
    return KIND_WORDS.get(" ".join(value.split()).lower())


def _representative_point(geometry: OGRGeometry) -> Point | None:
    """A point that stands for the feature: itself, a point on the line, a point inside the area."""
    geos: GEOSGeometry = geometry.geos
    if geos.empty:
        return None
    point = geos if isinstance(geos, Point) else geos.point_on_surface
    return Point(point.x, point.y, srid=GEO_SRID)


def _read(
    *,
    layer: Layer,
    source_srs: SpatialReference,
    name_path: _FieldPath,
    name_en_path: _FieldPath | None,
    kind_path: _FieldPath | None,
    default_kind: str,
    summary: PlaceImportSummary,
) -> list[_Row]:
    transform = CoordTransform(source_srs, SpatialReference(GEO_SRID))
    srs_label = _srs_label(source_srs)
    skipped: Counter[str] = Counter()
    unknown_kinds: Counter[str] = Counter()
    rows: list[_Row] = []
    for index, feature in enumerate(layer, start=1):
        summary.features += 1
        name_fa = " ".join(_as_text(_read_value(feature, name_path)).split())
        label = _("feature %(n)s (“%(name)s”)") % {"n": index, "name": name_fa[:60]}
        if not name_fa:
            skipped[_("no name in “%(field)s”") % {"field": name_path.option}] += 1
            continue
        if len(name_fa) > NAME_MAX:
            raise PlaceImportError(
                _("%(feature)s: the name is longer than %(n)d characters (field “%(field)s”).")
                % {"feature": label, "n": NAME_MAX, "field": name_path.option}
            )
        name_en = " ".join(_as_text(_read_value(feature, name_en_path)).split()) if name_en_path else ""
        name_en = name_en[:NAME_MAX]
        kind = default_kind
        if kind_path is not None:
            raw_kind = _as_text(_read_value(feature, kind_path))
            if raw_kind:
                found = _kind_of(raw_kind)
                if found is None:
                    unknown_kinds[raw_kind] += 1
                    continue
                kind = found
        if not ds_api.get_feat_geom_ref(feature.ptr):
            skipped[_("no geometry")] += 1
            continue
        try:
            geometry = feature.geom
        except (GDALException, TypeError):
            skipped[_("a geometry type that is not a point, line or area")] += 1
            continue
        geometry.set_3d(False)
        geometry.set_measured(False)
        if geometry.empty:
            skipped[_("no geometry")] += 1
            continue
        reproject(
            geometry=geometry, source_srs=source_srs, srs_label=srs_label, transform=transform, label=label
        )
        point = _representative_point(geometry)
        if point is None:
            skipped[_("no geometry")] += 1
            continue
        rows.append(_Row(name_fa, name_en, kind, point))
    if unknown_kinds:
        listed = ", ".join(f"“{value}” ({n})" for value, n in unknown_kinds.most_common(_MAX_LISTED))
        raise PlaceImportError(
            _(
                "The field “%(field)s” holds values that are not a kind of place: %(values)s. Kinds: "
                "%(kinds)s (or a word for one, e.g. street, خیابان, محله); give one kind for all with --kind."
            )
            % {
                "field": kind_path.option if kind_path else "",
                "values": listed,
                "kinds": ", ".join(PlaceKind.values),
            }
        )
    summary.skipped = dict(skipped)
    return rows


def _key(name_search: str, kind: str, point: Point) -> tuple[str, str, float, float]:
    # The same place: same names, same kind, the same point to about 10 cm.
    return (name_search, kind, round(point.x, 6), round(point.y, 6))


def places_import(
    *,
    path: str,
    name_field: str,
    name_en_field: str | None = None,
    kind_field: str | None = None,
    kind: str = PlaceKind.OTHER,
    layer: str | None = None,
    srid: int | None = None,
    source: str = "",
    commit: bool = False,
) -> PlaceImportSummary:
    """Read the places of one layer of a GIS file; write them only with `commit` (in one
    transaction). Raises PlaceImportError with a message naming the file, layer or field at fault."""
    if kind not in PlaceKind.values:
        raise PlaceImportError(
            _("Unknown kind “%(kind)s”: choose one of %(kinds)s.")
            % {"kind": kind, "kinds": ", ".join(PlaceKind.values)}
        )
    try:
        datasource, gdal_layer = _open_layer(path=path, layer=layer)
        name_path = _resolve_field(option=name_field, layer=gdal_layer)
        name_en_path = _resolve_field(option=name_en_field, layer=gdal_layer) if name_en_field else None
        kind_path = _resolve_field(option=kind_field, layer=gdal_layer) if kind_field else None
        source_srs = _source_srs(layer=gdal_layer, srid=srid)
        # Stored with the places, the same whatever the language of the run that imported them.
        source = (source or f"{Path(path).name}, layer {gdal_layer.name}").strip()[:SOURCE_MAX]
        summary = PlaceImportSummary(
            path=path,
            layer=gdal_layer.name,
            driver=str(datasource.driver),
            source_srs=_srs_label(source_srs),
            source=source,
            committed=False,
        )
        rows = _read(
            layer=gdal_layer,
            source_srs=source_srs,
            name_path=name_path,
            name_en_path=name_en_path,
            kind_path=kind_path,
            default_kind=kind,
            summary=summary,
        )
    except BoundaryImportError as exc:
        raise PlaceImportError(str(exc)) from None

    with transaction.atomic():
        searches = [(row, place_search_text(name_fa=row.name_fa, name_en=row.name_en)) for row in rows]
        seen = {
            _key(name_search, row_kind, location)
            for name_search, row_kind, location in Place.objects.filter(
                name_search__in={s for _row, s in searches}
            ).values_list("name_search", "kind", "location")
        }
        new: list[Place] = []
        kinds: Counter[str] = Counter()
        for row, name_search in searches:
            key = _key(name_search, row.kind, row.point)
            if key in seen:
                summary.already_there += 1
                continue
            seen.add(key)
            kinds[row.kind] += 1
            new.append(
                Place(
                    name_fa=row.name_fa,
                    name_en=row.name_en,
                    kind=row.kind,
                    location=row.point,
                    source=source,
                    name_search=name_search,
                )
            )
        summary.imported = len(new)
        summary.kinds = dict(kinds)
        summary.examples = [p.name_fa for p in new[:5]]
        if commit and new:
            Place.objects.bulk_create(new, batch_size=1000)
        summary.committed = commit
    return summary

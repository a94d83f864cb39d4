"""Writes for districts, boundary sets and service areas.

Whenever a boundary is written, its subdivided pieces and its area are rebuilt in the same
transaction, so lookups never see a boundary without its pieces.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Polygon
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from districts.models import BoundarySet, Department, District, DistrictLevel, ServiceArea
from geo.srid import GEO_SRID


def as_multipolygon(geometry: GEOSGeometry) -> MultiPolygon:
    """The boundary as a 2D MultiPolygon in the storage SRID, or a ValidationError. Without an SRID
    it is taken as WGS 84 degrees (the caller's geometry is left as it was)."""
    if geometry.srid is None:
        geometry = geometry.clone()
        geometry.srid = GEO_SRID
    if geometry.srid != GEO_SRID:
        geometry = geometry.transform(GEO_SRID, clone=True)
    if isinstance(geometry, Polygon):
        geometry = MultiPolygon(geometry, srid=GEO_SRID)
    if not isinstance(geometry, MultiPolygon):
        raise ValidationError(
            _("A boundary must be a polygon or a multipolygon, not %(t)s.") % {"t": geometry.geom_type}
        )
    if geometry.empty:
        raise ValidationError(_("A boundary cannot be empty."))
    min_lon, min_lat, max_lon, max_lat = geometry.extent
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        # Metres (a UTM file whose SRID was lost) read as degrees: nowhere on Earth.
        raise ValidationError(
            _(
                "The boundary's coordinates are not longitude and latitude in degrees (WGS 84): "
                "give the SRID of its coordinates."
            )
        )
    if not geometry.valid:
        raise ValidationError(_("The boundary is not a valid polygon: %(r)s") % {"r": geometry.valid_reason})
    if geometry.hasz:
        # Boundaries are flat: heights from a survey file would only slow every lookup.
        flat = geometry.ogr
        flat.set_3d(False)
        geometry = GEOSGeometry(flat.wkb, srid=GEO_SRID)  # type: ignore[assignment]
    return geometry  # type: ignore[return-value]


# Boundary writes (an import, a district drawn or redrawn, a set activated) take this lock first,
# for the rest of their transaction, so they run one after another: an import reads the active set
# it copies under the lock, and no other import or edit lands between that read and its activation
# (it would be lost: the new set is built from what the import read). A PostgreSQL advisory lock, not
# a row lock: there may be no active set yet to lock (two first imports), and an edit of a district
# does not write its set's row. Readers (routing) never take it.
BOUNDARIES_LOCK_KEY = 137_000_001


def boundaries_lock() -> None:
    """Wait for, then hold until the end of the transaction, the lock of boundary writes."""
    if connection.get_autocommit():
        raise RuntimeError("boundaries_lock() needs a transaction: the lock is held until it ends")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [BOUNDARIES_LOCK_KEY])


@transaction.atomic
def district_pieces_rebuild(
    *, district_ids: Iterable[int], boundary_updated_at: datetime | None = None
) -> None:
    """Rebuild the pieces and area of these districts and stamp `boundary_updated_at` (now, unless the
    caller knows the boundary is an unchanged copy: see `district_create`). Takes the boundaries
    lock, held until the caller's transaction ends."""
    ids = list(district_ids)
    if not ids:
        return
    boundaries_lock()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM districts_districtpiece WHERE district_id = ANY(%s)", [ids])
        cursor.execute(
            """INSERT INTO districts_districtpiece (district_id, geom)
               SELECT id, ST_Subdivide(boundary, %s) FROM districts_district WHERE id = ANY(%s)""",
            [settings.OPEN137_SUBDIVIDE_MAX_VERTICES, ids],
        )
        cursor.execute(
            # Whole square metres: two districts of the same size must tie on area, so that the lower
            # code decides, not floating-point noise.
            "UPDATE districts_district SET area_m2 = round(ST_Area(boundary::geography)), boundary_updated_at = %s"
            " WHERE id = ANY(%s)",
            [boundary_updated_at or timezone.now(), ids],
        )


def same_boundary(a: GEOSGeometry | None, b: GEOSGeometry | None) -> bool:
    """Whether two stored boundaries are the same area (same WKB, else ST_Equals); None is no boundary."""
    if a is None or b is None:
        return a is None and b is None
    if a.srid != b.srid:
        return False
    return bytes(a.wkb) == bytes(b.wkb) or bool(a.equals(b))


@transaction.atomic
def boundary_set_create(*, name: str, source: str = "", notes: str = "") -> BoundarySet:
    return BoundarySet.objects.create(name=name, source=source, notes=notes)


@transaction.atomic
def boundary_set_activate(*, boundary_set: BoundarySet) -> BoundarySet:
    """Make this set the one routing uses; the previous one stays, for history and reports."""
    boundaries_lock()
    BoundarySet.objects.filter(active=True).exclude(pk=boundary_set.pk).update(active=False)
    boundary_set.active = True
    boundary_set.activated_at = timezone.now()
    boundary_set.save(update_fields=["active", "activated_at"])
    return boundary_set


@transaction.atomic
def district_create(
    *,
    boundary_set: BoundarySet,
    code: str,
    name_fa: str,
    boundary: GEOSGeometry,
    name_en: str = "",
    level: int = DistrictLevel.REGION,
    parent: District | None = None,
    population: int | None = None,
    previous: District | None = None,
) -> District:
    """Create a district with its pieces.

    `previous` is the district this one replaces (the same code in the set being copied or
    re-imported): when the boundary is the same, the new row keeps its `boundary_updated_at`, so a
    district that was only copied into a new boundary set does not look redrawn.
    """
    boundaries_lock()
    if parent is not None and parent.boundary_set_id != boundary_set.pk:
        raise ValidationError(_("A district's parent must belong to the same boundary set."))
    if parent is not None and parent.level >= level:
        raise ValidationError(
            _("A district's parent must be of a higher level (a region above a sub-district).")
        )
    district = District.objects.create(
        boundary_set=boundary_set,
        code=code,
        name_fa=name_fa,
        name_en=name_en,
        level=level,
        parent=parent,
        population=population,
        boundary=as_multipolygon(boundary),
    )
    unchanged = previous is not None and same_boundary(district.boundary, previous.boundary)
    district_pieces_rebuild(
        district_ids=[district.pk],
        boundary_updated_at=previous.boundary_updated_at if previous is not None and unchanged else None,
    )
    district.refresh_from_db()
    return district


@transaction.atomic
def district_update(*, district: District, **fields: object) -> District:
    """Change a district; a new boundary rebuilds its pieces and is visible to `reroute`."""
    boundaries_lock()
    boundary = fields.pop("boundary", None)
    for name, value in fields.items():
        setattr(district, name, value)
    old_boundary = district.boundary
    if boundary is not None:
        district.boundary = as_multipolygon(boundary)  # type: ignore[arg-type]
    district.full_clean(exclude=["boundary_set", "parent"])
    district.save()
    if boundary is not None:
        # The same area drawn again is no change: the timestamp (which `reroute` reads) stays.
        unchanged = old_boundary is not None and same_boundary(old_boundary, district.boundary)
        district_pieces_rebuild(
            district_ids=[district.pk],
            boundary_updated_at=district.boundary_updated_at if unchanged else None,
        )
        district.refresh_from_db()
    return district


def service_area_pieces_rebuild(*, service_area_ids: Iterable[int]) -> None:
    ids = list(service_area_ids)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM districts_serviceareapiece WHERE service_area_id = ANY(%s)", [ids])
        cursor.execute(
            """INSERT INTO districts_serviceareapiece (service_area_id, geom)
               SELECT id, ST_Subdivide(boundary, %s) FROM districts_servicearea
                WHERE id = ANY(%s) AND boundary IS NOT NULL""",
            [settings.OPEN137_SUBDIVIDE_MAX_VERTICES, ids],
        )
        cursor.execute(
            "UPDATE districts_servicearea SET boundary_updated_at = %s WHERE id = ANY(%s)",
            [timezone.now(), ids],
        )


@transaction.atomic
def department_create(*, code: str, name_fa: str, name_en: str = "") -> Department:
    department = Department(code=code, name_fa=name_fa, name_en=name_en)
    department.full_clean()
    department.save()
    return department


# The service-area fields routing reads (`districts.selectors.service_area_for_point`); the boundary
# is compared as an area (`same_boundary`).
SERVICE_AREA_ROUTING_FIELDS = ("department_id", "district_code", "is_default", "active")


def service_area_routing_changed(*, before: ServiceArea | None, after: ServiceArea) -> bool:
    """Whether routing may send reports elsewhere after this save (a new unit always may)."""
    if before is None:
        return True
    if any(getattr(before, name) != getattr(after, name) for name in SERVICE_AREA_ROUTING_FIELDS):
        return True
    return not same_boundary(before.boundary, after.boundary)


@transaction.atomic
def service_area_save(*, service_area: ServiceArea, boundary_changed: bool = True) -> ServiceArea:
    """Create or update a service area; its own polygon (if any) is subdivided in the same transaction.

    When a field routing reads changes (compared with the stored row), `changed_at` is stamped: the
    `reroute` command then looks again at the department's open reports routed before it.
    """
    if service_area.boundary is not None:
        service_area.boundary = as_multipolygon(service_area.boundary)
    service_area.full_clean()
    before = (
        ServiceArea.objects.select_for_update().filter(pk=service_area.pk).first()
        if service_area.pk is not None
        else None
    )
    if service_area_routing_changed(before=before, after=service_area):
        service_area.changed_at = timezone.now()
    elif before is not None:
        service_area.changed_at = before.changed_at  # a stale copy in memory must not move it back
    service_area.save()
    if boundary_changed:
        service_area_pieces_rebuild(service_area_ids=[service_area.pk])
    return service_area


def service_area_create(
    *,
    department: Department,
    code: str,
    unit_name_fa: str,
    unit_name_en: str = "",
    district_code: str = "",
    boundary: GEOSGeometry | None = None,
    is_default: bool = False,
    contact_name: str = "",
    contact_phone: str = "",
    contact_email: str = "",
) -> ServiceArea:
    # A polygon is a valid boundary too: made a MultiPolygon before the model (whose field only takes
    # a MultiPolygon) sees it, as district_create does.
    return service_area_save(
        service_area=ServiceArea(
            department=department,
            code=code,
            unit_name_fa=unit_name_fa,
            unit_name_en=unit_name_en,
            district_code=district_code,
            boundary=as_multipolygon(boundary) if boundary is not None else None,
            is_default=is_default,
            contact_name=contact_name,
            contact_phone=contact_phone,
            contact_email=contact_email,
        )
    )

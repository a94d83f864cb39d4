"""Shared fixtures: hand-made square districts near Qazvin, departments, service areas, categories.

Coordinates are small squares around 50.0E 36.27N (Qazvin), so distances in metres are real: at this
latitude 0.001 degree is about 111 m north-south and about 90 m east-west.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Point, Polygon
from rest_framework.test import APIClient

from districts.models import BoundarySet, Department, District, DistrictLevel, ServiceArea
from districts.services import (
    boundary_set_activate,
    boundary_set_create,
    department_create,
    district_create,
    service_area_create,
)
from geo.srid import GEO_SRID
from issues.models import Category, MessageKind

# WGS 84 ellipsoid, for the expected length of a degree at a latitude (checks on reported metres).
_A = 6_378_137.0
_E2 = 6.694379990141316e-3


def metres_per_degree_lat(lat: float) -> float:
    phi = math.radians(lat)
    return math.pi / 180 * _A * (1 - _E2) / (1 - _E2 * math.sin(phi) ** 2) ** 1.5


def metres_per_degree_lon(lat: float) -> float:
    phi = math.radians(lat)
    return math.pi / 180 * _A * math.cos(phi) / math.sqrt(1 - _E2 * math.sin(phi) ** 2)


def pt(lon: float, lat: float) -> Point:
    return Point(lon, lat, srid=GEO_SRID)


def rect(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    """An axis-aligned rectangle in degrees (lon x0..x1, lat y0..y1)."""
    return Polygon(((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)), srid=GEO_SRID)


def square(x0: float, y0: float, size: float = 0.01) -> Polygon:
    return rect(x0, y0, x0 + size, y0 + size)


def multi(*polygons: Polygon) -> MultiPolygon:
    return MultiPolygon(*polygons, srid=GEO_SRID)


@dataclass
class D:
    """What one district of a hand-made boundary set looks like."""

    code: str
    boundary: GEOSGeometry
    level: int = DistrictLevel.REGION
    parent: str | None = None
    name_fa: str = ""
    name_en: str = ""


@dataclass
class BuiltSet:
    boundary_set: BoundarySet
    districts: dict[str, District] = field(default_factory=dict)

    def __getitem__(self, code: str) -> District:
        return self.districts[code]


@pytest.fixture
def boundary_set_factory(db) -> Callable[..., BuiltSet]:
    """Build a boundary set from `D` specs through the services (pieces and areas included)."""
    counter = iter(range(1, 1000))

    def make(districts: Iterable[D], *, name: str = "", activate: bool = True) -> BuiltSet:
        built = BuiltSet(boundary_set_create(name=name or f"test set {next(counter)}"))
        for spec in districts:
            built.districts[spec.code] = district_create(
                boundary_set=built.boundary_set,
                code=spec.code,
                name_fa=spec.name_fa or f"ناحیه {spec.code}",
                name_en=spec.name_en or f"District {spec.code}",
                boundary=spec.boundary,
                level=spec.level,
                parent=built.districts[spec.parent] if spec.parent else None,
            )
        if activate:
            boundary_set_activate(boundary_set=built.boundary_set)
        return built

    return make


@pytest.fixture
def department_factory(db) -> Callable[..., Department]:
    def make(code: str, name_fa: str = "", name_en: str = "") -> Department:
        return department_create(
            code=code, name_fa=name_fa or f"اداره {code}", name_en=name_en or code.title()
        )

    return make


@pytest.fixture
def service_area_factory(db) -> Callable[..., ServiceArea]:
    def make(department: Department, code: str, **kwargs: object) -> ServiceArea:
        kwargs.setdefault("unit_name_fa", f"واحد {code}")
        kwargs.setdefault("unit_name_en", f"Unit {code}")
        return service_area_create(department=department, code=code, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def category_factory(db) -> Callable[..., Category]:
    def make(code: str, department: Department, **kwargs: object) -> Category:
        kwargs.setdefault("name_fa", f"موضوع {code}")
        kwargs.setdefault("name_en", code.replace("-", " ").title())
        return Category.objects.create(code=code, department=department, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


# The standard test city:
#   R1  region        lon 50.00-50.02, lat 36.26-36.28
#   R2  region        lon 50.02-50.04, lat 36.26-36.28 (shares the edge lon=50.02 with R1)
#   S11 sub-district  lon 50.005-50.01, lat 36.265-36.27, inside R1
# Department "roads": a unit following R1 (so S11 too, by ancestry), one following R2, a central unit.
# Categories: "pothole" (needs a location) and "suggestion" (may have none).
CITY_POINTS = SimpleNamespace(
    r1=(50.015, 36.275),
    s11=(50.0075, 36.2675),
    r2=(50.03, 36.27),
    edge_r1_r2=(50.02, 36.27),
)


@pytest.fixture
def city(boundary_set_factory, department_factory, service_area_factory, category_factory) -> SimpleNamespace:
    built = boundary_set_factory(
        [
            D("R1", rect(50.00, 36.26, 50.02, 36.28), name_fa="منطقه یک", name_en="Region One"),
            D("R2", rect(50.02, 36.26, 50.04, 36.28), name_fa="منطقه دو", name_en="Region Two"),
            D(
                "S11",
                rect(50.005, 36.265, 50.01, 36.27),
                level=DistrictLevel.SUB_DISTRICT,
                parent="R1",
                name_fa="ناحیه یک یک",
                name_en="Sub-district 1-1",
            ),
        ],
        name="city v1",
    )
    roads = department_factory("roads", "معاونت حمل و نقل و ترافیک", "Roads")
    areas = SimpleNamespace(
        r1=service_area_factory(roads, "roads-r1", district_code="R1", unit_name_en="Roads unit R1"),
        r2=service_area_factory(roads, "roads-r2", district_code="R2", unit_name_en="Roads unit R2"),
        central=service_area_factory(roads, "roads-central", is_default=True, unit_name_en="Roads HQ"),
    )
    pothole = category_factory("pothole", roads, name_en="Pothole")
    suggestion = category_factory(
        "suggestion", roads, name_en="Suggestion", kind=MessageKind.SUGGESTION, location_required=False
    )
    return SimpleNamespace(
        set=built.boundary_set,
        districts=built.districts,
        roads=roads,
        areas=areas,
        pothole=pothole,
        suggestion=suggestion,
        points=CITY_POINTS,
    )


@pytest.fixture
def english():
    """Messages in English for tests that match their wording (Persian is the default language)."""
    from django.utils import translation

    with translation.override("en"):
        yield


# Staff of the standard city, one per role; every password is STAFF_PASSWORD.
STAFF_PASSWORD = "staff-pass-137"


@pytest.fixture
def staff(city) -> SimpleNamespace:
    from issues.models import Role
    from issues.workflow.staff import staff_user_create

    def make(username: str, role: str, **scope: object) -> object:
        return staff_user_create(username=username, password=STAFF_PASSWORD, role=role, **scope)  # type: ignore[arg-type]

    return SimpleNamespace(
        operator=make("operator", Role.OPERATOR),
        supervisor=make("supervisor", Role.SUPERVISOR),
        manager_r1=make("manager_r1", Role.DISTRICT_MANAGER, district_codes=["R1"]),
        manager_r2=make("manager_r2", Role.DISTRICT_MANAGER, district_codes=["R2"]),
        unit_r1=make("unit_r1", Role.UNIT_STAFF, service_area_codes=["roads-r1"]),
        unit_r2=make("unit_r2", Role.UNIT_STAFF, service_area_codes=["roads-r2"]),
        council=make("council", Role.COUNCIL),
    )


def jpeg_upload(name: str = "work.jpg", size: tuple[int, int] = (64, 48)):
    """A small real JPEG as an uploaded file (a work report's after-photo)."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 140, 60)).save(buffer, "JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


# Property tests (hypothesis): by default the "ci" profile, the same examples on every run (a fixed
# seed, no example database) and a bounded number of them, so `make test` is repeatable;
# HYPOTHESIS_PROFILE=stress (`make stress`) draws twenty times as many from a new seed each run
# (a failure prints the blob that reproduces it). Tests that give no max_examples of their own use
# the profile's.
def _hypothesis_profiles() -> None:
    import os

    from hypothesis import settings as hypothesis_settings

    hypothesis_settings.register_profile(
        "ci", derandomize=True, database=None, max_examples=100, deadline=None, print_blob=True
    )
    hypothesis_settings.register_profile(
        "stress", derandomize=False, database=None, max_examples=2000, deadline=None, print_blob=True
    )
    hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


_hypothesis_profiles()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failure whose message holds a lone surrogate (the fuzz tests send them on purpose) is
    reported with it escaped: pytest-xdist sends reports as UTF-8, and one it cannot encode stops
    the whole run with an internal error instead of naming the test that failed."""
    outcome = yield
    report = outcome.get_result()
    if report.longrepr is None:
        return
    text = str(report.longrepr)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        report.longrepr = text.encode("utf-8", "backslashreplace").decode("utf-8")


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    """Staff sign in everywhere in the tests: a deliberately slow hash (as production keeps) would
    cost seconds per fixture. No test measures the hasher itself."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# The write limits count in fixed windows of the wall clock (a minute, an hour, a day: see
# issues/throttling.py). A test that sends its requests across the turn of a window would see its
# count start again and pass or fail by the time of day; so for every test their clock stands still
# at 12:30:30 UTC of one day, well inside its minute, its hour and its day (Retry-After is then 30 s,
# 1,770 s or 41,370 s). tests/test_suite_gaps.py moves it on purpose, across a window's end.
RATE_CLOCK = 1_780_000_000 - 1_780_000_000 % 86_400 + 43_200 + 1_800 + 30


@pytest.fixture(autouse=True)
def rate_clock(monkeypatch) -> SimpleNamespace:
    from issues import throttling

    clock = SimpleNamespace(now=float(RATE_CLOCK))
    monkeypatch.setattr(throttling, "time", SimpleNamespace(time=lambda: clock.now))
    return clock

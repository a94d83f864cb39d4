"""A participation point's district comes from districts' selector in its one read: creating or
moving a point reads the district table once (the selector's covering query), never again to fetch
the row it already named."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from participation.models import ParticipationPoint
from participation.services import point_create, point_update
from tests.conftest import pt

pytestmark = pytest.mark.django_db


def _district_reads(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "districts_district" in q["sql"]]


def test_a_new_point_is_placed_in_its_district_with_one_read(city):
    with CaptureQueriesContext(connection) as queries:
        point = point_create(kind="salt_bin", name_fa="مخزن نمک", location=pt(*city.points.s11))
    reads = _district_reads(queries)
    assert len(reads) == 1, reads
    assert "districts_districtpiece" in reads[0]  # the covering query, not a fetch by id
    assert ParticipationPoint.objects.get(pk=point.pk).district.code == "S11"
    assert point.district.code == "S11"  # the returned point names it too


def test_moving_a_point_moves_its_district_with_one_read(city, staff):
    point = point_create(kind="salt_bin", name_fa="مخزن نمک", location=pt(*city.points.r1))
    assert ParticipationPoint.objects.get(pk=point.pk).district.code == "R1"
    fields = {"kind": "salt_bin", "name_fa": "مخزن نمک", "name_en": "", "notes": ""}
    with CaptureQueriesContext(connection) as queries:
        moved = point_update(point=point, actor=staff.operator, location=pt(*city.points.r2), **fields)
    reads = _district_reads(queries)
    assert len(reads) == 1 and "districts_districtpiece" in reads[0], reads
    assert ParticipationPoint.objects.get(pk=point.pk).district.code == "R2"
    assert moved.district.code == "R2"
    # Out of every district: no district, and still one read.
    with CaptureQueriesContext(connection) as queries:
        point_update(point=moved, actor=staff.operator, location=pt(49.5, 35.9), **fields)
    assert len(_district_reads(queries)) == 1
    assert ParticipationPoint.objects.get(pk=point.pk).district is None

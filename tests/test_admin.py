"""The admin edits districts and service areas on a map that works offline."""

from __future__ import annotations

import re

import pytest
from django.contrib.gis.geos import Point

from districts.models import District, ServiceArea
from districts.selectors import district_for_point

EXTERNAL_ASSET = re.compile(r'<(?:script|link)[^>]+(?:src|href)="(?:https?:)?//[^"]+"')


@pytest.mark.parametrize("model", ["district", "servicearea"])
def test_the_admin_map_is_served_by_the_app(admin_client, city, model):
    obj = District.objects.get(code="R1") if model == "district" else ServiceArea.objects.first()
    page = admin_client.get(f"/admin/districts/{model}/{obj.pk}/change/").content.decode()
    assert "/static/leaflet/leaflet.js" in page  # the map widget, from django-leaflet's own files
    assert not EXTERNAL_ASSET.findall(page)


def test_saving_a_boundary_in_the_admin_rebuilds_its_pieces(admin_client, city):
    district = District.objects.get(code="R2")
    page = admin_client.get(f"/admin/districts/district/{district.pk}/change/")
    assert page.status_code == 200
    smaller = "SRID=4326;MULTIPOLYGON(((50.02 36.26, 50.03 36.26, 50.03 36.27, 50.02 36.27, 50.02 36.26)))"
    data = {
        "boundary_set": district.boundary_set_id,
        "code": district.code,
        "name_fa": district.name_fa,
        "name_en": district.name_en,
        "level": district.level,
        "parent": "",
        "population": "",
        "boundary": smaller,
    }
    response = admin_client.post(f"/admin/districts/district/{district.pk}/change/", data)
    assert response.status_code == 302, response.content[:500]
    district.refresh_from_db()
    # The new boundary is what routing sees at once: the part R2 lost is outside it now (it falls to
    # the nearest-district rule or triage), the part it kept still routes to R2.
    assert district.pieces.count() >= 1
    assert abs(district.area_m2 - 896 * 1109) < 0.02 * 896 * 1109  # 0.01° × 0.01° at 36.27° N
    assert district_for_point(point=Point(50.025, 36.265, srid=4326)).code == "R2"
    assert district_for_point(point=Point(50.035, 36.275, srid=4326)) is None  # in R2 before the edit

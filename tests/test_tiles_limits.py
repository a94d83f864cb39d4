"""Vector tiles at the default limits and at every zoom (what tests/test_tiles.py leaves out): a
dense block of thousands of reports gives tiles within the feature and byte limits at every zoom
(the bench's bound is 250 KB), counts that never lose a report, and not one byte of a reporter's
contact details or private tokens in any tile, whichever layer it holds."""

from __future__ import annotations

import random

import mapbox_vector_tile
import pytest
from django.conf import settings as django_settings
from django.test import Client

from geo import tiles as t
from issues.models import Report
from tests.test_tiles import EMAIL, NAME, PHONE, get_tile, make_reports, tile_of

MAX_TILE_BYTES = 250_000
PUBLIC = {"code", "category", "status", "created"}


@pytest.fixture
def client() -> Client:
    return Client()


def layers_of(response) -> dict:
    if response.status_code == 204:
        return {}
    assert response.status_code == 200, response.content[:300]
    return mapbox_vector_tile.decode(response.content, default_options={"y_coord_down": True})


@pytest.mark.slow
def test_a_dense_block_stays_within_the_default_limits_at_every_zoom(city, client):
    """4,500 open reports within about 70 x 55 m: at no zoom does a tile pass the defaults (4,000
    features, 200 KB), and up to z16 (a tile holding the whole block) the counts add up to all."""
    rng = random.Random(11)
    # In the middle of R1's z16 tile, so every tile up to z16 holds the whole block.
    z16, x16, y16 = tile_of(*city.points.r1, 16)
    lon = (t.x_to_lon(x16, z16) + t.x_to_lon(x16 + 1, z16)) / 2 - 0.0004
    lat = (t.y_to_lat(y16, z16) + t.y_to_lat(y16 + 1, z16)) / 2 - 0.00025
    made = make_reports(
        city, [(lon + rng.uniform(0, 0.0008), lat + rng.uniform(0, 0.0005)) for _ in range(4500)]
    )
    assert django_settings.OPEN137_TILE_MAX_FEATURES == 4000
    centre = (lon + 0.0004, lat + 0.00025)
    for z in range(0, 21):
        response = get_tile(client, *tile_of(*centre, z))
        assert len(response.content) < min(MAX_TILE_BYTES, django_settings.OPEN137_TILE_MAX_BYTES + 1), z
        [(name, layer)] = layers_of(response).items()
        assert len(layer["features"]) <= 4000, z
        if name == "cells":
            # The tile (with its buffer) holds the whole block, so the counts add up to all of it.
            assert z > 16 or sum(f["properties"]["count"] for f in layer["features"]) == len(made), z
        else:
            assert z >= django_settings.OPEN137_TILE_DETAIL_ZOOM
    # A z20 tile holds a few hundred of them: single reports, with public properties only.
    [(name, layer)] = layers_of(get_tile(client, *tile_of(*centre, 20))).items()
    assert name == "reports" and 0 < len(layer["features"]) < 4000
    assert all(set(f["properties"]) == PUBLIC for f in layer["features"])


def test_no_contact_detail_nor_token_in_any_tile(city, client, settings):
    lon, lat = city.points.s11
    made = make_reports(city, [(lon + i * 0.00002, lat) for i in range(30)])
    Report.objects.filter(pk=made[0].pk).update(
        open311_token="open311-secret-token-1", idempotency_key="idem-secret-key-1"
    )
    secrets = [NAME, PHONE, EMAIL, "open311-secret-token-1", "idem-secret-key-1"]
    secrets += [r.private_token_hash for r in made]
    for max_features in (4000, 10):  # single reports, and the same tiles sent as counts
        settings.OPEN137_TILE_MAX_FEATURES = max_features
        for z in range(0, 21):
            for status in ("open", "open,closed"):
                response = get_tile(client, *tile_of(lon, lat, z), status=status)
                for secret in secrets:
                    assert secret.encode() not in response.content, (z, secret)
                for layer in layers_of(response).values():
                    for feature in layer["features"]:
                        assert set(feature["properties"]) in (PUBLIC, {"count"}), z

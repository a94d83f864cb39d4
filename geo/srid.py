"""The spatial reference systems the project uses, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar, cast

if TYPE_CHECKING:
    from django.contrib.gis.geos import GEOSGeometry

G = TypeVar("G", bound="GEOSGeometry | None")

# Storage: every geometry is kept in WGS 84 longitude/latitude.
GEO_SRID = 4326
# Metric work (areas in m², overlaps, gaps) for Qazvin and Tehran: UTM zone 39 N.
METRIC_SRID = 32639
# Web map tiles.
WEB_SRID = 3857


def in_geo_srid(geometry: G) -> G:
    """`geometry` in the storage SRID: one without an SRID is taken as WGS 84 degrees (what every
    caller in the project builds), one in another SRID (UTM metres, web mercator) is reprojected, a
    copy, rather than having its metres read as degrees."""
    if geometry is None or geometry.srid in (None, GEO_SRID):
        return geometry
    return cast(G, geometry.transform(GEO_SRID, clone=True))

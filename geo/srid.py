"""The spatial reference systems the project uses, in one place."""

# Storage: every geometry is kept in WGS 84 longitude/latitude.
GEO_SRID = 4326
# Metric work (areas in m², overlaps, gaps) for Qazvin and Tehran: UTM zone 39 N.
METRIC_SRID = 32639
# Web map tiles.
WEB_SRID = 3857

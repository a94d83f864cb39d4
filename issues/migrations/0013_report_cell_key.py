"""A report's cell key: its point's cell in a fine Web Mercator grid, for vector tiles and heatmaps.

The key is the tile of the point at zoom 30 (cells of a few centimetres), its x and y bits
interleaved (a Morton or Z-order key; geo/tiles.py explains it and computes the same key in Python).
A coarser cell is an integer shift of it, and every tile is one contiguous range of keys, so the map
layers (issues/oversight/) are range scans and GROUP BYs on one B-tree, never geometry work.

A generated column, not a field the services set: every report's INSERT (the one prepared statement
of issues/services, Open311, the admin, imports) and every later change of its location keeps it
right without anyone remembering to. The model does not declare it (Django reads and writes the
other columns only); the map selectors name it in their SQL.

The index carries, beside the key, the columns the map filters read by default (status, category,
creation time, district), so a heatmap or a low-zoom tile is answered from the index alone.

The functions are written in PL/pgSQL with only built-in arithmetic: the generated expression hands
them the longitude and latitude (ST_X, ST_Y, resolved when this migration runs), so nothing depends
on the search_path when a dump is restored. Adding the column rewrites the report table once.
"""

from django.db import migrations

# spread(v): the 30 bits of v moved to the even bit positions (the masks of geo/tiles.py, in
# decimal: PostgreSQL 15 reads no hexadecimal integers).
CELL_KEY_FUNCTION = """
CREATE FUNCTION open137_cell_key(lon float8, lat float8) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  -- Web Mercator stops at 85.0511 degrees: points beyond sit on the edge row.
  phi float8 := radians(greatest(-85.0511287798066, least(85.0511287798066, lat)));
  x bigint := least(1073741823, greatest(0, floor((lon + 180.0) / 360.0 * 1073741824.0)))::bigint;
  y bigint := least(1073741823, greatest(0,
                floor((1.0 - ln(tan(phi) + 1.0 / cos(phi)) / pi()) / 2.0 * 1073741824.0)))::bigint;
BEGIN
  x := (x | (x << 16)) & 281470681808895;        -- 0x0000FFFF0000FFFF
  x := (x | (x << 8)) & 71777214294589695;       -- 0x00FF00FF00FF00FF
  x := (x | (x << 4)) & 1085102592571150095;     -- 0x0F0F0F0F0F0F0F0F
  x := (x | (x << 2)) & 3689348814741910323;     -- 0x3333333333333333
  x := (x | (x << 1)) & 6148914691236517205;     -- 0x5555555555555555
  y := (y | (y << 16)) & 281470681808895;
  y := (y | (y << 8)) & 71777214294589695;
  y := (y | (y << 4)) & 1085102592571150095;
  y := (y | (y << 2)) & 3689348814741910323;
  y := (y | (y << 1)) & 6148914691236517205;
  RETURN x | (y << 1);
END $$;
"""

# compact(v): the inverse of spread, the even bits of v packed (a cell's column from its key; its
# row is compact(key >> 1)). The tiles place each count at its cell with it.
CELL_COMPACT_FUNCTION = """
CREATE FUNCTION open137_cell_compact(v bigint) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
  v := v & 6148914691236517205;
  v := (v | (v >> 1)) & 3689348814741910323;
  v := (v | (v >> 2)) & 1085102592571150095;
  v := (v | (v >> 4)) & 71777214294589695;
  v := (v | (v >> 8)) & 281470681808895;
  RETURN (v | (v >> 16)) & 4294967295;
END $$;
"""

FORWARD = [
    CELL_KEY_FUNCTION,
    CELL_COMPACT_FUNCTION,
    """ALTER TABLE issues_report
         ADD COLUMN cell_key bigint GENERATED ALWAYS AS (open137_cell_key(ST_X(location), ST_Y(location))) STORED""",
    """CREATE INDEX issues_report_cell_key_idx ON issues_report (cell_key)
         INCLUDE (status, category_id, created_at, district_id)""",
]

BACKWARD = [
    "DROP INDEX IF EXISTS issues_report_cell_key_idx",
    "ALTER TABLE issues_report DROP COLUMN IF EXISTS cell_key",
    "DROP FUNCTION IF EXISTS open137_cell_compact(bigint)",
    "DROP FUNCTION IF EXISTS open137_cell_key(float8, float8)",
]


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0012_outbox_lease_and_key_namespaces"),
    ]

    operations = [
        migrations.RunSQL(sql=FORWARD, reverse_sql=BACKWARD),
    ]

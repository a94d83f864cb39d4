"""Web map tile maths: tile addresses, Web Mercator bounds, and the grid of report cells.

Tiles follow the XYZ scheme every web map uses (OpenStreetMap, Leaflet, MapLibre): at zoom `z` the
Web Mercator square (EPSG:3857) is cut into 2^z x 2^z tiles, x from west to east, y from north to
south.

Reports carry a cell key (`issues` keeps it as a generated column): the point's tile at zoom
CELL_LEVEL (30, cells of a few centimetres), its x and y bits interleaved (a Morton or Z-order key).
Two properties make it the index for maps:

- a cell at a coarser level `l` is `key >> 2 * (CELL_LEVEL - l)`: a heatmap at any zoom is a GROUP
  BY on an integer, with no geometry touched;
- every tile, and every grid cell, is one contiguous range of keys: the reports of a tile are one
  range scan of a B-tree.

The SQL function that computes the key in the database (see the migration `report_cell_key`) uses
the formulas of `lon_to_fx`/`lat_to_fy`; `cell_key` here is its twin, and a test keeps them equal.
Pure functions, no Django: `geo` imports no app.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from django.utils.translation import gettext as _

# The finest level of the cell grid: the key of a report is its tile at this zoom (2^30 cells a side,
# about 3.7 cm at the equator). Two 30-bit coordinates interleaved fill 60 bits of a bigint.
CELL_LEVEL = 30
# Tiles are served up to this zoom (a house is a few pixels wide at 20; 24 leaves room).
MAX_TILE_ZOOM = 24
# Web Mercator is cut at this latitude (the square's edge); points beyond sit on the edge cells.
MAX_LATITUDE = 85.0511287798066
# Half the side of the Web Mercator square in metres (pi times the sphere's radius, 6378137 m).
MERCATOR_HALF = math.pi * 6378137.0

_MASKS = (
    (16, 0x0000FFFF0000FFFF),
    (8, 0x00FF00FF00FF00FF),
    (4, 0x0F0F0F0F0F0F0F0F),
    (2, 0x3333333333333333),
    (1, 0x5555555555555555),
)


class TileError(ValueError):
    """A tile address that names no tile; `message` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Tile:
    z: int
    x: int
    y: int

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(min x, min y, max x, max y) in EPSG:3857 metres."""
        return tile_bounds(self.z, self.x, self.y)

    @property
    def key_range(self) -> tuple[int, int]:
        """The cell keys of the tile's points: lowest and highest, both included."""
        return cell_key_range(self.z, self.x, self.y)


def tile_parse(z: object, x: object, y: object, *, max_zoom: int = MAX_TILE_ZOOM) -> Tile:
    """A tile from its address (numbers or text of digits); TileError when it names no tile: a zoom
    outside 0..max_zoom, or x or y outside 0..2^z - 1."""
    values = []
    for name, value in (("z", z), ("x", x), ("y", y)):
        text = str(value)
        # isdecimal, not isdigit ("²" is a digit int() cannot read); the length keeps int() cheap.
        if isinstance(value, bool) or not text.isascii() or not text.isdecimal() or len(text) > 9:
            raise TileError(
                _("%(name)s must be a whole number, not “%(value)s”.") % {"name": name, "value": text[:20]}
            )
        values.append(int(text))
    zoom, tx, ty = values
    if not 0 <= zoom <= max_zoom:
        raise TileError(
            _("zoom %(zoom)d is out of range: tiles are served for zoom 0 to %(max)d.")
            % {"zoom": zoom, "max": max_zoom}
        )
    side = 1 << zoom
    if not (0 <= tx < side and 0 <= ty < side):
        raise TileError(
            _("at zoom %(zoom)d, x and y must be from 0 to %(last)d (got x=%(x)d, y=%(y)d).")
            % {"zoom": zoom, "last": side - 1, "x": tx, "y": ty}
        )
    return Tile(zoom, tx, ty)


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(min x, min y, max x, max y) of tile z/x/y in EPSG:3857 metres (what PostGIS's
    ST_TileEnvelope gives)."""
    size = 2 * MERCATOR_HALF / (1 << z)
    min_x = -MERCATOR_HALF + x * size
    max_y = MERCATOR_HALF - y * size
    return (min_x, max_y - size, min_x + size, max_y)


# --- The cell grid -------------------------------------------------------------------------------


def lon_to_fx(lon: float) -> float:
    """Longitude to the continuous x of the CELL_LEVEL grid (0 at 180 W, 2^30 at 180 E)."""
    return (lon + 180.0) / 360.0 * (1 << CELL_LEVEL)


def lat_to_fy(lat: float) -> float:
    """Latitude to the continuous y of the CELL_LEVEL grid (0 at the north edge of Web Mercator)."""
    lat = max(-MAX_LATITUDE, min(MAX_LATITUDE, lat))
    phi = math.radians(lat)
    return (1.0 - math.log(math.tan(phi) + 1.0 / math.cos(phi)) / math.pi) / 2.0 * (1 << CELL_LEVEL)


def x_to_lon(x: float, level: int) -> float:
    """The longitude of the west edge of column `x` at `level` (x may be fractional)."""
    return x / (1 << level) * 360.0 - 180.0


def y_to_lat(y: float, level: int) -> float:
    """The latitude of the north edge of row `y` at `level` (y may be fractional)."""
    return math.degrees(math.atan(math.sinh(math.pi * (1.0 - 2.0 * y / (1 << level)))))


def spread(v: int) -> int:
    """The bits of a 32-bit integer spread to the even bit positions (0, 2, 4, ...)."""
    for shift, mask in _MASKS:
        v = (v | (v << shift)) & mask
    return v


def compact(v: int) -> int:
    """The inverse of `spread`: the bits at the even positions of `v`, packed."""
    v &= _MASKS[-1][1]
    for shift, mask in reversed(_MASKS[:-1]):
        v = (v | (v >> (shift // 2))) & mask
    return (v | (v >> 16)) & 0xFFFFFFFF


def morton(x: int, y: int) -> int:
    """The key of the cell at column x, row y: x's bits at even positions, y's at odd ones."""
    return spread(x) | (spread(y) << 1)


def cell_key(lon: float, lat: float) -> int:
    """A point's cell key, as the database computes it (its CELL_LEVEL cell, interleaved)."""
    top = (1 << CELL_LEVEL) - 1
    x = min(top, max(0, math.floor(lon_to_fx(lon))))
    y = min(top, max(0, math.floor(lat_to_fy(lat))))
    return morton(x, y)


def cell_key_range(level: int, x: int, y: int) -> tuple[int, int]:
    """The keys of every point in cell x, y of `level` (a tile of zoom `level`): lowest and
    highest, both included."""
    shift = 2 * (CELL_LEVEL - level)
    low = morton(x, y) << shift
    return low, low + (1 << shift) - 1


def cell_xy(cell: int) -> tuple[int, int]:
    """Column and row of a cell from its key at its own level (a CELL_LEVEL key shifted right by
    2 * (CELL_LEVEL - level))."""
    return compact(cell), compact(cell >> 1)


def cell_bounds_lonlat(level: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) of cell x, y at `level`, in degrees."""
    return (x_to_lon(x, level), y_to_lat(y + 1, level), x_to_lon(x + 1, level), y_to_lat(y, level))


@dataclass(frozen=True)
class KeyRanges:
    """A rectangle of the map as ranges of cell keys (lowest, highest; both included).

    `inside`: every point whose key is in these ranges lies in the rectangle, with a margin of a
    CELL_LEVEL cell, so no rounding of the key's formula can put it out. `border`: these hold the
    rest of the rectangle's points, and points outside it too: a caller that needs the exact
    rectangle tests those points' geometry.
    """

    inside: tuple[tuple[int, int], ...]
    border: tuple[tuple[int, int], ...]


def merged_ranges(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Key ranges sorted, those that touch or overlap made one."""
    ranges = sorted(ranges)
    out: list[tuple[int, int]] = []
    for low, high in ranges:
        if out and out[-1][1] + 1 >= low:
            out[-1] = (out[-1][0], max(out[-1][1], high))
        else:
            out.append((low, high))
    return tuple(out)


@functools.cache
def _edge_offsets(levels: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """The keys, within a tile cut `levels` times, of its cells along each edge: the top row, the
    bottom row, the left column, the right column (each from the first cell)."""
    side = 1 << levels
    return (
        tuple(morton(i, 0) for i in range(side)),
        tuple(morton(i, side - 1) for i in range(side)),
        tuple(morton(0, j) for j in range(side)),
        tuple(morton(side - 1, j) for j in range(side)),
    )


def ring_key_ranges(tile: Tile, *, levels: int) -> list[tuple[int, int]]:
    """The key ranges of the ring of cells around `tile` at zoom tile.z + levels (one range a cell,
    unmerged; none past the edge of the world).

    A cell of the ring lies in a neighbouring tile, along its edge facing `tile`: its key is that
    tile's key followed by the cell's key within it, and the keys of a tile's edge cells are the same
    for every tile (a table per `levels`). So a ring of 132 cells is eight tile keys and additions,
    not 132 interleavings: tiles are drawn a dozen at a time."""
    top, bottom, left, right = _edge_offsets(levels)
    last = (1 << tile.z) - 1
    shift = 2 * (CELL_LEVEL - tile.z - levels)
    keys: list[int] = []
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            nx, ny = tile.x + dx, tile.y + dy
            if (dx, dy) == (0, 0) or not (0 <= nx <= last and 0 <= ny <= last):
                continue
            base = morton(nx, ny) << (2 * levels)
            if dx and dy:  # a corner: the neighbour's one cell nearest the tile
                i = (1 << levels) - 1 if dx < 0 else 0
                j = (1 << levels) - 1 if dy < 0 else 0
                keys.append(base + morton(i, j))
            elif dy:  # above: the neighbour's bottom row; below: its top row
                keys.extend(base + offset for offset in (bottom if dy < 0 else top))
            else:  # left: the neighbour's right column; right: its left column
                keys.extend(base + offset for offset in (right if dx < 0 else left))
    step = 1 << shift
    return [(key << shift, (key << shift) + step - 1) for key in keys]


def rect_key_ranges(
    fx0: float, fy0: float, fx1: float, fy1: float, *, max_border: int = 64, margin: float = 1.0
) -> KeyRanges:
    """The key ranges of a rectangle given in continuous CELL_LEVEL coordinates (x from west, y from
    north; fx0 <= fx1, fy0 <= fy1), by a quadtree: cells wholly inside the rectangle (by `margin`
    cells) are `inside`, cells crossing its edge are split again while there are at most
    `max_border` of them at the next level, and the last ones are `border`."""
    size = float(1 << CELL_LEVEL)
    fx0, fy0, fx1, fy1 = max(fx0, 0.0), max(fy0, 0.0), min(fx1, size), min(fy1, size)
    inside: list[tuple[int, int]] = []
    cells = [(0, 0, 0)]  # (level, x, y) of the cells to classify
    while True:
        crossing: list[tuple[int, int, int]] = []
        for level, x, y in cells:
            span = 1 << (CELL_LEVEL - level)
            a_x, b_x, a_y, b_y = x * span, (x + 1) * span, y * span, (y + 1) * span
            if b_x <= fx0 - margin or a_x >= fx1 + margin or b_y <= fy0 - margin or a_y >= fy1 + margin:
                continue  # wholly outside
            if a_x >= fx0 + margin and b_x <= fx1 - margin and a_y >= fy0 + margin and b_y <= fy1 - margin:
                inside.append(cell_key_range(level, x, y))
            else:
                crossing.append((level, x, y))
        if not crossing or len(crossing) > max_border or crossing[0][0] == CELL_LEVEL:
            break
        cells = [
            (level + 1, 2 * x + dx, 2 * y + dy) for level, x, y in crossing for dy in (0, 1) for dx in (0, 1)
        ]
    return KeyRanges(
        inside=merged_ranges(inside),
        border=merged_ranges([cell_key_range(level, x, y) for level, x, y in crossing]),
    )


def bbox_key_ranges(bbox: tuple[float, float, float, float], *, max_border: int = 256) -> KeyRanges:
    """The key ranges of a (min lon, min lat, max lon, max lat) box in degrees (see KeyRanges)."""
    min_lon, min_lat, max_lon, max_lat = bbox
    return rect_key_ranges(
        lon_to_fx(min_lon), lat_to_fy(max_lat), lon_to_fx(max_lon), lat_to_fy(min_lat), max_border=max_border
    )

"""Parsing and validating coordinates that come from people and clients.

Citizens' phones, operators and third-party apps send latitude and longitude as text: Persian or
Arabic digits, a Persian decimal separator, stray spaces. Anything that is not a finite number in
range is refused with a message that says which value is wrong and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.utils.translation import gettext as _

from geo.text import normalize_digits


class CoordinateError(ValueError):
    """A latitude or longitude that cannot be a point on Earth; `field` names the culprit."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class LatLon:
    lat: float
    lon: float

    @property
    def swapped(self) -> LatLon | None:
        """The same pair read the other way round, if that is a valid point too."""
        if -90.0 <= self.lon <= 90.0:
            return LatLon(lat=self.lon, lon=self.lat)
        return None


def parse_number(value: object, *, field: str) -> float:
    if isinstance(value, bool) or value is None:
        raise CoordinateError(
            _("%(field)s is required and must be a number.") % {"field": field}, field=field
        )
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            # An integer too large for a float (JSON bodies bring ints of any size): not a coordinate.
            number = math.inf
    elif isinstance(value, str):
        text = normalize_digits(value).strip().replace("٫", ".")
        if not text:
            raise CoordinateError(
                _("%(field)s is required and must be a number.") % {"field": field}, field=field
            )
        if len(text) > 40:
            raise CoordinateError(
                _("%(field)s is too long to be a coordinate.") % {"field": field}, field=field
            )
        try:
            number = float(text)
        except ValueError:
            raise CoordinateError(
                _("%(field)s must be a number in decimal degrees, not “%(value)s”.")
                % {"field": field, "value": _shown(text)},
                field=field,
            ) from None
    else:
        raise CoordinateError(_("%(field)s must be a number.") % {"field": field}, field=field)
    if not math.isfinite(number):
        raise CoordinateError(_("%(field)s must be a finite number.") % {"field": field}, field=field)
    return number


def _shown(text: str) -> str:
    """What was sent, as it can be echoed in a message: at most 40 characters, and anything that is
    not valid Unicode text (a lone surrogate, from a JSON "\\ud800" escape) as a backslash escape
    rather than a character no response can encode."""
    return text[:40].encode("utf-8", "backslashreplace").decode("utf-8")


def parse_lat_lon(lat: object, lon: object) -> LatLon:
    """Both values as floats, or CoordinateError naming the first one that is wrong."""
    latitude = parse_number(lat, field="lat")
    longitude = parse_number(lon, field="lon")
    if not -90.0 <= latitude <= 90.0:
        raise CoordinateError(
            _("lat must be between -90 and 90 degrees, got %(v)s.") % {"v": latitude}, field="lat"
        )
    if not -180.0 <= longitude <= 180.0:
        raise CoordinateError(
            _("lon must be between -180 and 180 degrees, got %(v)s.") % {"v": longitude}, field="lon"
        )
    return LatLon(lat=latitude, lon=longitude)

"""Where a photo was taken, from its EXIF GPS block: read while processing it (`process`) and, on
its own, to suggest the pin on the report form (`photo_gps`)."""

from __future__ import annotations

import contextlib
import math
import warnings
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from PIL import ExifTags, Image, PngImagePlugin

from issues.photos.checks import image_open, upload_file
from issues.photos.limits import PNG_MAX_TEXT_BYTES


def _rational(value: Any) -> float:
    if isinstance(value, tuple) and len(value) == 2:  # (numerator, denominator) from old writers
        return float(value[0]) / float(value[1])
    return float(value)


def gps_from_exif(image: Image.Image) -> tuple[float, float] | None:
    """(lat, lon) in degrees from the EXIF GPS block, or None when absent or nonsensical."""
    try:
        gps = image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        if not gps:
            return None
        coords: list[float] = []
        for ref_tag, value_tag, negative in (
            (ExifTags.GPS.GPSLatitudeRef, ExifTags.GPS.GPSLatitude, "S"),
            (ExifTags.GPS.GPSLongitudeRef, ExifTags.GPS.GPSLongitude, "W"),
        ):
            value = gps.get(value_tag)
            if value is None:
                return None
            parts = [_rational(v) for v in (value if isinstance(value, tuple | list) else (value,))]
            parts += [0.0] * (3 - len(parts))
            degrees = parts[0] + parts[1] / 60 + parts[2] / 3600
            ref = gps.get(ref_tag, "")
            if isinstance(ref, bytes):
                ref = ref.decode("ascii", "ignore")
            if str(ref).strip().upper().startswith(negative):
                degrees = -degrees
            coords.append(degrees)
    except Exception:  # a broken GPS block only means no suggestion
        return None
    lat, lon = coords
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        return None
    # 0,0 is what some cameras write when they had no fix: it is never a place in a city.
    if lat == 0 and lon == 0:
        return None
    return (round(lat, 7), round(lon, 7))


def photo_gps(*, upload: UploadedFile) -> tuple[float, float] | None:
    """The position where the photo was taken, from its EXIF, to suggest the pin on the report form.
    None when the photo has none or cannot be read (the form then simply suggests nothing; the
    photo itself is checked when the report is submitted). Decodes no pixels: a PNG's EXIF is only
    read here when it comes before the pixels (as writers put it)."""
    try:
        file, _length = upload_file(upload, name="")
        Image.MAX_IMAGE_PIXELS = settings.OPEN137_PHOTO_MAX_PIXELS
        PngImagePlugin.MAX_TEXT_MEMORY = PNG_MAX_TEXT_BYTES
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with image_open(file, name="") as image:
                if image.format == "PNG" and "exif" not in image.info:
                    return None  # Pillow would decode the pixels to look for it after them
                return gps_from_exif(image)
    except Exception:  # no suggestion is the answer to any unreadable file
        return None
    finally:
        with contextlib.suppress(Exception):
            upload.seek(0)  # the photo is read again when the report is submitted

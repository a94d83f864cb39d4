"""One upload checked (`checks`), decoded at the least cost, shrunk and cleaned (`pixels`), its GPS
position read (`gps`), and re-encoded as a plain JPEG with none of the original's metadata."""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import ExifTags, Image, PngImagePlugin

from issues.photos.checks import check_cost, image_open, jpeg_scale, refuse, too_many_pixels, upload_file
from issues.photos.gps import gps_from_exif
from issues.photos.limits import JPEG_QUALITY, PNG_MAX_TEXT_BYTES
from issues.photos.pixels import ORIENTATIONS, shrunk, to_srgb


@dataclass(frozen=True)
class ProcessedPhoto:
    content: bytes
    width: int
    height: int
    gps: tuple[float, float] | None  # (lat, lon) from EXIF, before it was stripped


def _decode(file: IO[bytes], length: int, *, name: str) -> tuple[Image.Image, tuple[float, float] | None]:
    """The upright, sRGB, size-limited pixels of the first frame, and the GPS position."""
    # Pillow's process-wide guards: it warns above MAX_IMAGE_PIXELS and raises above twice that (the
    # warning is made an error below, so the limit is the setting); it keeps PNG text up to this.
    Image.MAX_IMAGE_PIXELS = settings.OPEN137_PHOTO_MAX_PIXELS
    PngImagePlugin.MAX_TEXT_MEMORY = PNG_MAX_TEXT_BYTES
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            small, gps, orientation, icc = _decoded_small(file, length, name=name)
            # The decoded image is freed by now; what follows works on the shrunk one.
            method = ORIENTATIONS.get(orientation) if isinstance(orientation, int) else None
            if method is not None:
                small = small.transpose(method)
            rgb = to_srgb(small, icc if isinstance(icc, bytes) else None)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise refuse(too_many_pixels(name), "photo_too_many_pixels") from exc
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, MemoryError) as exc:
        # Truncated data ("image file is truncated"), broken chunks, unsupported modes.
        raise refuse(
            _("The photo %(name)s is damaged or incomplete; please send it again.") % {"name": name},
            "photo_damaged",
        ) from exc
    finally:
        file.seek(0)
    return rgb, gps


def _decoded_small(
    file: IO[bytes], length: int, *, name: str
) -> tuple[Image.Image, tuple[float, float] | None, Any, Any]:
    """The first frame decoded (at a reduced scale for a JPEG) and shrunk, its GPS position, EXIF
    orientation and ICC profile. The decoded image is released when this returns."""
    max_side: int = settings.OPEN137_PHOTO_MAX_SIDE
    with image_open(file, name=name) as image:  # the upload's file stays open
        coefficients = check_cost(image, file, length, name=name)
        if image.format == "JPEG":
            # libjpeg decodes at 1/2, 1/4 or 1/8 scale: a fraction of the time and memory.
            scale = jpeg_scale(image, max_side, coefficients)
            if scale > 1:
                image.draft(image.mode, (image.width // scale, image.height // scale))
        image.load()
        # Read after the pixels: a PNG may keep its EXIF after them.
        gps = gps_from_exif(image)
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
        icc = image.info.get("icc_profile")
        return shrunk(image, max_side), gps, orientation, icc


def _encode(image: Image.Image) -> bytes:
    # Nothing of the original's metadata (EXIF, XMP, ICC, comments, DPI) rides along: Pillow's JPEG
    # writer takes metadata from save()'s arguments, of which none is given, and from the image's
    # `info` only its comment; `info` is emptied first.
    image.info = {}
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def photo_process(*, upload: UploadedFile) -> ProcessedPhoto:
    """Check and clean one uploaded photo; raises ValidationError({"photos": [...]}) if refused."""
    name = str(getattr(upload, "name", "") or _("photo"))
    file, length = upload_file(upload, name=name)
    image, gps = _decode(file, length, name=name)
    return ProcessedPhoto(content=_encode(image), width=image.width, height=image.height, gps=gps)

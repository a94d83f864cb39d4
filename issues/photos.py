"""Citizens' photos: decoded, checked, turned upright, shrunk and re-encoded before they are kept.

A photo from a phone says more than the citizen meant to share: EXIF carries the exact position of
the camera (often the citizen's home), the phone's make and serial numbers, the time; XMP and ICC
blocks carry more. Photos of a report are public on the map, so nothing of the original file is kept:
only its pixels, re-encoded as a plain JPEG. The GPS position is read first, because it may suggest
the pin on the map (the citizen confirms it), and is then dropped with everything else.

Every upload is untrusted input to an image decoder. It is refused, with a message the citizen can
act on, when it is too large (bytes or pixels: a small PNG can declare 100 000 x 100 000 pixels and
exhaust the server's memory when decoded), truncated, not an image, or in a format we do not take.
"""

from __future__ import annotations

import io
import math
import struct
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import ExifTags, Image, ImageCms, ImageOps, UnidentifiedImageError

from issues.models import Report, ReportPhoto

try:
    # iPhones save HEIC by default; the pillow-heif wheel bundles libheif, so it installs anywhere.
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - pillow-heif is a pinned dependency
    HEIF_SUPPORTED = False

# Pillow's names for the formats we take. Pillow identifies a file by its content, never by its
# name or the browser's content type, and is only allowed to try these decoders.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", *(("HEIF",) if HEIF_SUPPORTED else ()))
JPEG_QUALITY = 85


@dataclass(frozen=True)
class ProcessedPhoto:
    content: bytes
    width: int
    height: int
    gps: tuple[float, float] | None  # (lat, lon) from EXIF, before it was stripped


def _refuse(message: str, code: str) -> ValidationError:
    return ValidationError({"photos": [ValidationError(message, code=code)]})


def _read_limited(upload: UploadedFile, *, name: str) -> bytes:
    """The upload's bytes, refusing a file over the size limit without reading all of it."""
    max_bytes: int = settings.OPEN137_PHOTO_MAX_BYTES
    content = b""
    if upload.size is None or upload.size <= max_bytes:
        upload.seek(0)
        content = upload.read(max_bytes + 1)
        upload.seek(0)  # the same upload may be read again (photo_gps, then photo_process)
    if (upload.size is not None and upload.size > max_bytes) or len(content) > max_bytes:
        raise _refuse(
            _("The photo %(name)s is too large: at most %(mb)d MB.")
            % {"name": name, "mb": max_bytes // (1024 * 1024)},
            "photo_too_large",
        )
    return content


def _looks_like_heif(content: bytes) -> bool:
    # ISO base media file: a box of type "ftyp" at offset 4 whose brand is one of HEIF's.
    return content[4:8] == b"ftyp" and content[8:12] in {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1"}


def _open(content: bytes, *, name: str) -> Image.Image:
    """Open (headers only, no pixels decoded yet) an image of an accepted format, or refuse."""
    try:
        image = Image.open(io.BytesIO(content), formats=ACCEPTED_FORMATS)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _refuse(_unaccepted_message(content, name=name), "photo_format") from exc
    _check_pixels(image, name=name)
    return image


def _unaccepted_message(content: bytes, *, name: str) -> str:
    """Why a file is refused: an image in a format we do not take, or not an image at all."""
    if _looks_like_heif(content) and not HEIF_SUPPORTED:  # pragma: no cover - depends on the install
        return _(
            "HEIC photos are not accepted here. Please send the photo as JPEG (set your camera to 'Most Compatible')."
        )
    kind = None
    try:
        # Only to name the format in the message: Pillow reads the header, decodes no pixels.
        with Image.open(io.BytesIO(content)) as other:
            kind = other.format
    except Exception:  # anything unreadable is simply "not an image"
        kind = None
    if kind:
        return _("The photo %(name)s is a %(format)s file; please send a JPEG, PNG, WebP or HEIC photo.") % {
            "name": name,
            "format": kind,
        }
    return _("The file %(name)s is not a photo we can read; please send a JPEG, PNG, WebP or HEIC photo.") % {
        "name": name
    }


def _check_pixels(image: Image.Image, *, name: str) -> None:
    # The declared size, checked before any pixel is decoded. Pillow's own guard (MAX_IMAGE_PIXELS,
    # set in _decode) fires already in Image.open; this check holds whatever that global says.
    width, height = image.size
    if width <= 0 or height <= 0 or width * height > settings.OPEN137_PHOTO_MAX_PIXELS:
        raise _refuse(_too_many_pixels(name), "photo_too_many_pixels")


def _too_many_pixels(name: str) -> str:
    return _("The photo %(name)s has too many pixels: at most %(mp)d megapixels.") % {
        "name": name,
        "mp": settings.OPEN137_PHOTO_MAX_PIXELS // 1_000_000,
    }


def _rational(value: Any) -> float:
    if isinstance(value, tuple) and len(value) == 2:  # (numerator, denominator) from old writers
        return float(value[0]) / float(value[1])
    return float(value)


def _gps_from_exif(image: Image.Image) -> tuple[float, float] | None:
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


def _to_srgb(image: Image.Image) -> Image.Image:
    """RGB pixels in sRGB, transparency on white. Phones tag photos with wide-gamut profiles
    (Display P3); the profile is not kept, so the colours are converted to sRGB, the space a browser
    assumes for an untagged JPEG, instead of being shown washed out."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(
                image, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
            )
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: the pixels are taken as they are
    return image.convert("RGB")


def _decode(content: bytes, *, name: str) -> tuple[Image.Image, tuple[float, float] | None]:
    """The upright, sRGB, size-limited pixels of the first frame, and the GPS position."""
    max_pixels: int = settings.OPEN137_PHOTO_MAX_PIXELS
    max_side: int = settings.OPEN137_PHOTO_MAX_SIDE
    # Pillow's process-wide guard: it warns above MAX_IMAGE_PIXELS and raises above twice that; the
    # warning is made an error below, so the limit is the setting.
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = _open(content, name=name)
            gps = _gps_from_exif(image)
            if image.format == "JPEG":
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when the photo is much larger than
                # what is kept: a 48 MP phone photo decodes in a fraction of the time and memory.
                image.draft("RGB", (max_side, max_side))
            image.load()
            upright = ImageOps.exif_transpose(image)
            rgb = _to_srgb(upright)
            rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _refuse(_too_many_pixels(name), "photo_too_many_pixels") from exc
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, MemoryError) as exc:
        # Truncated data ("image file is truncated"), broken chunks, unsupported modes.
        raise _refuse(
            _("The photo %(name)s is damaged or incomplete; please send it again.") % {"name": name},
            "photo_damaged",
        ) from exc
    return rgb, gps


def _encode(image: Image.Image) -> bytes:
    # A fresh image holding only the pixels: nothing of the original's `info` (EXIF, XMP, ICC,
    # comments, DPI) can ride along into the saved file.
    clean = Image.frombytes("RGB", image.size, image.tobytes())
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def photo_process(*, upload: UploadedFile) -> ProcessedPhoto:
    """Check and clean one uploaded photo; raises ValidationError({"photos": [...]}) if refused."""
    name = str(getattr(upload, "name", "") or _("photo"))
    content = _read_limited(upload, name=name)
    image, gps = _decode(content, name=name)
    return ProcessedPhoto(content=_encode(image), width=image.width, height=image.height, gps=gps)


def photo_gps(*, upload: UploadedFile) -> tuple[float, float] | None:
    """The position where the photo was taken, from its EXIF, to suggest the pin on the report form.
    None when the photo has none or cannot be read (the form then simply suggests nothing; the
    photo itself is checked when the report is submitted). Decodes no pixels."""
    try:
        content = _read_limited(upload, name="")
        Image.MAX_IMAGE_PIXELS = settings.OPEN137_PHOTO_MAX_PIXELS
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _open(content, name="") as image:
                return _gps_from_exif(image)
    except Exception:  # no suggestion is the answer to any unreadable file
        return None


def photo_save(*, report: Report, photo: ProcessedPhoto, kind: str = ReportPhoto.Kind.REPORT) -> ReportPhoto:
    """Store a processed photo of a report under MEDIA_ROOT with a random name (the citizen's file
    name may itself say who they are). Inside photo_files_undone_on_error, the file is deleted again
    if the block fails."""
    stored = ReportPhoto(report=report, kind=kind)
    stored.image.save(f"{uuid.uuid4().hex}.jpg", ContentFile(photo.content), save=False)
    written = _WRITTEN.get()
    if written is not None and stored.image.name:
        written.append(stored.image.name)
    # Known already: set after the file, whose assignment would otherwise reopen it to measure.
    stored.width, stored.height = photo.width, photo.height
    stored.save()
    return stored


# The files photo_save wrote in the innermost photo_files_undone_on_error block, if any.
_WRITTEN: ContextVar[list[str] | None] = ContextVar("photo_files_written", default=None)


@contextmanager
def photo_files_undone_on_error() -> Iterator[None]:
    """Wrap the transaction that records photos (put it inside the block, so that a failed COMMIT is
    caught too): if the block raises, the photo files written in it are deleted, so a refused or
    failed submission leaves no citizen's photo on disk that no report points to. Blocks nest: what
    an inner block kept is deleted if an outer one fails (a savepoint's rows go with the outer
    transaction)."""
    outer = _WRITTEN.get()
    written: list[str] = []
    token = _WRITTEN.set(written)
    try:
        yield
    except BaseException:
        for name in written:
            default_storage.delete(name)
        raise
    finally:
        _WRITTEN.reset(token)
    if outer is not None:
        outer.extend(written)

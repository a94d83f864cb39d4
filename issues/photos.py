"""Citizens' photos: decoded, checked, turned upright, shrunk and re-encoded before they are kept.

A photo from a phone says more than the citizen meant to share: EXIF carries the exact position of
the camera (often the citizen's home), the phone's make and serial numbers, the time; XMP and ICC
blocks carry more. Photos of a report are public on the map, so nothing of the original file is kept:
only its pixels, re-encoded as a plain JPEG. The GPS position is read first, because it may suggest
the pin on the map (the citizen confirms it), and is then dropped with everything else.

Every upload is untrusted input to an image decoder. It is refused, with a message the citizen can
act on, when it is too large (bytes or pixels: a small PNG can declare 100 000 x 100 000 pixels and
exhaust the server's memory when decoded), truncated, not an image, or in a format we do not take.

What one photo may cost, whatever its format and size within the limits: under 64 MB of memory
above what the worker held before and under half a second of CPU on the 2-core server
(tests/test_photo_cost.py and the `photo_cost` bench measure hold it to that). Hence:

- A JPEG is decoded by libjpeg at 1/2, 1/4 or 1/8 of its size, as close to the size kept as its
  decoded pixels fit in JPEG_DECODED_MAX_BYTES (`_jpeg_scale`): a 12 MP phone photo is decoded as
  3 MP. A JPEG whose scans libjpeg must buffer as a whole (progressive, or one scan per colour)
  holds all its coefficients at full size, 2 bytes per sample, whatever the scale: it has lower
  limits, in pixels and in bytes (its decoding time follows its data).
- PNG, WebP and HEIC cannot be decoded at a reduced size, and their decoders hold the whole image
  (WebP's and HEIC's more than once): each has its own, lower, pixel limit; HEIC also a byte limit,
  because libde265's time follows the data.
- Only one copy is made of the decoded pixels, the shrunk one: the image is shrunk band by band,
  and one that needs converting (transparency put on white, a palette, 16-bit grey) is converted
  band by band too (`_shrunk`), never whole; turning it upright and converting its colours to sRGB
  come after, on the shrunk image. Transparency is put on white only when some pixel uses it.
"""

from __future__ import annotations

import contextlib
import io
import math
import struct
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import ExifTags, Image, ImageCms, PngImagePlugin, UnidentifiedImageError

from issues.models import Report, ReportPhoto

try:
    # iPhones save HEIC by default; the pillow-heif wheel bundles libheif, so it installs anywhere.
    import pillow_heif

    # One decoding thread: the CPU a photo costs is the same, and one upload does not take both
    # cores of the server from the other requests. Embedded thumbnails, depth maps and auxiliary
    # images are never used: not even listed.
    pillow_heif.register_heif_opener(decode_threads=1, thumbnails=False, depth_images=False, aux_images=False)
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - pillow-heif is a pinned dependency
    HEIF_SUPPORTED = False

# Pillow's names for the formats we take. Pillow identifies a file by its content, never by its
# name or the browser's content type, and is only allowed to try these decoders.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", *(("HEIF",) if HEIF_SUPPORTED else ()))
JPEG_QUALITY = 85
MB = 1024 * 1024

# What one photo may cost, whatever its format and size: each limit below keeps it under 64 MB of
# memory above what the worker held and 0.5 s of CPU on the 2-core server (the `photo_cost` bench
# measure gives the worst case; tests/test_photo_cost.py holds every format at its limits to it).
#
# Formats decoded whole, at most this many pixels (or OPEN137_PHOTO_MAX_PIXELS if lower). Decoding
# alone holds, a pixel: PNG 4 bytes (1 for a palette, 2 for 16-bit grey), WebP 16 (libwebp's canvas
# and previous frame, the frame's bytes, Pillow's copy), HEIC about 7.5 (libheif's planes, its RGB,
# Pillow's copy). PNG's limit is set by its CPU (inflating, undoing the filters, shrinking).
FORMAT_MAX_PIXELS = {"PNG": 5_000_000, "WEBP": 2_500_000, "HEIF": 3_000_000}
# A PNG's pixel data once inflated, at most (8 bytes a pixel in 16-bit RGBA: 2.5 MP).
PNG_MAX_DATA_BYTES = 20 * MB
# Files whose decoding time grows with their data more than with their pixels, at most this many
# bytes: HEIC (libde265, about 0.2 s of CPU per MB: an iPhone's 12 MP HEIC, 1.5 to 3 MB, is over
# the pixel limit anyway, and browsers send it as JPEG when the form asks for image/*) and
# progressive JPEG (about 0.035 s per MB on top of its pixels).
HEIF_MAX_BYTES = 1 * MB
MULTISCAN_MAX_FILE_BYTES = 4 * MB
# A JPEG is decoded at the scale (1/1, 1/2, 1/4, 1/8) closest to the kept size whose pixels take at
# most this much memory (4 bytes a pixel in colour, 1 in grey).
JPEG_DECODED_MAX_BYTES = 32 * MB
# A progressive (or one-scan-per-colour) JPEG: libjpeg holds every coefficient of the whole image
# while decoding (2 bytes a sample: 3 bytes a pixel for a phone's 4:2:0 colour, 6 for 4:4:4), at
# most this much (4:2:0: 8.3 MP); with the decoded pixels, at most MULTISCAN_MAX_BYTES.
MULTISCAN_COEFFICIENTS_MAX_BYTES = 24 * MB
MULTISCAN_MAX_BYTES = 40 * MB
# Each scan of a progressive JPEG goes over the whole image again; encoders write about 10.
JPEG_MAX_SCANS = 32
# PNG text chunks (zTXt, iTXt) are metadata we drop; Pillow would hold up to 64 MB of them.
PNG_MAX_TEXT_BYTES = 2 * MB
# Output rows converted and shrunk at a time by _shrunk.
BAND_ROWS = 64

_FORMAT_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "HEIF": "HEIC"}


@dataclass(frozen=True)
class ProcessedPhoto:
    content: bytes
    width: int
    height: int
    gps: tuple[float, float] | None  # (lat, lon) from EXIF, before it was stripped


def _refuse(message: str, code: str) -> ValidationError:
    return ValidationError({"photos": [ValidationError(message, code=code)]})


def _upload_file(upload: UploadedFile, *, name: str) -> tuple[IO[bytes], int]:
    """The upload's file, at its start, and its length, refusing a file over the size limit. The
    length is the file's own (found by seeking to its end), not a size the client declared; the
    bytes are not copied (Pillow reads a JPEG or PNG from the file as it decodes)."""
    max_bytes: int = settings.OPEN137_PHOTO_MAX_BYTES
    upload.seek(0, io.SEEK_END)
    length = upload.tell()
    upload.seek(0)
    if length > max_bytes:
        raise _refuse(
            _("The photo %(name)s is too large: at most %(mb)d MB.") % {"name": name, "mb": max_bytes // MB},
            "photo_too_large",
        )
    return upload, length  # type: ignore[return-value]  # an UploadedFile proxies its file


def _looks_like_heif(head: bytes) -> bool:
    # ISO base media file: a box of type "ftyp" at offset 4 whose brand is one of HEIF's.
    return head[4:8] == b"ftyp" and head[8:12] in {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1"}


def _open(file: IO[bytes], *, name: str) -> Image.Image:
    """Open (headers only, no pixels decoded yet) an image of an accepted format, or refuse."""
    try:
        image = Image.open(file, formats=ACCEPTED_FORMATS)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _refuse(_unaccepted_message(file, name=name), "photo_format") from exc
    _check_pixels(image, name=name)
    return image


def _unaccepted_message(file: IO[bytes], *, name: str) -> str:
    """Why a file is refused: an image in a format we do not take, or not an image at all."""
    file.seek(0)
    head = file.read(16)
    if _looks_like_heif(head) and not HEIF_SUPPORTED:  # pragma: no cover - depends on the install
        return _(
            "HEIC photos are not accepted here. Please send the photo as JPEG (set your camera to 'Most Compatible')."
        )
    kind = None
    try:
        # Only to name the format in the message: Pillow reads the header, decodes no pixels.
        file.seek(0)
        with Image.open(file) as other:
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


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:.1f}".removesuffix(".0")


def _too_many_pixels_for(name: str, kind: str, max_pixels: int) -> ValidationError:
    return _refuse(
        _(
            "The photo %(name)s has too many pixels for a %(format)s file: at most %(mp)s megapixels. "
            "Please send it as an ordinary JPEG photo (up to %(jpeg_mp)d megapixels), or smaller."
        )
        % {
            "name": name,
            "format": kind,
            "mp": _megapixels(max_pixels),
            "jpeg_mp": settings.OPEN137_PHOTO_MAX_PIXELS // 1_000_000,
        },
        "photo_too_many_pixels",
    )


def _too_large_for(name: str, kind: str, max_bytes: int) -> ValidationError:
    return _refuse(
        _(
            "The photo %(name)s is too large for a %(format)s file: at most %(mb)s MB. "
            "Please send it as an ordinary JPEG photo."
        )
        % {"name": name, "format": kind, "mb": f"{max_bytes / MB:g}"},
        "photo_too_large",
    )


def _check_cost(image: Image.Image, file: IO[bytes], length: int, *, name: str) -> int:
    """Refuse, before decoding, what would cost more than a photo may (the limits above). The
    memory libjpeg will hold for the coefficients of a JPEG it buffers whole, else 0."""
    fmt = image.format or ""
    kind = _FORMAT_NAMES.get(fmt, fmt)
    pixels = image.width * image.height
    max_pixels = min(FORMAT_MAX_PIXELS.get(fmt, pixels), settings.OPEN137_PHOTO_MAX_PIXELS)
    if fmt == "PNG":
        depth, bytes_per_pixel = _png_depth(file)
        if depth == 16:
            kind = _("16-bit PNG")
        max_pixels = min(max_pixels, int(PNG_MAX_DATA_BYTES / bytes_per_pixel))
    if pixels > max_pixels:
        raise _too_many_pixels_for(name, kind, max_pixels)
    if fmt == "HEIF" and length > HEIF_MAX_BYTES:
        raise _too_large_for(name, kind, HEIF_MAX_BYTES)
    if fmt != "JPEG":
        return 0
    scans, first_scan_components = _jpeg_scans(file)
    if scans > JPEG_MAX_SCANS:
        raise _refuse(
            _(
                "The photo %(name)s is a JPEG in too many passes (%(scans)d, at most %(max)d); "
                "please send it as an ordinary JPEG photo."
            )
            % {"name": name, "scans": scans, "max": JPEG_MAX_SCANS},
            "photo_too_complex",
        )
    if first_scan_components >= len(getattr(image, "layer", ())) and not image.info.get("progressive"):
        return 0  # one scan: decoded row by row, at the scale chosen
    kind = _("progressive JPEG")
    coefficients = _jpeg_coefficient_bytes(image)
    if coefficients > MULTISCAN_COEFFICIENTS_MAX_BYTES:
        raise _too_many_pixels_for(name, kind, int(pixels * MULTISCAN_COEFFICIENTS_MAX_BYTES / coefficients))
    if length > MULTISCAN_MAX_FILE_BYTES:
        raise _too_large_for(name, kind, MULTISCAN_MAX_FILE_BYTES)
    return coefficients


def _png_depth(file: IO[bytes]) -> tuple[int, float]:
    """A PNG's bit depth and the bytes a pixel of its data takes, from its header (IHDR)."""
    file.seek(0)
    head = file.read(29)
    file.seek(0)
    if len(head) < 26:
        return 8, 4  # Pillow opened it, so this does not happen; the common case if it did
    depth, colour = head[24], head[25]
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour, 4)
    return depth, max(channels * depth / 8, 1 / 8)


def _jpeg_scans(file: IO[bytes]) -> tuple[int, int]:
    """How many scans the JPEG has, and how many of its components the first one codes.

    The segments are walked up to the first scan (SOS); after it, the scans are counted as SOS
    markers (0xFF 0xDA cannot occur inside entropy-coded data, where a 0xFF is followed by 0x00 or a
    restart marker), read a megabyte at a time without keeping the file in memory."""
    try:
        file.seek(0)
        if file.read(2) != b"\xff\xd8":
            return 0, 0
        while True:
            byte = file.read(1)
            if not byte:
                return 0, 0  # no scan at all: Pillow's decoder will say what is wrong
            if byte != b"\xff":
                continue  # stray bytes between segments, which libjpeg skips too
            marker = file.read(1)
            while marker == b"\xff":  # fill bytes
                marker = file.read(1)
            if not marker or marker[0] == 0xD9:
                return 0, 0
            if marker[0] in (0x00, 0x01) or 0xD0 <= marker[0] <= 0xD7:
                continue  # no length follows these
            (size,) = struct.unpack(">H", file.read(2))
            if marker[0] == 0xDA:
                components = file.read(1)[0]
                file.seek(size - 3, io.SEEK_CUR)
                break
            file.seek(size - 2, io.SEEK_CUR)
        scans, previous = 1, b""
        while chunk := file.read(MB):
            scans += chunk.count(b"\xff\xda") + (previous == b"\xff" and chunk[:1] == b"\xda")
            previous = chunk[-1:]
        return scans, components
    except (struct.error, IndexError):
        return 0, 0
    finally:
        file.seek(0)


def _jpeg_coefficient_bytes(image: Image.Image) -> int:
    """The memory libjpeg takes to buffer every DCT coefficient of the whole image."""
    layers = getattr(image, "layer", None) or [("", 1, 1, 0)] * len(image.getbands())
    return jpeg_coefficient_bytes(image.width, image.height, [(layer[1], layer[2]) for layer in layers])


def jpeg_coefficient_bytes(width: int, height: int, samplings: list[tuple[int, int]]) -> int:
    """As libjpeg counts it (jdcoefct.c, jdinput.c): for each component, with sampling factors (h, v),
    its blocks of 8 x 8 samples, rounded up to whole multiples of (h, v), 64 coefficients of 2 bytes
    each. For a phone's 4:2:0 colour, samplings [(2, 2), (1, 1), (1, 1)]: 3 bytes a pixel."""
    h_max = max(h for h, _v in samplings) or 1
    v_max = max(v for _h, v in samplings) or 1
    total = 0
    for h, v in samplings:
        h, v = max(h, 1), max(v, 1)
        blocks_x = math.ceil(math.ceil(width * h / h_max) / 8)
        blocks_y = math.ceil(math.ceil(height * v / v_max) / 8)
        total += math.ceil(blocks_x / h) * h * math.ceil(blocks_y / v) * v * 64 * 2
    return total


def _jpeg_scale(image: Image.Image, max_side: int, coefficients: int) -> int:
    """The scale denominator (1, 2, 4, 8) libjpeg decodes this JPEG at: the smallest image whose
    long side is still at least `max_side`, or, if that takes more than JPEG_DECODED_MAX_BYTES (more
    than MULTISCAN_MAX_BYTES with the coefficients a multi-scan JPEG holds), the next that does not.
    A 12 MP phone photo (4032 x 3024) is decoded at 1/2, 2016 x 1512, and kept at that size."""
    width, height = image.size
    per_pixel = 1 if image.mode == "L" else 4
    limit = JPEG_DECODED_MAX_BYTES if not coefficients else MULTISCAN_MAX_BYTES - coefficients
    scale = 1
    while scale < 8 and max(width, height) / (scale * 2) >= max_side:
        scale *= 2
    while scale < 8 and math.ceil(width / scale) * math.ceil(height / scale) * per_pixel > limit:
        scale *= 2
    return scale


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


# Modes Pillow shrinks as they are; any other is converted band by band (_flat) while shrinking.
_DIRECT_MODES = ("RGB", "L", "CMYK")

_ORIENTATIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _transparency_used(image: Image.Image) -> bool:
    """Whether any pixel is not fully opaque (a PNG saved with an alpha band it does not use is the
    common case: then it is converted like one without)."""
    if image.mode in ("RGBA", "LA", "PA"):
        lowest = image.getchannel("A").getextrema()[0]
        return isinstance(lowest, int) and lowest < 255
    transparency = image.info.get("transparency")
    if transparency is None:
        return False
    if image.mode == "P":
        # Which palette entries are transparent, and is any of them used.
        counts = image.histogram()
        if isinstance(transparency, bytes):
            return any(counts[i] and alpha < 255 for i, alpha in enumerate(transparency[:256]))
        return isinstance(transparency, int) and 0 <= transparency < 256 and counts[transparency] > 0
    return True  # one colour of an L or RGB image made transparent: assume used


def _flattener(image: Image.Image) -> Callable[[Image.Image], Image.Image] | None:
    """What turns a piece of `image` into RGB or L pixels: transparency put on white, a palette
    looked up, 16-bit grey brought to 8 bits (Pillow's own conversion would clip it to white).
    None for the modes kept as they are."""
    if image.mode in _DIRECT_MODES:
        return None
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        return lambda piece: piece.point(lambda v: v / 257).convert("L")
    if _transparency_used(image):

        def on_white(piece: Image.Image) -> Image.Image:
            rgba = piece if piece.mode == "RGBA" else piece.convert("RGBA")
            white = Image.new("RGB", rgba.size, (255, 255, 255))
            white.paste(rgba, mask=rgba)
            return white

        return on_white
    grey = image.mode in ("1", "LA") or (
        image.mode in ("P", "PA") and image.palette is not None and image.palette.mode == "L"
    )
    target = "L" if grey else "RGB"
    if image.mode == "PA":
        return lambda piece: piece.convert("RGBA").convert(target)
    return lambda piece: piece.convert(target)


def _shrunk(image: Image.Image, max_side: int) -> Image.Image:
    """The decoded image within `max_side`, in RGB, L or CMYK: the one copy made of its pixels (or
    the image itself, when it is small enough and in one of those modes).

    Shrunk with Lanczos one band of rows at a time, each band read with the rows above and below it
    that the filter reaches, so the result is that of shrinking the whole at once, without Pillow's
    whole-size intermediate (the source shrunk in width only) or a converted copy of the whole
    source (Pillow's resize makes one of an RGBA image, premultiplied); modes other than RGB, L and
    CMYK are converted band by band."""
    width, height = image.size
    ratio = min(1.0, max_side / max(width, height))
    size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
    flat = _flattener(image)
    if size == image.size:
        return flat(image) if flat else image
    scale = height / size[1]
    reach = 3 * max(scale, 1.0) + 2  # Lanczos' 3 lobes, widened by the scale, and a margin
    out: Image.Image | None = None
    for top in range(0, size[1], BAND_ROWS):
        bottom = min(size[1], top + BAND_ROWS)
        first, last = top * scale, bottom * scale
        if flat is None:
            # Pillow reads the rows the filter needs around the box from the image itself.
            band = image.resize(
                (size[0], bottom - top), Image.Resampling.LANCZOS, box=(0, first, width, last)
            )
        else:
            crop_top = max(0, math.floor(first - reach))
            crop_bottom = min(height, math.ceil(last + reach))
            piece = flat(image.crop((0, crop_top, width, crop_bottom)))
            band = piece.resize(
                (size[0], bottom - top),
                Image.Resampling.LANCZOS,
                box=(0, first - crop_top, width, last - crop_top),
            )
        if out is None:
            out = Image.new(band.mode, size)
        out.paste(band, (0, top))
    assert out is not None
    return out


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """RGB pixels in sRGB. Phones tag photos with wide-gamut profiles (Display P3); the profile is
    not kept, so the colours are converted to sRGB, the space a browser assumes for an untagged
    JPEG, instead of being shown washed out. Done on the shrunk image, in place when RGB."""
    if icc and image.mode in ("RGB", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            if image.mode == "RGB":
                ImageCms.profileToProfile(image, source, srgb, outputMode="RGB", inPlace=True)
                return image
            converted = ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: the pixels are taken as they are
    return image if image.mode == "RGB" else image.convert("RGB")


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
            method = _ORIENTATIONS.get(orientation) if isinstance(orientation, int) else None
            if method is not None:
                small = small.transpose(method)
            rgb = _to_srgb(small, icc if isinstance(icc, bytes) else None)
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
    finally:
        file.seek(0)
    return rgb, gps


def _decoded_small(
    file: IO[bytes], length: int, *, name: str
) -> tuple[Image.Image, tuple[float, float] | None, Any, Any]:
    """The first frame decoded (at a reduced scale for a JPEG) and shrunk, its GPS position, EXIF
    orientation and ICC profile. The decoded image is released when this returns."""
    max_side: int = settings.OPEN137_PHOTO_MAX_SIDE
    with _open(file, name=name) as image:  # the upload's file stays open
        coefficients = _check_cost(image, file, length, name=name)
        if image.format == "JPEG":
            # libjpeg decodes at 1/2, 1/4 or 1/8 scale: a fraction of the time and memory.
            scale = _jpeg_scale(image, max_side, coefficients)
            if scale > 1:
                image.draft(image.mode, (image.width // scale, image.height // scale))
        image.load()
        # Read after the pixels: a PNG may keep its EXIF after them.
        gps = _gps_from_exif(image)
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
        icc = image.info.get("icc_profile")
        return _shrunk(image, max_side), gps, orientation, icc


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
    file, length = _upload_file(upload, name=name)
    image, gps = _decode(file, length, name=name)
    return ProcessedPhoto(content=_encode(image), width=image.width, height=image.height, gps=gps)


def photo_gps(*, upload: UploadedFile) -> tuple[float, float] | None:
    """The position where the photo was taken, from its EXIF, to suggest the pin on the report form.
    None when the photo has none or cannot be read (the form then simply suggests nothing; the
    photo itself is checked when the report is submitted). Decodes no pixels: a PNG's EXIF is only
    read here when it comes before the pixels (as writers put it)."""
    try:
        file, _length = _upload_file(upload, name="")
        Image.MAX_IMAGE_PIXELS = settings.OPEN137_PHOTO_MAX_PIXELS
        PngImagePlugin.MAX_TEXT_MEMORY = PNG_MAX_TEXT_BYTES
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _open(file, name="") as image:
                if image.format == "PNG" and "exif" not in image.info:
                    return None  # Pillow would decode the pixels to look for it after them
                return _gps_from_exif(image)
    except Exception:  # no suggestion is the answer to any unreadable file
        return None
    finally:
        with contextlib.suppress(Exception):
            upload.seek(0)  # the photo is read again when the report is submitted


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

"""Whether an upload is taken, before any pixel is decoded: its size in bytes and pixels, its format,
and what decoding it would cost (the limits of `limits`); and the scale libjpeg decodes a JPEG at.
Every refusal is a ValidationError({"photos": [...]}) with a message the citizen can act on."""

from __future__ import annotations

import io
import math
import struct
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from issues.photos.limits import (
    ACCEPTED_FORMATS,
    FORMAT_MAX_PIXELS,
    HEIF_MAX_BYTES,
    HEIF_SUPPORTED,
    JPEG_DECODED_MAX_BYTES,
    JPEG_MAX_SCANS,
    MB,
    MULTISCAN_COEFFICIENTS_MAX_BYTES,
    MULTISCAN_MAX_BYTES,
    MULTISCAN_MAX_FILE_BYTES,
    PNG_MAX_DATA_BYTES,
)

_FORMAT_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "HEIF": "HEIC"}


def refuse(message: str, code: str) -> ValidationError:
    return ValidationError({"photos": [ValidationError(message, code=code)]})


def upload_file(upload: UploadedFile, *, name: str) -> tuple[IO[bytes], int]:
    """The upload's file, at its start, and its length, refusing a file over the size limit. The
    length is the file's own (found by seeking to its end), not a size the client declared; the
    bytes are not copied (Pillow reads a JPEG or PNG from the file as it decodes)."""
    max_bytes: int = settings.OPEN137_PHOTO_MAX_BYTES
    upload.seek(0, io.SEEK_END)
    length = upload.tell()
    upload.seek(0)
    if length > max_bytes:
        raise refuse(
            _("The photo %(name)s is too large: at most %(mb)d MB.") % {"name": name, "mb": max_bytes // MB},
            "photo_too_large",
        )
    return upload, length  # type: ignore[return-value]  # an UploadedFile proxies its file


def _looks_like_heif(head: bytes) -> bool:
    # ISO base media file: a box of type "ftyp" at offset 4 whose brand is one of HEIF's.
    return head[4:8] == b"ftyp" and head[8:12] in {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1"}


def image_open(file: IO[bytes], *, name: str) -> Image.Image:
    """Open (headers only, no pixels decoded yet) an image of an accepted format, or refuse."""
    try:
        image = Image.open(file, formats=ACCEPTED_FORMATS)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise refuse(_unaccepted_message(file, name=name), "photo_format") from exc
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
    # set in process._decode) fires already in Image.open; this check holds whatever that global says.
    width, height = image.size
    if width <= 0 or height <= 0 or width * height > settings.OPEN137_PHOTO_MAX_PIXELS:
        raise refuse(too_many_pixels(name), "photo_too_many_pixels")


def too_many_pixels(name: str) -> str:
    return _("The photo %(name)s has too many pixels: at most %(mp)d megapixels.") % {
        "name": name,
        "mp": settings.OPEN137_PHOTO_MAX_PIXELS // 1_000_000,
    }


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:.1f}".removesuffix(".0")


def _too_many_pixels_for(name: str, kind: str, max_pixels: int) -> ValidationError:
    return refuse(
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
    return refuse(
        _(
            "The photo %(name)s is too large for a %(format)s file: at most %(mb)s MB. "
            "Please send it as an ordinary JPEG photo."
        )
        % {"name": name, "format": kind, "mb": f"{max_bytes / MB:g}"},
        "photo_too_large",
    )


def check_cost(image: Image.Image, file: IO[bytes], length: int, *, name: str) -> int:
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
        raise refuse(
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


def jpeg_scale(image: Image.Image, max_side: int, coefficients: int) -> int:
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

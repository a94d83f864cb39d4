"""The photo pipeline as it was before its cost was bounded (issues/photos.py as of commit 1037c05),
kept only as the reference of the `photo_cost` measure: every photo decoded whole whatever its size
(a JPEG was reduced by libjpeg only when both sides were at least twice the kept size), turned
upright, put on white, converted to sRGB, shrunk and copied once more to be encoded. Refusals are
simplified to a bare ValidationError; the accepted path is the old code line for line."""

from __future__ import annotations

import io
import warnings

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from PIL import Image, ImageCms, ImageOps

from issues.photos import ProcessedPhoto
from issues.photos.gps import gps_from_exif
from issues.photos.limits import ACCEPTED_FORMATS, JPEG_QUALITY


def _refused(code: str) -> ValidationError:
    return ValidationError({"photos": [ValidationError(code, code=code)]})


def _read_limited(upload: UploadedFile) -> bytes:
    max_bytes: int = settings.OPEN137_PHOTO_MAX_BYTES
    content = b""
    if upload.size is None or upload.size <= max_bytes:
        upload.seek(0)
        content = upload.read(max_bytes + 1)
        upload.seek(0)
    if (upload.size is not None and upload.size > max_bytes) or len(content) > max_bytes:
        raise _refused("photo_too_large")
    return content


def _to_srgb(image: Image.Image) -> Image.Image:
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
            pass
    return image.convert("RGB")


def _decode(content: bytes) -> tuple[Image.Image, tuple[float, float] | None]:
    max_pixels: int = settings.OPEN137_PHOTO_MAX_PIXELS
    max_side: int = settings.OPEN137_PHOTO_MAX_SIDE
    Image.MAX_IMAGE_PIXELS = max_pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(content), formats=ACCEPTED_FORMATS)
        width, height = image.size
        if width * height > max_pixels:
            raise _refused("photo_too_many_pixels")
        gps = gps_from_exif(image)
        if image.format == "JPEG":
            image.draft("RGB", (max_side, max_side))
        image.load()
        upright = ImageOps.exif_transpose(image)
        rgb = _to_srgb(upright)
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return rgb, gps


def _encode(image: Image.Image) -> bytes:
    clean = Image.frombytes("RGB", image.size, image.tobytes())
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def photo_process(*, upload: UploadedFile) -> ProcessedPhoto:
    content = _read_limited(upload)
    image, gps = _decode(content)
    return ProcessedPhoto(content=_encode(image), width=image.width, height=image.height, gps=gps)

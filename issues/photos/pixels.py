"""The decoded pixels made fit to keep: shrunk band by band (converted band by band too when they
need it: transparency put on white, a palette, 16-bit grey), turned upright, in sRGB."""

from __future__ import annotations

import io
import math
from collections.abc import Callable

from PIL import Image, ImageCms

# Output rows converted and shrunk at a time by shrunk.
BAND_ROWS = 64

# Modes Pillow shrinks as they are; any other is converted band by band (_flattener) while shrinking.
_DIRECT_MODES = ("RGB", "L", "CMYK")

ORIENTATIONS = {
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


def shrunk(image: Image.Image, max_side: int) -> Image.Image:
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


def to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
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

"""The formats we take and what one photo may cost (the limits the checks in `checks` apply)."""

from __future__ import annotations

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

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
  decoded pixels fit in JPEG_DECODED_MAX_BYTES (`checks.jpeg_scale`): a 12 MP phone photo is
  decoded as 3 MP. A JPEG whose scans libjpeg must buffer as a whole (progressive, or one scan per
  colour) holds all its coefficients at full size, 2 bytes per sample, whatever the scale: it has
  lower limits, in pixels and in bytes (its decoding time follows its data).
- PNG, WebP and HEIC cannot be decoded at a reduced size, and their decoders hold the whole image
  (WebP's and HEIC's more than once): each has its own, lower, pixel limit; HEIC also a byte limit,
  because libde265's time follows the data.
- Only one copy is made of the decoded pixels, the shrunk one: the image is shrunk band by band,
  and one that needs converting (transparency put on white, a palette, 16-bit grey) is converted
  band by band too (`pixels.shrunk`), never whole; turning it upright and converting its colours to
  sRGB come after, on the shrunk image. Transparency is put on white only when some pixel uses it.

Modules, by job:

- `limits`: the formats we take (HEIC through pillow-heif) and every cost limit, with its reason.
- `checks`: whether an upload is taken, before any pixel is decoded (bytes, pixels, format, what
  decoding it would cost), the refusal messages, and the scale a JPEG is decoded at.
- `pixels`: the decoded image shrunk and converted band by band, turned upright, put in sRGB.
- `gps`: the EXIF GPS position; `photo_gps` reads it alone, for the report form's pin.
- `process`: `photo_process`, one upload checked, decoded, cleaned and re-encoded (`ProcessedPhoto`).
- `storage`: `photo_save` (the file and its ReportPhoto row) and `photo_files_undone_on_error`.

The services other apps use are importable from `issues.photos` itself.
"""

from issues.photos.checks import jpeg_coefficient_bytes
from issues.photos.gps import photo_gps
from issues.photos.process import ProcessedPhoto, photo_process
from issues.photos.storage import photo_files_undone_on_error, photo_save

__all__ = [
    "ProcessedPhoto",
    "jpeg_coefficient_bytes",
    "photo_files_undone_on_error",
    "photo_gps",
    "photo_process",
    "photo_save",
]

"""What one photo costs the server to check and clean: the peak memory above what the process held
before, and the CPU time, of `issues.photos.photo_process` on one upload.

Each photo is measured in a fresh Python process (`python -m bench.photo_cost FILE NAME PIPELINE`):
Pillow's pixel buffers are C allocations that tracemalloc does not see, so the figure is the
process's resident-set high-water mark (VmHWM in /proc/self/status), reset just before the call
(`5` written to /proc/self/clear_refs) and read just after, minus the resident set at the reset. The
child first sets Django up and processes a tiny photo of the same format, as a worker that has
served photos before has done (plugins imported, codecs initialised), then holds the upload the way
Django hands it over: in memory up to FILE_UPLOAD_MAX_MEMORY_SIZE, in a temporary file above. CPU is
`time.process_time()` around the call (every thread of the process, so libheif's decoding threads
count too).

Used by the `photo_cost` measure (bench/measures/photos.py) and by tests/test_photo_cost.py, which
hold every accepted format at its largest accepted size to the budget below.
"""

from __future__ import annotations

import io
import json
import math
import os
import random
import re
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import ExifTags, Image, ImageCms
from PIL.TiffImagePlugin import IFDRational

ROOT = Path(__file__).resolve().parent.parent

# The budget of one photo, whatever its format and size up to the limits: this much memory above
# what the process held before, this much CPU on the bench machine (2 cores), or a clear refusal.
BUDGET_MB = 64.0
BUDGET_CPU_S = 0.5

# The pipelines a child can run: the project's, and the one it replaced (bench/photo_reference.py).
PIPELINES = ("project", "old")


@dataclass(frozen=True)
class Cost:
    peak_mb: float  # resident-set high-water mark above the resident set before the call, MiB
    cpu_s: float  # process CPU time of the call (all threads)
    size: tuple[int, int] | None  # the stored photo's size, None when refused
    refused: str | None  # the refusal's message, None when accepted
    code: str | None  # the refusal's code


def cost(content: bytes, name: str, *, pipeline: str = "project") -> Cost:
    """What processing `content` (uploaded as `name`) costs, measured in a fresh child process."""
    if pipeline not in PIPELINES:
        raise ValueError(f"unknown pipeline {pipeline!r}")
    with tempfile.TemporaryDirectory(prefix="photo-cost-") as folder:
        path = Path(folder) / "upload"
        path.write_bytes(content)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "open137.settings"}
        done = subprocess.run(
            [sys.executable, "-m", "bench.photo_cost", str(path), name, pipeline],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"measuring {name} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return Cost(
        peak_mb=answer["peak_mb"],
        cpu_s=answer["cpu_s"],
        size=tuple(answer["size"]) if answer["size"] else None,  # type: ignore[arg-type]
        refused=answer["refused"],
        code=answer["code"],
    )


# --- Sample photos ----------------------------------------------------------------------------------
# Made here with Pillow (and pillow-heif), from seeded noise: the figures depend on the size, the
# mode and how much data the decoder has to go through, not on the exact pixels.

# Qazvin, as the test photos of tests/test_photos.py.
LAT_DMS = (36, 16, 12.5)
LON_DMS = (50, 0, 36)
SEED = 137
# x265's "faster" preset: a few times quicker to write than its default ("medium"), and its files
# cost libde265 as much CPU per byte to decode ("ultrafast" ones cost less: not the worst case).
FAST = {"preset": "faster"}


def exif_block(*, orientation: int = 1) -> bytes:
    """EXIF as a phone writes it: orientation, make, model, serial number and the GPS position."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Phone 15"
    exif[ExifTags.Base.BodySerialNumber] = "SN-123456"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: tuple(IFDRational(v) for v in LAT_DMS),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: tuple(IFDRational(v) for v in LON_DMS),
    }
    return exif.tobytes()


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()  # type: ignore[no-any-return]


def texture(size: tuple[int, int], grain: float, *, mode: str = "RGB", seed: int = SEED) -> Image.Image:
    """A photo-like picture: smooth colour areas (coarse noise, enlarged) with a share `grain` (0 to
    1) of fine noise on top, which sets how well it compresses (0.13: a 12 MP JPEG at quality 90 is
    about 4 MB, as a phone's)."""
    rng = random.Random(seed)
    width, height = size
    small = (max(2, width // 64), max(2, height // 64))
    bands = []
    for _ in mode:
        coarse = Image.frombytes("L", small, rng.randbytes(small[0] * small[1]))
        coarse = coarse.resize(size, Image.Resampling.BICUBIC)
        if grain:
            fine = Image.frombytes("L", size, rng.randbytes(width * height))
            coarse = Image.blend(coarse, fine, grain)
        bands.append(coarse)
    return Image.merge(mode, bands)


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def with_transparency(image: Image.Image) -> Image.Image:
    """`image` with an alpha band that is really used: a transparent strip along the top and a
    half-transparent one below it."""
    rgba = image.convert("RGBA")
    strip = max(1, rgba.height // 10)
    rgba.paste((0, 0, 0, 0), (0, 0, rgba.width, strip))
    alpha = rgba.getchannel("A")
    alpha.paste(128, (0, strip, rgba.width, 2 * strip))
    rgba.putalpha(alpha)
    return rgba


def size_within(pixels: int, aspect: tuple[int, int] = (4, 3)) -> tuple[int, int]:
    """The largest size of that aspect ratio (in steps of the ratio) within `pixels` pixels."""
    a, b = aspect
    k = math.isqrt(pixels // (a * b))
    while (a * k) * (b * k) > pixels:
        k -= 1
    return a * k, b * k


def grown(size: tuple[int, int]) -> tuple[int, int]:
    """One 4:3 step larger."""
    return size[0] + 4, size[1] + 3


def size_above(pixels: int, aspect: tuple[int, int] = (4, 3)) -> tuple[int, int]:
    a, b = aspect
    k = math.isqrt(pixels // (a * b))
    while (a * k) * (b * k) <= pixels:
        k += 1
    return a * k, b * k


def largest_within(limit_bytes: int, cost: Callable[[tuple[int, int]], int]) -> tuple[int, int]:
    """The largest 4:3 size whose `cost` is within `limit_bytes`."""
    k = 1
    while cost((4 * (k + 1), 3 * (k + 1))) <= limit_bytes:
        k += 1
    return 4 * k, 3 * k


def within_bytes(make: Callable[[int], bytes], limit: int, qualities: tuple[int, ...]) -> bytes:
    """The first of `make(quality)` for the qualities given (best first) that fits in `limit` bytes."""
    for quality in qualities:
        try:
            data = make(quality)
        except OSError:  # Pillow's JPEG writer runs out of buffer on some noisy progressive images
            continue
        if len(data) <= limit:
            return data
    raise RuntimeError(f"no quality of {qualities} fits in {limit:,} bytes")


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_16bit(image: Image.Image, *, level: int = 6) -> bytes:
    """`image` (RGBA) as a 16-bit RGBA PNG (which Pillow does not write), every row with the Paeth
    filter, the costliest to undo."""
    import numpy as np

    samples = np.asarray(image, dtype=np.uint16) * 257
    raw = samples.astype(">u2").reshape(image.height, -1).view(np.uint8).astype(np.int16)
    left = np.zeros_like(raw)
    left[:, 8:] = raw[:, :-8]  # the same sample of the pixel to the left (8 bytes a pixel)
    up = np.zeros_like(raw)
    up[1:] = raw[:-1]
    up_left = np.zeros_like(raw)
    up_left[1:, 8:] = raw[:-1, :-8]
    estimate = left + up - up_left
    pa, pb, pc = np.abs(estimate - left), np.abs(estimate - up), np.abs(estimate - up_left)
    predicted = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, up_left))
    filtered = ((raw - predicted) % 256).astype(np.uint8)
    rows = np.concatenate([np.full((image.height, 1), 4, np.uint8), filtered], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", image.width, image.height, 16, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(rows, level))
        + png_chunk(b"IEND", b"")
    )


def palette_png(size: tuple[int, int]) -> bytes:
    """A palette PNG of 255 colours and a transparent one, used along the top."""
    grey = texture(size, 0.05, mode="L")
    palette = Image.frombytes("P", size, grey.tobytes())
    palette.putpalette([c for i in range(256) for c in (i, 255 - i, (i * 7) % 256)])
    palette.paste(255, (0, 0, palette.width, max(1, palette.height // 10)))
    return encoded(palette, "PNG", transparency=255)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares a huge image (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )


@dataclass(frozen=True)
class Sample:
    name: str
    what: str  # in words, for the bench's rows and the test's failures
    filename: str
    make: Callable[[], bytes]
    refused: str | None = None  # the refusal code expected, None when it must be accepted


def samples() -> list[Sample]:
    """The common case, every accepted kind of file at the largest size (and, where the decoding
    time follows the data, the most bytes) it is accepted at, and a file just over each limit.

    Needs Django's settings (the limits are the project's)."""
    from django.conf import settings

    from issues.photos import jpeg_coefficient_bytes, limits

    max_bytes: int = settings.OPEN137_PHOTO_MAX_BYTES
    max_pixels: int = settings.OPEN137_PHOTO_MAX_PIXELS
    png_px, webp_px, heif_px = (limits.FORMAT_MAX_PIXELS[f] for f in ("PNG", "WEBP", "HEIF"))
    png16_px = min(png_px, limits.PNG_MAX_DATA_BYTES // 8)  # 16-bit RGBA: 8 bytes a pixel
    fill = int(max_bytes * 0.95)  # files close to the byte limit: the most data to go through
    progressive_fill = int(limits.MULTISCAN_MAX_FILE_BYTES * 0.97)
    s420, s444 = [(2, 2), (1, 1), (1, 1)], [(1, 1)] * 3

    def progressive_size(samplings: list[tuple[int, int]]) -> tuple[int, int]:
        return largest_within(
            limits.MULTISCAN_COEFFICIENTS_MAX_BYTES, lambda s: jpeg_coefficient_bytes(*s, samplings)
        )

    def progressive(samplings: list[tuple[int, int]], subsampling: int) -> bytes:
        image = texture(progressive_size(samplings), 0.3)
        return within_bytes(
            lambda q: encoded(image, "JPEG", quality=q, progressive=True, subsampling=subsampling),
            progressive_fill,
            (90, 85, 80, 75, 70, 60, 50),
        )

    phone = (4032, 3024)
    jpeg_max = size_within(max_pixels)
    # A one-scan JPEG decoded whole with the most pixels JPEG_DECODED_MAX_BYTES allows, then shrunk
    # to the largest size kept (a square: 2048 x 2048).
    square = math.isqrt(limits.JPEG_DECODED_MAX_BYTES // 4)
    accepted = [
        Sample(
            "jpeg_12mp",
            "12 MP phone JPEG (4032 x 3024, 4 MB, EXIF with GPS, ICC profile)",
            "IMG_0001.jpg",
            lambda: encoded(
                texture(phone, 0.13), "JPEG", quality=90, exif=exif_block(), icc_profile=srgb_icc()
            ),
        ),
        Sample(
            "jpeg_12mp_rotated",
            "the same taken sideways (EXIF orientation 6)",
            "IMG_0002.jpg",
            lambda: encoded(texture(phone, 0.13), "JPEG", quality=90, exif=exif_block(orientation=6)),
        ),
        Sample(
            "jpeg_40mp",
            f"JPEG at the pixel limit ({jpeg_max[0]} x {jpeg_max[1]}), 9.5 MB",
            "big.jpg",
            lambda: within_bytes(
                lambda q: encoded(texture(jpeg_max, 0.12), "JPEG", quality=q), fill, (85, 80, 75, 70)
            ),
        ),
        Sample(
            "jpeg_square",
            f"JPEG decoded whole at the most pixels allowed ({square} x {square}), shrunk to 2048 x 2048",
            "square.jpg",
            lambda: encoded(texture((square, square), 0.3), "JPEG", quality=90),
        ),
        Sample(
            "jpeg_cmyk",
            f"CMYK JPEG (Adobe) at the pixel limit ({jpeg_max[0]} x {jpeg_max[1]})",
            "poster.jpg",
            lambda: within_bytes(
                lambda q: encoded(texture(jpeg_max, 0.04).convert("CMYK"), "JPEG", quality=q),
                fill,
                (70, 65, 60, 50),
            ),
        ),
        Sample(
            "jpeg_progressive",
            "progressive JPEG, 4:2:0, at its pixel and byte limits",
            "web.jpg",
            lambda: progressive(s420, 2),
        ),
        Sample(
            "jpeg_progressive_444",
            "progressive JPEG, 4:4:4, at its pixel and byte limits",
            "web444.jpg",
            lambda: progressive(s444, 0),
        ),
        Sample(
            "png_rgba",
            f"PNG with transparency at the PNG limit ({png_px / 1e6:g} MP), 9 MB",
            "screenshot.png",
            lambda: encoded(with_transparency(texture(size_within(png_px), 0.025)), "PNG", compress_level=1),
        ),
        Sample(
            "png_16bit",
            f"16-bit RGBA PNG at its limit ({png16_px / 1e6:.1f} MP), Paeth-filtered",
            "scan16.png",
            lambda: png_16bit(with_transparency(texture(size_within(png16_px), 0.02)), level=1),
        ),
        Sample(
            "png_grey16",
            "16-bit grey PNG at the PNG limit",
            "grey16.png",
            lambda: encoded(texture(size_within(png_px), 0.1, mode="L").convert("I;16"), "PNG"),
        ),
        Sample(
            "png_palette",
            "palette PNG with a transparent colour at the PNG limit",
            "map.png",
            lambda: palette_png(size_within(png_px)),
        ),
        Sample(
            "webp_rgba",
            f"WebP with transparency at the WebP limit ({webp_px / 1e6:g} MP)",
            "sticker.webp",
            lambda: encoded(with_transparency(texture(size_within(webp_px), 0.3)), "WEBP", quality=95),
        ),
        Sample(
            "webp_lossless",
            "lossless WebP at the WebP limit",
            "lossless.webp",
            lambda: encoded(texture(size_within(webp_px), 0.3), "WEBP", lossless=True),
        ),
    ]
    if limits.HEIF_SUPPORTED:
        accepted.append(
            Sample(
                "heic",
                f"HEIC at the HEIC limits ({heif_px / 1e6:g} MP, {limits.HEIF_MAX_BYTES / limits.MB:g} MB)",
                "IMG_0003.HEIC",
                lambda: within_bytes(
                    lambda q: encoded(texture(size_within(heif_px), 0.3), "HEIF", quality=q, enc_params=FAST),
                    limits.HEIF_MAX_BYTES,
                    (40, 35, 30, 25, 20),
                ),
            )
        )
    white = "white"
    refused = [
        Sample(
            "over_jpeg",
            "JPEG just over the pixel limit",
            "over.jpg",
            lambda: encoded(Image.new("RGB", size_above(max_pixels), white), "JPEG"),
            refused="photo_too_many_pixels",
        ),
        Sample(
            "over_progressive",
            "progressive JPEG just over its pixel limit",
            "over-web.jpg",
            lambda: encoded(Image.new("RGB", grown(progressive_size(s420)), white), "JPEG", progressive=True),
            refused="photo_too_many_pixels",
        ),
        Sample(
            "over_progressive_bytes",
            "progressive JPEG within its pixel limit, over its byte limit",
            "heavy-web.jpg",
            lambda: encoded(texture(progressive_size(s420), 0.5), "JPEG", quality=97, progressive=True),
            refused="photo_too_large",
        ),
        Sample(
            "over_png",
            "PNG just over the PNG limit",
            "over.png",
            lambda: encoded(Image.new("RGB", size_above(png_px), white), "PNG"),
            refused="photo_too_many_pixels",
        ),
        Sample(
            "over_png_16bit",
            "16-bit RGBA PNG just over its limit",
            "over16.png",
            lambda: png_16bit(Image.new("RGBA", size_above(png16_px), white)),
            refused="photo_too_many_pixels",
        ),
        Sample(
            "over_webp",
            "WebP just over the WebP limit",
            "over.webp",
            lambda: encoded(Image.new("RGB", size_above(webp_px), white), "WEBP"),
            refused="photo_too_many_pixels",
        ),
        Sample(
            "bomb",
            "PNG of 120 bytes declaring 100,000 x 100,000 pixels",
            "bomb.png",
            lambda: png_declaring(100_000, 100_000),
            refused="photo_too_many_pixels",
        ),
    ]
    if limits.HEIF_SUPPORTED:
        refused += [
            Sample(
                "over_heic",
                "HEIC just over the HEIC pixel limit",
                "over.heic",
                lambda: encoded(
                    Image.new("RGB", size_above(heif_px), white), "HEIF", quality=50, enc_params=FAST
                ),
                refused="photo_too_many_pixels",
            ),
            Sample(
                "over_heic_bytes",
                "HEIC within its pixel limit, over its byte limit",
                "heavy.heic",
                lambda: encoded(texture(size_within(heif_px), 0.5), "HEIF", quality=90, enc_params=FAST),
                refused="photo_too_large",
            ),
        ]
    return accepted + refused


# --- The child --------------------------------------------------------------------------------------


def _status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        found = re.search(rf"^{field}:\s+(\d+) kB", status.read(), re.MULTILINE)
    if not found:
        raise RuntimeError(f"no {field} in /proc/self/status")
    return int(found.group(1))


def _peak_reset() -> int:
    """Reset the resident-set high-water mark to the current resident set; that set, in kB."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
        clear.write("5")
    return _status_kb("VmHWM")


def _format_of(content: bytes) -> str:
    if content[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "WEBP"
    if content[4:8] == b"ftyp":
        return "HEIF"
    return "JPEG"


def _child(path: str, name: str, pipeline: str) -> dict[str, object]:
    import gc

    import django

    django.setup()
    from django.conf import settings
    from django.core.exceptions import ValidationError
    from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile

    process: Callable[..., object]
    if pipeline == "old":
        from bench.photo_reference import photo_process as process
    else:
        from issues.photos import photo_process as process

    content = Path(path).read_bytes()
    # Warm up on a tiny photo of the same format (a worker has served photos before).
    fmt = _format_of(content)
    tiny = with_transparency(texture((64, 48), 0.3)) if fmt in ("PNG", "WEBP") else texture((64, 48), 0.3)
    process(upload=SimpleUploadedFile(f"warm.{fmt.lower()}", encoded(tiny, fmt)))

    upload: UploadedFile
    if len(content) <= settings.FILE_UPLOAD_MAX_MEMORY_SIZE:
        upload = SimpleUploadedFile(name, content)
    else:  # Django spools a larger upload to a temporary file
        upload = UploadedFile(file=open(path, "rb"), name=name, size=len(content))  # noqa: SIM115
    del content
    gc.collect()

    before = _peak_reset()
    started = time.process_time()
    refused = code = None
    size = None
    try:
        photo = process(upload=upload)
        size = [photo.width, photo.height]  # type: ignore[attr-defined]
    except ValidationError as error:
        detail = error.error_dict["photos"][0]
        refused, code = " ".join(detail.messages), detail.code
    cpu = time.process_time() - started
    peak = _status_kb("VmHWM")
    return {
        "peak_mb": round((peak - before) / 1024, 1),
        "cpu_s": round(cpu, 3),
        "size": size,
        "refused": refused,
        "code": code,
    }


if __name__ == "__main__":
    file_path, photo_name, pipeline_name = sys.argv[1:4]
    print(json.dumps(_child(file_path, photo_name, pipeline_name)))

"""Citizens' photos: real images made here with Pillow, processed and stored for real (PostGIS, files
under a temporary MEDIA_ROOT). What must hold: the photo comes out upright, small enough, as a JPEG
with nothing of the original's metadata (GPS above all); the GPS can still suggest the pin; anything
that is not an acceptable image is refused with a clear message, and then nothing is written."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image, ImageCms
from PIL.TiffImagePlugin import IFDRational

from districts.services import department_create
from issues.models import Category, OutboxMessage, Report, ReportPhoto
from issues.photos import photo_gps, photo_process, photo_save
from issues.photos.limits import HEIF_SUPPORTED
from issues.services.submission import report_submit

# These tests match the English wording of the messages.
pytestmark = pytest.mark.usefixtures("english")

# Where the test photos "were taken": Qazvin, 36°16'12.5"N 50°0'36"E.
LAT_DMS = (36, 16, 12.5)
LON_DMS = (50, 0, 36)
LAT = 36 + 16 / 60 + 12.5 / 3600
LON = 50 + 0 / 60 + 36 / 3600
RED, BLUE = (220, 20, 20), (20, 20, 220)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.OPEN137_SMS_LOG_FILE = tmp_path / "sms.log"
    return settings.MEDIA_ROOT


@pytest.fixture
def category(db) -> Category:
    department = department_create(code="urban", name_fa="خدمات شهری", name_en="Urban services")
    return Category.objects.create(
        code="graffiti",
        name_fa="دیوارنویسی",
        name_en="Graffiti",
        department=department,
        location_required=False,
    )


def two_halves(size: tuple[int, int] = (300, 200)) -> Image.Image:
    """Left half red, right half blue: which way the picture was turned shows in the result."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0] // 2, size[1]))
    return image


def pixel(image: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    value = image.getpixel((x, y))
    assert isinstance(value, tuple)
    return value[0], value[1], value[2]


def gps_exif(*, orientation: int = 1, lat_ref: str = "N", lon_ref: str = "E") -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Phone 15"
    exif[ExifTags.Base.BodySerialNumber] = "SN-123456"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: lat_ref,
        ExifTags.GPS.GPSLatitude: tuple(IFDRational(v) for v in LAT_DMS),
        ExifTags.GPS.GPSLongitudeRef: lon_ref,
        ExifTags.GPS.GPSLongitude: tuple(IFDRational(v) for v in LON_DMS),
    }
    return exif


XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description secret="home"/></rdf:RDF></x:xmpmeta>'


def phone_jpeg(**exif_kwargs: str | int) -> bytes:
    """A JPEG as a phone writes it: EXIF (orientation, GPS, serial), an ICC profile, XMP, a comment."""
    out = io.BytesIO()
    two_halves().save(
        out,
        format="JPEG",
        exif=gps_exif(**exif_kwargs).tobytes(),  # type: ignore[arg-type]
        icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
        xmp=XMP,
        comment=b"taken at home",
    )
    return out.getvalue()


def upload(content: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def jpeg_markers(data: bytes) -> list[int]:
    """The marker bytes of a JPEG's segments up to the first scan (where metadata segments live)."""
    assert data[:2] == b"\xff\xd8"
    markers, i = [], 2
    while i < len(data):
        assert data[i] == 0xFF
        marker = data[i + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        i += 2 + length
    return markers


def assert_no_metadata(data: bytes) -> None:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and image.mode == "RGB"
    assert not image.getexif()
    # Only the structural JFIF header and the progressive flag remain: no exif, icc_profile, xmp,
    # comment, dpi.
    assert set(image.info) <= {
        "jfif",
        "jfif_version",
        "jfif_unit",
        "jfif_density",
        "progressive",
        "progression",
    }
    # And in the bytes: no APP1..APP15 (EXIF, XMP, ICC, Adobe...) nor COM segment.
    assert not [m for m in jpeg_markers(data) if 0xE1 <= m <= 0xEF or m == 0xFE]
    for needle in (b"Exif", b"ICC_PROFILE", b"xmpmeta", b"PhoneMaker", b"SN-123456", b"taken at home"):
        assert needle not in data


def test_a_phone_photo_comes_out_upright_and_without_any_metadata(category, media):
    original = phone_jpeg(orientation=6)  # stored sideways: turn 90° clockwise to view
    before = Image.open(io.BytesIO(original))
    assert (
        before.size == (300, 200)
        and before.getexif()
        and "icc_profile" in before.info
        and "xmp" in before.info
    )

    photo = photo_process(upload=upload(original))

    assert (photo.width, photo.height) == (200, 300)
    assert photo.gps == pytest.approx((LAT, LON), abs=1e-6)
    assert_no_metadata(photo.content)
    result = Image.open(io.BytesIO(photo.content)).convert("RGB")
    assert result.size == (200, 300)
    # Turned clockwise, the left (red) half of the stored pixels is now on top.
    top, bottom = pixel(result, 100, 40), pixel(result, 100, 260)
    assert top[0] > 150 and top[2] < 100, top
    assert bottom[2] > 150 and bottom[0] < 100, bottom

    report = report_submit(category=category, location=None, photos=[upload(original)]).report
    stored = ReportPhoto.objects.get(report=report)
    assert stored.kind == ReportPhoto.Kind.REPORT
    assert (stored.width, stored.height) == (200, 300)
    name = stored.image.name or ""
    assert name.startswith("reports/") and name.endswith(".jpg")
    assert "photo" not in name.rsplit("/", 1)[1]  # the citizen's file name is not kept
    path = media / name
    assert path.is_file()
    assert_no_metadata(path.read_bytes())


def test_photo_gps_suggests_the_pin_and_leaves_the_upload_readable():
    file = upload(phone_jpeg(orientation=1))
    assert photo_gps(upload=file) == pytest.approx((LAT, LON), abs=1e-6)
    # The same upload is then processed as usual.
    assert photo_process(upload=file).gps == pytest.approx((LAT, LON), abs=1e-6)
    south_west = upload(phone_jpeg(lat_ref="S", lon_ref="W"))
    assert photo_gps(upload=south_west) == pytest.approx((-LAT, -LON), abs=1e-6)
    assert photo_gps(upload=upload(encoded(two_halves(), "JPEG"))) is None  # no GPS block
    assert photo_gps(upload=upload(b"not an image at all")) is None


@pytest.mark.parametrize(
    ("fmt", "name", "params"),
    [
        ("PNG", "screenshot.png", {}),
        ("WEBP", "photo.webp", {"quality": 80}),
        *([("HEIF", "IMG_0001.HEIC", {"quality": 80})] if HEIF_SUPPORTED else []),
    ],
)
def test_png_webp_and_heic_are_accepted_as_jpeg(fmt, name, params):
    # With transparency: the transparent part becomes white, not black.
    image = two_halves().convert("RGBA")
    image.paste((0, 0, 0, 0), (0, 0, 300, 20))
    exif = gps_exif()
    data = encoded(image if fmt != "HEIF" else image.convert("RGB"), fmt, exif=exif.tobytes(), **params)
    photo = photo_process(upload=upload(data, name, f"image/{fmt.lower()}"))
    assert (photo.width, photo.height) == (300, 200)
    assert photo.gps == pytest.approx((LAT, LON), abs=1e-6)
    assert_no_metadata(photo.content)
    if fmt != "HEIF":
        assert min(pixel(Image.open(io.BytesIO(photo.content)), 150, 5)) > 240  # white, not black


def test_large_photos_are_shrunk_to_fit(settings):
    settings.OPEN137_PHOTO_MAX_SIDE = 100
    photo = photo_process(upload=upload(encoded(two_halves((1000, 400)), "JPEG")))
    assert (photo.width, photo.height) == (100, 40)
    assert Image.open(io.BytesIO(photo.content)).size == (100, 40)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares a huge image: decoding it would take width*height*3 bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def truncated_jpeg() -> bytes:
    """A photo cut off halfway through its pixel data (an upload interrupted by a flaky network)."""
    data = encoded(Image.effect_noise((300, 200), 64).convert("RGB"), "JPEG")
    start_of_scan = data.index(b"\xff\xda")
    return data[: start_of_scan + (len(data) - start_of_scan) // 2]


REFUSED = {
    "bomb": (lambda: png_declaring(100_000, 100_000), "bomb.png", "too many pixels"),
    "text": (
        lambda: b"Dear municipality,\nthis is not a photo.\n" * 20,
        "photo.jpg",
        "not a photo we can read",
    ),
    "truncated": (lambda: truncated_jpeg(), "photo.jpg", "damaged or incomplete"),
    "gif": (lambda: encoded(two_halves(), "GIF"), "anim.gif", "GIF file"),
    "bmp": (lambda: encoded(two_halves(), "BMP"), "photo.bmp", "BMP file"),
    "tiff": (lambda: encoded(two_halves(), "TIFF"), "scan.jpg", "TIFF file"),
    "empty": (lambda: b"", "photo.jpg", "not a photo we can read"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_bad_files_are_refused_and_nothing_is_written(case, category, media):
    make, name, message = REFUSED[case]
    with pytest.raises(ValidationError) as refused:
        report_submit(
            category=category,
            location=None,
            reporter_phone="09121234567",
            photos=[upload(encoded(two_halves(), "PNG"), "good.png"), upload(make(), name)],
        )
    errors = refused.value.message_dict["photos"]
    assert len(errors) == 1 and message in errors[0] and name in errors[0], errors
    assert not Report.objects.exists()
    assert not ReportPhoto.objects.exists()
    assert not OutboxMessage.objects.exists()
    assert not any(media.rglob("*.jpg"))


def test_pixel_and_byte_limits_come_from_settings(settings):
    image = encoded(two_halves(), "JPEG")  # 300 x 200 = 60 000 pixels
    settings.OPEN137_PHOTO_MAX_PIXELS = 50_000
    with pytest.raises(ValidationError, match="too many pixels"):
        photo_process(upload=upload(image))
    settings.OPEN137_PHOTO_MAX_PIXELS = 59_999 // 2  # beyond twice the limit Pillow itself refuses
    with pytest.raises(ValidationError, match="too many pixels"):
        photo_process(upload=upload(image))
    settings.OPEN137_PHOTO_MAX_PIXELS = 60_000
    assert photo_process(upload=upload(image)).width == 300

    settings.OPEN137_PHOTO_MAX_BYTES = len(image) - 1
    with pytest.raises(ValidationError, match="too large"):
        photo_process(upload=upload(image))
    settings.OPEN137_PHOTO_MAX_BYTES = len(image)
    assert photo_process(upload=upload(image)).height == 200


def test_photo_save_names_files_randomly(category, media):
    report = report_submit(category=category, location=None).report
    photo = photo_process(upload=upload(encoded(two_halves(), "PNG"), "my-house.png"))
    first = photo_save(report=report, photo=photo)
    second = photo_save(report=report, photo=photo, kind=ReportPhoto.Kind.WORK)
    assert first.image.name != second.image.name
    assert second.kind == ReportPhoto.Kind.WORK
    assert [p.pk for p in report.photos.all()] == [first.pk, second.pk]
    assert (media / first.image.name).read_bytes() == photo.content


# --- Converted while shrunk ---------------------------------------------------------------------------


def decoded(photo) -> Image.Image:
    return Image.open(io.BytesIO(photo.content)).convert("RGB")


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "P"])
def test_shrinking_band_by_band_gives_the_whole_image_shrunk(mode, monkeypatch):
    """A large image is converted (here: put on white) and shrunk one band of rows at a time; the
    result is that of converting the whole and shrinking it at once, band edges included."""
    from PIL import ImageChops

    from issues.photos.pixels import BAND_ROWS, shrunk

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40_000_000)  # as _decode sets it (Pillow checks crops)
    rgb = Image.merge("RGB", [Image.effect_noise((1400, 1000), 60) for _ in range(3)])
    if mode == "RGBA":
        image = rgb.convert("RGBA")
        # From opaque at the bottom to clear at the top, across every band.
        image.putalpha(
            Image.linear_gradient("L").resize(image.size).transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        )
        whole = Image.new("RGB", image.size, (255, 255, 255))
        whole.paste(image, mask=image)
    elif mode == "P":
        image = rgb.quantize(64)
        whole = image.convert("RGB")
    else:
        image = whole = rgb
    result = shrunk(image, 500)
    expected = whole.resize((500, 357), Image.Resampling.LANCZOS)
    assert result.mode == "RGB" and result.size == (500, 357) and result.height > BAND_ROWS
    low, high = ImageChops.difference(result, expected).convert("L").getextrema()
    assert high <= 1, high  # the same pixels, to rounding


def test_transparency_comes_out_white():
    image = two_halves((1400, 1000)).convert("RGBA")
    image.paste((0, 0, 0, 0), (0, 0, 1400, 300))
    result = decoded(photo_process(upload=upload(encoded(image, "PNG"), "layers.png")))
    assert min(pixel(result, 100, 20)) > 245  # clear: white, not black
    red = pixel(result, 100, 300)
    assert red[0] > 180 and red[2] < 60, red


def test_a_palette_png_with_a_transparent_colour_comes_out_on_white(settings):
    settings.OPEN137_PHOTO_MAX_SIDE = 100
    image = Image.new("P", (400, 200), 1)
    image.putpalette([0, 0, 0, 220, 20, 20] + [0, 0, 0] * 254)
    image.paste(0, (0, 0, 400, 100))  # colour 0, transparent, on the top half
    photo = photo_process(upload=upload(encoded(image, "PNG", transparency=0), "map.png"))
    result = decoded(photo)
    assert result.size == (100, 50)
    assert min(pixel(result, 50, 10)) > 245
    red = pixel(result, 50, 40)
    assert red[0] > 180 and red[1] < 60, red


def test_a_16_bit_grey_png_keeps_its_greys():
    """Pillow turns 16-bit grey into 8 bits by clipping (everything above 255 white): brought down
    by 257 instead, mid-grey stays mid-grey."""
    image = Image.new("I;16", (300, 200))
    image.paste(0x8080, (0, 0, 150, 200))  # mid-grey on the left
    image.paste(0xFFFF, (150, 0, 300, 200))  # white on the right
    result = decoded(photo_process(upload=upload(encoded(image, "PNG"), "scan.png")))
    assert 120 <= pixel(result, 50, 100)[0] <= 136
    assert pixel(result, 250, 100)[0] > 250


def test_an_unused_alpha_band_is_ignored():
    """A PNG saved in RGBA with every pixel opaque comes out as its RGB pixels."""
    rgba = two_halves().convert("RGBA")
    photo = photo_process(upload=upload(encoded(rgba, "PNG"), "screenshot.png"))
    result = decoded(photo)
    top = pixel(result, 40, 100)
    assert top[0] > 200 and top[2] < 60, top


def test_a_photo_is_decoded_at_a_reduced_scale_and_kept_upright(settings):
    """A JPEG twice the kept size is decoded by libjpeg at half its size, then turned upright."""
    settings.OPEN137_PHOTO_MAX_SIDE = 150
    original = io.BytesIO()
    two_halves((600, 400)).save(original, format="JPEG", exif=gps_exif(orientation=6).tobytes())  # type: ignore[arg-type]
    photo = photo_process(upload=upload(original.getvalue()))
    assert (photo.width, photo.height) == (100, 150)
    assert photo.gps == pytest.approx((LAT, LON), abs=1e-6)
    result = decoded(photo)
    top, bottom = pixel(result, 50, 20), pixel(result, 50, 130)
    assert top[0] > 150 and top[2] < 100, top
    assert bottom[2] > 150 and bottom[0] < 100, bottom


def test_a_jpeg_in_too_many_passes_is_refused():
    """Each scan of a progressive JPEG goes over the whole image again: a file with more scans than
    any encoder writes is refused before it is decoded."""
    data = encoded(two_halves(), "JPEG", progressive=True)
    end = data.rindex(b"\xff\xd9")
    # Empty scans (a refinement of no coefficient) appended before the end: what an attacker sends.
    empty_scan = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00" + b"\x00\x00\x10"
    crafted = data[:end] + empty_scan * 100 + data[end:]
    with pytest.raises(ValidationError, match="too many passes") as refused:
        photo_process(upload=upload(crafted, "many.jpg"))
    assert refused.value.error_dict["photos"][0].code == "photo_too_complex"


# --- No photo left behind ----------------------------------------------------------------------------


def test_a_submission_that_fails_after_its_photos_were_written_leaves_no_file(category, media, monkeypatch):
    """The photos are written inside the report's transaction; when a later step fails (here the
    message to the reporter), the transaction rolls back and the files go with it."""
    from issues import notifications

    def down(**kwargs):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(notifications, "report_created_notify", down)
    with pytest.raises(RuntimeError):
        report_submit(
            category=category,
            location=None,
            reporter_phone="09121234567",
            photos=[upload(encoded(two_halves(), "PNG"), "one.png"), upload(phone_jpeg(), "two.jpg")],
        )
    assert not Report.objects.exists() and not ReportPhoto.objects.exists()
    assert not any(media.rglob("*.jpg"))


def test_photos_kept_by_a_submission_go_when_the_callers_transaction_fails(category, media):
    """Open311 writes its own event after report_submit, in one transaction: if that transaction
    fails, the photos report_submit wrote (in its savepoint) are deleted with it."""
    from django.db import transaction

    from issues.photos import photo_files_undone_on_error

    with pytest.raises(RuntimeError), photo_files_undone_on_error(), transaction.atomic():
        report_submit(category=category, location=None, photos=[upload(phone_jpeg(), "two.jpg")])
        assert any(media.rglob("*.jpg"))
        raise RuntimeError("the caller's next step failed")
    assert not Report.objects.exists() and not ReportPhoto.objects.exists()
    assert not any(media.rglob("*.jpg"))

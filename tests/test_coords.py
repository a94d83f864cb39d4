"""Coordinates as people and clients type them, and Persian text normalising."""

from __future__ import annotations

import math
import re

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from geo.coords import CoordinateError, LatLon, parse_lat_lon
from geo.text import normalize_digits, normalize_persian, to_persian_digits

# --- parse_lat_lon ----------------------------------------------------------------------------------


@pytest.fixture
def english():
    # The wording checks below read the English messages; the city's default language is Persian.
    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        ("36.27", "50.004", (36.27, 50.004)),
        (36.27, 50.004, (36.27, 50.004)),
        (36, 50, (36.0, 50.0)),
        ("  36.27\t", "\n50.004 ", (36.27, 50.004)),
        ("۳۶٫۲۷", "۵۰٫۰۰۴", (36.27, 50.004)),  # Persian digits and decimal separator
        ("۳۶.۲۷", "۵۰.۰۰۴", (36.27, 50.004)),  # Persian digits, ASCII point
        ("٣٦٫٢٧", "٥٠٫٠٠٤", (36.27, 50.004)),  # Arabic-Indic digits
        ("-33.9", "-70.6", (-33.9, -70.6)),
        ("90", "180", (90.0, 180.0)),
        ("-90", "-180", (-90.0, -180.0)),
        ("0", "0", (0.0, 0.0)),
        ("3.627e1", "5.0004E1", (36.27, 50.004)),
    ],
)
def test_valid_coordinates(lat, lon, expected):
    parsed = parse_lat_lon(lat, lon)
    assert (parsed.lat, parsed.lon) == pytest.approx(expected)
    assert isinstance(parsed.lat, float) and isinstance(parsed.lon, float)


@pytest.mark.parametrize(
    ("lat", "lon", "field", "words"),
    [
        (None, "50", "lat", "required"),
        ("", "50", "lat", "required"),
        ("   ", "50", "lat", "required"),
        ("36", None, "lon", "required"),
        ("36", "", "lon", "required"),
        ("abc", "50", "lat", "abc"),
        ("36", "50,004", "lon", "50,004"),
        ("36", "۵۰/۰۰۴", "lon", "decimal degrees"),
        ("nan", "50", "lat", "finite"),
        (float("nan"), "50", "lat", "finite"),
        ("36", "inf", "lon", "finite"),
        ("36", float("-inf"), "lon", "finite"),
        ("1e400", "50", "lat", "finite"),
        (True, "50", "lat", "number"),
        ("36", False, "lon", "number"),
        ([36], "50", "lat", "number"),
        ({"lat": 36}, "50", "lat", "number"),
        ("9" * 41, "50", "lat", "too long"),
        ("90.000001", "50", "lat", "between -90 and 90"),
        ("-90.5", "50", "lat", "between -90 and 90"),
        ("36", "180.000001", "lon", "between -180 and 180"),
        ("36", "-181", "lon", "between -180 and 180"),
        # The first wrong value is named when both are wrong.
        ("x", "y", "lat", "x"),
        ("91", "181", "lat", "between -90 and 90"),
    ],
)
def test_invalid_coordinates_name_the_field(english, lat, lon, field, words):
    with pytest.raises(CoordinateError) as excinfo:
        parse_lat_lon(lat, lon)
    assert excinfo.value.field == field
    assert field in excinfo.value.message
    assert words in excinfo.value.message
    assert str(excinfo.value) == excinfo.value.message
    assert isinstance(excinfo.value, ValueError)


@pytest.mark.parametrize(
    ("lat", "lon", "field"), [("", "50", "lat"), ("36", "abc", "lon"), ("91", "50", "lat")]
)
def test_messages_are_in_persian_by_default_and_still_name_the_field(lat, lon, field):
    with translation.override("en"), pytest.raises(CoordinateError) as english:
        parse_lat_lon(lat, lon)
    with translation.override("fa"), pytest.raises(CoordinateError) as persian:
        parse_lat_lon(lat, lon)
    assert persian.value.message != english.value.message
    assert re.search("[\u0600-\u06ff]", persian.value.message)
    assert field in persian.value.message
    assert persian.value.field == english.value.field == field


def test_swapped_reading():
    assert LatLon(lat=36.27, lon=50.0).swapped == LatLon(lat=50.0, lon=36.27)
    assert LatLon(lat=36.27, lon=120.0).swapped is None  # 120 cannot be a latitude
    assert LatLon(lat=-10.0, lon=-90.0).swapped == LatLon(lat=-90.0, lon=-10.0)


def test_parsed_values_are_finite_floats_for_big_integers():
    with pytest.raises(CoordinateError) as excinfo:
        parse_lat_lon(10**400, 50)
    assert excinfo.value.field == "lat"
    parsed = parse_lat_lon(-90, 180)
    assert math.isfinite(parsed.lat) and math.isfinite(parsed.lon)


@pytest.mark.parametrize(
    ("lat", "lon", "field", "shown"),
    [
        ("\ud800", "50", "lat", "\\ud800"),  # half a surrogate pair, from a JSON "\ud800" escape
        ("36", "50.0\udfff", "lon", "50.0\\udfff"),
        ("\udc00\ud800", "50", "lat", "\\udc00\\ud800"),  # both halves, in the wrong order
    ],
)
def test_text_that_is_not_valid_unicode_is_refused_and_echoed_escaped(english, lat, lon, field, shown):
    with pytest.raises(CoordinateError) as excinfo:
        parse_lat_lon(lat, lon)
    message = excinfo.value.message
    assert excinfo.value.field == field
    assert shown in message
    message.encode("utf-8")  # a message every response can carry (JSON, XML, a page)


@given(st.text(max_size=60), st.text(max_size=60))
@hsettings(max_examples=300)
def test_any_text_gives_a_point_or_an_encodable_message(lat, lon):
    try:
        parsed = parse_lat_lon(lat, lon)
    except CoordinateError as exc:
        assert exc.field in ("lat", "lon")
        exc.message.encode("utf-8")
    else:
        assert -90 <= parsed.lat <= 90 and -180 <= parsed.lon <= 180


# --- Persian text -------------------------------------------------------------------------------------


def test_arabic_and_persian_letters_compare_equal():
    # The same word typed on an Arabic keyboard (ي, ك) and on a Persian one (ی, ک).
    assert normalize_persian("كيوسك") == normalize_persian("کیوسک") == "کیوسک"
    assert normalize_persian("ى") == "ی"
    assert normalize_persian("مدرسة") == normalize_persian("مدرسه")
    assert normalize_persian("خانۀ") == "خانه"
    assert normalize_persian("أحمد إمام ٱب") == "احمد امام اب"


def test_digits_become_ascii():
    assert normalize_persian("خیابان ۱۲۳") == "خیابان 123"
    assert normalize_persian("کوچه ١٢٣") == "کوچه 123"
    assert normalize_digits("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩") == "01234567890123456789"
    assert to_persian_digits("137") == "۱۳۷"
    assert normalize_digits(to_persian_digits("0123456789")) == "0123456789"


def test_zwnj_and_spaces():
    # The zero-width non-joiner is used inconsistently; it counts as a space.
    assert normalize_persian("می\u200cروم") == normalize_persian("می روم") == "می روم"
    assert normalize_persian("کتاب\u200cها") == "کتاب ها"
    assert normalize_persian("  چراغ \u00a0  برق\u200c\u200c  ") == "چراغ برق"
    assert normalize_persian("a\u200db\u200ec\u200fd") == "a b c d"


def test_marks_and_case():
    assert normalize_persian("مُحَمَّد") == "محمد"  # harakat dropped
    assert normalize_persian("کـــوچه") == "کوچه"  # tatweel dropped
    assert normalize_persian("Pothole ON Street") == "pothole on street"
    assert normalize_persian("") == ""


def test_normalising_is_idempotent():
    text = "خيابانِ  ۱۲ ك\u200cوچه‌ي Test"
    once = normalize_persian(text)
    assert normalize_persian(once) == once


# --- Property-based: any input is a point in range or a CoordinateError naming lat or lon ---------------

_anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**400),
    st.floats(),
    st.text(max_size=50),
    st.from_regex(r"\s*-?[0-9۰-۹٠-٩]{1,3}([.٫][0-9۰-۹٠-٩]{0,8})?\s*", fullmatch=True),
)


@hsettings(max_examples=300, deadline=None)
@given(lat=_anything, lon=_anything)
def test_parse_lat_lon_never_raises_anything_else(lat, lon):
    try:
        parsed = parse_lat_lon(lat, lon)
    except CoordinateError as exc:
        assert exc.field in ("lat", "lon")
        assert exc.message
    else:
        assert -90 <= parsed.lat <= 90 and -180 <= parsed.lon <= 180
        assert math.isfinite(parsed.lat) and math.isfinite(parsed.lon)

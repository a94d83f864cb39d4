"""The gazetteer: `import_places` from a real file (the 150 Tehran metro stations of the shared
gazetteer, tests/data/tehran_metro_stations.geojson), its errors, and `place_search` across places
and district names with the spellings people type: Arabic or Persian letters, with or without the
ZWNJ or the madda, Persian, Arabic or ASCII digits."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.management import CommandError, call_command

from geo.srid import GEO_SRID
from geo.text import normalize_persian
from issues.models import Place, PlaceKind
from issues.places.selectors import EXACT, PART, PREFIX, WORD, place_search
from issues.places.services import place_create
from tests.conftest import D, rect

pytestmark = pytest.mark.django_db

GAZETTEER = Path(settings.BASE_DIR) / "tests" / "data" / "tehran_metro_stations.geojson"
STATIONS = 150


def summary(out: str) -> dict[str, str]:
    """The command's summary lines as label -> value."""
    rows = [re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in out.splitlines()]
    return {row[0]: row[1] for row in rows if len(row) == 2}


def import_places(*args: str) -> str:
    out = io.StringIO()
    call_command("import_places", *args, stdout=out)
    return out.getvalue()


def stations(*extra: str) -> str:
    return import_places(
        str(GAZETTEER), "--name-field", "name_fa", "--name-en-field", "name_en", "--kind", "landmark", *extra
    )


def geojson(tmp_path: Path, features: list[dict], *, crs: str | None = None, name: str = "places") -> str:
    collection: dict = {"type": "FeatureCollection", "name": name, "features": features}
    if crs:
        collection["crs"] = {"type": "name", "properties": {"name": crs}}
    path = tmp_path / f"{name}.geojson"
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    return str(path)


def feature(geometry: dict, **properties: object) -> dict:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


# --- normalising --------------------------------------------------------------------------------------


def test_the_spelling_variants_fold_together() -> None:
    # Arabic and Persian yeh and kaf, alef with madda or hamza, hamza seats, ZWNJ, harakat, digits.
    assert normalize_persian("شهيد بهشتي") == normalize_persian("شهید بهشتی")
    assert normalize_persian("كرج") == normalize_persian("کرج")
    assert normalize_persian("میدان آزادی") == normalize_persian("ميدان ازادي") == "میدان ازادی"
    assert normalize_persian("آیت‌الله") == normalize_persian("ایت الله")
    assert normalize_persian("مسئول") == normalize_persian("مسيول")
    assert normalize_persian("مؤسسه") == normalize_persian("موسسه")
    assert normalize_persian("پایانه ۴") == normalize_persian("پایانه ٤") == "پایانه 4"
    assert normalize_persian("حُسِین\u200bآباد") == "حسین اباد"


# --- import_places ------------------------------------------------------------------------------------


def test_a_dry_run_reads_the_real_gazetteer_and_writes_nothing() -> None:
    out = stations()
    lines = summary(out)
    assert lines["features read"] == lines["places new"] == str(STATIONS)
    assert lines["layer"] == "tehran_metro_stations (GeoJSON, EPSG:4326 -> EPSG:4326)"
    assert lines["by kind"] == f"landmark: {STATIONS}"
    assert "Dry run: nothing written" in out
    assert Place.objects.count() == 0


def test_commit_writes_every_station_once_and_a_second_import_adds_nothing() -> None:
    out = stations("--commit")
    assert f"{STATIONS} place(s) written" in out
    assert Place.objects.count() == STATIONS
    karaj = Place.objects.get(name_en="Karaj")
    assert karaj.name_fa == "کرج" and karaj.kind == PlaceKind.LANDMARK
    assert (round(karaj.location.x, 4), round(karaj.location.y, 4)) == (51.0027, 35.787)
    assert karaj.name_search == "کرج\nkaraj"
    assert karaj.source == "tehran_metro_stations.geojson, layer tehran_metro_stations"

    again = stations("--commit")
    assert summary(again)["already there"] == str(STATIONS)
    assert "0 place(s) written" in again
    assert Place.objects.count() == STATIONS


def test_a_wrong_field_or_layer_is_named_with_what_the_file_has(english) -> None:
    with pytest.raises(CommandError) as field:
        import_places(str(GAZETTEER), "--name-field", "name_persian")
    assert "name_persian" in str(field.value) and "name_fa, name_en" in str(field.value)
    with pytest.raises(CommandError) as en_field:
        import_places(str(GAZETTEER), "--name-field", "name_fa", "--kind-field", "type")
    assert "“type”" in str(en_field.value)
    with pytest.raises(CommandError) as layer:
        import_places(str(GAZETTEER), "--name-field", "name_fa", "--layer", "stations")
    assert "“stations”" in str(layer.value) and "tehran_metro_stations" in str(layer.value)
    with pytest.raises(CommandError, match="File not found"):
        import_places("/nonexistent/places.gpkg", "--name-field", "name")
    assert Place.objects.count() == 0


def test_kinds_from_a_field_in_english_or_persian_and_unknown_values_refused(tmp_path, english) -> None:
    point = {"type": "Point", "coordinates": [50.004, 36.269]}
    path = geojson(
        tmp_path,
        [
            feature(point, name="سبزه‌میدان", type="میدان"),
            feature(point, name="خیابان سپه", type="خیابان"),
            feature(point, name="محله دباغان", type="neighborhood"),
            feature(point, name="بازار", type=""),
            feature(point, name="", type="street"),
        ],
    )
    out = import_places(path, "--name-field", "name", "--kind-field", "type", "--commit")
    kinds = dict(Place.objects.values_list("name_fa", "kind"))
    assert kinds == {
        "سبزه‌میدان": PlaceKind.LANDMARK,
        "خیابان سپه": PlaceKind.STREET,
        "محله دباغان": PlaceKind.NEIGHBOURHOOD,
        "بازار": PlaceKind.OTHER,  # no value: the --kind default
    }
    assert summary(out)["skipped: no name in “name”"] == "1"

    bad = geojson(tmp_path, [feature(point, name="ایستگاه", type="bus_stop")], name="bad")
    with pytest.raises(CommandError) as error:
        import_places(bad, "--name-field", "name", "--kind-field", "type", "--commit")
    assert "“type”" in str(error.value) and "“bus_stop” (1)" in str(error.value)
    assert Place.objects.count() == 4


def test_lines_and_areas_become_a_point_on_them_and_utm_is_reprojected(tmp_path, english) -> None:
    utm = Point(50.004, 36.269, srid=GEO_SRID).transform(32639, clone=True)
    assert isinstance(utm, Point)
    path = geojson(
        tmp_path,
        [feature({"type": "Point", "coordinates": [utm.x, utm.y]}, name="سبزه میدان")],
        crs="urn:ogc:def:crs:EPSG::32639",
        name="utm",
    )
    import_places(path, "--name-field", "name", "--commit")
    place = Place.objects.get()
    assert place.location.distance(Point(50.004, 36.269)) < 1e-6

    shapes = geojson(
        tmp_path,
        [
            feature(
                {"type": "LineString", "coordinates": [[50.0, 36.26], [50.01, 36.26]]}, name="خیابان الف"
            ),
            feature(
                {
                    "type": "Polygon",
                    "coordinates": [
                        [[50.0, 36.27], [50.01, 36.27], [50.01, 36.28], [50.0, 36.28], [50.0, 36.27]]
                    ],
                },
                name="محله ب",
            ),
        ],
        name="shapes",
    )
    import_places(shapes, "--name-field", "name", "--kind", "street", "--commit")
    street = Place.objects.get(name_fa="خیابان الف")
    assert street.location.y == pytest.approx(36.26) and 50.0 <= street.location.x <= 50.01
    area = Place.objects.get(name_fa="محله ب")
    assert 50.0 < area.location.x < 50.01 and 36.27 < area.location.y < 36.28

    # Degrees in a file that says metres: refused, with what to do.
    wrong = geojson(
        tmp_path,
        [feature({"type": "Point", "coordinates": [50.004, 36.269]}, name="x")],
        crs="urn:ogc:def:crs:EPSG::32639",
        name="wrong",
    )
    with pytest.raises(CommandError, match="--srid 4326"):
        import_places(wrong, "--name-field", "name")


# --- place_search -------------------------------------------------------------------------------------


@pytest.fixture
def gazetteer() -> None:
    stations("--commit")


def names(text: str, limit: int = 10) -> list[str]:
    return [m.name_fa for m in place_search(text=text, limit=limit)]


def test_arabic_letters_find_the_persian_names(gazetteer) -> None:
    assert names("كرج")[0] == "کرج"
    assert names("شهيد بهشتي")[0] == "شهید بهشتی"
    assert "دکتر شریعتی" in names("دكتر شريعتي")


def test_zwnj_space_or_nothing_find_the_same_place(gazetteer) -> None:
    for typed in ("حسین‌آباد", "حسین آباد", "حسینآباد", "حسين اباد"):
        assert names(typed)[0] == "حسین‌آباد", typed
    assert names("علی اباد")[0] == "علی‌آباد"
    # Without the madda too.
    assert {"میدان آزادی", "ورزشگاه آزادی"} <= set(names("ازادی"))


def test_persian_arabic_or_ascii_digits(gazetteer) -> None:
    for typed in ("پایانه ۴", "پایانه ٤", "پایانه 4"):
        assert names(typed)[0] == "پایانه ۴ و ۶ فرودگاه مهرآباد", typed
    assert names("پایانه 1")[0] == "پایانه ۱ و ۲ فرودگاه مهرآباد"


def test_ranking_whole_name_then_start_then_word_then_part(gazetteer) -> None:
    found = place_search(text="امام خمینی", limit=10)
    assert found[0].name_fa == "امام خمینی" and found[0].rank == EXACT
    assert {m.name_fa for m in found if m.rank == WORD} >= {"مصلی امام خمینی", "فرودگاه امام خمینی"}

    found = place_search(text="شهر", limit=40)
    ranks = [m.rank for m in found]
    assert ranks == sorted(ranks)
    by_name = {m.name_fa: m.rank for m in found}
    assert by_name["شهر ری"] == by_name["شهرک اکباتان"] == PREFIX
    assert by_name["نمایشگاه شهر آفتاب"] == by_name["کیان شهر"] == WORD
    assert by_name["محمدشهر"] == by_name["گلشهر"] == PART
    # At one rank, the shorter name first.
    prefixes = [m.name_fa for m in found if m.rank == PREFIX]
    assert [len(n) for n in prefixes] == sorted(len(n) for n in prefixes)
    assert len(place_search(text="شهر", limit=3)) == 3
    assert place_search(text="   ") == [] and place_search(text="\u200c") == []
    assert place_search(text="xyz-nowhere") == []


def test_district_names_are_found_with_the_places(boundary_set_factory) -> None:
    boundary_set_factory(
        [
            D("R7", rect(50.00, 36.26, 50.02, 36.28), name_fa="منطقه ۷", name_en="Region 7"),
            D("R8", rect(50.02, 36.26, 50.04, 36.28), name_fa="منطقه ۸", name_en="Region 8"),
        ]
    )
    place_create(
        name_fa="بوستان منطقه ۷", kind=PlaceKind.LANDMARK, location=Point(50.01, 36.27, srid=GEO_SRID)
    )
    found = place_search(text="منطقه 7")
    assert [(m.source, m.name_fa, m.rank) for m in found] == [
        ("district", "منطقه ۷", EXACT),
        ("place", "بوستان منطقه ۷", WORD),
    ]
    district = found[0]
    assert district.code == "R7" and district.kind == "region"
    assert 50.00 <= district.lon <= 50.02 and 36.26 <= district.lat <= 36.28
    # By the English name too, and a prefix of a district's name.
    assert place_search(text="region 8")[0].code == "R8"
    assert {m.code for m in place_search(text="منطقه")} == {"R7", "R8", ""}


def test_the_admin_edits_a_place_and_searches_any_spelling(admin_client) -> None:
    response = admin_client.post(
        "/admin/issues/place/add/",
        {
            "name_fa": " بازار قزوین ",
            "name_en": "Qazvin bazaar",
            "kind": "landmark",
            "location": json.dumps({"type": "Point", "coordinates": [50.0, 36.27]}),
            "source": "survey",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    place = Place.objects.get()
    assert place.name_fa == "بازار قزوین" and place.name_search == "بازار قزوین\nqazvin bazaar"
    listing = admin_client.get("/admin/issues/place/", {"q": "قزوين"})
    assert listing.status_code == 200 and "بازار قزوین" in listing.content.decode()
    empty = admin_client.post(
        "/admin/issues/place/add/",
        {
            "name_fa": " ",
            "kind": "landmark",
            "location": json.dumps({"type": "Point", "coordinates": [50.0, 36.27]}),
        },
    )
    assert empty.status_code == 200 and Place.objects.count() == 1

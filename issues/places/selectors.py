"""Finding a place by what the caller calls it: the gazetteer's places and the districts' names,
matched on normalised spelling (geo.text.normalize_persian: ي/ی, ك/ک, آ/ا, hamza seats, ZWNJ,
diacritics and Persian/Arabic digits all compare equal) and ranked: the whole name first, then
names that start with the text, then names with a word that starts with it, then any part. Spaces
are also ignored as a last resort, since a ZWNJ is as often left out as typed (سبزه‌میدان,
سبزه میدان, سبزهمیدان)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import Case, IntegerField, Q, TextField, Value, When
from django.db.models.functions import Length, Replace

from districts.selectors import district_search
from geo.text import normalize_persian
from issues.places.models import Place

# Rows read from the table per search, those starting with the text first: more than any page
# shows, few enough that ranking them in Python costs nothing.
_CANDIDATES = 300

EXACT, PREFIX, WORD, PART = 0, 1, 2, 3


@dataclass(frozen=True)
class PlaceMatch:
    # "place": a row of the gazetteer; "district": a district of the active boundary set.
    source: str
    # A PlaceKind value for a place; "region" or "sub_district" for a district.
    kind: str
    name_fa: str
    name_en: str
    lon: float
    lat: float
    rank: int
    place_id: int | None = None
    code: str = ""  # the district's code


def _rank(wanted: str, names: list[str]) -> int | None:
    """How well `wanted` (normalised) matches any of the normalised `names`; None: not at all."""
    compact = wanted.replace(" ", "")
    if any(n == wanted or n.replace(" ", "") == compact for n in names):
        return EXACT
    if any(n.startswith(wanted) for n in names):
        return PREFIX
    word_start = re.compile(r"(?<!\w)" + re.escape(wanted))
    if any(word_start.search(n) for n in names):
        return WORD
    if any(wanted in n or compact in n.replace(" ", "") for n in names):
        return PART
    return None


def _place_matches(wanted: str) -> list[PlaceMatch]:
    compact = wanted.replace(" ", "")
    rows = (
        Place.objects.annotate(
            compact=Replace("name_search", Value(" "), Value(""), output_field=TextField())
        )
        .filter(Q(name_search__contains=wanted) | Q(compact__contains=compact))
        .annotate(
            starts=Case(
                When(Q(name_search__startswith=wanted) | Q(name_search__contains="\n" + wanted), then=0),
                default=1,
                output_field=IntegerField(),
            )
        )
        .order_by("starts", Length("name_fa"), "id")
        .values_list("id", "kind", "name_fa", "name_en", "name_search", "location")[:_CANDIDATES]
    )
    matches = []
    for pk, kind, name_fa, name_en, name_search, location in rows:
        rank = _rank(wanted, name_search.split("\n"))
        if rank is not None:
            matches.append(
                PlaceMatch("place", kind, name_fa, name_en, location.x, location.y, rank, place_id=pk)
            )
    return matches


_DISTRICT_KINDS = {1: "region", 2: "sub_district"}


def place_search(*, text: str, limit: int = 10) -> list[PlaceMatch]:
    """Places and districts whose name matches `text`, best first (see the module's docstring); at
    equal rank a place before a district (it is the more precise), then the shorter name."""
    wanted = normalize_persian(text or "")[:200]
    if not wanted or limit <= 0:
        return []
    matches = _place_matches(wanted)
    for district in district_search(text=wanted, limit=limit):
        names = [normalize_persian(n) for n in (district.name_fa, district.name_en, district.code) if n]
        rank = _rank(wanted, names)
        matches.append(
            PlaceMatch(
                "district",
                _DISTRICT_KINDS.get(district.level, "district"),
                district.name_fa,
                district.name_en,
                district.lon,
                district.lat,
                PART if rank is None else rank,
                code=district.code,
            )
        )
    matches.sort(key=lambda m: (m.rank, m.source != "place", len(m.name_fa), m.name_fa))
    return matches[:limit]

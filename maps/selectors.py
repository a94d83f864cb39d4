"""Reads for the citizen's pages, under the names the pages use. maps has no tables of its own and
runs no SQL: it reads through the lower apps' selectors (districts, issues), as the architecture
asks. Finding a district by the name a citizen types (an old phone, no GPS, a screen reader, a call
read out by an operator) is districts.selectors.district_search."""

from __future__ import annotations

from districts.selectors import DistrictSearchMatch, district_search

# A district found by its name, with the point a report placed by that name gets.
PlaceMatch = DistrictSearchMatch


def place_search(*, query: str, limit: int = 10) -> list[PlaceMatch]:
    """The districts matching what the citizen typed in the "place" box, best first."""
    return district_search(text=query, limit=limit)

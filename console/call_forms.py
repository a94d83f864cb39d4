"""The 137 call screen's form: what the operator types while the caller speaks. It parses the
input (the pin, or a place typed by name, or "no location"); the rules of a report (lengths, the
phone and e-mail, whether the category needs a location) are report_submit's, whose errors the
page puts next to the fields they are about."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib.gis.geos import Point
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from districts.selectors import point_from_lat_lon
from geo.coords import CoordinateError
from geo.srid import GEO_SRID
from issues.models import MessageKind
from issues.places.selectors import PlaceMatch, place_search
from issues.validation import NAME_MAX

DESCRIPTION_MAX = 4000
PLACE_MAX = 200


def category_choices(categories: Sequence[dict[str, Any]]) -> list[tuple[str, Any]]:
    """The categories grouped by department (an <optgroup> each), named in the page's language."""
    english = (get_language() or "fa").startswith("en")
    groups: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    for c in categories:
        department = c["department"]
        label = (department["name_en"] if english else "") or department["name_fa"]
        name = (c["name_en"] if english else "") or c["name_fa"]
        groups.setdefault(department["code"], (label, []))[1].append((c["code"], name))
    return [("", "—"), *[(label, options) for label, options in groups.values()]]


class CategorySelect(forms.Select):
    """A <select> whose options say whether their category needs a location and its kind of message,
    so the page can say "no location" is allowed without asking the server."""

    def __init__(self, *args: Any, categories: dict[str, dict[str, Any]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.categories = categories or {}

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, *args, **kwargs)
        category = self.categories.get(str(value))
        if category is not None:
            option["attrs"]["data-location-required"] = "1" if category["location_required"] else "0"
            option["attrs"]["data-kind"] = category["kind"]
        return option


class CallForm(forms.Form):
    reporter_phone = forms.CharField(
        label=_("Caller's phone"),
        required=False,
        max_length=40,
        widget=forms.TextInput(
            attrs={"type": "tel", "inputmode": "tel", "dir": "ltr", "autocomplete": "off", "autofocus": True}
        ),
        help_text=_("The tracking code is sent to this number by SMS."),
    )
    reporter_name = forms.CharField(
        label=_("Caller's name"), required=False, widget=forms.TextInput(attrs={"maxlength": NAME_MAX})
    )
    reporter_email = forms.CharField(
        label=_("Caller's e-mail"), required=False, widget=forms.EmailInput(attrs={"dir": "ltr"})
    )
    consent_contact = forms.BooleanField(label=_("The caller agrees to be called back"), required=False)
    category = forms.ChoiceField(label=_("Category"))
    kind = forms.ChoiceField(
        label=_("Kind of message"),
        required=False,
        choices=[("", _("As the category says")), *MessageKind.choices],
    )
    description = forms.CharField(
        label=_("What the caller says"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": DESCRIPTION_MAX}),
    )
    place = forms.CharField(
        label=_("Place"),
        required=False,
        max_length=PLACE_MAX,
        help_text=_("A neighbourhood, landmark, street or district: the map moves there."),
    )
    address = forms.CharField(
        label=_("Address as the caller gives it"),
        required=False,
        max_length=300,
        help_text=_("Kept with the report for the unit (a house number, a landmark)."),
    )
    lat = forms.CharField(required=False, widget=forms.HiddenInput)
    lon = forms.CharField(required=False, widget=forms.HiddenInput)
    no_location = forms.BooleanField(
        label=_("No location (an appreciation, a complaint about staff, a suggestion)"), required=False
    )
    idempotency_key = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args: Any, categories: Sequence[dict[str, Any]], **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.categories = {c["code"]: c for c in categories}
        field = self.fields["category"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = category_choices(categories)
        field.widget = CategorySelect(choices=field.choices, categories=self.categories)
        self.fields["place"].widget.attrs.update(
            {"autocomplete": "off", "role": "combobox", "aria-autocomplete": "list", "aria-expanded": "false"}
        )
        self.fields["reporter_name"].widget.attrs["autocomplete"] = "off"
        # Filled in by clean(): the point, and the place it was taken from when there was no pin.
        self.location: Point | None = None
        self.place_match: PlaceMatch | None = None

    @staticmethod
    def new_idempotency_key() -> str:
        return str(uuid.uuid4())

    def clean_idempotency_key(self) -> str | None:
        value = self.cleaned_data.get("idempotency_key") or ""
        try:
            return str(uuid.UUID(value))
        except ValueError:
            return None

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        category = self.categories.get(data.get("category") or "")
        lat, lon = (data.get("lat") or "").strip(), (data.get("lon") or "").strip()
        place = (data.get("place") or "").strip()
        if data.get("no_location"):
            if category is not None and category["location_required"]:
                self.add_error(
                    "no_location",
                    _("This category needs a location: put the pin on the map or type a place."),
                )
            return data
        if lat or lon:
            # The pin wins over the typed place: the operator put it where the caller said.
            try:
                self.location = point_from_lat_lon(lat=lat, lon=lon)
            except CoordinateError as exc:
                self.add_error("place", exc.message)
        elif place:
            matches = place_search(text=place, limit=2)
            if not matches:
                self.add_error(
                    "place",
                    _(
                        "No place or district is called “%(place)s”. Check the spelling or put the pin on the map."
                    )
                    % {"place": place[:60]},
                )
            else:
                self.place_match = matches[0]
                self.location = Point(matches[0].lon, matches[0].lat, srid=GEO_SRID)
        elif category is not None and category["location_required"]:
            self.add_error(
                "place", _("This category needs a location: put the pin on the map or type a place.")
            )
        return data

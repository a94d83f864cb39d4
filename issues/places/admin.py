"""The gazetteer in the admin, on django-leaflet's map widget (Leaflet ships in the wheel: the map
works offline). Saves go through the service, so the search key follows the names."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from leaflet.admin import LeafletGeoAdmin

from geo.text import normalize_persian
from issues.places.models import Place
from issues.places.services import place_clean, place_save


class PlaceForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            place_clean(
                name_fa=(data.get("name_fa") or "").strip(),
                name_en=(data.get("name_en") or "").strip(),
                kind=data.get("kind") or "",
                location=data.get("location"),
                source=data.get("source") or "",
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                if field in self.fields and field not in self.errors:
                    self.add_error(field, errors)
        return data


@admin.register(Place)
class PlaceAdmin(LeafletGeoAdmin):
    form = PlaceForm
    list_display = ["name_fa", "name_en", "kind", "source", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name_fa", "name_en", "source"]
    readonly_fields = ["created_at"]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Place], search_term: str
    ) -> tuple[QuerySet[Place], bool]:
        # The admin's search too finds a place however its name is typed (ي/ی, ك/ک, ZWNJ, digits).
        found, duplicates = super().get_search_results(request, queryset, search_term)
        wanted = normalize_persian(search_term)
        if wanted:
            found = found | queryset.filter(name_search__contains=wanted)
        return found, duplicates

    def save_model(self, request: HttpRequest, obj: Place, form: Any, change: bool) -> None:
        place_save(place=obj)

"""Participation points in the Django admin: created, edited and retired through the services, so
each change is an event and the district follows the location."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.gis.admin import GISModelAdmin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from participation import services
from participation.models import ParticipationPoint, PointEvent


class PointEventInline(admin.TabularInline):
    model = PointEvent
    extra = 0
    can_delete = False
    fields = ("at", "kind", "actor", "actor_label", "data")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


_EDITED = ("kind", "name_fa", "name_en", "location", "notes")


class ParticipationPointForm(forms.ModelForm):
    """The admin's form checks a point with the services' own rules, so a refusal (notes too long,
    a point off the map) is shown next to its field instead of failing in save_model."""

    class Meta:
        model = ParticipationPoint
        fields = list(_EDITED)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors:
            values = {k: cleaned.get(k) if cleaned.get(k) is not None else "" for k in _EDITED}
            try:
                cleaned.update(services.point_fields_clean(**values))
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


@admin.register(ParticipationPoint)
class ParticipationPointAdmin(GISModelAdmin):
    list_display = ("name_fa", "kind", "status", "empty_reports", "district", "retired_at")
    list_filter = ("kind", "status")
    search_fields = ("name_fa", "name_en")
    fields = ("kind", "name_fa", "name_en", "location", "notes", "status", "district", "empty_reports")
    readonly_fields = ("status", "district", "empty_reports")
    form = ParticipationPointForm
    inlines = [PointEventInline]
    actions = ["restock", "retire"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Retire instead: the history stays.
        return False

    def save_model(self, request: HttpRequest, obj: ParticipationPoint, form: Any, change: bool) -> None:
        values = {k: form.cleaned_data[k] for k in _EDITED}
        if change:
            saved = services.point_update(point=obj, actor=request.user, **values)  # type: ignore[arg-type]
        else:
            saved = services.point_create(actor=request.user, **values)  # type: ignore[arg-type]
        obj.pk = saved.pk
        obj.refresh_from_db()

    @admin.action(description=_("Mark as restocked"))
    def restock(self, request: HttpRequest, queryset: QuerySet[ParticipationPoint]) -> None:
        for point in queryset.filter(retired_at__isnull=True):
            services.point_restock(point=point, actor=request.user)  # type: ignore[arg-type]
        messages.success(request, _("Restocked."))

    @admin.action(description=_("Retire (remove from the map)"))
    def retire(self, request: HttpRequest, queryset: QuerySet[ParticipationPoint]) -> None:
        for point in queryset:
            services.point_retire(point=point, actor=request.user)  # type: ignore[arg-type]
        messages.success(request, _("Retired."))

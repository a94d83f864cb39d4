from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from leaflet.admin import LeafletGeoAdmin

from issues.models import ApiKey, Category, Report, ReportEvent
from issues.open311.services import api_key_create, api_keys_deactivate


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["code", "name_fa", "name_en", "department", "kind", "location_required", "active"]
    list_filter = ["department", "kind", "active"]
    search_fields = ["code", "name_fa", "name_en"]


class ReportEventInline(admin.TabularInline):
    model = ReportEvent
    extra = 0
    can_delete = False
    readonly_fields = [
        "kind",
        "actor",
        "actor_label",
        "at",
        "from_status",
        "to_status",
        "note",
        "public",
        "data",
    ]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False  # history is append-only, written by the services


@admin.register(Report)
class ReportAdmin(LeafletGeoAdmin):
    list_display = [
        "tracking_code",
        "category",
        "status",
        "district",
        "service_area",
        "routing_rule",
        "created_at",
    ]
    list_filter = ["status", "routing_rule", "channel", "category__department"]
    search_fields = ["tracking_code", "description"]
    readonly_fields = [
        "tracking_code",
        "district",
        "service_area",
        "routing_rule",
        "routing_distance_m",
        "routed_at",
        "status",
        "created_at",
        "updated_at",
    ]
    inlines = [ReportEventInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys of Open311 clients. Only a key's SHA-256 is stored: a new key is shown once, in the
    message after it is created; afterwards only its first characters (the prefix) identify it."""

    list_display = ["name", "prefix", "active", "created_at", "last_used_at"]
    list_filter = ["active"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    actions = ["deactivate"]

    def get_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        if obj is None:
            return ["name"]  # the key itself is generated, never typed
        return ["name", "prefix", "active", "created_at", "last_used_at"]

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        if change:
            super().save_model(request, obj, form, change)
            return
        created, key = api_key_create(name=obj.name)
        # The admin goes on with `obj` (log entry, redirect): make it the saved key.
        for field in ("pk", "prefix", "key_hash", "active", "created_at", "last_used_at"):
            setattr(obj, field, getattr(created, field))
        obj._state.adding = False
        obj._state.db = created._state.db
        messages.warning(
            request,
            _(
                "The new API key for “%(name)s” is %(key)s. Copy it now: it is not stored and will not be shown again."
            )
            % {"name": created.name, "key": key},
        )

    @admin.action(description=gettext_lazy("Deactivate the selected keys"))
    def deactivate(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = api_keys_deactivate(ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, _("%(n)d key(s) deactivated.") % {"n": count}, messages.SUCCESS)

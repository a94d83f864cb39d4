from __future__ import annotations

from django.contrib import admin
from leaflet.admin import LeafletGeoAdmin

from issues.models import Category, Report, ReportEvent


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

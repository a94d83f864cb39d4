"""GeoDjango admin with django-leaflet's map widget: Leaflet ships in the wheel, so the admin map
works offline. Saves go through the services, so pieces are rebuilt with every boundary."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest
from leaflet.admin import LeafletGeoAdmin

from districts import services
from districts.models import BoundarySet, Department, District, ServiceArea


@admin.register(BoundarySet)
class BoundarySetAdmin(admin.ModelAdmin):
    list_display = ["name", "active", "created_at", "activated_at", "source"]
    readonly_fields = ["active", "created_at", "activated_at"]
    actions = ["activate"]

    @admin.action(description="Activate the selected boundary set (one only)")
    def activate(self, request: HttpRequest, queryset: Any) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one boundary set to activate.", level="error")
            return
        services.boundary_set_activate(boundary_set=queryset.get())
        self.message_user(request, "Activated. Run `manage.py reroute` to see which open reports move.")


@admin.register(District)
class DistrictAdmin(LeafletGeoAdmin):
    list_display = ["code", "name_fa", "name_en", "level", "parent", "boundary_set", "population"]
    list_filter = ["boundary_set", "level"]
    search_fields = ["code", "name_fa", "name_en"]
    readonly_fields = ["area_m2", "boundary_updated_at"]
    raw_id_fields = ["parent"]

    @transaction.atomic
    def save_model(self, request: HttpRequest, obj: District, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if "boundary" in form.changed_data or not change:
            services.district_pieces_rebuild(district_ids=[obj.pk])


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name_fa", "name_en", "active"]
    search_fields = ["code", "name_fa", "name_en"]


@admin.register(ServiceArea)
class ServiceAreaAdmin(LeafletGeoAdmin):
    list_display = ["code", "unit_name_fa", "department", "district_code", "is_default", "active"]
    list_filter = ["department", "active", "is_default"]
    search_fields = ["code", "unit_name_fa", "unit_name_en", "district_code"]
    readonly_fields = ["boundary_updated_at", "changed_at"]

    @transaction.atomic
    def save_model(self, request: HttpRequest, obj: ServiceArea, form: Any, change: bool) -> None:
        # Through the service: it compares the stored row with the new values and stamps
        # `changed_at` when a field routing reads changed (so `reroute` sees the change).
        services.service_area_save(
            service_area=obj, boundary_changed="boundary" in form.changed_data or not change
        )

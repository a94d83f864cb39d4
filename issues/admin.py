from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from leaflet.admin import LeafletGeoAdmin

from issues.models import ApiKey, Category, CategoryAttribute, Holiday, Report, ReportEvent
from issues.open311.services import api_key_create, api_keys_deactivate
from issues.services.corrections import REPORT_CORRECTABLE_FIELDS, report_details_correct
from issues.validation import address_clean, email_clean, name_clean, phone_clean
from issues.workflow.selectors import working_calendar_clear
from issues.workflow.sla import jalali_format

_LIST_DATATYPES = {CategoryAttribute.Datatype.SINGLEVALUELIST, CategoryAttribute.Datatype.MULTIVALUELIST}


class CategoryAttributeForm(forms.ModelForm):
    """A question's offered answers must be usable by every entrance (form, API, Open311): for the
    list datatypes a list of {"key", "name_fa", "name_en"} with distinct keys."""

    class Meta:
        model = CategoryAttribute
        fields = ["code", "datatype", "required", "description_fa", "description_en", "values", "order"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        values = data.get("values") or []
        if data.get("datatype") in _LIST_DATATYPES:
            if not isinstance(values, list) or not values:
                raise ValidationError({"values": _("A list question needs its answers: a list of objects.")})
            keys = [v.get("key") if isinstance(v, dict) else None for v in values]
            if any(not isinstance(k, str) or not k.strip() for k in keys):
                raise ValidationError(
                    {"values": _('Each answer needs a "key" (text), e.g. {"key": "deep", "name_fa": "…"}.')}
                )
            if len(set(keys)) != len(keys):
                raise ValidationError({"values": _("The answers' keys must be different.")})
        elif values:
            raise ValidationError({"values": _("Only list questions offer answers; leave this empty.")})
        return data


class CategoryAttributeInline(admin.TabularInline):
    """The category's extra questions: shown on the report form, in the API's categories and as
    Open311's service definition, and checked the same way for all three."""

    model = CategoryAttribute
    form = CategoryAttributeForm
    extra = 0


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["code", "name_fa", "name_en", "department", "kind", "location_required", "active"]
    list_filter = ["department", "kind", "active"]
    search_fields = ["code", "name_fa", "name_en"]
    inlines = [CategoryAttributeInline]


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


class ReportAdminForm(forms.ModelForm):
    """What staff may correct on a report: the reporter's contact details and the address, checked as
    a citizen's are. Nothing that routes the report or moves it along its life is here: those changes
    are workflow actions, each recorded as an event."""

    class Meta:
        model = Report
        fields = list(REPORT_CORRECTABLE_FIELDS)

    def clean_address(self) -> str:
        return address_clean(address=self.cleaned_data.get("address") or "")

    def clean_reporter_name(self) -> str:
        return name_clean(name=self.cleaned_data.get("reporter_name") or "")

    def clean_reporter_phone(self) -> str:
        return phone_clean(phone=self.cleaned_data.get("reporter_phone") or "")

    def clean_reporter_email(self) -> str:
        return email_clean(email=self.cleaned_data.get("reporter_email") or "")


@admin.register(Report)
class ReportAdmin(LeafletGeoAdmin):
    """Reports as 137 staff see them. Read-only but for the contact details and the address: the
    location, category, kind, description, routing and status change only through the services, where
    every change is an event; a report is never deleted (its history would go with it) nor made here
    (reports come in through the form, the API, Open311 or the 137 operator)."""

    form = ReportAdminForm
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
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "tracking_code",
                    "status",
                    "category",
                    "kind",
                    "channel",
                    "description",
                    "attributes",
                    "location",
                    "address",
                    "support_count",
                    "expected_at",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
        (
            gettext_lazy("Routing"),
            {
                "fields": [
                    "city",
                    "district",
                    "service_area",
                    "routing_rule",
                    "routing_distance_m",
                    "routed_at",
                ]
            },
        ),
        (
            gettext_lazy("Reporter (private)"),
            {"fields": ["reporter_name", "reporter_phone", "reporter_email", "consent_contact"]},
        ),
    ]
    # Everything shown is read-only but what staff may correct (REPORT_CORRECTABLE_FIELDS): one list
    # decides both what the form writes and what the page lets them edit.
    readonly_fields = [
        name
        for _title, options in fieldsets
        for name in options["fields"]
        if name not in REPORT_CORRECTABLE_FIELDS
    ]
    inlines = [ReportEventInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Report | None = None) -> bool:
        return False

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        # A correction is recorded on the report's own history (who, which fields), not only in the
        # admin's log.
        report_details_correct(report=obj, actor=request.user, changed=form.changed_data)


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


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    """Public holidays, on which SLA clocks stop. Dates are entered in the Gregorian calendar and
    shown in the Jalali one too; a lunar holiday moved by the moon sighting is corrected here."""

    list_display = ["date", "jalali_date", "name_fa", "name_en"]
    search_fields = ["name_fa", "name_en"]
    date_hierarchy = "date"
    ordering = ["-date"]

    @admin.display(description=gettext_lazy("Jalali date"), ordering="date")
    def jalali_date(self, obj: Holiday) -> str:
        return jalali_format(obj.date, lang="fa" if (get_language() or "fa").startswith("fa") else "en")

    # The deadlines of new reports must count the edit at once, in this process; other processes
    # read the table again within CALENDAR_CACHE_SECONDS.
    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        super().save_model(request, obj, form, change)
        working_calendar_clear()

    def delete_model(self, request, obj):  # type: ignore[no-untyped-def]
        super().delete_model(request, obj)
        working_calendar_clear()

    def delete_queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        super().delete_queryset(request, queryset)
        working_calendar_clear()


# The gazetteer's admin lives with its models (issues/places/); importing it registers it.
import issues.places.admin  # noqa: E402, F401

"""Reading the staff API's input: an action's fields (JSON, or multipart for a work report's
photos), resolved to the objects `report_transition` takes. Every refusal is a 400 in the API's
shape with a stable machine-readable code beside each translated message:

    {"error": "sentence", "code": "<first error's code>", "detail": {field: [messages]},
     "errors": [{"field": ..., "code": ..., "message": ...}]}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.gis.geos import Point
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from districts.models import ServiceArea
from districts.selectors import point_from_lat_lon
from geo.coords import CoordinateError
from issues.api.params import CoordinateField
from issues.filters import FilterError, parse_when
from issues.models import Report
from issues.staff_api.selectors import service_area_by_code, staff_user_by_username
from issues.workflow.scope import StaffScope, report_in_scope_get
from issues.workflow.services import WORK_PHOTOS_MAX
from issues.workflow.transitions import ACTIONS, REFERRAL_TARGETS

# The fields each action takes besides action, note, internal and version. One of them sent with
# another action is refused rather than dropped: a client sending `service_area` with `acknowledge`
# meant a transfer.
ACTION_FIELDS: dict[str, frozenset[str]] = {
    "route": frozenset({"service_area"}),
    "transfer": frozenset({"service_area"}),
    "duplicate": frozenset({"duplicate_of"}),
    "refer": frozenset({"referred_to"}),
    "assign": frozenset({"assignee"}),
    "start": frozenset({"scheduled_for"}),
    "done": frozenset({"photos", "lat", "lon"}),
}
OPTIONAL_FIELDS = (
    "service_area",
    "duplicate_of",
    "referred_to",
    "assignee",
    "scheduled_for",
    "photos",
    "lat",
    "lon",
)


# One refused input: (field, code, message).
Problem = tuple[str, str, str]
T = TypeVar("T")


def input_error(problems: Sequence[Problem]) -> ValidationError:
    """A 400 in the staff API's shape (module docstring)."""
    detail: dict[str, list[str]] = {}
    for field, _code, message in problems:
        detail.setdefault(field, []).append(message)
    sentence = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in detail.items())
    return ValidationError(
        {
            "error": sentence,
            "code": problems[0][1],
            "detail": detail,
            "errors": [{"field": f, "code": c, "message": m} for f, c, m in problems],
        }
    )


def field_invalid(field: str, message: str, code: str = "invalid") -> ValidationError:
    return input_error([(field, code, message)])


def serializer_problems(errors: Mapping[str, Any]) -> list[Problem]:
    """A serializer's errors (nested lists and dicts of ErrorDetail, which keep DRF's codes:
    required, invalid, max_length, ...) as problems, one per message."""

    def walk(field: str, value: Any) -> list[Problem]:
        if isinstance(value, Mapping):
            return [p for v in value.values() for p in walk(field, v)]
        if isinstance(value, list | tuple):
            return [p for v in value for p in walk(field, v)]
        return [(field, str(getattr(value, "code", None) or "invalid"), str(value))]

    return [p for field, value in errors.items() for p in walk(field, value)]


def filter_error(exc: FilterError) -> ValidationError:
    return field_invalid(exc.field, exc.message)


class ActionField(serializers.ChoiceField):
    default_error_messages = {
        "unknown_action": gettext_lazy("Unknown action “{input}”; use one of: {actions}."),
    }

    def to_internal_value(self, data: Any) -> str:
        text = str(data)
        if text not in ACTIONS:
            self.fail("unknown_action", input=text[:40], actions=", ".join(sorted(ACTIONS)))
        return text


class ActionInputSerializer(serializers.Serializer):
    """What `POST /api/staff/reports/<code>/actions/` reads (and the schema documents)."""

    action = ActionField(
        choices=sorted(ACTIONS),
        help_text="The step to take; the report's `actions` list what this user may take now.",
    )
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="Plain text, at most 4000 characters. Required for note, answer, transfer and done "
        "(the work report's text).",
    )
    internal = serializers.BooleanField(
        required=False,
        default=False,
        help_text="The note stays off the citizen's timeline (the step itself is still public).",
    )
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2_147_483_647,
        help_text="The report's version as this user saw it: if it changed meanwhile, 409.",
    )
    service_area = serializers.CharField(
        required=False, allow_blank=True, max_length=80, help_text="route, transfer: the unit's code."
    )
    duplicate_of = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=40,
        help_text="duplicate: the tracking code of the report it duplicates (its supporters move there).",
    )
    referred_to = serializers.ChoiceField(
        choices=REFERRAL_TARGETS,
        required=False,
        allow_blank=True,
        help_text="refer: the organisation outside the municipality.",
    )
    assignee = serializers.CharField(
        required=False, allow_blank=True, max_length=150, help_text="assign: a username of staff."
    )
    scheduled_for = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=40,
        help_text="start: the day the work is planned, ISO (2026-12-01) or Jalali (1405-09-10).",
    )
    photos = serializers.ListField(
        child=serializers.FileField(allow_empty_file=False),
        required=False,
        max_length=WORK_PHOTOS_MAX,
        help_text=f"done: 1 to {WORK_PHOTOS_MAX} photos of the work (multipart only).",
    )
    lat = CoordinateField(
        required=False, allow_null=True, help_text="done: where the work was done, WGS 84 (optional)."
    )
    lon = CoordinateField(required=False, allow_null=True, help_text="done: longitude, WGS 84.")


@dataclass(frozen=True)
class ActionInput:
    """An action's input, resolved: keyword arguments of `report_transition` but the report and
    the actor."""

    action: str
    note: str = ""
    internal_note: bool = False
    expected_version: int | None = None
    service_area: ServiceArea | None = None
    duplicate_of: Report | None = None
    referred_to: str = ""
    assignee: AbstractBaseUser | None = None
    scheduled_for: date | None = None
    photos: tuple[UploadedFile, ...] = ()
    work_location: Point | None = None

    def transition_kwargs(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _named(
    values: Mapping[str, Any],
    field: str,
    find: Callable[[str], T | None],
    code: str,
    message: str,
    problems: list[Problem],
) -> T | None:
    """The object a field names (a unit's code, a tracking code, a username), or None with a
    problem when it names none; None when the field is not given."""
    name = values.get(field)
    if not name:
        return None
    found = find(name)
    if found is None:
        problems.append((field, code, message % {"code": name, "name": name}))
    return found


def _given(value: Any) -> bool:
    return value not in (None, "", [], ())


def action_input_read(*, data: Any, scope: StaffScope) -> ActionInput:
    """The action and its fields from a request body, or a 400 naming every field at fault. Whether
    the action may be taken (role, state, version) is the service's question."""
    serializer = ActionInputSerializer(data=data)
    if not serializer.is_valid():
        raise input_error(serializer_problems(serializer.errors))
    values = serializer.validated_data
    action = values["action"]
    problems: list[Problem] = []
    for field in OPTIONAL_FIELDS:
        if _given(values.get(field)) and field not in ACTION_FIELDS.get(action, ()):
            problems.append(
                (
                    field,
                    "not_for_action",
                    _("does not apply to the action “%(action)s”.") % {"action": action},
                )
            )
    # Multipart text is not checked by the JSON parser: a NUL would reach a query.
    for field in ("note", "service_area", "duplicate_of", "assignee", "scheduled_for"):
        if "\x00" in (values.get(field) or ""):
            problems.append((field, "invalid", _("contains a NUL character.")))
    if problems:
        raise input_error(problems)

    service_area = _named(
        values,
        "service_area",
        lambda code: service_area_by_code(code=code),
        "unknown_service_area",
        _("No unit has the code “%(code)s”."),
        problems,
    )
    # Only a report this user may see: another district's codes are as unknown as made-up ones.
    duplicate_of = _named(
        values,
        "duplicate_of",
        lambda code: report_in_scope_get(scope=scope, code=code),
        "unknown_report",
        _("No report has the tracking code “%(code)s”."),
        problems,
    )
    assignee = _named(
        values,
        "assignee",
        lambda name: staff_user_by_username(username=name),
        "unknown_user",
        _("No active user has the username “%(name)s”."),
        problems,
    )
    scheduled_for = None
    if text := values.get("scheduled_for"):
        try:
            scheduled_for = timezone.localtime(parse_when(text, "scheduled_for")).date()
        except FilterError as exc:
            problems.append((exc.field, "invalid", exc.message))
    work_location = None
    if _given(values.get("lat")) or _given(values.get("lon")):
        try:
            work_location = point_from_lat_lon(lat=values.get("lat"), lon=values.get("lon"))
        except CoordinateError as exc:
            problems.append((exc.field, "invalid", exc.message))
    if problems:
        raise input_error(problems)
    return ActionInput(
        action=action,
        note=values.get("note", ""),
        internal_note=values.get("internal", False),
        expected_version=values.get("version"),
        service_area=service_area,
        duplicate_of=duplicate_of,
        referred_to=values.get("referred_to", ""),
        assignee=assignee,
        scheduled_for=scheduled_for,
        photos=tuple(values.get("photos") or ()),
        work_location=work_location,
    )

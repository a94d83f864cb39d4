"""The console's forms. They check the shape of what was sent (choices, lengths, what an action
needs); the rules themselves (who may do what, in which state, in which scope) are the workflow
service's, which says no with a message the page puts next to the field it is about."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from issues.models import ReportStatus
from issues.workflow.services import NOTE_MAX, WORK_PHOTOS_MAX
from issues.workflow.transitions import REFERRAL_TARGETS

# The buttons of a report's page, in the order of the transition table.
ACTION_LABELS: dict[str, Any] = {
    "route": _("Route to a unit"),
    "acknowledge": _("Acknowledge"),
    "start": _("Start the work"),
    "done": _("Work done (work report)"),
    "verify": _("Confirm the work"),
    "reopen": _("Reopen: not fixed"),
    "close": _("Close the report"),
    "answer": _("Answer and close"),
    "transfer": _("Transfer to another unit"),
    "refer": _("Not responsible: refer outside"),
    "duplicate": _("Mark as a duplicate"),
    "resolve_by_citizens": _("Resolved by citizens"),
    "assign": _("Assign"),
    "note": _("Add a note"),
}
# The actions of the inbox's bulk form: each selected report is one call of the service.
BULK_ACTIONS = ("acknowledge", "assign", "transfer")
REFERRAL_LABELS: dict[str, Any] = {
    "water": _("Water and sewage company"),
    "gas": _("Gas company"),
    "power": _("Electricity company"),
    "police": _("Police"),
    "telecom": _("Telecommunications company"),
    "other": _("Another organisation"),
}
MAX_BULK = 200
# A row of the bulk form: the tracking code and the version the member of staff saw.
_PICK = re.compile(r"^([A-Za-z0-9]{4,16}):(\d{1,9})$")


def _lang_name(row: dict[str, Any], fa: str, en: str) -> str:
    persian = (get_language() or "fa").startswith("fa")
    return str((row.get(fa) if persian else row.get(en)) or row.get(fa) or "")


def set_choices(form: forms.Form, name: str, choices: Sequence[tuple[str, Any]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = list(choices)


def unit_choices(units: Sequence[dict[str, Any]], *, blank: str) -> list[tuple[str, str]]:
    return [("", blank)] + [
        (
            str(u["code"]),
            f"{_lang_name(u, 'unit_name_fa', 'unit_name_en')} ({_lang_name(u, 'department__name_fa', 'department__name_en')})",
        )
        for u in units
    ]


def assignee_choices(people: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    return [("", "—")] + [
        (p["username"], f"{p['name']} ({p['username']})" if p["name"] else p["username"]) for p in people
    ]


class InboxFilterForm(forms.Form):
    """The inbox's filters, sent by GET; their values are then read by the inbox selector's parser,
    which accepts Jalali dates with Persian digits."""

    status = forms.ChoiceField(label=_("Status"), required=False)
    category = forms.ChoiceField(label=_("Category"), required=False)
    unit = forms.ChoiceField(label=_("Unit"), required=False)
    district = forms.ChoiceField(label=_("District"), required=False)
    since = forms.CharField(
        label=_("From"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"placeholder": "۱۴۰۵/۰۱/۰۱", "dir": "ltr", "inputmode": "numeric"}),
    )
    until = forms.CharField(
        label=_("Until"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"placeholder": "۱۴۰۵/۱۲/۲۹", "dir": "ltr", "inputmode": "numeric"}),
    )
    q = forms.CharField(label=_("Text"), required=False, max_length=200)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
    mine = forms.BooleanField(label=_("Assigned to me"), required=False)

    def __init__(
        self,
        *args: Any,
        categories: Sequence[dict[str, Any]],
        units: Sequence[dict[str, Any]],
        districts: Sequence[tuple[str, str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        statuses = [(s.value, s.label) for s in ReportStatus]
        set_choices(
            self, "status", [("", _("Any status")), ("open", _("Open")), ("closed", _("Closed")), *statuses]
        )
        set_choices(
            self,
            "category",
            [("", _("Any category"))]
            + [(c["code"], _lang_name(c, "name_fa", "name_en")) for c in categories],
        )
        set_choices(self, "unit", unit_choices(units, blank=str(_("Any unit"))))
        persian = (get_language() or "fa").startswith("fa")
        set_choices(
            self,
            "district",
            [("", _("Any district"))]
            + [(code, (name_fa if persian else name_en or name_fa)) for code, name_fa, name_en in districts],
        )

    def params(self) -> dict[str, str]:
        """The cleaned filters as the parser's query parameters."""
        data = self.cleaned_data
        params = {
            name: str(data.get(name) or "")
            for name in ("status", "category", "unit", "district", "since", "until", "q")
        }
        params["overdue"] = "1" if data.get("overdue") else ""
        params["mine"] = "1" if data.get("mine") else ""
        return params


class PicksField(forms.Field):
    """The rows ticked in the inbox, each "CODE:VERSION": the tracking code and the version the
    member of staff saw. Any well-formed pair is accepted here; the service decides, report by
    report, whether it may be done."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[tuple[str, int]]:
        values = [v for v in (value or []) if v]
        if len(values) > MAX_BULK:
            raise ValidationError(_("At most %(n)d reports at once.") % {"n": MAX_BULK}, code="too_many")
        picks = []
        for item in values:
            match = _PICK.match(str(item))
            if match is None:
                raise ValidationError(_("A selected row is not one this list gave."), code="invalid")
            picks.append((match[1].upper(), int(match[2])))
        return list(dict.fromkeys(picks))


class BulkActionForm(forms.Form):
    picks = PicksField(label=_("Reports"), error_messages={"required": _("Select at least one report.")})
    action = forms.ChoiceField(label=_("Action"))
    assignee = forms.ChoiceField(label=_("Assign to"), required=False)
    service_area = forms.ChoiceField(label=_("Transfer to the unit"), required=False)
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": NOTE_MAX}),
    )

    def __init__(
        self,
        *args: Any,
        units: Sequence[dict[str, Any]],
        people: Sequence[dict[str, Any]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "action", [(a, ACTION_LABELS[a]) for a in BULK_ACTIONS])
        set_choices(self, "assignee", assignee_choices(people))
        set_choices(self, "service_area", unit_choices(units, blank="—"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        action = data.get("action")
        if action == "assign" and not data.get("assignee"):
            self.add_error("assignee", _("Choose who to assign the reports to."))
        if action == "transfer":
            if not data.get("service_area"):
                self.add_error("service_area", _("Choose the unit to transfer the reports to."))
            if not (data.get("note") or "").strip():
                self.add_error("note", _("Say why the reports go to another unit."))
        return data


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class WorkPhotosField(forms.FileField):
    widget = MultipleFileInput(attrs={"accept": "image/*", "multiple": True})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if len(files) > WORK_PHOTOS_MAX:
            raise ValidationError(_("At most %(n)d photos.") % {"n": WORK_PHOTOS_MAX}, code="too_many")
        return [super(WorkPhotosField, self).clean(f, initial) for f in files]


class ReportActionForm(forms.Form):
    """One step on a report: the button pressed is `action`; the other fields are what some actions
    need (a unit to route or transfer to, the report it duplicates, where it is referred, whom it is
    assigned to, the work report's photos). `version` is the report as the page showed it: if it
    changed meanwhile the service answers with a conflict and nothing is written."""

    action = forms.ChoiceField(label=_("Action"))
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": NOTE_MAX}),
    )
    internal = forms.BooleanField(
        label=_("Internal note: staff only, not shown to the citizen"), required=False
    )
    service_area = forms.ChoiceField(label=_("Unit (to route or transfer to)"), required=False)
    duplicate_of = forms.CharField(
        label=_("Tracking code of the report it duplicates"),
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"dir": "ltr", "autocomplete": "off"}),
    )
    referred_to = forms.ChoiceField(label=_("Referred to"), required=False)
    assignee = forms.ChoiceField(label=_("Assign to"), required=False)
    photos = WorkPhotosField(label=_("Photos of the work done"))

    def __init__(
        self,
        *args: Any,
        actions: Sequence[str],
        units: Sequence[dict[str, Any]],
        people: Sequence[dict[str, Any]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "action", [(a, ACTION_LABELS.get(a, a)) for a in actions])
        set_choices(self, "service_area", unit_choices(units, blank="—"))
        set_choices(
            self, "referred_to", [("", "—")] + [(t, REFERRAL_LABELS.get(t, t)) for t in REFERRAL_TARGETS]
        )
        set_choices(self, "assignee", assignee_choices(people))
        # Only the fields some offered action needs.
        needs = {
            "service_area": {"route", "transfer"},
            "duplicate_of": {"duplicate"},
            "referred_to": {"refer"},
            "assignee": {"assign"},
            "photos": {"done"},
        }
        for name, wanted in needs.items():
            if not wanted & set(actions):
                del self.fields[name]


# What the 137 check found, and how (issues.workflow.verification records it).
OUTCOME_LABELS: dict[str, Any] = {
    "confirmed": _("Confirmed: the work is done (the report is closed)"),
    "not_fixed": _("Not fixed: back to the unit (the report is reopened)"),
    "could_not_verify": _("Could not verify (only the check is recorded)"),
}
METHOD_LABELS: dict[str, Any] = {
    "call_back": _("Call-back to the reporter"),
    "field_visit": _("Field visit"),
}


class VerificationForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("What the check found"), choices=list(OUTCOME_LABELS.items()), widget=forms.RadioSelect
    )
    method = forms.ChoiceField(label=_("How it was checked"), choices=list(METHOD_LABELS.items()))
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": NOTE_MAX}),
    )

"""The citizen's pledge form ("I'll take care of it"): both fields optional."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from participation.services import PLEDGER_CONTACT_MAX, PLEDGER_NAME_MAX


class PledgeForm(forms.Form):
    name = forms.CharField(
        label=_("Your name (optional)"),
        required=False,
        max_length=PLEDGER_NAME_MAX,
        help_text=_("Never shown publicly."),
    )
    contact = forms.CharField(
        label=_("Phone or e-mail (optional)"),
        required=False,
        max_length=PLEDGER_CONTACT_MAX,
        help_text=_("Only the 137 centre sees it, to reach you if needed. Never shown publicly."),
    )

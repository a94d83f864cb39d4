"""The subscription form. The fields only carry what was typed; the service checks it all (one set
of rules for the page and the API) and its errors come back next to their fields."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from alerts.models import RADIUS_MAX_M, RADIUS_MIN_M

# The service's error keys that are not the form's field names.
SERVICE_FIELDS = {"lon": "lat", "__all__": None}


class SubscribeForm(forms.Form):
    email = forms.CharField(
        label=_("E-mail address"),
        required=False,
        max_length=254,
        widget=forms.EmailInput(attrs={"dir": "ltr", "autocomplete": "email"}),
    )
    phone = forms.CharField(
        label=_("Mobile phone number (SMS)"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"dir": "ltr", "autocomplete": "tel", "inputmode": "tel"}),
    )
    language = forms.ChoiceField(
        label=_("Language of the messages"), choices=[("fa", "فارسی"), ("en", "English")], required=False
    )
    district = forms.ChoiceField(label=_("District"), required=False)
    category = forms.ChoiceField(label=_("Category"), required=False)
    lat = forms.CharField(required=False, widget=forms.HiddenInput)
    lon = forms.CharField(required=False, widget=forms.HiddenInput)
    radius_m = forms.CharField(
        label=_("Radius around the point (metres)"),
        required=False,
        widget=forms.NumberInput(attrs={"min": RADIUS_MIN_M, "max": RADIUS_MAX_M, "step": 50, "dir": "ltr"}),
    )

    def __init__(
        self, *args: Any, districts: list[tuple[str, str]], categories: list[tuple[str, str]], **kwargs: Any
    ) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        any_choice = ("", _("Any"))
        self.fields["district"].choices = [any_choice, *districts]  # type: ignore[attr-defined]
        self.fields["category"].choices = [any_choice, *categories]  # type: ignore[attr-defined]

    def refuse(self, message: str) -> None:
        """An error for the whole form (too many requests) after validation."""
        if not hasattr(self, "cleaned_data"):
            self.is_valid()
        self.add_error(None, message)

    def service_errors(self, errors: dict[str, list[str]]) -> None:
        for key, messages in errors.items():
            field = SERVICE_FIELDS.get(key, key)
            if field is not None and field not in self.fields:
                field = None
            for message in messages:
                self.add_error(field, message)

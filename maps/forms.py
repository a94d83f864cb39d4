"""Forms of the citizen's pages: report a problem, look up a report, add information, say whether a
problem was fixed. They parse and validate input; the writes happen in issues.services."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib.gis.geos import Point
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.forms.utils import ErrorDict
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from districts.selectors import DistrictSearchMatch, district_search, point_from_lat_lon
from geo.coords import CoordinateError
from geo.srid import GEO_SRID
from issues.models import CategoryAttribute, MessageKind, SatisfactionRating
from issues.selectors import tracking_code_normalize
from issues.services.submission import MAX_PHOTOS
from issues.services.tracking import TRACKING_LENGTH
from issues.validation import ATTRIBUTE_STRING_MAX, ATTRIBUTE_TEXT_MAX, NAME_MAX

DESCRIPTION_MAX = 4000


class CitizenForm(forms.Form):
    """Labels without a trailing colon: they sit above their fields, in Persian and English alike."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Up to MAX_PHOTOS images in one <input type=file multiple>. Only the count is checked here:
    decoding, orientation and metadata stripping are the photo processing's job (a bad file comes
    back from report_submit as an error on `photos`)."""

    widget = MultipleImageInput(attrs={"accept": "image/*", "multiple": True})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if len(files) > MAX_PHOTOS:
            raise ValidationError(
                _("At most %(n)d photos, please choose fewer.") % {"n": MAX_PHOTOS}, code="too_many"
            )
        return [super(PhotosField, self).clean(f, initial) for f in files]


class AnswerListField(forms.Field):
    """The keys ticked for a multiple-choice question, as sent; whether they are among the offered
    ones is the validation's business (issues.validation), as for the API and Open311."""

    def to_python(self, value: Any) -> list[str]:
        if not value:
            return []
        return [str(v) for v in (value if isinstance(value, list | tuple) else [value])]


def attribute_field_name(category: str, code: str) -> str:
    """The form field of a category's question. Slugs never contain a dot: no two questions clash."""
    return f"attr.{category}.{code}"


def _in_language(item: dict[str, Any], field: str, lang: str) -> str:
    english = item.get(f"{field}_en") or ""
    return str(english if lang == "en" and english else item.get(f"{field}_fa") or english)


def attribute_field(question: dict[str, Any], *, lang: str) -> forms.Field:
    """A form field for one of a category's questions (a row of category_list_public's
    `attributes`). Nothing is checked here: the answers go to report_submit, which checks them with
    the same rules and messages as the API's and Open311's."""
    datatype = question["datatype"]
    options = [
        (str(v["key"]), _in_language(v, "name", lang) or str(v["key"]))
        for v in question.get("values") or []
        if isinstance(v, dict) and "key" in v
    ]
    attrs: dict[str, Any] = {"aria-required": "true"} if question["required"] else {}
    field: forms.Field
    if datatype == CategoryAttribute.Datatype.MULTIVALUELIST:
        field = AnswerListField(widget=forms.CheckboxSelectMultiple(choices=options, attrs=attrs))
    elif datatype == CategoryAttribute.Datatype.SINGLEVALUELIST:
        field = forms.CharField(widget=forms.Select(choices=[("", "—"), *options], attrs=attrs))
    elif datatype == CategoryAttribute.Datatype.NUMBER:
        field = forms.CharField(widget=forms.TextInput(attrs={**attrs, "inputmode": "decimal", "dir": "ltr"}))
    elif datatype == CategoryAttribute.Datatype.DATETIME:
        field = forms.CharField(
            widget=forms.DateTimeInput(attrs={**attrs, "type": "datetime-local", "dir": "ltr"})
        )
    elif datatype == CategoryAttribute.Datatype.TEXT:
        field = forms.CharField(
            widget=forms.Textarea(attrs={**attrs, "rows": 3, "maxlength": ATTRIBUTE_TEXT_MAX})
        )
    else:
        field = forms.CharField(widget=forms.TextInput(attrs={**attrs, "maxlength": ATTRIBUTE_STRING_MAX}))
    field.required = False
    field.label = _in_language(question, "description", lang) or question["code"]
    if question["required"]:
        field.help_text = _("Required for this category.")
    return field


class ReportForm(CitizenForm):
    """A citizen's report. The category radios are drawn by the template (grouped by department, with
    icons); `lat`/`lon` are set by the map, `place` is the way to report without it. Every category's
    extra questions are fields of the form (`attr.<category>.<code>`); only the chosen category's
    answers are sent. The values are checked by report_submit (issues.validation), with the same
    rules and messages as the API's and Open311's: the form only parses."""

    category = forms.ChoiceField(label=_("What is the problem about?"))
    kind = forms.ChoiceField(
        label=_("Kind of message"),
        required=False,
        choices=[("", _("As the category says")), *MessageKind.choices],
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        # A hint to the browser only; the limit is checked by the service.
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": DESCRIPTION_MAX}),
        help_text=_("What is wrong, and where exactly (a landmark, a house number)."),
    )
    photos = PhotosField(label=_("Photos"), help_text=_("Up to three photos."))
    lat = forms.CharField(required=False, widget=forms.HiddenInput)
    lon = forms.CharField(required=False, widget=forms.HiddenInput)
    place = forms.CharField(
        label=_("Or type the name of the district"),
        required=False,
        max_length=200,
        help_text=_("Without the map: the report is placed in the district you name."),
    )
    reporter_name = forms.CharField(
        label=_("Your name"), required=False, widget=forms.TextInput(attrs={"maxlength": NAME_MAX})
    )
    reporter_phone = forms.CharField(
        label=_("Mobile phone"),
        required=False,
        widget=forms.TextInput(
            attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel", "dir": "ltr", "maxlength": 40}
        ),
        help_text=_("We text you the tracking code."),
    )
    reporter_email = forms.CharField(
        label=_("E-mail"),
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "dir": "ltr"}),
    )
    consent_contact = forms.BooleanField(
        label=_("The municipality may contact me about this report"), required=False
    )
    idempotency_key = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args: Any, categories: Sequence[dict[str, Any]], **kwargs: Any) -> None:
        # `categories`: the public category rows (issues.selectors.category_list_public).
        super().__init__(*args, **kwargs)
        self.categories = {c["code"]: c for c in categories}
        category_field = self.fields["category"]
        assert isinstance(category_field, forms.ChoiceField)
        category_field.choices = [(c["code"], c["code"]) for c in categories]
        self.fields["reporter_name"].widget.attrs["autocomplete"] = "name"
        self.fields["place"].widget.attrs.update({"list": "district-names", "autocomplete": "off"})
        lang = (get_language() or "fa")[:2]
        # (category row, names of its question fields), for the template's groups of questions.
        self.question_names: list[tuple[dict[str, Any], list[str]]] = []
        for category in categories:
            names = []
            for question in category.get("attributes") or []:
                name = attribute_field_name(category["code"], question["code"])
                self.fields[name] = attribute_field(question, lang=lang)
                names.append(name)
            if names:
                self.question_names.append((category, names))
        # Filled in by clean(): the point, and the district picked by name when there was no pin.
        self.location: Point | None = None
        self.place_match: DistrictSearchMatch | None = None

    @staticmethod
    def new_idempotency_key() -> str:
        return str(uuid.uuid4())

    def refuse(self, message: str) -> None:
        """Refuse the whole submission without reading it: over the write limit, no work at all is
        done for a request (no place search, no photo decoded), only the counting."""
        self.cleaned_data = {}
        self._errors = ErrorDict({NON_FIELD_ERRORS: self.error_class([message], error_class="nonfield")})

    @property
    def selected_category(self) -> dict[str, Any] | None:
        code = self["category"].value()
        return self.categories.get(code) if isinstance(code, str) else None

    def clean_idempotency_key(self) -> str | None:
        # A key that is not one of ours (tampered, truncated) protects nothing: the submission goes
        # ahead without double-submit protection rather than being refused.
        value = self.cleaned_data.get("idempotency_key") or ""
        try:
            return str(uuid.UUID(value))
        except ValueError:
            return None

    @property
    def question_groups(self) -> list[dict[str, Any]]:
        """Each category's questions, as the template draws them: every group is in the page (the
        script shows the chosen category's; without it all are shown, headed by their category)."""
        return [
            {"category": category, "fields": [self[name] for name in names]}
            for category, names in self.question_names
        ]

    def attributes_for(self, category: str) -> dict[str, Any]:
        """The answers to the chosen category's questions, by question code (unanswered ones left
        out); the other categories' fields are ignored."""
        answers: dict[str, Any] = {}
        for row, names in self.question_names:
            if row["code"] != category:
                continue
            for name in names:
                value = self.cleaned_data.get(name)
                if value not in (None, "", []):
                    answers[name.rsplit(".", 1)[1]] = value
        return answers

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        category = self.categories.get(data.get("category", ""))
        lat, lon = (data.get("lat") or "").strip(), (data.get("lon") or "").strip()
        place = (data.get("place") or "").strip()
        if lat or lon:
            # The pin wins over a typed district name: it is where the citizen actually pointed.
            try:
                self.location = point_from_lat_lon(lat=lat, lon=lon)
            except CoordinateError as exc:
                self.add_error("lat", exc.message)
                return data
        elif place:
            matches = district_search(text=place, limit=6)
            best = [m for m in matches if m.rank == 0] or matches
            if not best:
                self.add_error(
                    "place",
                    _("No district is called “%(place)s”. Check the spelling or put a pin on the map.")
                    % {"place": place[:60]},
                )
            elif len(best) > 1 and best[0].rank > 0:
                names = "، ".join(m.name_fa for m in best[:5])
                self.add_error(
                    "place",
                    _("Several districts match “%(place)s”: %(names)s. Type more of the name.")
                    % {"place": place[:60], "names": names},
                )
            else:
                self.place_match = best[0]
                self.location = Point(best[0].lon, best[0].lat, srid=GEO_SRID)
        if self.location is None and category is not None and category["location_required"]:
            self.add_error(
                "lat",
                _("This category needs a location: tap the map, use your location, or type the district."),
            )
        return data


class TrackLookupForm(CitizenForm):
    code = forms.CharField(
        label=_("Tracking code"),
        max_length=40,
        widget=forms.TextInput(
            attrs={
                "dir": "ltr",
                "autocapitalize": "characters",
                "autocomplete": "off",
                "spellcheck": "false",
                "placeholder": "ACDE-FGHJ",
            }
        ),
    )

    def clean_code(self) -> str:
        code = tracking_code_normalize(self.cleaned_data["code"])
        if len(code) != TRACKING_LENGTH:
            raise ValidationError(
                _("A tracking code has %(n)d letters and digits, like ACDE-FGHJ.") % {"n": TRACKING_LENGTH}
            )
        return code


class AddInfoForm(CitizenForm):
    text = forms.CharField(
        label=_("More information"),
        required=False,
        max_length=DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    photos = PhotosField(label=_("Photos"), help_text=_("Up to three photos."))

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not (data.get("text") or "").strip() and not data.get("photos"):
            raise ValidationError(_("Write something or add a photo."), code="empty")
        return data


class FeedbackForm(CitizenForm):
    fixed = forms.TypedChoiceField(
        label=_("Is the problem fixed?"),
        choices=[("yes", _("Yes, it is fixed")), ("no", _("No, it is not fixed"))],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("Anything to add?"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )


class RatingForm(CitizenForm):
    """The reporter's rating once the report is closed (issues.workflow.citizen.report_rate)."""

    score = forms.TypedChoiceField(
        label=_("How satisfied are you with how your report was handled?"),
        choices=[
            ("5", _("5: very satisfied")),
            ("4", _("4: satisfied")),
            ("3", _("3: neither satisfied nor dissatisfied")),
            ("2", _("2: dissatisfied")),
            ("1", _("1: very dissatisfied")),
        ],
        coerce=int,
        widget=forms.RadioSelect,
    )
    reasons = forms.MultipleChoiceField(
        label=_("What is your rating about?"),
        choices=SatisfactionRating.Reason.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    comment = forms.CharField(
        label=_("Comment"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class StopMessagesForm(CitizenForm):
    """Nothing to fill in: the button alone (the session says whose report it is)."""

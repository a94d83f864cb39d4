"""What a citizen's report must look like, checked once for every way it comes in.

The web form, the project's API and Open311 each parse their own input shape (form fields, JSON,
`attribute[code][]` parameters) and hand the values to `issues.services.report_submit`, which checks
them here: the same rules and the same messages whichever door the report came through. Errors are
Django ValidationErrors keyed by field ("description", "address", "name", "phone", "email",
"attributes"); each entrance shows them in its own way.

The answers to a category's extra questions (its `CategoryAttribute`s, Open311's service definition
attributes) are checked against the questions: every required one answered, no answer to a question
the category does not ask, numbers and dates readable, list answers among the offered keys. Every
attribute message carries the question's code in its params (`params["code"]`), so an entrance can
put it next to the question (the web form) or name the parameter (Open311's `attribute[code]`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from geo.text import normalize_digits
from issues.models import Category, CategoryAttribute

# The Open311 spec: "description: up to 4,000 characters"; the same for every entrance.
DESCRIPTION_MAX = 4000
ADDRESS_MAX = 300
NAME_MAX = 200
EMAIL_MAX = 254
ATTRIBUTE_STRING_MAX = 1000
ATTRIBUTE_TEXT_MAX = 4000
# E.164: at most 15 digits; fewer than 7 is no phone number anywhere.
PHONE_DIGITS_MIN = 7
PHONE_DIGITS_MAX = 15

# What people put between the digits of a phone number (and the direction marks a right-to-left
# keyboard adds around them).
_PHONE_SEPARATORS = re.compile(r"[\s\-().\u200c\u200e\u200f\u202a-\u202e]")
_PHONE = re.compile(r"\+?[0-9]+")


Datatype = CategoryAttribute.Datatype


def _plain_text(text: str, *, limit: int) -> str:
    """Text of at most `limit` characters, kept exactly as the citizen typed it.

    Text is text: "depth < 10 cm", a pasted "<b>" or a half tag are words, not markup, and nothing
    here looks for HTML (a pattern for it is always one spelling short, and refusing "<" refuses
    honest reports). Every output escapes for its own format instead: templates autoescape, scripts
    set textContent, Open311's XML is written by ElementTree, JSON is data, the e-mail's HTML part
    escapes each line. PostgreSQL text cannot hold a NUL, so that alone is refused."""
    if len(text) > limit:
        raise ValidationError(
            _("At most %(n)d characters (this has %(length)d)."),
            code="max_length",
            params={"n": limit, "length": len(text)},
        )
    if "\x00" in text:
        raise ValidationError(_("Text must not contain NUL characters."), code="nul")
    return text


def text_clean(*, text: str, limit: int) -> str:
    """Free text from a citizen besides the report's own fields (what they add through their private
    link): stripped, then the same rule as the description."""
    return _plain_text((text or "").strip(), limit=limit)


def description_clean(*, description: str) -> str:
    return _plain_text((description or "").strip(), limit=DESCRIPTION_MAX)


def address_clean(*, address: str) -> str:
    return _plain_text((address or "").strip(), limit=ADDRESS_MAX)


def name_clean(*, name: str) -> str:
    return _plain_text(" ".join((name or "").split()), limit=NAME_MAX)


def phone_clean(*, phone: str) -> str:
    """A phone number as the SMS gateway wants it: ASCII digits (Persian and Arabic ones converted)
    with an optional leading +, the spaces, dashes and brackets people type dropped; 7 to 15 digits."""
    text = _PHONE_SEPARATORS.sub("", normalize_digits(phone or ""))
    if not text:
        return ""
    digits = len(text.lstrip("+"))
    if not _PHONE.fullmatch(text) or not PHONE_DIGITS_MIN <= digits <= PHONE_DIGITS_MAX:
        raise ValidationError(
            _("Enter a phone number of %(min)d to %(max)d digits, optionally starting with +."),
            code="phone",
            params={"min": PHONE_DIGITS_MIN, "max": PHONE_DIGITS_MAX},
        )
    return text


def email_clean(*, email: str) -> str:
    email = (email or "").strip()
    if not email:
        return ""
    if len(email) > EMAIL_MAX:
        raise ValidationError(_("Enter a valid email address."), code="invalid")
    validate_email(email)
    return email


# --- The category's questions --------------------------------------------------------------------


def _question_text(question: CategoryAttribute) -> str:
    """The question in the reader's language (Persian unless English is asked for)."""
    if (get_language() or "fa").startswith("en"):
        return question.description_en or question.description_fa
    return question.description_fa or question.description_en


def _attribute_error(message: str, code: str, **params: Any) -> ValidationError:
    return ValidationError(message, code="attribute", params={"code": code, **params})


def _keys(question: CategoryAttribute) -> list[str]:
    return [str(v["key"]) for v in question.values or [] if isinstance(v, dict) and "key" in v]


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return all(_is_empty(v) for v in value)
    return False


def _scalar(value: Any, code: str) -> Any:
    """The one value of a single-valued answer: forms and Open311 send every answer as a list."""
    if isinstance(value, list | tuple):
        values = [v for v in value if not _is_empty(v)]
        if len(values) > 1:
            raise _attribute_error(_("%(code)s takes a single value."), code)
        value = values[0] if values else ""
    if isinstance(value, dict):
        raise _attribute_error(_("%(code)s must be a single value, not an object."), code)
    return value.strip() if isinstance(value, str) else value


def _list_value(question: CategoryAttribute, value: Any) -> Any:
    code = question.code
    keys = _keys(question)
    choices = ", ".join(keys)
    if question.datatype == Datatype.MULTIVALUELIST:
        items = value if isinstance(value, list | tuple) else [value]
        chosen: list[str] = []
        for item in items:
            if _is_empty(item):
                continue
            text = _text(item)
            if text is None or text.strip() not in keys:
                raise _attribute_error(
                    _("%(code)s: “%(value)s” is not one of the offered values (%(keys)s)."),
                    code,
                    value=(text or "?")[:60],
                    keys=choices,
                )
            text = text.strip()
            chosen.append(text)
        return list(dict.fromkeys(chosen))
    text = _text(_scalar(value, code))
    if text is None or text not in keys:
        raise _attribute_error(
            _("%(code)s: “%(value)s” is not one of the offered values (%(keys)s)."),
            code,
            value=(text or "?")[:60],
            keys=choices,
        )
    return text


def _number_value(question: CategoryAttribute, value: Any) -> int | float:
    code = question.code
    item = _scalar(value, code)
    if isinstance(item, bool):
        number = math.nan
    elif isinstance(item, int | float):
        try:
            number = float(item)
        except OverflowError:  # an integer beyond any float
            number = math.nan
    else:
        # Phones type Persian digits and the Persian decimal separator (٫).
        text = normalize_digits(_text(item) or "").replace("٫", ".").strip()
        try:
            number = float(text)
        except ValueError:
            number = math.nan
    if not math.isfinite(number):
        raise _attribute_error(_("%(code)s must be a number."), code)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _datetime_value(question: CategoryAttribute, value: Any) -> str:
    code = question.code
    item = _scalar(value, code)
    moment: datetime | None
    if isinstance(item, datetime):
        moment = item
    else:
        try:
            moment = parse_datetime(normalize_digits(_text(item) or "").strip())
        except ValueError:
            moment = None
    if moment is None:
        raise _attribute_error(
            _("%(code)s must be a date and time in ISO 8601, like 2026-11-28T16:30."), code
        )
    if timezone.is_naive(moment):
        # Without a zone it is the city's local time, as the citizen read it on a clock.
        moment = timezone.make_aware(moment)
    return moment.isoformat()


def _text(item: Any) -> str | None:
    """A scalar answer as text; None for what is not one (an object, true/false, a number too long
    to write out)."""
    if isinstance(item, str):
        return item
    if isinstance(item, int | float) and not isinstance(item, bool):
        try:
            return str(item)
        except ValueError:
            return None
    return None


def _text_value(question: CategoryAttribute, value: Any) -> str:
    code = question.code
    text = _text(_scalar(value, code))
    if text is None:
        raise _attribute_error(_("%(code)s must be text."), code)
    limit = ATTRIBUTE_TEXT_MAX if question.datatype == Datatype.TEXT else ATTRIBUTE_STRING_MAX
    try:
        return _plain_text(text.strip(), limit=limit)
    except ValidationError as exc:
        raise _attribute_error(_("%(code)s: %(problem)s"), code, problem=" ".join(exc.messages)) from None


def attribute_value_clean(*, question: CategoryAttribute, value: Any) -> Any:
    """One answer, checked and normalised for its question's datatype."""
    if question.datatype in (Datatype.SINGLEVALUELIST, Datatype.MULTIVALUELIST):
        return _list_value(question, value)
    if question.datatype == Datatype.NUMBER:
        return _number_value(question, value)
    if question.datatype == Datatype.DATETIME:
        return _datetime_value(question, value)
    return _text_value(question, value)


def attributes_clean(
    *,
    category: Category,
    attributes: Mapping[str, Any] | None,
    questions: Iterable[CategoryAttribute] | None = None,
) -> dict[str, Any]:
    """The answers to the category's questions, checked and normalised: numbers as numbers, dates as
    ISO 8601 with their offset, list answers as their keys. All problems are raised together, each a
    ValidationError with the question's code in `params["code"]`."""
    if attributes is not None and not isinstance(attributes, Mapping):
        raise ValidationError(_("attributes must be an object of answers by question code."), code="invalid")
    answers = dict(attributes or {})
    if questions is None and getattr(category, "has_questions", None) is False:
        questions = ()  # category_get already knows it asks nothing
    asked = {q.code: q for q in (questions if questions is not None else category.attributes.all())}
    errors: list[ValidationError] = []
    clean: dict[str, Any] = {}
    for code in answers:
        if str(code) not in asked:
            errors.append(_attribute_error(_("unknown attribute “%(code)s”."), str(code)[:60]))
    for code, question in sorted(asked.items(), key=lambda item: (item[1].order, item[0])):
        value = answers.get(code)
        if _is_empty(value):
            if question.required:
                errors.append(
                    _attribute_error(
                        _("%(code)s is required (%(question)s)."), code, question=_question_text(question)
                    )
                )
            continue
        try:
            answer = attribute_value_clean(question=question, value=value)
        except ValidationError as exc:
            errors.append(exc)
            continue
        if _is_empty(answer):
            if question.required:
                errors.append(
                    _attribute_error(
                        _("%(code)s is required (%(question)s)."), code, question=_question_text(question)
                    )
                )
            continue
        clean[code] = answer
    if errors:
        raise ValidationError(errors)
    return clean


# --- The whole submission ------------------------------------------------------------------------


@dataclass(frozen=True)
class CleanSubmission:
    description: str
    address: str
    reporter_name: str
    reporter_phone: str
    reporter_email: str
    attributes: dict[str, Any]


def submission_clean(
    *,
    category: Category,
    description: str = "",
    address: str = "",
    reporter_name: str = "",
    reporter_phone: str = "",
    reporter_email: str = "",
    attributes: Mapping[str, Any] | None = None,
) -> CleanSubmission:
    """Every field of a report, checked: one ValidationError with all the problems, by field."""
    errors: dict[str, list[ValidationError]] = {}
    values: dict[str, Any] = {}
    checks = [
        ("description", "description", lambda: description_clean(description=description)),
        ("address", "address", lambda: address_clean(address=address)),
        ("name", "reporter_name", lambda: name_clean(name=reporter_name)),
        ("phone", "reporter_phone", lambda: phone_clean(phone=reporter_phone)),
        ("email", "reporter_email", lambda: email_clean(email=reporter_email)),
        ("attributes", "attributes", lambda: attributes_clean(category=category, attributes=attributes)),
    ]
    for key, name, check in checks:
        try:
            values[name] = check()
        except ValidationError as exc:
            errors[key] = exc.error_list
    if errors:
        raise ValidationError(errors)
    return CleanSubmission(**values)

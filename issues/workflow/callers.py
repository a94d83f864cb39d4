"""Reads for the 137 call screen: who is calling, by the number they call from.

Reporters' phones are stored as issues.validation.phone_clean leaves them: ASCII digits with an
optional leading +, as the citizen typed them (0912…, +98912…, 0098912…). The operator types the
number shown by the telephone, in whatever form it shows it, perhaps with Persian digits. For an
Iranian number every written form is derived from the national number (the digits after 0 or +98),
and the stored phone is matched against each form exactly, which the partial index on
`reporter_phone` serves.
"""

from __future__ import annotations

from typing import Any

from issues.models import Report
from issues.notifications import phone_normalise
from issues.validation import PHONE_DIGITS_MIN
from issues.workflow.scope import StaffScope, reports_in_scope

IRAN_CODE = "98"


def phone_variants(*, phone: str) -> list[str]:
    """The forms in which this number may have been stored; none for what is not a phone number."""
    normal = phone_normalise(phone or "")
    digits = normal.lstrip("+")
    if len(digits) < PHONE_DIGITS_MIN:
        return []
    if normal.startswith("+") and not digits.startswith(IRAN_CODE):
        return [normal, f"00{digits}"]  # a foreign number: +44…, 0044…
    if normal.startswith("+"):
        national = digits[len(IRAN_CODE) :]
    elif digits.startswith("00" + IRAN_CODE):
        national = digits[2 + len(IRAN_CODE) :]
    elif digits.startswith("00"):
        return [f"+{digits[2:]}", digits]
    elif digits.startswith(IRAN_CODE) and len(digits) == 12:  # 98 912 345 6789 without the +
        national = digits[len(IRAN_CODE) :]
    elif digits.startswith("0"):
        national = digits[1:]
    else:
        national = digits
    return [
        national,
        f"0{national}",
        f"+{IRAN_CODE}{national}",
        f"00{IRAN_CODE}{national}",
        f"{IRAN_CODE}{national}",
    ]


def reports_by_phone(*, phone: str, scope: StaffScope | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The reports filed from this phone number, newest first (at most `limit`). With `scope`, only
    those this member of staff may see. Rows carry the reporter's contact details: for the 137
    centre only (the call screen checks the role)."""
    variants = phone_variants(phone=phone)
    if not variants:
        return []
    reports = reports_in_scope(scope=scope) if scope is not None else Report.objects.all()
    rows: Any = (
        reports.exclude(reporter_phone="")
        .filter(reporter_phone__in=variants)
        .order_by("-created_at", "-id")
        .values(
            "tracking_code",
            "created_at",
            "status",
            "kind",
            "channel",
            "description",
            "address",
            "reporter_name",
            "reporter_phone",
            "category__code",
            "category__name_fa",
            "category__name_en",
        )[:limit]
    )
    return list(rows)

"""What the subscriber reads, in their language (the subscription's `language`, fa or en): the
confirmation message and the alerts. Plain text for SMS and e-mail alike; the outbox writes the
e-mail's HTML part from it. Every message ends with a stop link that works in one click."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django.urls import reverse

from geo.text import to_persian_digits
from issues.selectors import report_tracking_url
from issues.workflow.sla import jalali_format

Lang = Literal["fa", "en"]


def _lang(language: str) -> Lang:
    return "en" if language == "en" else "fa"


def _digits(text: str, lang: Lang) -> str:
    return to_persian_digits(text) if lang == "fa" else text


def link_url(*, name: str, token: str) -> str:
    """An absolute link with the token as `t` (the outbox blanks `?t=` from a message once sent)."""
    return f"{settings.OPEN137_PUBLIC_URL}{reverse(name)}?t={token}"


@dataclass(frozen=True)
class Criteria:
    """What a subscription asks for, with the names to show (no contact)."""

    district_code: str = ""
    district_name_fa: str = ""
    district_name_en: str = ""
    category_code: str = ""
    category_name_fa: str = ""
    category_name_en: str = ""
    radius_m: int | None = None
    lat: float | None = None
    lon: float | None = None

    def describe(self, language: str) -> str:
        lang = _lang(language)
        parts = []
        if self.category_code:
            name = self.category_name_fa if lang == "fa" else (self.category_name_en or self.category_name_fa)
            parts.append(f"موضوع «{name}»" if lang == "fa" else f"category “{name}”")
        if self.district_code:
            name = self.district_name_fa if lang == "fa" else (self.district_name_en or self.district_name_fa)
            parts.append(f"در «{name}»" if lang == "fa" else f"in “{name}”")
        if self.radius_m is not None:
            radius = _digits(str(self.radius_m), lang)
            parts.append(
                f"تا {radius} متری نقطه‌ای که انتخاب کردید"
                if lang == "fa"
                else f"within {radius} m of the point you chose"
            )
        return "، ".join(parts) if lang == "fa" else ", ".join(parts)


def confirmation_text(
    *, language: str, criteria: Criteria, confirm_url: str, stop_url: str
) -> tuple[str, str]:
    """(subject, body) of the message that asks the contact to confirm."""
    what = criteria.describe(language)
    if _lang(language) == "fa":
        return (
            "سامانه ۱۳۷ - تأیید اشتراک هشدار",
            "\n".join(
                [
                    "سامانه ۱۳۷: کسی خواسته است گزارش‌های تازه را برای این نشانی بفرستیم:",
                    what,
                    "برای تأیید، این پیوند را باز کنید:",
                    confirm_url,
                    "اگر شما نخواسته‌اید، کاری نکنید؛ یا با این پیوند آن را لغو کنید:",
                    stop_url,
                ]
            ),
        )
    return (
        "137 - confirm your alert subscription",
        "\n".join(
            [
                "137: someone asked for new reports to be sent here:",
                what,
                "To confirm, open this link:",
                confirm_url,
                "If it was not you, do nothing; or cancel it with this link:",
                stop_url,
            ]
        ),
    )


def _report_line(row: dict[str, Any], lang: Lang) -> str:
    category = (
        row["category_name_fa"] if lang == "fa" else (row["category_name_en"] or row["category_name_fa"])
    )
    district = (
        row["district_name_fa"] if lang == "fa" else (row["district_name_en"] or row["district_name_fa"])
    )
    where = f" - {district}" if district else ""
    return f"{row['tracking_code']}: {category}{where}"


def alert_text(
    *, language: str, reports: list[dict[str, Any]], stop_url: str, digest_max: int
) -> tuple[str, str]:
    """(subject, body) of an alert: one report, or a digest of several (the first `digest_max`
    listed, the rest counted)."""
    lang = _lang(language)
    stop = "لغو این هشدارها:" if lang == "fa" else "Stop these alerts:"
    if len(reports) == 1:
        row = reports[0]
        when = jalali_format(row["created_at"], lang=lang)
        description = " ".join((row["description"] or "").split())[:140]
        lines = (
            ["سامانه ۱۳۷: گزارش تازه", _report_line(row, "fa"), when]
            if lang == "fa"
            else ["137: a new report", _report_line(row, "en"), when]
        )
        if description:
            # Quoted after a label: anyone may file a report, and a description that is a bare
            # URL on a line of its own would be a link in the city's own e-mail (the outbox links
            # a line that starts with http), next to the real stop link.
            lines.append(f"شرح: «{description}»" if lang == "fa" else f"Description: “{description}”")
        lines += [report_tracking_url(code=row["tracking_code"], absolute=True), stop, stop_url]
        subject = (
            f"سامانه ۱۳۷ - گزارش تازه {row['tracking_code']}"
            if lang == "fa"
            else f"137 - new report {row['tracking_code']}"
        )
        return subject, "\n".join(lines)
    count = _digits(str(len(reports)), lang)
    head = f"سامانه ۱۳۷: {count} گزارش تازه" if lang == "fa" else f"137: {count} new reports"
    lines = [head]
    for row in reports[:digest_max]:
        lines.append(_report_line(row, lang))
        lines.append(report_tracking_url(code=row["tracking_code"], absolute=True))
    rest = len(reports) - digest_max
    if rest > 0:
        more = _digits(str(rest), lang)
        lines.append(f"و {more} گزارش دیگر" if lang == "fa" else f"and {more} more")
    lines += [stop, stop_url]
    subject = f"سامانه ۱۳۷ - {count} گزارش تازه" if lang == "fa" else f"137 - {count} new reports"
    return subject, "\n".join(lines)

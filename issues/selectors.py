"""Reads for reports."""

from __future__ import annotations

from django.db.models import QuerySet

from issues.models import OPEN_STATUSES, Category, Report


def category_get(*, code: str) -> Category | None:
    return Category.objects.select_related("department").filter(code=code, active=True).first()


def report_open_list() -> QuerySet[Report]:
    return Report.objects.filter(status__in=OPEN_STATUSES)

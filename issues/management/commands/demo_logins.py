"""`manage.py demo_logins`: where the demo runs and how to log in, in a box (after `demo_load`)."""

from __future__ import annotations

import unicodedata
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from issues.management.commands.demo_load import ADMIN_PASSWORD, ADMIN_USERNAME, DEMO_API_KEY


def display_width(text: str) -> int:
    # Persian text carries zero-width joiners/non-joiners and vowel marks that take no column.
    return sum(
        0 if unicodedata.combining(ch) or unicodedata.category(ch) in ("Cf", "Mn") else 1 for ch in text
    )


def boxed(lines: list[str]) -> str:
    width = max(display_width(line) for line in lines)
    rule = "─" * (width + 2)
    body = [f"│ {line}{' ' * (width - display_width(line))} │" for line in lines]
    return "\n".join([f"┌{rule}┐", *body, f"└{rule}┘"])


class Command(BaseCommand):
    help = "Print the demo's addresses and logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="Where the demo server listens (default: http://127.0.0.1:8000, as `make demo` runs it).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        base = options["base_url"].rstrip("/")
        lines = [
            "open137 demo: Qazvin 137",
            "",
            f"  Home page      {base}/",
            f"  Report         {base}/report/",
            f"  Track a report {base}/track/",
            f"  Admin          {base}/admin/",
            f"  Locate a point {base}/api/locate/?lat=36.269&lon=50.004&category=pothole",
            f"  Reports        {base}/api/reports/",
            f"  Districts      {base}/api/districts/",
            f"  API docs       {base}/api/docs/   (schema: {base}/api/schema/)",
            f"  Open311        {base}/open311/v2/discovery.json",
            "",
            f"  Login          {ADMIN_USERNAME} / {ADMIN_PASSWORD}   (superuser, demo only)",
            f"  Open311 key    {DEMO_API_KEY}   (api_key for POST requests.json)",
            "",
            f"  ورود به بخش مدیریت: نام کاربری {ADMIN_USERNAME} و گذرواژه {ADMIN_PASSWORD}",
            "",
            "  The regions and sub-districts are illustrative, not official boundaries.",
        ]
        self.stdout.write(boxed(lines))

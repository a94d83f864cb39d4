"""`manage.py demo_logins [--json]`: where the demo runs and how to log in (after `demo_load`): the
admin, a member of staff for each role with their scope, and the Open311 key. Without --json, a box
for people (what `make demo` prints); with --json, a list for scripts:
`[{"username", "password", "role", "scope": {"districts": [...], "service_areas": [...]}, "url"}]`.

It reads no database: the logins are the ones demo_load creates (its constants), so it also answers
before the demo is loaded, or where the database is elsewhere.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import translation

from issues.management.commands.demo_load import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    DEMO_API_KEY,
    DEMO_STAFF,
    STAFF_PASSWORD,
    DemoStaff,
)
from issues.models import Role

ADMIN_ROLE = "admin"
OPEN311_ROLE = "open311_client"
# The staff console's pages (console/urls.py under /console/ in open137/urls.py), written out like
# the other addresses here: the command reads no URL configuration, as it reads no database.
CONSOLE = "/console/"
CALL_SCREEN = "/console/call/"


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


def staff_url(member: DemoStaff, base: str) -> str:
    """Where each member of staff starts: the call screen for the 137 operator, the console's
    inbox for those who work reports, the public map for the council."""
    if member.role == Role.OPERATOR:
        return base + CALL_SCREEN
    if member.role == Role.COUNCIL:
        return base + "/"
    return base + CONSOLE


def demo_logins(*, base: str) -> list[dict[str, Any]]:
    """Every demo login: the admin, one member of staff per role, the Open311 client's key."""
    no_scope: dict[str, list[str]] = {"districts": [], "service_areas": []}
    logins: list[dict[str, Any]] = [
        {
            "username": ADMIN_USERNAME,
            "password": ADMIN_PASSWORD,
            "role": ADMIN_ROLE,
            "scope": no_scope,
            "url": base + "/admin/",
        }
    ]
    for member in DEMO_STAFF:
        logins.append(
            {
                "username": member.username,
                "password": STAFF_PASSWORD,
                "role": str(member.role),
                "scope": {
                    "districts": list(member.district_codes),
                    "service_areas": list(member.service_area_codes),
                },
                "url": staff_url(member, base),
            }
        )
    logins.append(
        {
            "username": "",
            "password": DEMO_API_KEY,
            "role": OPEN311_ROLE,
            "scope": no_scope,
            "url": base + "/open311/v2/discovery.json",
        }
    )
    return logins


def _scope_text(member: DemoStaff) -> str:
    if member.district_codes:
        return "districts " + ", ".join(member.district_codes)
    if member.service_area_codes:
        return "unit " + ", ".join(member.service_area_codes)
    if member.role == Role.COUNCIL:
        return "numbers and maps of the whole city"
    return "the whole city"


class Command(BaseCommand):
    help = "Print the demo's addresses and logins (--json: the logins as JSON, for scripts)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="Where the demo server listens (default: http://127.0.0.1:8000, as `make demo` runs it).",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help="A JSON list of the logins: username, password, role, scope (district and unit codes), url.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        base = options["base_url"].rstrip("/")
        if options["json"]:
            self.stdout.write(json.dumps(demo_logins(base=base), ensure_ascii=False, indent=2))
            return
        with translation.override("en"):
            roles = {member.username: str(Role(member.role).label) for member in DEMO_STAFF}
        name_width = max(len(m.username) for m in DEMO_STAFF) + 2
        role_width = max(len(r) for r in roles.values()) + 2
        staff_lines = [
            f"    {m.username:<{name_width}}{roles[m.username]:<{role_width}}{_scope_text(m)}"
            for m in DEMO_STAFF
        ]
        lines = [
            "open137 demo: Qazvin 137",
            "",
            f"  Home page      {base}/",
            f"  Report         {base}/report/",
            f"  Track a report {base}/track/",
            f"  Staff console  {base}{CONSOLE}",
            f"  Call screen    {base}{CALL_SCREEN}",
            f"  Admin          {base}/admin/",
            f"  Locate a point {base}/api/locate/?lat=36.269&lon=50.004&category=pothole",
            f"  Reports        {base}/api/reports/",
            f"  Districts      {base}/api/districts/",
            f"  API docs       {base}/api/docs/   (schema: {base}/api/schema/)",
            f"  Open311        {base}/open311/v2/discovery.json",
            "",
            f"  Login          {ADMIN_USERNAME} / {ADMIN_PASSWORD}   (superuser, demo only)",
            f"  Staff          password {STAFF_PASSWORD} for each of:",
            *staff_lines,
            f"  Open311 key    {DEMO_API_KEY}   (api_key for POST requests.json)",
            "",
            f"  ورود به بخش مدیریت: نام کاربری {ADMIN_USERNAME} و گذرواژه {ADMIN_PASSWORD}",
            f"  ورود کارکنان: نام‌های کاربری بالا با گذرواژه {STAFF_PASSWORD}",
            "",
            "  The regions and sub-districts are illustrative, not official boundaries.",
            "  Logins for scripts: manage.py demo_logins --json",
        ]
        self.stdout.write(boxed(lines))

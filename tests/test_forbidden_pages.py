"""The staff pages' 403: the console and the council dashboard answer a role that may not open a
page with one shared page (templates/forbidden.html), each in its own frame and with its own way
out, in Persian by default and in English."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

CASES = {
    # page, frame, the way out, its label in Persian and in English
    "console": (
        "/console/triage/",
        "console/base.html",
        "maps:home",
        "بازگشت به سایت عمومی",
        "Back to the public site",
    ),  # fmt: skip
    "council": (
        "/council/",
        "council/base.html",
        "council:scorecards",
        "کارنامه‌های عمومی",
        "The public scorecards",
    ),  # fmt: skip
}


@pytest.mark.parametrize("app", CASES)
def test_a_role_that_may_not_open_the_page_gets_the_shared_403_in_its_apps_frame(app, client, city, staff):
    page, frame, back, label_fa, label_en = CASES[app]
    client.force_login(staff.unit_r1)
    answer = client.get(page)
    assert answer.status_code == 403
    names = [t.name for t in answer.templates]
    assert names[0] == "forbidden.html" and frame in names
    html = answer.content.decode()
    assert 'id="forbidden-message"' in html and "اجازه ندارید" in html  # "Not allowed"
    assert f'href="{reverse(back)}">{label_fa}</a>' in html
    # The frame's own header: the console's sign-out form, the council's scorecards link.
    frame_mark = f'action="{reverse("console:logout")}"' if app == "console" else 'id="nav-scorecards"'
    assert frame_mark in html
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = client.get(page).content.decode()
    assert "Not allowed" in english and f'href="{reverse(back)}">{label_en}</a>' in english


def test_neither_app_keeps_a_copy_of_the_page():
    root = Path(settings.BASE_DIR)
    assert (root / "templates" / "forbidden.html").exists()
    assert not (root / "console" / "templates" / "console" / "forbidden.html").exists()
    assert not (root / "council" / "templates" / "council" / "forbidden.html").exists()

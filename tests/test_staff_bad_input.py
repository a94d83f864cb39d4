"""Bad query input on the staff inbox (the console page and the staff API): a clear 400, never a 500."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

BAD = [
    {"cursor": "not-a-cursor"},
    {"cursor": "MjAyNi0xMi0wM3w5OTk5OTk5OTk5OTk5OTk5OTk5OTk5"},
    {"since": "yesterday"},
    {"since": "2026-13-45"},
    {"bbox": "1,2,3"},
    {"status": "nonsense"},
    {"overdue": "maybe"},
    {"unit": "x\x00y"},
    {"q": "\x00"},
    {"page_size": "-1"},
    {"page_size": "9" * 40},
]


@pytest.mark.parametrize("params", BAD)
def test_bad_inbox_filters_are_a_400_on_the_api(api_client, staff, params):
    api_client.force_authenticate(staff.manager_r1)
    response = api_client.get("/api/staff/reports/", params)
    assert response.status_code == 400, (params, response.content[:300])
    assert response.json()["error"]


@pytest.mark.parametrize("params", BAD)
def test_bad_inbox_filters_never_break_the_console(client, staff, params):
    # The page reads its filters through a form: what the form has no field for (bbox, page_size)
    # is ignored and a checkbox takes any value as ticked; everything it reads that is wrong is a
    # 400 with the form's message.
    client.force_login(staff.manager_r1)
    response = client.get("/console/", params)
    read_and_wrong = not ({"bbox", "page_size", "overdue"} & set(params))
    assert response.status_code == (400 if read_and_wrong else 200), params

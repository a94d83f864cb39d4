"""Fuzzing the HTTP surface: every operation of the OpenAPI schema (/api/schema/), public and staff,
with schemathesis, in-process through the WSGI application.

For each operation schemathesis generates requests, valid (positive) and invalid (negative), and
each answer must be: not a server error (5xx), a status code the schema documents for the
operation, the content type it documents, and a body that validates against the documented
schema. Where an answer broke its schema the schema was wrong and was fixed in its `extend_schema`
(the view modules of issues/api/, issues/staff_api/views.py, issues/oversight/views.py,
districts/apis.py), not here.

The requests reach real data: the standard test city, reports in several states with fixed
tracking codes and known private tokens, so that generated paths and bodies name a report (and
a token) often enough to get past the 404s and 403s. Staff operations carry a supervisor's token.

Bounded and derandomized in `make test`: OPEN137_FUZZ_EXAMPLES (default 25) examples per operation
and per phase, from the fixed seed of the "ci" hypothesis profile. For a longer run:
`OPEN137_FUZZ_EXAMPLES=500 HYPOTHESIS_PROFILE=stress .venv/bin/python -m pytest tests/test_fuzz_schema.py`.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.test import Client

from issues.formats import token_hash
from issues.models import Report
from issues.services.intake import report_create
from issues.workflow.citizen import report_citizen_confirm
from issues.workflow.services import report_transition
from tests.conftest import STAFF_PASSWORD, jpeg_upload, pt

EXAMPLES = int(os.environ.get("OPEN137_FUZZ_EXAMPLES", "25"))

# Fixed tracking codes (the alphabet of issues.services.tracking: no look-alike letters) and the
# private token each report's reporter holds.
CODES = {
    "forwarded": "ACDEFGHJ",
    "triage": "KMNPQRTU",
    "done": "VWXY3467",
    "closed": "9ACDEFGH",
}
TOKEN = "fuzz-private-token-"
FAR = (50.2, 36.4)  # some 20 km from the test city's districts
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture
def wsgi_in_test_transaction():
    """Django's handler closes the database connection at the end of each request when it is not in
    autocommit: inside the test's transaction it always is not. The test client unhooks that; the
    WSGI application schemathesis calls is the real one, so it is unhooked here."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_world(wsgi_in_test_transaction, city, staff, settings, tmp_path):
    """The standard city, its staff and four reports at fixed codes (forwarded, in triage, done by
    the unit, closed), each with its reporter's private token; no write limits."""
    settings.OPEN137_RATE_REPORTS = ""
    settings.OPEN137_RATE_SUPPORT = ""
    settings.OPEN137_RATE_UPDATES = ""
    settings.OPEN137_RATE_TOKEN = ""
    settings.MEDIA_ROOT = str(tmp_path / "media")

    def made(state: str, where: str) -> Report:
        report = report_create(
            category=city.pothole,
            location=pt(*FAR) if where == "far" else pt(*getattr(city.points, where)),
            description="چاله",
            private_token_hash=token_hash(TOKEN + state),
        )
        Report.objects.filter(pk=report.pk).update(tracking_code=CODES[state])
        report.refresh_from_db()
        return report

    made("forwarded", "r1")
    made("triage", "far")  # outside every district, beyond the tolerance: received, no unit
    done = made("done", "r2")
    report_transition(report=done, action="acknowledge", actor=staff.unit_r2)
    report_transition(report=done, action="done", actor=staff.unit_r2, note="ok", photos=[jpeg_upload()])
    closed = made("closed", "s11")
    report_transition(report=closed, action="acknowledge", actor=staff.unit_r1)
    closed = report_transition(
        report=closed, action="done", actor=staff.unit_r1, note="ok", photos=[jpeg_upload()]
    ).report
    report_citizen_confirm(report=closed, fixed=True)
    return staff


def _auth_header(user) -> dict[str, str]:
    token, _created = Token.objects.get_or_create(user=user)
    return {"Authorization": f"Token {token.key}"}


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    """A tracking code is a report's as often as not: most of each operation's code runs after the
    404 for an unknown code."""
    if not path_parameters or "code" not in path_parameters:
        return st.just(path_parameters)
    return st.sampled_from([*CODES.values(), path_parameters["code"]]).map(
        lambda code: {**path_parameters, "code": code}
    )


# Inside the test city (R1, S11, R2: lon 50.00-50.04, lat 36.26-36.28), and a little outside it.
_lon = st.floats(min_value=49.995, max_value=50.045)
_lat = st.floats(min_value=36.255, max_value=36.285)


@schema.hook
def flatmap_body(context, body):
    """Bodies that name what exists (a category, a reporter's token) as often as what does not, so
    that generated requests reach the services and not only the first refusal."""
    if not isinstance(body, dict):
        return st.just(body)
    operation = context.operation.definition.raw.get("operationId", "") if context.operation else ""
    if operation == "reports_create":
        return st.one_of(
            st.just(body),
            st.tuples(st.sampled_from(["pothole", "suggestion"]), _lon, _lat).map(
                lambda t: {**body, "category": t[0], "lon": t[1], "lat": t[2]}
            ),
        )
    if operation == "auth_token_create":
        return st.sampled_from([None, "supervisor", "unit_r1", "council"]).map(
            lambda user: body if user is None else {**body, "username": user, "password": STAFF_PASSWORD}
        )
    if operation in {"reports_feedback", "reports_rating", "reports_stop_messages"}:
        return st.sampled_from([TOKEN + state for state in CODES] + [body.get("token")]).map(
            lambda token: {**body, "token": token}
        )
    return st.just(body)


@schema.parametrize()
# Seed, deadline and example database from the hypothesis profile (tests/conftest.py): a fixed seed
# in `make test`, a new one under HYPOTHESIS_PROFILE=stress.
@settings(max_examples=EXAMPLES, suppress_health_check=list(HealthCheck))
@pytest.mark.django_db
def test_every_operation_keeps_its_schema(case, fuzz_world):
    # The WSGI client asks for gzip but does not unzip (the heatmap is sent gzipped): ask for none.
    response = case.call(headers={**_auth_header(fuzz_world.supervisor), "Accept-Encoding": "identity"})
    case.validate_response(response, checks=CHECKS)


# --- What the fuzzing found ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_request_without_remote_addr_is_not_a_server_error(wsgi_in_test_transaction, city, settings):
    # A WSGI server on a Unix socket may give no REMOTE_ADDR (the schemathesis client gives none):
    # the write limits and "me too" once took that for an address and answered 500.
    settings.OPEN137_RATE_REPORTS = "30/hour"
    settings.OPEN137_RATE_SUPPORT = "120/hour"
    client = Client(get_wsgi_application())
    lon, lat = city.points.r1
    created = client.post(
        "/api/reports/", json={"category": "pothole", "lat": lat, "lon": lon, "description": "چاله"}
    )
    assert created.status_code == 201, created.get_data()[:300]
    code = created.get_json()["code"]
    first = client.post(f"/api/reports/{code}/support/")
    assert first.status_code == 200, first.get_data()[:300]
    assert first.get_json() == {"code": code, "support_count": 1, "added": True}
    # Every client without an address is the same one: the second "me too" does not count again.
    again = client.post(f"/api/reports/{code}/support/")
    assert again.get_json() == {"code": code, "support_count": 1, "added": False}

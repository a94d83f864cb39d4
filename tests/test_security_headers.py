"""Browser hardening: a Content-Security-Policy without inline script on every page, a
Permissions-Policy, and the two exceptions (the admin and the API docs ship inline scripts)."""

from __future__ import annotations

import re

import pytest

from open137.middleware import content_security_policy

pytestmark = pytest.mark.django_db


def _directives(header: str) -> dict[str, str]:
    return {
        part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else "" for part in header.split("; ")
    }


@pytest.mark.parametrize("path", ["/", "/report/", "/track/", "/api/reports/", "/open311/v2/discovery.json"])
def test_pages_and_apis_forbid_inline_script(client, path):
    response = client.get(path)
    assert response.status_code == 200
    policy = _directives(response["Content-Security-Policy"])
    assert policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert (
        "geolocation=(self)" in response["Permissions-Policy"]
        and "camera=()" in response["Permissions-Policy"]
    )


def test_pages_carry_no_inline_script_that_the_policy_would_block(client):
    # The policy must not break the pages: every <script> is a file of ours or a JSON data block.
    for path in ("/", "/report/", "/track/"):
        page = client.get(path).content.decode()
        for tag in re.findall(r"<script[^>]*>", page):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
        assert not re.search(r"\son(click|load|change|submit|input)=", page), path


def test_the_admin_and_the_api_docs_allow_their_own_inline_scripts(admin_client, client):
    assert (
        "'unsafe-inline'" in _directives(admin_client.get("/admin/")["Content-Security-Policy"])["script-src"]
    )
    assert "'unsafe-inline'" in _directives(client.get("/api/docs/")["Content-Security-Policy"])["script-src"]


def test_base_map_tiles_are_allowed_from_their_host_only(settings):
    settings.OPEN137_TILE_URL = "https://{s}.tiles.example.org/{z}/{x}/{y}.png"
    assert "https://*.tiles.example.org" in _directives(content_security_policy())["img-src"]
    settings.OPEN137_TILE_URL = ""
    assert _directives(content_security_policy())["img-src"] == "'self' data: blob:"

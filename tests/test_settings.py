"""Settings from the environment: production mode is safe (`check --deploy` is clean) and refuses to
start without a secret key; a postgres:// DATABASE_URL still gets the PostGIS engine."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The project's own interpreter (the virtualenv's), as an operator would run manage.py.
PYTHON = (
    str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
)


def _env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPEN137_", "DJANGO_", "DATABASE_URL"))}
    env.update(overrides)
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [PYTHON, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_check_deploy_is_clean_in_production_mode():
    env = _env(
        OPEN137_PRODUCTION="1",
        OPEN137_SECRET_KEY=secrets.token_urlsafe(64),
        OPEN137_ALLOWED_HOSTS="example.org",
    )
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stderr + result.stdout


def test_check_deploy_in_demo_mode_does_warn():
    # The same command must be able to fail: the demo settings (DEBUG, a known key) are not deployable.
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], _env())
    assert result.returncode != 0
    assert "security.W018" in result.stderr + result.stdout  # DEBUG is on


def test_production_without_a_secret_key_refuses_to_start():
    result = _run(["manage.py", "check"], _env(OPEN137_PRODUCTION="1", OPEN137_ALLOWED_HOSTS="example.org"))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "OPEN137_SECRET_KEY must be set" in result.stderr


def _settings_json(env: dict[str, str], expression: str) -> Any:
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({expression}, default=str))"
    )
    result = _run(["-c", code], {**env, "DJANGO_SETTINGS_MODULE": "open137.settings"})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_postgres_database_url_gets_the_postgis_engine():
    db = _settings_json(
        _env(DATABASE_URL="postgres://open137:s3cret@db.example.org:6543/city"),
        "settings.DATABASES['default']",
    )
    assert db["ENGINE"] == "django.contrib.gis.db.backends.postgis"
    assert (db["HOST"], db["PORT"], db["NAME"], db["USER"], db["PASSWORD"]) == (
        "db.example.org",
        6543,
        "city",
        "open137",
        "s3cret",
    )


def test_production_settings_are_secure():
    values = _settings_json(
        _env(
            OPEN137_PRODUCTION="1",
            OPEN137_SECRET_KEY=secrets.token_urlsafe(64),
            OPEN137_ALLOWED_HOSTS="a.org,b.org",
        ),
        "[settings.DEBUG, settings.ALLOWED_HOSTS, settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE,"
        " settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS > 0]",
    )
    assert values == [False, ["a.org", "b.org"], True, True, True, True]


def test_production_without_allowed_hosts_refuses_to_start():
    result = _run(
        ["manage.py", "check"], _env(OPEN137_PRODUCTION="1", OPEN137_SECRET_KEY=secrets.token_urlsafe(64))
    )
    assert result.returncode != 0
    assert "OPEN137_ALLOWED_HOSTS" in result.stderr

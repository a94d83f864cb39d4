"""Settings from the environment: production mode is safe (`check --deploy` is clean) and refuses to
start without what it cannot guess (a secret key, the hosts, the proxy count, real e-mail and SMS
gateways, the public URL); a postgres:// DATABASE_URL still gets the PostGIS engine.

Settings are read at import, so every production case runs Django in a subprocess, as an operator
would run manage.py."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

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


# Everything production needs, as docs/operations.md lists it.
PRODUCTION = {
    "OPEN137_PRODUCTION": "1",
    "OPEN137_ALLOWED_HOSTS": "137.qazvin.example",
    "OPEN137_NUM_PROXIES": "1",
    "OPEN137_EMAIL_HOST": "smtp.qazvin.example",
    "OPEN137_EMAIL_FROM": "سامانه ۱۳۷ <137@qazvin.example>",
    "OPEN137_SMS_BACKEND": "http",
    "OPEN137_SMS_URL": "https://sms.example.ir/send",
    "OPEN137_SMS_API_KEY": "gateway-key",
    "OPEN137_PUBLIC_URL": "https://137.qazvin.example/",
}


def _production(**overrides: str | None) -> dict[str, str]:
    """A complete production environment; an override of None removes that setting."""
    env = {**PRODUCTION, "OPEN137_SECRET_KEY": secrets.token_urlsafe(64), **overrides}
    return _env(**{k: v for k, v in env.items() if v is not None})


def test_check_deploy_is_clean_in_production_mode():
    env = _production()
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
        _production(OPEN137_ALLOWED_HOSTS="a.org,b.org", OPEN137_PUBLIC_URL="https://a.org"),
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


def _refusal(env: dict[str, str]) -> str:
    """What an operator sees when production will not start: manage.py fails, and says why."""
    result = _run(["manage.py", "check"], env)
    assert result.returncode != 0, result.stdout
    assert "ImproperlyConfigured" in result.stderr
    return result.stderr


def test_production_with_only_a_key_and_hosts_names_every_missing_setting_at_once():
    # What used to start: e-mail to the console, SMS to a log file, from 137@localhost, links to
    # 127.0.0.1, every citizen one address behind the proxy.
    stderr = _refusal(
        _env(
            OPEN137_PRODUCTION="1",
            OPEN137_SECRET_KEY=secrets.token_urlsafe(64),
            OPEN137_ALLOWED_HOSTS="137.qazvin.example",
        )
    )
    for setting in (
        "OPEN137_EMAIL_HOST",
        "OPEN137_EMAIL_FROM",
        "OPEN137_SMS_BACKEND",
        "OPEN137_PUBLIC_URL",
        "OPEN137_NUM_PROXIES",
    ):
        assert f"  {setting}: " in stderr, (setting, stderr)


@pytest.mark.parametrize(
    ("override", "setting", "words"),
    [
        ({"OPEN137_EMAIL_HOST": None}, "OPEN137_EMAIL_HOST", "SMTP server"),
        (
            {"OPEN137_EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"},
            "OPEN137_EMAIL_BACKEND",
            "sends no e-mail",
        ),
        ({"OPEN137_EMAIL_FROM": "137@localhost"}, "OPEN137_EMAIL_FROM", "real address"),
        ({"OPEN137_EMAIL_FROM": None}, "OPEN137_EMAIL_FROM", "not set"),
        ({"OPEN137_SMS_BACKEND": None}, "OPEN137_SMS_BACKEND", "no SMS gateway"),
        ({"OPEN137_SMS_BACKEND": "log"}, "OPEN137_SMS_BACKEND", "instead of sending"),
        ({"OPEN137_SMS_URL": "http://sms.example.ir/send"}, "OPEN137_SMS_URL", "https://"),
        ({"OPEN137_SMS_API_KEY": None}, "OPEN137_SMS_API_KEY", "API key"),
        ({"OPEN137_PUBLIC_URL": None}, "OPEN137_PUBLIC_URL", "point to nothing"),
        ({"OPEN137_PUBLIC_URL": "http://127.0.0.1:8000"}, "OPEN137_PUBLIC_URL", "127.0.0.1"),
        ({"OPEN137_PUBLIC_URL": "http://137.qazvin.example"}, "OPEN137_PUBLIC_URL", "https://"),
        (
            {"OPEN137_PUBLIC_URL": "https://137.other.example"},
            "OPEN137_PUBLIC_URL",
            "not in OPEN137_ALLOWED_HOSTS",
        ),
        ({"OPEN137_NUM_PROXIES": None}, "OPEN137_NUM_PROXIES", "reverse proxies"),
        ({"OPEN137_NUM_PROXIES": ""}, "OPEN137_NUM_PROXIES", "reverse proxies"),
    ],
)
def test_production_refuses_to_start_without_real_message_and_proxy_settings(override, setting, words):
    stderr = _refusal(_production(**override))
    [line] = [line for line in stderr.splitlines() if line.startswith(f"  {setting}: ")]
    assert words in line, stderr
    # Only what is wrong is named.
    assert sum(line.startswith("  OPEN137_") for line in stderr.splitlines()) == 1, stderr


@pytest.mark.parametrize("value", ["-1", "one", "1.5"])
def test_a_proxy_count_that_is_not_a_count_is_refused_in_any_mode(value):
    for env in (_production(OPEN137_NUM_PROXIES=value), _env(OPEN137_NUM_PROXIES=value)):
        assert "OPEN137_NUM_PROXIES must be a whole number" in _refusal(env)


def test_production_accepts_zero_proxies_and_then_trusts_no_forwarded_header():
    # 0 is a valid answer (the app server faces the clients and terminates TLS itself): then neither
    # X-Forwarded-For nor X-Forwarded-Proto is believed, as any client could send them.
    expression = "[settings.REST_FRAMEWORK['NUM_PROXIES'], settings.SECURE_PROXY_SSL_HEADER]"
    assert _settings_json(_production(OPEN137_NUM_PROXIES="0"), expression) == [0, None]
    assert _settings_json(_production(OPEN137_NUM_PROXIES="2"), expression) == [
        2,
        ["HTTP_X_FORWARDED_PROTO", "https"],
    ]


def test_production_messages_go_out_through_the_given_gateways():
    values = _settings_json(
        _production(),
        "[settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.DEFAULT_FROM_EMAIL,"
        " settings.OPEN137_SMS_BACKEND, settings.OPEN137_PUBLIC_URL]",
    )
    assert values == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.qazvin.example",
        "سامانه ۱۳۷ <137@qazvin.example>",
        "http",
        "https://137.qazvin.example",
    ]


def test_production_refuses_an_sms_gateway_class_that_does_not_exist():
    result = _run(["manage.py", "check"], _production(OPEN137_SMS_BACKEND="gateways.kavenegar.Sms"))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "OPEN137_SMS_BACKEND='gateways.kavenegar.Sms' cannot be imported" in result.stderr
    # A gateway class that exists is accepted.
    ok = _run(["manage.py", "check"], _production(OPEN137_SMS_BACKEND="tests.test_outbox.CountingSms"))
    assert ok.returncode == 0, ok.stderr


def test_demo_gateways_fail_check_deploy_even_without_production_mode():
    # DEBUG off by hand, production mode forgotten: check --deploy still says messages go nowhere.
    result = _run(["manage.py", "check", "--deploy"], _env(OPEN137_DEBUG="0"))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for check_id in ("open137.E001", "open137.E003", "open137.E004", "open137.E007"):
        assert check_id in output, (check_id, output)
    assert "HINT: Set OPEN137_SMS_BACKEND." in output


def test_the_demo_passes_the_ordinary_checks_but_not_a_mistyped_sms_gateway():
    assert _run(["manage.py", "check"], _env()).returncode == 0
    result = _run(["manage.py", "check"], _env(OPEN137_SMS_BACKEND="htpp"))
    assert result.returncode != 0
    assert "open137.E010" in result.stderr and "'htpp' is neither a known gateway" in result.stderr

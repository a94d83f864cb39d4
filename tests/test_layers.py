"""The layers hold: dependencies point one way (geo <- districts <- issues <- alerts, participation
<- maps, console, council), and
the page apps read and write only through the lower apps' selectors and services.

Read from the source with `ast`, so an import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
APPS = ("geo", "districts", "issues", "alerts", "participation", "maps", "console", "council")
# What each layer may import of the project's own packages (open137 holds settings and shared helpers).
ALLOWED = {
    "geo": set(),
    "districts": {"geo", "open137"},
    "issues": {"geo", "districts", "open137"},
    # Alerts and participation build on reports; reports never know them.
    "alerts": {"geo", "districts", "issues", "open137"},
    "participation": {"geo", "districts", "issues", "open137"},
    "maps": {"geo", "districts", "issues", "alerts", "participation", "open137"},
    "console": {"geo", "districts", "issues", "alerts", "participation", "open137"},
    "council": {"geo", "districts", "issues", "open137"},
}
PAGE_APPS = ("maps", "console", "council")


def _sources(app: str) -> list[Path]:
    return [p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts]


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("app", APPS)
def test_each_layer_imports_only_the_layers_below_it(app):
    project = set(APPS) | {"open137"}
    for path in _sources(app):
        wrong = (_imported_packages(path) & project) - ALLOWED[app] - {app}
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


def test_the_check_sees_a_forbidden_import(tmp_path):
    # The check itself must be able to fail: an import inside a function is seen too.
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from issues.models import Report\n    import maps.views\n")
    assert _imported_packages(sample) == {"issues", "maps"}


@pytest.mark.parametrize("app", PAGE_APPS)
def test_page_apps_run_no_sql_and_query_no_model(app):
    for path in _sources(app):
        source = path.read_text(encoding="utf-8")
        where = path.relative_to(ROOT)
        assert "connection" not in source, where
        assert ".objects" not in source and ".raw(" not in source, where
        assert "districts_" not in source and "issues_" not in source, where
        assert not re.search(
            r"from (issues|districts)\.models import [^\n]*\b(ReportEvent|District)\b", source
        ), where

"""What the figures were measured on: they mean little without the machine and the versions."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return None


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def machine_describe() -> dict[str, str]:
    """Machine, database and library versions, as label -> text (after django.setup())."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('server_version'), postgis_lib_version(), postgis_geos_version()"
        )
        pg_version, postgis_version, geos_version = cursor.fetchone()
    ram = _ram_gib()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "CPU": f"{_cpu_model()}, {os.cpu_count()} cores",
        "RAM": f"{ram:.1f} GiB" if ram else "?",
        "OS": f"{platform.system()} {platform.release()}",
        "PostgreSQL": str(pg_version),
        "PostGIS": f"{postgis_version} (GEOS {geos_version})",
        "Python": platform.python_version(),
        "Libraries": ", ".join(
            f"{name} {_package(name)}" for name in ("Django", "psycopg", "shapely", "numpy")
        ),
        # Other work on the machine slows one side or the other: the load says how quiet it was.
        "Load average at start": " / ".join(f"{x:.2f}" for x in load) if load else "?",
        "Date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }

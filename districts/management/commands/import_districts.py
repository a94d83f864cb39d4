"""`manage.py import_districts PATH --code-field F --name-field F [...] [--commit]`: import one level of
districts from any GIS file GDAL reads into a new boundary set. Without --commit it is a dry run that
prints what the import would do (overlaps, gaps, the area that changes hands and the open reports that
would move) and writes nothing."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from districts.importing import (
    MIN_REPORTED_AREA_M2,
    MIN_REPORTED_WIDTH_M,
    BoundaryImportError,
    ImportSummary,
    boundary_import,
)
from districts.models import DistrictLevel

LEVELS = {
    "jurisdiction": DistrictLevel.JURISDICTION,
    "region": DistrictLevel.REGION,
    "sub_district": DistrictLevel.SUB_DISTRICT,
}
_LEVEL_NAMES = {int(v): k for k, v in LEVELS.items()}
_MAX_ROWS = 10  # per list in the printed summary; the totals always count everything


def parse_level(value: str) -> DistrictLevel:
    text = value.strip().lower().replace("-", "_")
    if text in LEVELS:
        return LEVELS[text]
    if text.isdigit() and int(text) in _LEVEL_NAMES:
        return DistrictLevel(int(text))
    raise argparse.ArgumentTypeError(f"unknown level {value!r}: choose {', '.join(LEVELS)} (or 0, 1, 2)")


def _m2(area: float) -> str:
    return f"{area:,.0f} m²" if area >= 10 else f"{area:,.1f} m²"


_KINDS = {"moved": "redrawn", "new": "new", "gone": "gone", "level": "level changed"}


def _change_rows(summary: ImportSummary) -> list[tuple[str, str]]:
    """Against the active set: per district, the area that changes hands and the open reports that
    leave it or join it; then the moves of open reports, from which district to which."""
    moves = summary.moves.get("open reports")
    leave: dict[str, int] = {}
    join: dict[str, int] = {}
    for m in moves or []:
        if m.before:
            leave[m.before] = leave.get(m.before, 0) + m.count
        if m.after:
            join[m.after] = join.get(m.after, 0) + m.count
    rows = [("area changing hands", f"{len(summary.area_changes)} district(s)")]
    for change in summary.area_changes[:_MAX_ROWS]:
        figure = f"{_m2(change.area_m2)} ({_KINDS.get(change.kind, change.kind)})"
        if moves is not None:
            figure += f"; open reports: {leave.get(change.code, 0)} would leave, {join.get(change.code, 0)} would join"
        rows.append((f"  {change.code}", figure))
    if moves is not None:
        rows.append(("open reports moving", f"{summary.moving():,} would change district"))
        rows += [
            (f"  {m.before or '(none)'} -> {m.after or '(none)'}", f"{m.count:,}") for m in moves[:_MAX_ROWS]
        ]
    return rows


def summary_lines(summary: ImportSummary) -> list[str]:
    """The summary as aligned lines: a label column, then the figure."""
    rows: list[tuple[str, str]] = [
        ("file", summary.path),
        ("layer", f"{summary.layer} ({summary.driver}, {summary.source_srs} -> EPSG:4326)"),
        ("level", _LEVEL_NAMES.get(summary.level, str(summary.level))),
        (
            "boundary set",
            f"{summary.boundary_set_name} (id {summary.boundary_set_id})"
            if summary.committed
            else f"{summary.boundary_set_name} (dry run: not written)",
        ),
        (
            "replaces",
            f"{summary.replaced} district(s) of this level in “{summary.previous_set}”"
            if summary.previous_set
            else "nothing (no active boundary set)",
        ),
        ("features imported", str(summary.features)),
    ]
    if summary.skipped:
        detail = ", ".join(f"{kind}: {n}" for kind, n in sorted(summary.skipped.items()))
        rows.append(("features skipped", f"{summary.skipped_features} ({detail})"))
    rows.append(("vertices", f"{summary.vertices:,}"))
    rows.append(("repairs", str(len(summary.repairs))))
    rows += [(f"  {r.code}", f"{r.reason} -> {r.result}") for r in summary.repairs[:_MAX_ROWS]]
    rows.append(("dropped rings", str(summary.dropped_ring_count)))
    rows += [(f"  {code}", str(n)) for code, n in list(summary.dropped_rings.items())[:_MAX_ROWS]]
    rows.append(("overlaps", f"{len(summary.overlaps)} pair(s), {_m2(summary.overlap_area_m2)}"))
    rows += [(f"  {o.code_a} x {o.code_b}", _m2(o.area_m2)) for o in summary.overlaps[:_MAX_ROWS]]
    rows.append(("gaps", f"{len(summary.gaps)}, {_m2(summary.gap_area_m2)}"))
    rows += [(f"  at {g.lat:.5f}, {g.lon:.5f}", _m2(g.area_m2)) for g in summary.gaps[:_MAX_ROWS]]
    if summary.slivers:
        rows.append(
            (
                "slivers ignored",
                f"{summary.slivers} (thinner than {MIN_REPORTED_WIDTH_M * 100:g} cm "
                f"or under {MIN_REPORTED_AREA_M2:g} m²)",
            )
        )
    if summary.copied:
        kept = ", ".join(f"{_LEVEL_NAMES.get(lv, lv)}: {n}" for lv, n in summary.copied.items())
        rows.append(("kept other levels", kept))
    moved = [r for r in summary.relinked if r.how == "location"]
    if moved:
        rows.append(("re-linked by location", str(len(moved))))
        rows += [(f"  {r.code}", f"{r.old_parent} -> {r.new_parent}") for r in moved[:_MAX_ROWS]]
    if summary.previous_set:
        rows += _change_rows(summary)
    width = max(len(label) for label, _value in rows) + 2
    lines = [f"{label:<{width}}{value}" for label, value in rows]
    lines += [f"warning: {w}" for w in summary.warnings]
    return lines


class Command(BaseCommand):
    help = (
        "Import one level of districts from a GIS file (GeoJSON, Shapefile, GeoPackage, KML, ...) into "
        "a new boundary set. Dry run unless --commit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="The file (or directory, for a Shapefile folder) to import.")
        parser.add_argument("--code-field", required=True, help="Field with the district code.")
        parser.add_argument(
            "--name-field",
            required=True,
            help="Field with the Persian name. A key inside a JSON-object field: dotted, e.g. tags.name.",
        )
        parser.add_argument("--name-en-field", help="Field with the English name (optional).")
        parser.add_argument("--layer", help="Layer name, when the file holds several.")
        parser.add_argument(
            "--level",
            type=parse_level,
            default=DistrictLevel.REGION,
            help="jurisdiction, region (default) or sub_district.",
        )
        parser.add_argument("--parent-field", help="Field with the parent district's code.")
        parser.add_argument("--population-field", help="Field with the population.")
        parser.add_argument(
            "--srid",
            type=int,
            help="The file's coordinate system (EPSG code), when it has none or a wrong one.",
        )
        parser.add_argument(
            "--fix-invalid",
            action="store_true",
            help="Repair invalid polygons (self-intersections) instead of refusing them.",
        )
        parser.add_argument("--commit", action="store_true", help="Write and activate the new set.")
        parser.add_argument("--set-name", help="Name of the new boundary set (default: file name and time).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = boundary_import(
                path=options["path"],
                code_field=options["code_field"],
                name_field=options["name_field"],
                name_en_field=options["name_en_field"],
                layer=options["layer"],
                level=options["level"],
                parent_field=options["parent_field"],
                population_field=options["population_field"],
                srid=options["srid"],
                fix_invalid=options["fix_invalid"],
                commit=options["commit"],
                set_name=options["set_name"],
            )
        except BoundaryImportError as exc:
            raise CommandError(str(exc)) from None
        for line in summary_lines(summary):
            self.stdout.write(line)
        if summary.committed:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Boundary set “{summary.boundary_set_name}” (id {summary.boundary_set_id}) written "
                    "and activated. Run `manage.py reroute` to see which open reports move."
                )
            )
        else:
            self.stdout.write("Dry run: nothing written. Add --commit to write.")

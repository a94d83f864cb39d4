"""`manage.py import_places PATH --name-field F [--name-en-field F] [--kind-field F] [--kind K]
[--layer L] [--srid N] [--source S] [--commit]`: named places (neighbourhoods, landmarks, streets)
for the 137 call screen's place search, from any GIS file GDAL reads. Without --commit it is a dry
run that says what would be imported and writes nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from issues.places.importing import PlaceImportError, PlaceImportSummary, places_import
from issues.places.models import PlaceKind


def summary_lines(summary: PlaceImportSummary) -> list[str]:
    rows: list[tuple[str, str]] = [
        ("file", summary.path),
        ("layer", f"{summary.layer} ({summary.driver}, {summary.source_srs} -> EPSG:4326)"),
        ("source", summary.source),
        ("features read", str(summary.features)),
        ("places new", str(summary.imported)),
    ]
    if summary.kinds:
        rows.append(("  by kind", ", ".join(f"{k}: {n}" for k, n in sorted(summary.kinds.items()))))
    if summary.examples:
        rows.append(("  e.g.", "، ".join(summary.examples)))
    rows.append(("already there", str(summary.already_there)))
    for reason, n in sorted(summary.skipped.items()):
        rows.append((f"skipped: {reason}", str(n)))
    width = max(len(label) for label, _value in rows) + 2
    return [f"{label:<{width}}{value}" for label, value in rows]


class Command(BaseCommand):
    help = (
        "Import named places (neighbourhoods, landmarks, streets) for the call screen's place search "
        "from a GIS file (GeoJSON, Shapefile, GeoPackage, KML, ...). Dry run unless --commit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="The file (or directory, for a Shapefile folder) to import.")
        parser.add_argument(
            "--name-field",
            required=True,
            help="Field with the Persian name. A key inside a JSON-object field: dotted, e.g. tags.name.",
        )
        parser.add_argument("--name-en-field", help="Field with the English name (optional).")
        parser.add_argument(
            "--kind-field",
            help=f"Field with the kind ({', '.join(PlaceKind.values)}, or a word for one such as خیابان).",
        )
        parser.add_argument(
            "--kind",
            default=PlaceKind.OTHER.value,
            choices=PlaceKind.values,
            help="The kind of the places without a kind field or value (default: other).",
        )
        parser.add_argument("--layer", help="Layer name, when the file holds several.")
        parser.add_argument(
            "--srid",
            type=int,
            help="The file's coordinate system (EPSG code), when it has none or a wrong one.",
        )
        parser.add_argument("--source", help="Where the places come from (default: file and layer name).")
        parser.add_argument("--commit", action="store_true", help="Write the places.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = places_import(
                path=options["path"],
                name_field=options["name_field"],
                name_en_field=options["name_en_field"],
                kind_field=options["kind_field"],
                kind=options["kind"],
                layer=options["layer"],
                srid=options["srid"],
                source=options["source"] or "",
                commit=options["commit"],
            )
        except PlaceImportError as exc:
            raise CommandError(str(exc)) from None
        for line in summary_lines(summary):
            self.stdout.write(line)
        if summary.committed:
            self.stdout.write(self.style.SUCCESS(f"{summary.imported} place(s) written."))
        else:
            self.stdout.write("Dry run: nothing written. Add --commit to write.")

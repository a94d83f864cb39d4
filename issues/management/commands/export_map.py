"""`manage.py export_map --kind heatmap|choropleth|hotspots [filters] --out FILE.html`: an offline map
for a council meeting, one HTML file that opens with no network (issues.oversight.exports).

The filters are those of `/api/reports/`, with the same meaning: `--category` (codes, comma list),
`--status` (`open`, `closed` or states, comma list), `--since`, `--until` (ISO or Jalali dates),
`--district` (a code; a region takes in its sub-districts), `--bbox`; and for hotspots
`--min-reports`, `--radius-m`, `--days`. A bad value is a CommandError naming it, and nothing is
written; without `--out` nothing is written either. The file is written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from issues.filters import FilterError, report_filters_parse
from issues.oversight.exports import EXPORT_KINDS, ExportError, map_export_html
from issues.oversight.hotspots import HotspotParameterError

FILTERS = ("category", "status", "since", "until", "district", "bbox")


class Command(BaseCommand):
    help = "Write an offline map (heatmap, choropleth or hotspots) as one self-contained HTML file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", choices=EXPORT_KINDS, help="What the map shows.")
        parser.add_argument("--out", help="The HTML file to write (required; nothing is written without it).")
        parser.add_argument("--category", help="Category codes, comma separated.")
        parser.add_argument("--status", help="open, closed or states, comma separated (default: open).")
        parser.add_argument("--since", help="Created at or after (ISO or Jalali date).")
        parser.add_argument("--until", help="Created at or before (a date: the whole day).")
        parser.add_argument("--district", help="A district code (a region takes in its sub-districts).")
        parser.add_argument("--bbox", help="minLon,minLat,maxLon,maxLat")
        parser.add_argument("--min-reports", dest="min_reports", type=int, help="Hotspots: reports at least.")
        parser.add_argument(
            "--radius-m", dest="radius_m", type=float, help="Hotspots: metres between reports."
        )
        parser.add_argument("--days", type=int, help="Hotspots: the window in days.")

    def handle(self, *args: Any, **options: Any) -> None:
        kind, out = options.get("kind"), options.get("out")
        if not kind:
            raise CommandError(f"--kind is required: one of {', '.join(EXPORT_KINDS)}.")
        if not out:
            raise CommandError("--out FILE.html is required; nothing was written.")
        target = Path(out)
        if target.is_dir() or not target.parent.is_dir():
            raise CommandError(f"--out {out}: not a file in an existing directory; nothing was written.")
        params = {name: options[name] for name in FILTERS if options.get(name) is not None}
        try:
            filters = report_filters_parse(params)
            page = map_export_html(
                kind=kind,
                filters=filters,
                min_reports=options.get("min_reports"),
                radius_m=options.get("radius_m"),
                days=options.get("days"),
            )
        except (FilterError, HotspotParameterError) as exc:
            flag = exc.field.replace("_", "-")
            raise CommandError(f"--{flag}: {exc.message} Nothing was written.") from None
        except ExportError as exc:
            raise CommandError(f"{exc} Nothing was written.") from None
        # Written next to the target, then renamed over it: a reader never sees half a file.
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".export-", suffix=".html")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(page)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self.stdout.write(f"{kind}: {len(page.encode()):,} bytes written to {target}")

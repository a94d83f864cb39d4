"""The scorecards' tables as CSV files, for the council's spreadsheets: the same rows and values as
the JSON, empty for none.

A council member opens the file in Excel or LibreOffice as it is, so the file is written for them:
UTF-8 with a byte-order mark (without it Excel reads the Persian names as Latin-1 gibberish), and no
cell a spreadsheet would run as a formula. District, unit and category names come from an import or
the admin: one starting with = + - @ (or a tab or carriage return some spreadsheets skip first)
gets a leading apostrophe, which spreadsheets show as text. Numbers stay numbers (a negative one is
not text anyone typed).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from issues.oversight.scorecards import NUMBER_COLUMNS

DISTRICT_COLUMNS = ("code", "name_fa", "name_en", "parent", "population", *NUMBER_COLUMNS)
UNIT_COLUMNS = ("code", "name_fa", "name_en", *NUMBER_COLUMNS)
WEEK_COLUMNS = ("week_start", "label_fa", "label_en", *NUMBER_COLUMNS)
MONTH_COLUMNS = ("month", "label_fa", "label_en", *NUMBER_COLUMNS)
CITY_COLUMNS = ("population", *NUMBER_COLUMNS)

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def csv_cell(value: object) -> object:
    """A cell's value: none as empty, text never a formula, numbers as they are."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def scorecard_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """The rows as CSV with a header, for a spreadsheet (see the module's note)."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(row.get(c)) for c in columns])
    return out.getvalue()

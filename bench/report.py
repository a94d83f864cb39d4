"""bench/results.json and docs/benchmarks.md: written from the results, never edited by hand."""

from __future__ import annotations

import json
from pathlib import Path

from bench.db import archive_size, run_suffix
from bench.registry import Measure, Result

ROOT = Path(__file__).resolve().parent.parent
# A run on an archive of another size writes files of its own (bench/results_10000000.json, ...).
RESULTS_JSON = ROOT / "bench" / f"results{run_suffix()}.json"
BENCHMARKS_MD = ROOT / "docs" / f"benchmarks{run_suffix()}.md"
COMMAND = f"make bench ARCHIVE={archive_size()}" if run_suffix() else "make bench"

_KEYS = tuple(Result.__annotations__)


def results_load(path: Path = RESULTS_JSON) -> list[Result]:
    if not path.exists():
        return []
    rows = json.loads(path.read_text(encoding="utf-8"))
    return [Result(**{k: row[k] for k in _KEYS}) for row in rows if isinstance(row, dict) and "name" in row]  # type: ignore[typeddict-item]


def results_merge(previous: list[Result], new: list[Result]) -> list[Result]:
    """The previous rows with those measured now replaced (by name) and new ones appended.

    After `make bench ONLY=x` the other measures' rows stay, so the report is still complete.
    """
    fresh = {row["name"]: row for row in new}
    merged = [fresh.pop(row["name"], row) for row in previous]
    return merged + [row for row in new if row["name"] in fresh]


def results_write(rows: list[Result], path: Path = RESULTS_JSON) -> None:
    path.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _figure(value: float, unit: str) -> str:
    return f"{value:,.6g} {unit}"


def markdown_render(
    rows: list[Result], *, machine: dict[str, str], measures: list[Measure], partial: list[str] | None
) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{COMMAND}` (bench/run.py) together with {RESULTS_JSON.relative_to(ROOT)}; do not edit by hand.",
        "Each figure is measured side by side with a plain reference in the same run, so the ratio",
        "says more than the absolute figure, which depends on the machine.",
        "",
        f"Reproduce: `{COMMAND}` (all measures, about 15 minutes on 2 cores at a million reports; the first run also makes the {archive_size():,}-report archive, a few minutes more per million), or "
        f"`{COMMAND} ONLY=name` for one measure. It runs on its own database, `<db>_bench` next to the "
        "configured one (created, with PostGIS, and migrated by the bench), with `OPEN137_DEBUG=0` "
        "(no query log) unless set.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {label} | {text} |" for label, text in machine.items()),
        "",
    ]
    if partial:
        lines += [
            f"This run measured only {', '.join(f'`{n}`' for n in partial)}; the other rows are kept from "
            f"the previous {RESULTS_JSON.relative_to(ROOT)} (and were measured by an earlier run, maybe on another day).",
            "",
        ]
    lines += [
        "## Results",
        "",
        "| Measure | Figure | Reference | Reference figure | Ratio | Target (ratio) | Met |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| `{row['name']}` | {_figure(row['value'], row['unit'])} | {row['reference']} | "
            f"{_figure(row['reference_value'], row['unit'])} | {row['ratio']:.3g} | "
            f"{row['target'].replace('<=', '≤').replace('>=', '≥')} | {'yes' if row['met'] else '**no**'} |"
        )
    lines += ["", "## The measures", ""]
    for m in measures:
        lines += [f"### `{m.name}`", "", m.description or "(no description)", ""]
    return "\n".join(lines)


def markdown_write(text: str, path: Path = BENCHMARKS_MD) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")

"""The measures `make bench` knows, by name, and the shape of what they return.

A measure is a function registered with `@measure("name")` in a module of bench/measures/; it takes no
arguments (Django is set up and the bench database migrated before it runs), prints progress with
`say()`, and returns one or more result rows. The first row is usually named like the measure; extra
rows (a second reference, an agreement check) take the measure's name as a prefix.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict


class Result(TypedDict):
    """One row of bench/results.json and of the table in docs/benchmarks.md."""

    name: str
    value: float
    unit: str
    reference: str  # what the figure is compared with, in words
    reference_value: float
    ratio: float  # value / reference_value
    target: str  # a bound on the ratio: "<= 1.5" or ">= 0.9999"
    met: bool


MeasureFunction = Callable[[], list[Result]]


@dataclass(frozen=True)
class Measure:
    name: str
    function: MeasureFunction

    @property
    def description(self) -> str:
        # Markdown in docs/benchmarks.md: the docstring, dedented, paragraphs kept.
        return inspect.cleandoc(self.function.__doc__ or "")


_MEASURES: dict[str, Measure] = {}


def measure(name: str) -> Callable[[MeasureFunction], MeasureFunction]:
    """Register a measure under `name` (what `make bench ONLY=name` selects)."""

    def register(function: MeasureFunction) -> MeasureFunction:
        if name in _MEASURES and _MEASURES[name].function is not function:
            raise ValueError(f"two measures are named {name!r}")
        _MEASURES[name] = Measure(name, function)
        return function

    return register


def discover() -> list[Measure]:
    """Import every module of bench/measures/ (which registers its measures); all measures, in order.

    Order: module name, then definition order in the module, so the report's table is stable.
    """
    import bench.measures as package

    for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        importlib.import_module(f"{package.__name__}.{module.name}")
    return list(_MEASURES.values())


def select(names: list[str] | None) -> list[Measure]:
    """The measures to run: all of them, or the named ones (an unknown name is an error)."""
    measures = discover()
    if not names:
        return measures
    known = {m.name: m for m in measures}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown measure(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[n] for n in names]


def say(name: str, message: str) -> None:
    """A progress line (measures take seconds to minutes; show that they are moving)."""
    print(f"[bench] {name}: {message}", flush=True)


def _ratio_row(
    *,
    name: str,
    value: float,
    unit: str,
    reference: str,
    reference_value: float,
    bound: float,
    at_least: bool,
    digits: int,
    ratio_digits: int,
) -> Result:
    ratio = value / reference_value
    return Result(
        name=name,
        value=round(value, digits),
        unit=unit,
        reference=reference,
        reference_value=round(reference_value, digits),
        ratio=round(ratio, ratio_digits),
        target=f"{'>=' if at_least else '<='} {bound:g}",
        met=ratio >= bound if at_least else ratio <= bound,
    )


def ratio_result(
    *,
    name: str,
    value: float,
    unit: str,
    reference: str,
    reference_value: float,
    max_ratio: float,
    digits: int = 3,
) -> Result:
    """A row whose target is "at most `max_ratio` times the reference" (times, durations)."""
    return _ratio_row(
        name=name,
        value=value,
        unit=unit,
        reference=reference,
        reference_value=reference_value,
        bound=max_ratio,
        at_least=False,
        digits=digits,
        ratio_digits=3,
    )


def min_ratio_result(
    *,
    name: str,
    value: float,
    unit: str,
    reference: str,
    reference_value: float,
    min_ratio: float,
    digits: int = 4,
) -> Result:
    """A row whose target is "at least `min_ratio` of the reference" (agreement, throughput)."""
    return _ratio_row(
        name=name,
        value=value,
        unit=unit,
        reference=reference,
        reference_value=reference_value,
        bound=min_ratio,
        at_least=True,
        digits=digits,
        ratio_digits=6,
    )

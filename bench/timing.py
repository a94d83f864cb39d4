"""Timing helpers shared by the measures."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cycle collector off while timing, as `timeit` does.

    Building a million shapely points or a million result rows triggers collections that walk every
    live object: their cost lands on whichever side runs when the heap is largest, not on the work
    being compared. Memory is released by reference counting all the same.
    """
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def interleaved_medians(
    functions: dict[str, Callable[[Any], object]], inputs: Sequence[Any], *, warmup: int = 200
) -> dict[str, float]:
    """Median seconds per call of each function over the same inputs.

    The functions take turns on every input (and the order rotates), so a slower moment of the
    machine (another process, a checkpoint) falls on all of them alike rather than on whichever ran
    then. The warm-up fills caches and lets prepared statements kick in before anything is timed.
    """
    names = list(functions)
    for item in inputs[:warmup]:
        for name in names:
            functions[name](item)
    samples: dict[str, list[int]] = {name: [] for name in names}
    clock = time.perf_counter_ns
    with gc_paused():
        for index, item in enumerate(inputs):
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                function = functions[name]
                started = clock()
                function(item)
                samples[name].append(clock() - started)
    return {name: statistics.median(values) / 1e9 for name, values in samples.items()}


def timed(function: Callable[[], object]) -> tuple[float, Any]:
    """(seconds, result) of one call, with the cycle collector paused."""
    with gc_paused():
        started = time.perf_counter()
        result = function()
        return time.perf_counter() - started, result

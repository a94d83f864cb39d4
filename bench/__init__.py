"""`make bench`: side-by-side measurements of the project against a plain reference.

`python -m bench.run [--only NAME[,NAME...]]` sets up the bench database (bench/db.py), runs the
measures registered in bench/measures/ and writes bench/results.json and docs/benchmarks.md.

Adding a measure: in a module of bench/measures/ (any new file there is picked up), write a function
that returns result rows and register it by name::

    from bench.registry import Result, measure, ratio_result

    @measure("report_list_geojson")
    def report_list_geojson() -> list[Result]:
        \"\"\"What is measured, against what, and why this target (shown in docs/benchmarks.md).\"\"\"
        ...
        return [ratio_result(name="report_list_geojson", value=..., unit="ms", reference="...",
                             reference_value=..., max_ratio=2.0)]

Generated data goes through bench/datasets.py (fixed seeds), timing helpers are in bench/timing.py.
"""

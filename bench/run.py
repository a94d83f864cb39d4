"""`make bench` entry point: python -m bench.run [--only NAME[,NAME...]].

Order matters: the bench database must be in DATABASE_URL before Django reads its settings, so
Django is set up here, after bench.db.configure(), and the measure modules are imported after that.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME[,NAME...]",
        help="run only these measures; the other rows of bench/results.json are kept",
    )
    args = parser.parse_args(argv)
    only = [n.strip() for item in args.only or [] for n in item.split(",") if n.strip()] or None

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "open137.settings")
    # Measure the project as it runs in production: DEBUG keeps a log of every query, which costs
    # time per query and memory per million. OPEN137_DEBUG=1 make bench measures it anyway.
    os.environ.setdefault("OPEN137_DEBUG", "0")

    from bench import db

    url = db.configure()
    import django

    django.setup()

    from bench import registry, report
    from bench.machine import machine_describe

    measures = registry.select(only)
    print(f"[bench] database {url.rsplit('/', 1)[-1]}: migrating", flush=True)
    db.migrate()
    machine = machine_describe()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load > (os.cpu_count() or 1) / 2:
        # Both sides of each comparison share the machine, so the ratios hold up better than the
        # absolute figures; still, say so.
        print(f"[bench] note: load average {load:.1f} on {os.cpu_count()} cores: figures will be noisy")

    results: list[registry.Result] = []
    failed: list[str] = []
    for m in measures:
        registry.say(m.name, "start")
        started = time.monotonic()
        try:
            rows = m.function()
        except Exception:
            # One broken measure must not cost the others' figures; its old rows stay in place.
            traceback.print_exc()
            failed.append(m.name)
            registry.say(m.name, "FAILED")
            continue
        for row in rows:
            verdict = "met" if row["met"] else "NOT MET"
            registry.say(
                m.name,
                f"{row['name']} = {row['value']:g} {row['unit']} vs {row['reference_value']:g} "
                f"({row['reference']}): ratio {row['ratio']:g}, target {row['target']}: {verdict}",
            )
        results.extend(rows)
        registry.say(m.name, f"done in {time.monotonic() - started:.0f} s")

    # A full run replaces the file (rows of measures that no longer exist go); a partial run, or one
    # where a measure failed, keeps the previous rows of the measures that did not produce new ones.
    rows = report.results_merge(report.results_load(), results) if only or failed else results
    report.results_write(rows)
    all_measures = registry.discover()
    report.markdown_write(report.markdown_render(rows, machine=machine, measures=all_measures, partial=only))
    print(
        f"[bench] wrote {report.RESULTS_JSON.relative_to(report.ROOT)} and "
        f"{report.BENCHMARKS_MD.relative_to(report.ROOT)}",
        flush=True,
    )
    if failed:
        print(f"[bench] failed: {', '.join(failed)}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

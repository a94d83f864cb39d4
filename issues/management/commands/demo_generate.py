"""`manage.py demo_generate [--years 3] [--count 40000] [--seed 137] [--hotspots 15] [--commit]`: a few
years of generated reports for the Qazvin demo (issues/services/demo_generate.py, docs/demo_generated.md).

Without --commit it is a dry run: it prints the plan (how many reports, over which days, per category
and season, per district, the hotspots and the units with a story) and writes nothing. With --commit it
replaces the generated set (every report with `generated=True`) by the planned one, in one
transaction; citizens' reports are never touched. Refuses to run with OPEN137_PRODUCTION=1, as
demo_load does. Needs the demo loaded first (`manage.py demo_load`): its districts, units, categories.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from issues.services.demo_generate import (
    CODE_PREFIX,
    DEFAULT_COUNT,
    DEFAULT_HOTSPOTS,
    DEFAULT_SEED,
    DEFAULT_YEARS,
    SHOWCASE_UNITS,
    demo_generate,
    demo_generate_plan,
)

JALALI_MONTHS = (
    "Farvardin", "Ordibehesht", "Khordad", "Tir", "Mordad", "Shahrivar",
    "Mehr", "Aban", "Azar", "Dey", "Bahman", "Esfand",
)  # fmt: skip


class Command(BaseCommand):
    help = (
        "Generate a few years of demo reports for Qazvin (seasons, hotspots, units that differ), "
        "labelled as generated. Dry run unless --commit; a rerun replaces the generated set."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--years", type=float, default=DEFAULT_YEARS, help=f"default {DEFAULT_YEARS}")
        parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help=f"default {DEFAULT_COUNT}")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"default {DEFAULT_SEED}")
        parser.add_argument(
            "--hotspots", type=int, default=DEFAULT_HOTSPOTS, help=f"default {DEFAULT_HOTSPOTS}"
        )
        parser.add_argument("--commit", action="store_true", help="Write the reports (otherwise a dry run).")

    def handle(self, *args: Any, **options: Any) -> None:
        if getattr(settings, "PRODUCTION", False):
            raise CommandError(
                "demo_generate is for demo installations: it writes invented reports. "
                "It refuses to run with OPEN137_PRODUCTION=1."
            )
        try:
            plan = demo_generate_plan(
                count=options["count"],
                years=options["years"],
                seed=options["seed"],
                hotspots=options["hotspots"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        write = self.stdout.write
        verbose = int(options.get("verbosity", 1)) >= 2 or not options["commit"]
        if verbose:
            write(
                f"Plan: {plan.count} generated report(s) from {plan.first_day} to {plan.now.date()} "
                f"(seed {plan.seed}), tracking codes {CODE_PREFIX}xxxxxx, no contact details."
            )
            write("  by category: " + ", ".join(f"{code} {n}" for code, n in plan.by_category.items()))
            for month in (10, 11, 12, 1, 2, 4, 5):
                top = sorted(plan.by_month.get(month, {}).items(), key=lambda kv: -kv[1])[:3]
                write(f"  {JALALI_MONTHS[month - 1]:<11} " + ", ".join(f"{c} {n}" for c, n in top))
            write("  districts:   " + ", ".join(f"{code} {n}" for _id, code, n in plan.districts))
            write(
                f"  hotspots:    {plan.hotspots} ("
                + ", ".join(sorted({code for _k, code, _p in plan.hotspot_specs}))
                + ")"
            )
            write(
                "  units:       "
                + "; ".join(f"{code}: {profile.story}" for code, profile in SHOWCASE_UNITS.items())
            )
        if not options["commit"]:
            write(
                f"Dry run: {plan.existing} generated report(s) now would be replaced by {plan.count}; "
                "nothing written. Add --commit to write."
            )
            return
        result = demo_generate(plan=plan)
        write(
            self.style.SUCCESS(
                f"Generated {result.reports} demo report(s) ({result.deleted} replaced) with {result.events} "
                f"events, {result.ratings} ratings and {result.checks} verification checks "
                f"in {result.seconds:.1f} s."
            )
        )
        write("  by status: " + ", ".join(f"{s} {n}" for s, n in result.by_status.items()))

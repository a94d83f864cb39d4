# Indexes for the public lists (GET /api/reports/, Open311 GET requests): each filter with the
# newest-first order, so that a page and its capped count read about a page of rows whatever the
# archive's size (issues/api/README.md, "Reads at any size"). Built with plain CREATE INDEX: on the
# bench's 1,000,000 reports the whole migration takes about a minute (noted in the README).

import django.contrib.postgres.indexes
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0014_category_citizen_doable_report_generated"),
    ]

    operations = [
        # pg_trgm ships with PostgreSQL (contrib); `q` searches words anywhere in the description.
        TrigramExtension(),
        # First the index that takes over created_at's own, then the old one goes.
        migrations.AddIndex(
            model_name="report",
            index=models.Index(fields=["-created_at", "-id"], name="report_public_recent"),
        ),
        migrations.AlterField(
            model_name="report",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True, verbose_name="created at"),
        ),
        migrations.AddIndex(
            model_name="report",
            index=models.Index(
                condition=models.Q(
                    (
                        "status__in",
                        (
                            "acknowledged",
                            "done",
                            "forwarded",
                            "in_progress",
                            "received",
                            "reopened",
                            "transferred",
                        ),
                    )
                ),
                fields=["-created_at", "-id"],
                include=["category", "district"],
                name="report_public_open",
            ),
        ),
        migrations.AddIndex(
            model_name="report",
            index=models.Index(fields=["status", "-created_at", "-id"], name="report_status_recent"),
        ),
        migrations.AddIndex(
            model_name="report",
            index=models.Index(fields=["category", "-created_at", "-id"], name="report_category_recent"),
        ),
        migrations.AddIndex(
            model_name="report",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["description_search"], name="report_description_trgm", opclasses=["gin_trgm_ops"]
            ),
        ),
    ]

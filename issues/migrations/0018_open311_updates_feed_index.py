# Open311's updates feed (`servicerequestupdates`) pages by key on the events' (at, id), oldest first
# (issues/open311/README.md, "Paging"): this partial index holds exactly the feed's events (public,
# not the `created` ones), in its order, so a page and a date range read about a page of entries
# whatever the number of events and reports. Plain CREATE INDEX: the events table is written by every
# report, and this index skips their `created` rows (a third or more of them).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0017_report_indexes_covered_by_others"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="reportevent",
            index=models.Index(
                condition=models.Q(("public", True), models.Q(("kind", "created"), _negated=True)),
                fields=["at", "id"],
                name="event_public_feed",
            ),
        ),
    ]

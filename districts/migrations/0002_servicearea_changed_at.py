"""ServiceArea.changed_at: when a field that routing reads last changed.

Existing units start from their boundary's timestamp (the last change the old schema recorded), not
from the migration's time: otherwise every open report would look routed before a change of every
unit, and the first `reroute` would re-examine them all.
"""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("districts", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="servicearea",
            name="changed_at",
            field=models.DateTimeField(
                default=django.utils.timezone.now, editable=False, verbose_name="routing changed at"
            ),
        ),
        migrations.RunSQL(
            "UPDATE districts_servicearea SET changed_at = boundary_updated_at",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]

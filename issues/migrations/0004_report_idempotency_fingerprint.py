from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0003_cache_table"),
    ]

    operations = [
        migrations.AddField(
            model_name="report",
            name="idempotency_fingerprint",
            field=models.CharField(blank=True, default="", editable=False, max_length=64),
        ),
    ]

"""The database cache table (`open137_cache`): rate-limit counters shared by every app process.

Django's DatabaseCache needs a table that `createcachetable` makes; running it here means a plain
`migrate` (the set-up script, CI, a new server) leaves nothing to remember.
"""

from django.conf import settings
from django.core.management import call_command
from django.db import migrations


def _database_cache_tables() -> list[str]:
    return [
        c["LOCATION"]
        for c in settings.CACHES.values()
        if c.get("BACKEND") == "django.core.cache.backends.db.DatabaseCache"
    ]


def cache_table_create(apps, schema_editor):
    # Creates the table of every DatabaseCache in settings; a table that exists is left as it is.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


def cache_table_drop(apps, schema_editor):
    for table in _database_cache_tables():
        schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(table)}")


class Migration(migrations.Migration):
    dependencies = [("issues", "0002_citizen_reports")]

    operations = [migrations.RunPython(cache_table_create, cache_table_drop, elidable=False)]

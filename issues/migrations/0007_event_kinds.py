"""Event sub-kinds that were flags in `data` become kinds of their own (one writer per kind)."""

from django.db import migrations, models

# (new kind, the flag in data that marked it, how data is rewritten)
FORWARD_SQL = """
UPDATE issues_reportevent SET kind = 'support', data = data - 'support'
 WHERE kind = 'note' AND data ? 'support';
UPDATE issues_reportevent SET kind = 'citizen_info',
       data = jsonb_build_object('photos', COALESCE(data -> 'photos', '0'::jsonb))
 WHERE kind = 'note' AND data ? 'citizen_info';
UPDATE issues_reportevent SET kind = 'citizen_feedback',
       data = jsonb_build_object('feedback', data -> 'citizen_feedback')
 WHERE kind = 'note' AND data ? 'citizen_feedback';
UPDATE issues_reportevent SET kind = 'corrected', data = jsonb_build_object('fields', data -> 'corrected')
 WHERE kind = 'note' AND data ? 'corrected';
UPDATE issues_reportevent SET kind = 'client_details', data = data -> 'open311'
 WHERE kind = 'note' AND data ? 'open311';
"""

BACKWARD_SQL = """
UPDATE issues_reportevent SET kind = 'note', data = data || '{"support": true}'::jsonb WHERE kind = 'support';
UPDATE issues_reportevent SET kind = 'note', data = data || '{"citizen_info": true}'::jsonb
 WHERE kind = 'citizen_info';
UPDATE issues_reportevent SET kind = 'note', data = jsonb_build_object('citizen_feedback', data -> 'feedback')
 WHERE kind = 'citizen_feedback';
UPDATE issues_reportevent SET kind = 'note', data = jsonb_build_object('corrected', data -> 'fields')
 WHERE kind = 'corrected';
UPDATE issues_reportevent SET kind = 'note', data = jsonb_build_object('open311', data) WHERE kind = 'client_details';
"""


class Migration(migrations.Migration):
    dependencies = [("issues", "0006_report_indexes_nothing_reads")]

    operations = [
        migrations.AlterField(
            model_name="reportevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("created", "created"),
                    ("status", "status changed"),
                    ("rerouted", "re-routed"),
                    ("note", "note"),
                    ("support", "me too"),
                    ("citizen_info", "information from the reporter"),
                    ("citizen_feedback", "the reporter's answer: fixed or not"),
                    ("corrected", "reporter's details corrected"),
                    ("client_details", "client details"),
                ],
                max_length=24,
                verbose_name="kind",
            ),
        ),
        migrations.RunSQL(FORWARD_SQL, BACKWARD_SQL),
    ]

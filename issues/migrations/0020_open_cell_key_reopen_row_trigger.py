# Two costs of the oversight reads and of every report written:
#
# - A city's heatmap of its open reports (the map's default) read the cell-key index of every report,
#   a million entries, to count the tenth that are open. This partial index holds the open ones only,
#   with the columns the filters read; the heatmap names the open statuses as constants
#   (issues/oversight/sql.py OPEN_STATUS_SQL) so that a prepared statement may use it. Like the
#   cell key itself it is plain SQL: the model does not declare the generated column.
# - The scorecards' trigger on new events ran for every event a report gets (its creation, each
#   step, each note), only to keep the reopen events. A row trigger with a WHEN clause tests that in
#   the server for each row, with no function called and no transition table built for the others.

from django.db import migrations

OPEN = "'acknowledged', 'done', 'forwarded', 'in_progress', 'received', 'reopened', 'transferred'"

FORWARD = [
    f"""CREATE INDEX IF NOT EXISTS report_open_cell_key ON issues_report (cell_key)
         INCLUDE (category_id, created_at, district_id) WHERE status IN ({OPEN})""",
    """CREATE OR REPLACE FUNCTION open137_scorecard_dirty_reopened_row() RETURNS trigger
         LANGUAGE plpgsql AS $$
       BEGIN
         INSERT INTO issues_scorecard_dirty (day)
           SELECT (r.created_at AT TIME ZONE 'UTC')::date FROM issues_report r WHERE r.id = NEW.report_id
           ON CONFLICT DO NOTHING;
         RETURN NULL;
       END $$""",
    "DROP TRIGGER IF EXISTS issues_reportevent_scorecard_ins ON issues_reportevent",
    """CREATE TRIGGER issues_reportevent_scorecard_ins AFTER INSERT ON issues_reportevent
         FOR EACH ROW WHEN (NEW.kind = 'status' AND NEW.to_status = 'reopened')
         EXECUTE FUNCTION open137_scorecard_dirty_reopened_row()""",
]

BACKWARD = [
    "DROP TRIGGER IF EXISTS issues_reportevent_scorecard_ins ON issues_reportevent",
    """CREATE TRIGGER issues_reportevent_scorecard_ins AFTER INSERT ON issues_reportevent
         REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
         EXECUTE FUNCTION open137_scorecard_dirty_reopened()""",
    "DROP FUNCTION IF EXISTS open137_scorecard_dirty_reopened_row()",
    "DROP INDEX IF EXISTS report_open_cell_key",
]


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0019_scorecard_triggers_by_key_generated_index"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]

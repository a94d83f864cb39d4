# Two costs found when the demo's generator wrote 50,000 events in one statement (six minutes):
#
# - The scorecards' trigger on new events joined them to their reports with whatever plan the
#   planner guessed for a transition table it knows nothing about; next to a table whose statistics
#   were not yet taken (reports written in the same transaction), it chose a nested loop over every
#   report for each event. The reports are now found by their primary key from the array of the
#   events' report ids (an index lookup whatever the numbers), and only the events the scorecards
#   read count: a status change to reopened. The ratings' trigger gets the same lookup.
# - Generated demo reports (Report.generated) are found by a partial index that holds only them:
#   replacing the demo set, and the exports' "is any of this generated?" check, no longer read every
#   report. Citizens' reports are not in it, so writing one costs nothing more.

from django.db import migrations, models

FUNCTIONS = """
CREATE OR REPLACE FUNCTION open137_scorecard_dirty_children() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO issues_scorecard_dirty (day)
    SELECT DISTINCT (r.created_at AT TIME ZONE 'UTC')::date
      FROM issues_report r
     WHERE r.id = ANY (ARRAY(SELECT DISTINCT c.report_id FROM changed_rows c))
    ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION open137_scorecard_dirty_reopened() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO issues_scorecard_dirty (day)
    SELECT DISTINCT (r.created_at AT TIME ZONE 'UTC')::date
      FROM issues_report r
     WHERE r.id = ANY (ARRAY(SELECT DISTINCT c.report_id FROM changed_rows c
                              WHERE c.kind = 'status' AND c.to_status = 'reopened'))
    ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS issues_reportevent_scorecard_ins ON issues_reportevent;
CREATE TRIGGER issues_reportevent_scorecard_ins AFTER INSERT ON issues_reportevent
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION open137_scorecard_dirty_reopened();
"""

FUNCTIONS_BEFORE = """
CREATE OR REPLACE FUNCTION open137_scorecard_dirty_children() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO issues_scorecard_dirty (day)
    SELECT DISTINCT (r.created_at AT TIME ZONE 'UTC')::date
      FROM changed_rows c JOIN issues_report r ON r.id = c.report_id
    ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS issues_reportevent_scorecard_ins ON issues_reportevent;
CREATE TRIGGER issues_reportevent_scorecard_ins AFTER INSERT ON issues_reportevent
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION open137_scorecard_dirty_children();
DROP FUNCTION IF EXISTS open137_scorecard_dirty_reopened();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0018_open311_updates_feed_index"),
    ]

    operations = [
        migrations.RunSQL(FUNCTIONS, FUNCTIONS_BEFORE),
        migrations.AddIndex(
            model_name="report",
            index=models.Index(fields=["id"], name="report_generated", condition=models.Q(generated=True)),
        ),
    ]

# The scorecards' maintained aggregate (issues/oversight/scorecard_rollup.py): per local day of
# receipt, district, unit and category, the counters and working-hour histograms of the reports
# received that day, so the council's dashboard sums a few thousand rows instead of reading a year of
# reports. Triggers note the days whose reports changed (a report written, a reopen event, a rating);
# the next read recomputes those days from the reports, so the aggregate is never stale when read.
# Plain tables without a model: only the scorecards' SQL reads and writes them.

from django.db import migrations

BUCKETS = 40  # as issues.oversight.scorecard_rollup.BUCKETS; a change needs a new migration
_HIST = ", ".join(f"a{i} integer NOT NULL DEFAULT 0, r{i} integer NOT NULL DEFAULT 0" for i in range(BUCKETS))

CREATE = f"""
CREATE TABLE issues_scorecard_day (
    day date NOT NULL,
    district_id bigint,
    service_area_id bigint,
    category_id bigint NOT NULL,
    received integer NOT NULL,
    generated integer NOT NULL,
    backlog integer NOT NULL,
    backlog_oldest_at timestamptz,
    acknowledged integer NOT NULL,
    resolved integer NOT NULL,
    by_citizens integer NOT NULL,
    sla_decided integer NOT NULL,
    sla_met integer NOT NULL,
    work_reported integer NOT NULL,
    reopened integer NOT NULL,
    ratings integer NOT NULL,
    rating_sum integer NOT NULL,
    -- The earliest moment a number of the row changes without any write: an open report's
    -- deadline passing (it then counts as missed). The read recomputes the day from then on.
    valid_until timestamptz,
    {_HIST}
);
CREATE INDEX issues_scorecard_day_day ON issues_scorecard_day (day);
-- The backlog of every age, read from the index alone.
CREATE INDEX issues_scorecard_day_backlog ON issues_scorecard_day (day)
    INCLUDE (district_id, service_area_id, category_id, backlog, backlog_oldest_at) WHERE backlog > 0;
CREATE INDEX issues_scorecard_day_valid ON issues_scorecard_day (valid_until) WHERE valid_until IS NOT NULL;
-- Days (UTC dates of receipt) whose reports changed since the last read.
CREATE TABLE issues_scorecard_dirty (day date PRIMARY KEY);
-- The calendar the aggregate was computed with (office hours, holidays): another rebuilds it all.
CREATE TABLE issues_scorecard_meta (id integer PRIMARY KEY, calendar_key text NOT NULL);

CREATE FUNCTION open137_scorecard_dirty_reports() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO issues_scorecard_dirty (day)
      SELECT DISTINCT (n.created_at AT TIME ZONE 'UTC')::date FROM new_rows n ON CONFLICT DO NOTHING;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    INSERT INTO issues_scorecard_dirty (day)
      SELECT DISTINCT (o.created_at AT TIME ZONE 'UTC')::date FROM old_rows o ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER issues_report_scorecard_ins AFTER INSERT ON issues_report
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION open137_scorecard_dirty_reports();
CREATE TRIGGER issues_report_scorecard_upd AFTER UPDATE ON issues_report
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
  EXECUTE FUNCTION open137_scorecard_dirty_reports();
CREATE TRIGGER issues_report_scorecard_del AFTER DELETE ON issues_report
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION open137_scorecard_dirty_reports();

-- A reopen event or a rating changes its report's day (the event may come without a report update).
CREATE FUNCTION open137_scorecard_dirty_children() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO issues_scorecard_dirty (day)
    SELECT DISTINCT (r.created_at AT TIME ZONE 'UTC')::date
      FROM changed_rows c JOIN issues_report r ON r.id = c.report_id
    ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER issues_reportevent_scorecard_ins AFTER INSERT ON issues_reportevent
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION open137_scorecard_dirty_children();
CREATE TRIGGER issues_satisfactionrating_scorecard_ins AFTER INSERT ON issues_satisfactionrating
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION open137_scorecard_dirty_children();
CREATE TRIGGER issues_satisfactionrating_scorecard_upd AFTER UPDATE ON issues_satisfactionrating
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION open137_scorecard_dirty_children();
CREATE TRIGGER issues_satisfactionrating_scorecard_del AFTER DELETE ON issues_satisfactionrating
  REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION open137_scorecard_dirty_children();
"""

DROP = """
DROP TRIGGER IF EXISTS issues_satisfactionrating_scorecard_del ON issues_satisfactionrating;
DROP TRIGGER IF EXISTS issues_satisfactionrating_scorecard_upd ON issues_satisfactionrating;
DROP TRIGGER IF EXISTS issues_satisfactionrating_scorecard_ins ON issues_satisfactionrating;
DROP TRIGGER IF EXISTS issues_reportevent_scorecard_ins ON issues_reportevent;
DROP TRIGGER IF EXISTS issues_report_scorecard_del ON issues_report;
DROP TRIGGER IF EXISTS issues_report_scorecard_upd ON issues_report;
DROP TRIGGER IF EXISTS issues_report_scorecard_ins ON issues_report;
DROP FUNCTION IF EXISTS open137_scorecard_dirty_children();
DROP FUNCTION IF EXISTS open137_scorecard_dirty_reports();
DROP TABLE IF EXISTS issues_scorecard_meta;
DROP TABLE IF EXISTS issues_scorecard_dirty;
DROP TABLE IF EXISTS issues_scorecard_day;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0015_public_read_indexes"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]

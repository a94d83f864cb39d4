"""The alerts' periodic job, run by procrastinate's worker (issues/tasks.py has the outbox's)."""

from __future__ import annotations

from procrastinate.contrib.django import app

from alerts.pruning import alerts_prune
from alerts.sending import alerts_send


@app.periodic(cron="* * * * *", periodic_id="alerts_send")
@app.task(name="alerts.alerts_send", queue="alerts", queueing_lock="alerts_send")
def alerts_send_job(timestamp: int) -> int:
    """Every minute: tell the subscribers of the reports created since the last run (each pair of
    subscription and report once, whatever runs overlap: alerts/sending.py). Returns how many
    messages it queued; the outbox's own job sends them."""
    return len(alerts_send(commit=True).messages)


@app.periodic(cron="41 3 * * *", periodic_id="alerts_prune")
@app.task(name="alerts.alerts_prune", queue="alerts", queueing_lock="alerts_prune")
def alerts_prune_job(timestamp: int) -> int:
    """Every night: delete the link tokens and delivery rows that can no longer do anything
    (alerts/pruning.py: stop links older than OPEN137_ALERT_LINK_DAYS, but never an active
    subscription's newest), and forget the subscriptions never confirmed or stopped
    OPEN137_ALERT_STOPPED_DAYS ago, with their messages. Returns how many rows it deleted."""
    return alerts_prune(commit=True).total

"""Background jobs, run by procrastinate's worker from the queue in PostgreSQL (no broker):

    .venv/bin/python manage.py procrastinate worker

(`--queues outbox` to run a worker for citizens' messages only; several workers may run at once.)
Jobs are deferred in the same transaction as the rows they act on; see issues/notifications.py.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from issues.outbox import OUTBOX_SEND_TASK, outbox_message_send, outbox_stalled_release


class OutboxRetry(Exception):
    """A message could not be sent this time and has attempts left: procrastinate runs the job
    again later. The error itself is already recorded on the outbox row."""


_MAX_ATTEMPTS: int = settings.OPEN137_OUTBOX_MAX_ATTEMPTS

# procrastinate counts retries after the first run, and waits BACKOFF ** (retry number) seconds.
# The outbox row's `attempts` decides when to give up (it is `failed` after the last one); the job's
# own limit matches it, so a job never outlives its message.
OUTBOX_RETRY = (
    RetryStrategy(max_attempts=_MAX_ATTEMPTS - 1, exponential_wait=settings.OPEN137_OUTBOX_BACKOFF_SECONDS)
    if _MAX_ATTEMPTS > 1
    else False
)


@app.task(name=OUTBOX_SEND_TASK, queue="outbox", retry=OUTBOX_RETRY)
def outbox_send(message_id: int) -> None:
    """Send one outbox message (idempotent: a message no longer pending is left alone)."""
    result = outbox_message_send(message_id=message_id)
    if result.retry:
        raise OutboxRetry(result.error)


@app.periodic(cron="*/5 * * * *", periodic_id="sla_escalate")
@app.task(name="issues.sla_escalate", queue="sla", queueing_lock="sla_escalate")
def sla_escalate(timestamp: int) -> int:
    """Every five minutes: escalate the reports not acknowledged in time (issues/workflow/escalation.py).
    Each rung is written once whatever runs overlap (the unique constraint decides); the queueing
    lock only keeps a slow run from piling up waiting copies. Returns how many rungs it wrote."""
    # Imported here: the escalation imports issues.notifications, which imports this module.
    from issues.workflow.escalation import reports_escalate

    return len(reports_escalate(commit=True))


# --- The outbox's periodic requeue ------------------------------------------------------------------


@app.periodic(cron="* * * * *", periodic_id="outbox_requeue")
@app.task(name="issues.outbox_requeue", queue="outbox", queueing_lock="outbox_requeue")
async def outbox_requeue(timestamp: int) -> int:
    """Every minute: no message is stranded by a worker that died mid-send. procrastinate's own
    stalled jobs (a send job still `doing` on a worker whose heartbeat stopped) run again; messages
    whose sender's lease ran out go back to pending; and every pending message that no job will send
    gets one. Returns how many jobs it deferred."""
    manager = app.job_manager
    for job in await manager.get_stalled_jobs(queue="outbox", task_name=OUTBOX_SEND_TASK):
        await manager.retry_job(job)
    return await sync_to_async(_outbox_requeue)()


@transaction.atomic
def _outbox_requeue() -> int:
    message_ids = outbox_stalled_release()
    for message_id in message_ids:
        outbox_send.defer(message_id=message_id)
    return len(message_ids)


@app.periodic(cron="17 * * * *", periodic_id="private_tokens_forget")
@app.task(name="issues.private_tokens_forget", queue="outbox", queueing_lock="private_tokens_forget")
def private_tokens_forget(timestamp: int) -> int:
    """Every hour: the sealed private tokens kept for replays are emptied once the idempotency key's
    lifetime is over (issues/services/submission.py)."""
    from issues.services.submission import submission_tokens_forget

    return submission_tokens_forget()


@app.periodic(cron="* * * * *", periodic_id="scorecard_rollup_keep")
@app.task(name="issues.scorecard_rollup_keep", queue="sla", queueing_lock="scorecard_rollup_keep")
def scorecard_rollup_keep(timestamp: int) -> int:
    """Every minute: the scorecards' aggregate recomputes its changed days here rather than in the
    next reader's request (issues/oversight/scorecards.py scorecard_rollup_keep). Returns the days
    recomputed."""
    from issues.oversight.scorecards import scorecard_rollup_keep as keep

    return keep()

"""`manage.py alerts_prune [--commit] [--batch N]`: delete the alerts' link tokens and delivery rows
that can no longer do anything, and forget the subscriptions never confirmed or stopped long enough
(alerts/pruning.py, alerts/forgetting.py). Without --commit it is a dry run that counts them and
writes nothing. Prints, in Persian and English, what it deletes by kind, and its progress batch by
batch. The worker runs the same every night (alerts.tasks); cron can call this command where no
worker runs."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from alerts.forgetting import PENDING_KEEP_DAYS
from alerts.pruning import PruneRun, alerts_prune
from geo.text import to_persian_digits
from issues.workflow.sla import jalali_format

# Each kind's name, Persian then English, as the progress lines name it.
KINDS = {
    "stop_tokens": ("توکن پیوند لغو", "stop link token(s)"),
    "confirm_tokens": ("توکن تأیید منقضی", "expired confirmation token(s)"),
    "deliveries": ("ردیف ارسال قدیمی", "old delivery row(s)"),
    "pending_subscriptions": ("اشتراک تأییدنشده", "never-confirmed subscription(s)"),
    "stopped_subscriptions": ("اشتراک لغوشده", "stopped subscription(s)"),
    "messages": ("پیام هشدار در صندوق خروجی", "alert message(s) in the outbox"),
}


def _fa(number: int) -> str:
    return to_persian_digits(str(number))


def _lines(run: PruneRun) -> list[str]:
    def when(value: Any) -> tuple[str, str]:
        return jalali_format(value, lang="fa"), value.isoformat(timespec="seconds")

    links_fa, links_en = when(run.links_before)
    asked_fa, asked_en = when(run.asked_before)
    stopped_fa, stopped_en = when(run.stopped_before)
    with_fa = (
        f"همراه با {_fa(run.subscription_tokens)} توکن، {_fa(run.subscription_events)} رویداد و "
        f"{_fa(run.subscription_deliveries)} ردیف ارسالِ آن‌ها"
    )
    with_en = (
        f"with their {run.subscription_tokens} token(s), {run.subscription_events} event(s) and "
        f"{run.subscription_deliveries} delivery row(s)"
    )
    return [
        f"  {_fa(run.stop_tokens)} توکن پیوند لغو فرستاده‌شده پیش از {links_fa}"
        f" | {run.stop_tokens} stop link token(s) sent before {links_en}",
        f"  {_fa(run.confirm_tokens)} توکن تأیید منقضی | {run.confirm_tokens} expired confirmation token(s)",
        f"  {_fa(run.deliveries)} ردیف ارسال قدیمی | {run.deliveries} old delivery row(s)",
        f"  {_fa(run.pending_subscriptions)} اشتراک تأییدنشده که آخرین درخواستش پیش از {asked_fa} بود"
        f" ({_fa(PENDING_KEEP_DAYS)} روز پس از انقضای پیوند تأیید)"
        f" | {run.pending_subscriptions} never-confirmed subscription(s) last asked for before {asked_en}"
        f" ({PENDING_KEEP_DAYS} days after the confirmation link expired)",
        f"  {_fa(run.stopped_subscriptions)} اشتراک لغوشده تا {stopped_fa}"
        f" | {run.stopped_subscriptions} subscription(s) stopped up to {stopped_en}",
        f"    {with_fa} | {with_en}",
        f"  {_fa(run.messages)} پیام هشدار در صندوق خروجی به نشانی‌ها و شماره‌هایی که دیگر مشترک نیستند"
        f" | {run.messages} alert message(s) in the outbox to contacts no longer subscribed",
    ]


class Command(BaseCommand):
    help = (
        "Delete expired alert link tokens, old delivery rows, and subscriptions never confirmed or "
        "stopped long enough, with their contact (dry run unless --commit)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--commit", action="store_true", help="Delete them (otherwise a dry run).")
        parser.add_argument(
            "--batch",
            type=int,
            default=None,
            help="Rows deleted per transaction (default OPEN137_ALERT_PRUNE_BATCH, 1000).",
        )

    def _progress(self, kind: str, so_far: int) -> None:
        fa, en = KINDS[kind]
        if self._commit:
            self.stdout.write(f"… {fa}: {_fa(so_far)} پاک شد تا اینجا | {en}: {so_far} deleted so far")
        else:
            self.stdout.write(f"… {fa}: {_fa(so_far)} تا اینجا | {en}: {so_far} would be deleted so far")

    def handle(self, *args: Any, commit: bool = False, batch: int | None = None, **options: Any) -> None:
        if batch is not None and batch < 1:
            raise CommandError("--batch must be at least 1.")
        self._commit = commit
        run = alerts_prune(commit=commit, batch_size=batch, progress=self._progress)
        if commit:
            self.stdout.write(
                self.style.SUCCESS(f"پاک شد ({_fa(run.total)} ردیف) | Deleted ({run.total} rows):")
            )
        else:
            self.stdout.write(
                f"اجرای آزمایشی: این‌ها پاک می‌شوند ({_fa(run.total)} ردیف) | "
                f"Dry run: would delete ({run.total} rows):"
            )
        for line in _lines(run):
            self.stdout.write(line)
        if not commit:
            self.stdout.write(
                "چیزی نوشته نشد؛ برای پاک کردن --commit را بیفزایید. | "
                "Nothing written. Add --commit to delete them."
            )

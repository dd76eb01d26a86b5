"""The sweep: work whose task was lost is enqueued again, because the rows are the record.

A task can be lost: a worker killed mid-task leaves it claimed forever (the database
backend), a queue can be down when a request tries to enqueue, a deployment can lose Redis.
None of that may cost a gift or a receipt, so each kind of later work keeps a row that says
it is still to do, and the worker runs this sweep when it starts and every
`TASKS_SWEEP_SECONDS` (`manage.py db_worker`; `tasks_sweep` for other backends):

- an event in the inbox not processed, whose task was enqueued more than
  `TASKS_SWEEP_AFTER_SECONDS` ago (doubling the wait after each failed attempt, up to an hour),
- a receipt or a donor's link email due for that long (first sends, retries after
  back-off, stale claims),
- a payment alert raised that long ago (within a day) and not mailed yet,
- a renewal notice to a monthly gift's donor kept that long ago (within three days) and not
  mailed yet,
- a completed campaign whose monthly gifts are still active (Stripe did not answer when
  the completion's task told it), with its last change that long ago,
- a monthly gift whose stop was requested that long ago and Stripe has not confirmed.

Enqueuing twice is harmless: each task re-checks its row before doing anything.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings

from campaigns.models import Campaign
from config.tasks import enqueue
from donations.models import WebhookDelivery
from donations.services.donors import donor_link_email_send_task, donor_link_emails_due
from donations.services.health import payment_alert_mail_task, payment_alerts_unmailed
from donations.services.monthly import (
    STOPPABLE,
    campaign_monthly_gifts_stop_task,
    monthly_gift_stop_task,
    monthly_gift_stops_due,
    open_sessions,
)
from donations.services.payments import stripe_event_process_task
from donations.services.receipts import receipt_send_task, receipts_due
from donations.services.renewals import renewal_notice_mail_task, renewal_notices_due

# How much work one sweep enqueues at most; the next sweep takes the rest.
SWEEP_LIMIT = 1000
LONGEST_WAIT = datetime.timedelta(hours=1)


@dataclass(frozen=True)
class SweepReport:
    events: int
    receipts: int
    link_emails: int = 0
    completions: int = 0
    alerts: int = 0
    renewal_notices: int = 0


def _retry_wait(attempts: int) -> datetime.timedelta:
    """Wait before enqueuing again: the sweep's delay for a task that never ran or was
    lost mid-run (0 or 1 attempts), doubled after each further failure, at most an hour."""
    base = datetime.timedelta(seconds=settings.TASKS_SWEEP_AFTER_SECONDS)
    return min(base * 2 ** max(0, attempts - 1), LONGEST_WAIT)


def work_sweep(*, now: datetime.datetime) -> SweepReport:
    """Enqueue again the events and receipts whose task was lost (see the module docstring).
    Returns how many of each were enqueued."""
    after = datetime.timedelta(seconds=settings.TASKS_SWEEP_AFTER_SECONDS)
    waiting = (
        WebhookDelivery.objects.filter(processed_at__isnull=True, enqueued_at__lt=now - after)
        .exclude(payload="")
        .order_by("enqueued_at")
        .values_list("pk", "event_id", "attempts", "enqueued_at")[:SWEEP_LIMIT]
    )
    events = 0
    for pk, event_id, attempts, enqueued_at in waiting:
        if enqueued_at > now - _retry_wait(attempts):
            continue
        WebhookDelivery.objects.filter(pk=pk).update(enqueued_at=now)
        events += enqueue(stripe_event_process_task, event_id)
    receipts = 0
    for receipt_id in receipts_due(now=now - after, limit=SWEEP_LIMIT):
        receipts += enqueue(receipt_send_task, receipt_id)
    link_emails = 0
    for email_id in donor_link_emails_due(now=now - after, limit=SWEEP_LIMIT):
        link_emails += enqueue(donor_link_email_send_task, email_id)
    completions = 0
    closed = Campaign.objects.filter(status=Campaign.Status.COMPLETED, updated_at__lt=now - after)
    charging = closed.filter(monthly_gifts__status__in=STOPPABLE).values_list("pk", flat=True)
    sessions = open_sessions(closed).values_list("campaign_id", flat=True)
    unstopped = sorted(set(charging[:SWEEP_LIMIT]) | set(sessions[:SWEEP_LIMIT]))
    for campaign_id in unstopped:
        completions += enqueue(campaign_monthly_gifts_stop_task, campaign_id, None, "retried")
    for gift_id in monthly_gift_stops_due(before=now - after, limit=SWEEP_LIMIT):
        completions += enqueue(monthly_gift_stop_task, gift_id)
    alerts = 0
    for alert_id in payment_alerts_unmailed(before=now - after, limit=SWEEP_LIMIT):
        alerts += enqueue(payment_alert_mail_task, alert_id)
    renewal_notices = 0
    for notice_id in renewal_notices_due(before=now - after, limit=SWEEP_LIMIT):
        renewal_notices += enqueue(renewal_notice_mail_task, notice_id)
    return SweepReport(
        events=events,
        receipts=receipts,
        link_emails=link_emails,
        completions=completions,
        alerts=alerts,
        renewal_notices=renewal_notices,
    )

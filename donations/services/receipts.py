"""Receipts: queued with the gift's success, sent later by a task.

Recording a gift never waits on SMTP: it only queues a row (`receipt_queue`), in the
transaction that records the gift, and enqueues its task once that commits. The task
(`receipt_send`) claims the receipt with a conditional UPDATE, so two workers never send the
same receipt, and a failed send is retried with back-off: the worker's sweep enqueues again
every receipt that is due (`receipts_due`), which also covers a task that was lost.
`send_receipts` sends every due receipt in its own process and exits. A worker that dies
between sending and marking leaves the receipt in `sending`; after `STALE_CLAIM_AFTER` it is
due again, so that receipt may be sent twice. We accept that: a duplicate receipt is better
than a missing one.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field

from babel.dates import format_date
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

import money
from config.i18n import babel_locale
from config.tasks import enqueue_on_commit, task
from donations import permissions
from donations.donor_links import donor_link_url, link_days
from donations.models import Donation, DonationChange, Receipt
from donations.services.history import donation_event_recorded

logger = logging.getLogger(__name__)

# Wait before retry n (after the n-th failed attempt). After the last one, the receipt stays
# `failed` with no next attempt, visible in the admin until an organizer resends it.
RETRY_DELAYS: tuple[datetime.timedelta, ...] = (
    datetime.timedelta(minutes=1),
    datetime.timedelta(minutes=5),
    datetime.timedelta(minutes=30),
    datetime.timedelta(hours=2),
    datetime.timedelta(hours=12),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# A claim older than this belongs to a worker that died (SMTP itself gives up after
# EMAIL_TIMEOUT seconds), so the receipt may be claimed again.
STALE_CLAIM_AFTER = datetime.timedelta(minutes=15)

RESEND_WHILE_SENDING = _("This receipt is being sent right now; try again in a few minutes.")
RESEND_WITHOUT_EMAIL = _("This gift has no email address to send a receipt to.")
GAVE_UP_AFTER_CRASHES = _("A worker stopped while sending this receipt too many times.")


@dataclass
class SendReport:
    """What one `receipt_send_due` pass did."""

    sent: list[Receipt] = field(default_factory=list)
    failed: list[Receipt] = field(default_factory=list)


def receipt_queue(*, donation: Donation) -> Receipt | None:
    """Queue the receipt for a succeeded gift. Call inside the transaction that records it.

    Idempotent: a gift has at most one receipt (one-to-one), however often its success is
    reported. A gift without an email address gets no receipt row (returns None): there is
    nobody to send it to, and an organizer can still see the gift in the admin.
    """
    if not donation.email:
        return None
    receipt, created = Receipt.objects.get_or_create(
        donation=donation, defaults={"next_attempt_at": timezone.now()}
    )
    if created:
        enqueue_on_commit(receipt_send_task, receipt.pk)
    return receipt


def receipt_resend(*, receipt: Receipt, by) -> Receipt:
    """Queue a receipt again, due now, with a fresh set of attempts (an organizer's action,
    or a donor's through their link: permissions.may_resend_receipt, else PermissionDenied;
    `by` None is the operator at the shell).

    Refuses a receipt that a worker is sending right now, so a resend never races a send.
    The gift's history keeps who asked for it (`by`, a user, or who else in words: the donor
    through their link, the operator at the shell), with the receipt's state before.
    """
    if by is not None and not permissions.may_resend_receipt(by=by, receipt=receipt):
        raise PermissionDenied
    user, origin = (None, str(by or "the operator at the shell")) if not _is_user(by) else (by, "")
    if not receipt.donation.email:
        raise ValidationError(RESEND_WITHOUT_EMAIL)
    now = timezone.now()
    with transaction.atomic():
        before = Receipt.objects.filter(pk=receipt.pk).values("status", "attempts").first()
        requeued = Receipt.objects.filter(
            Q(pk=receipt.pk) & (~Q(status=Receipt.Status.SENDING) | _stale_claim(now))
        ).update(
            status=Receipt.Status.QUEUED,
            attempts=0,
            next_attempt_at=now,
            claimed_at=None,
            last_error="",
        )
        if not requeued:
            raise ValidationError(RESEND_WHILE_SENDING)
        donation_event_recorded(
            donation=receipt.donation,
            action=DonationChange.Action.RECEIPT_RESEND,
            by=user,
            reason=origin,
            changes={
                "receipt_status": [before["status"], Receipt.Status.QUEUED.value],
                "receipt_attempts": [before["attempts"], 0],
            },
        )
    logger.info("Receipt %s requeued by %s", receipt.pk, by or "the operator")
    enqueue_on_commit(receipt_send_task, receipt.pk)
    receipt.refresh_from_db()
    return receipt


def receipt_send(*, receipt_id: int, now: datetime.datetime) -> Receipt | None:
    """Send one receipt if it is due, claiming it first; None when it is not due (sent
    already, waiting for its next attempt, or being sent by another worker).

    Guarantees: a receipt is sent only by the worker whose conditional UPDATE moved it to
    `sending`; a sent receipt is `sent` with `sent_at`; a failed one is `failed` with
    `attempts`, `last_error` and the next attempt after back-off, or no next attempt once
    `MAX_ATTEMPTS` is reached. Any exception from the mail backend counts as a failure. Call
    it outside a transaction, so that the claim is committed before the send.
    """
    receipt = _claim(receipt_id=receipt_id, now=now)
    if receipt is None:
        return None
    if receipt.attempts > MAX_ATTEMPTS:
        _mark_failed(receipt=receipt, now=now, error=GAVE_UP_AFTER_CRASHES)
        return receipt
    try:
        _deliver(receipt.donation)
    except Exception as error:  # any backend failure (SMTPException, OSError, ...) retries
        logger.warning("Receipt %s failed: %r", receipt.pk, error)
        _mark_failed(receipt=receipt, now=now, error=f"{type(error).__name__}: {error}")
    else:
        _mark_sent(receipt=receipt, now=now)
    return receipt


@task()
def receipt_send_task(receipt_id: int) -> None:
    """The worker's side of `receipt_send`."""
    receipt_send(receipt_id=receipt_id, now=timezone.now())


def receipts_due(*, now: datetime.datetime, limit: int) -> list[int]:
    """The ids of up to `limit` receipts due at `now`, oldest first."""
    due = Receipt.objects.filter(_due(now)).order_by("next_attempt_at", "pk")
    return list(due.values_list("pk", flat=True)[:limit])


def receipt_send_due(*, now: datetime.datetime, limit: int = 100) -> SendReport:
    """Send up to `limit` due receipts one by one (`receipt_send`); a failure never stops
    the others. `send_receipts` runs it in its own process."""
    report = SendReport()
    for receipt_id in receipts_due(now=now, limit=limit):
        receipt = receipt_send(receipt_id=receipt_id, now=now)
        if receipt is None:
            continue
        if receipt.status == Receipt.Status.SENT:
            report.sent.append(receipt)
        else:
            report.failed.append(receipt)
    return report


def receipt_render(*, donation: Donation) -> EmailMultiAlternatives:
    """The receipt email (plain text and HTML) in the language the donor gave in."""
    campaign = donation.campaign
    with translation.override(donation.language or settings.LANGUAGE_CODE):
        locale = babel_locale()
        charged_amount, charged_currency = donation.charged_amount, donation.charged_currency
        context = {
            "giver_name": donation.giver_name,
            "campaign_title": campaign.localized("title", donation.language),
            "campaign_url": f"{settings.SITE_URL}{campaign.get_absolute_url()}",
            "organizer_name": campaign.organizer_name,
            "organizer_email": campaign.organizer_email,
            "legal_line": campaign.receipt_legal_line,
            "amount": money.format_money(donation.amount, donation.currency, locale),
            "fee_cover": (
                money.format_money(donation.fee_cover_amount, donation.currency, locale)
                if donation.fee_cover_amount
                else ""
            ),
            "charged": (
                money.format_money(charged_amount, charged_currency, locale)
                if (charged_amount, charged_currency) != (donation.amount, donation.currency)
                else ""
            ),
            "date": format_date(
                timezone.localtime(donation.received_at).date(), format="long", locale=locale
            ),
            "reference": str(donation.pk),
            "monthly": bool(donation.monthly_gift_id),
            "manage_url": donor_link_url(email=donation.email),
            "link_days": link_days(),
        }
        subject = render_to_string("donations/email/receipt_subject.txt", context)
        message = EmailMultiAlternatives(
            subject=" ".join(subject.split()),
            body=render_to_string("donations/email/receipt.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[donation.email],
            reply_to=[campaign.organizer_email] if campaign.organizer_email else None,
            headers={"Auto-Submitted": "auto-generated"},
        )
        message.attach_alternative(
            render_to_string("donations/email/receipt.html", context), "text/html"
        )
    return message


def _is_user(by) -> bool:
    return by is not None and not isinstance(by, permissions.DonorLink)


def _due(now: datetime.datetime) -> Q:
    waiting = Q(status__in=[Receipt.Status.QUEUED, Receipt.Status.FAILED], next_attempt_at__lte=now)
    return waiting | _stale_claim(now)


def _stale_claim(now: datetime.datetime) -> Q:
    return Q(status=Receipt.Status.SENDING, claimed_at__lte=now - STALE_CLAIM_AFTER)


def _claim(*, receipt_id: int, now: datetime.datetime) -> Receipt | None:
    """Claim one due receipt: the UPDATE re-checks the due condition, so it wins once.

    On PostgreSQL a concurrent UPDATE of the same row waits for the first to commit, then
    re-evaluates its WHERE clause and matches nothing; SQLite serializes writers. Either way
    exactly one worker sees a row count of 1.
    """
    claimed = Receipt.objects.filter(_due(now), pk=receipt_id).update(
        status=Receipt.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return None
    return Receipt.objects.select_related("donation__campaign").get(pk=receipt_id)


def _deliver(donation: Donation) -> None:
    receipt_render(donation=donation).send(fail_silently=False)


def _mark_sent(*, receipt: Receipt, now: datetime.datetime) -> None:
    Receipt.objects.filter(pk=receipt.pk, status=Receipt.Status.SENDING).update(
        status=Receipt.Status.SENT, sent_at=now, next_attempt_at=None, last_error=""
    )
    receipt.refresh_from_db()


def _mark_failed(*, receipt: Receipt, now: datetime.datetime, error: str) -> None:
    attempts = receipt.attempts
    next_attempt_at = now + RETRY_DELAYS[attempts - 1] if attempts < MAX_ATTEMPTS else None
    Receipt.objects.filter(pk=receipt.pk, status=Receipt.Status.SENDING).update(
        status=Receipt.Status.FAILED, next_attempt_at=next_attempt_at, last_error=error[:2000]
    )
    receipt.refresh_from_db()

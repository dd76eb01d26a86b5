"""Renewals that need their donor: a bank asking for confirmation (3D Secure), or a charge
that failed. Stripe reports them (`invoice.payment_action_required`,
`invoice.payment_failed`); we email the donor, in their language, the page where they
confirm or pay the month (the invoice's hosted page), and how to stop the gift instead.

Stripe's own customer emails about these are turned off (README): they speak the
Dashboard's language, not the donor's. Each invoice and kind is mailed at most once, however
often Stripe reports it (Smart Retries fail the same invoice several times; an event may be
delivered twice, or replayed by reconciliation): a RenewalNotice row under a unique
constraint records it, and the task worker mails it once committed. The mail says what
Stripe says when it is sent: the invoice is read again from Stripe then, and a month paid,
voided or no longer ours by then is not mailed.

Only a monthly gift we know and that has started: a first month failing inside Checkout is
the donor's own screen telling them, not a renewal.
"""

from __future__ import annotations

import datetime
import logging

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.tasks import enqueue_on_commit, task
from donations import stripe_gateway as gateway
from donations.models import MONTHLY_ACTIVE, MonthlyGift, RenewalNotice
from donations.services.monthly import monthly_gift_email

logger = logging.getLogger(__name__)

Kind = RenewalNotice.Kind
Status = RenewalNotice.Status
# Stripe's events, and the notice each asks for.
RENEWAL_NOTICE_KINDS = {
    "invoice.payment_action_required": Kind.ACTION_REQUIRED,
    "invoice.payment_failed": Kind.PAYMENT_FAILED,
}
TEMPLATES = {Kind.ACTION_REQUIRED: "monthly_action_required", Kind.PAYMENT_FAILED: "monthly_failed"}
# A subscription's first invoice is paid in Checkout, in front of the donor.
FIRST_INVOICE = "subscription_create"
# A claim older than this is a worker lost mid-task: the sweep may enqueue the notice again.
STALE_CLAIM_AFTER = datetime.timedelta(minutes=15)
# How long the sweep keeps retrying a notice the mail server would not take.
RETRY_FOR = datetime.timedelta(days=3)


def renewal_notice_record(
    *, invoice: gateway.InvoiceFacts, event_type: str, event_id: str = ""
) -> RenewalNotice | None:
    """Keep a notice for a renewal invoice that needs its donor, once per invoice and kind,
    and have the task worker mail it once committed. None when no notice is due: another
    event type, an invoice of no monthly gift of ours, a first month (Checkout's), a gift
    not charging any more or without an email. Safe to call for every report of the invoice.
    """
    kind = RENEWAL_NOTICE_KINDS.get(event_type)
    if kind is None or not invoice.subscription_id or invoice.billing_reason == FIRST_INVOICE:
        return None
    gift = MonthlyGift.objects.filter(stripe_subscription_id=invoice.subscription_id).first()
    if gift is None or gift.started_at is None or gift.status not in MONTHLY_ACTIVE:
        return None
    if not gift.email:
        return None
    with transaction.atomic():
        notice, created = RenewalNotice.objects.get_or_create(
            stripe_invoice_id=invoice.invoice_id,
            kind=kind,
            defaults={"monthly_gift": gift, "stripe_event_id": event_id},
        )
        if created:
            enqueue_on_commit(renewal_notice_mail_task, notice.pk)
    return notice


def _not_needed(notice: RenewalNotice, reason: str) -> RenewalNotice:
    RenewalNotice.objects.filter(pk=notice.pk).update(
        status=Status.NOT_NEEDED, reason=reason[:200], claimed_at=None
    )
    logger.info("Renewal notice %s not mailed: %s.", notice.pk, reason)
    notice.refresh_from_db()
    return notice


def _why_not(gift: MonthlyGift, invoice: gateway.InvoiceFacts) -> str:
    """Why this invoice, as Stripe has it now, needs no email; empty when it does."""
    if invoice.subscription_id != gift.stripe_subscription_id:
        return f"invoice {invoice.invoice_id} is not of this monthly gift's subscription"
    if invoice.status != "open":
        return f"invoice {invoice.invoice_id} is {invoice.status or 'without status'} now"
    if not invoice.hosted_invoice_url:
        return f"invoice {invoice.invoice_id} has no page to pay it"
    if gift.status not in MONTHLY_ACTIVE:
        return "the monthly gift is not charging any more"
    if gift.campaign.closed_on(timezone.localdate()) is not None:
        return "its campaign has closed"
    return ""


def renewal_notice_mail(*, notice_id: int) -> RenewalNotice | None:
    """Mail one notice, at most once: claimed first (a second worker finds it claimed),
    marked mailed after. Stripe not answering or the mail server refusing releases the claim
    and raises, so the task fails and the sweep retries it."""
    now = timezone.now()
    claimed = RenewalNotice.objects.filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lte=now - STALE_CLAIM_AFTER),
        pk=notice_id,
        status=Status.QUEUED,
    ).update(claimed_at=now)
    notice = (
        RenewalNotice.objects.select_related("monthly_gift__campaign").filter(pk=notice_id).first()
    )
    if not claimed or notice is None:
        return notice
    gift = notice.monthly_gift
    try:
        invoice = gateway.retrieve_invoice(notice.stripe_invoice_id)
    except gateway.NotFoundError:
        return _not_needed(notice, f"Stripe does not know invoice {notice.stripe_invoice_id}")
    except gateway.GatewayError:
        RenewalNotice.objects.filter(pk=notice.pk).update(claimed_at=None)
        raise
    reason = _why_not(gift, invoice)
    if reason:
        return _not_needed(notice, reason)
    try:
        _message(notice, gift, invoice.hosted_invoice_url).send(fail_silently=False)
    except Exception:
        RenewalNotice.objects.filter(pk=notice.pk).update(claimed_at=None)
        logger.exception("Could not mail renewal notice %s; the sweep tries again.", notice.pk)
        raise
    RenewalNotice.objects.filter(pk=notice.pk).update(
        status=Status.MAILED, mailed_at=timezone.now(), claimed_at=None
    )
    notice.refresh_from_db()
    return notice


def _message(notice: RenewalNotice, gift: MonthlyGift, invoice_url: str) -> EmailMultiAlternatives:
    return monthly_gift_email(
        gift=gift,
        template=TEMPLATES[notice.kind],
        extra=lambda _locale: {"invoice_url": invoice_url},
    )


@task()
def renewal_notice_mail_task(notice_id: int) -> None:
    """The worker's side of a renewal notice (see `renewal_notice_mail`)."""
    renewal_notice_mail(notice_id=notice_id)


def renewal_notices_due(*, before: datetime.datetime, limit: int) -> list[int]:
    """Notices still to mail, kept before `before` (and within RETRY_FOR), not claimed by a
    live worker: the sweep enqueues them again."""
    return list(
        RenewalNotice.objects.filter(
            Q(claimed_at__isnull=True) | Q(claimed_at__lte=before - STALE_CLAIM_AFTER),
            status=Status.QUEUED,
            created_at__lt=before,
            created_at__gte=before - RETRY_FOR,
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )

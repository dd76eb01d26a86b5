"""Monthly gifts: synced with their Stripe subscriptions and invoices, and their ends.

A monthly gift is a Stripe subscription started from Checkout in subscription mode. Each paid
invoice is one counted gift (a Donation carrying the invoice id, unique). Stripe's news of a
session, an invoice or a subscription is a trigger to read that object as Stripe has it now
and make the gift match it (`monthly_checkout_sync`, `invoice_sync`, `subscription_sync`),
through the gate (services/history.py), whoever asks: the webhook's worker, the thank-you
page, reconciliation, the demo. The first invoice (`billing_reason` subscription_create)
fills the first month, the gift the donate form started; a renewal (subscription_cycle) is a
new month with the giver's choices; any other invoice is recorded and flagged.

A monthly gift's status is its subscription's (active, past due, unpaid, paused, ending,
stopped); one that is over stays over. It ends when its donor stops it (cancelled at Stripe
now; the request is kept and retried until Stripe confirms), when its campaign completes
(at the end of the paid month, or now for a gift Stripe is retrying), or when Stripe ends
it. A month charged for a campaign that has closed is never counted: it is kept uncounted
and flagged for organizers to refund, and the monthly gift is stopped.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from babel.dates import format_date
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

import money
from campaigns.models import Campaign, CampaignChange
from campaigns.services import (
    CAMPAIGN_NOT_LIVE,
    campaign_change_record,
    campaign_pages_changed,
)
from config.i18n import babel_locale
from config.tasks import enqueue, enqueue_on_commit, task
from donations import permissions
from donations import stripe_gateway as gateway
from donations.donor_links import donor_link_url
from donations.models import (
    MONTHLY_ACTIVE,
    MONTHLY_FINAL,
    Donation,
    MonthlyGift,
    MonthlyGiftChange,
)
from donations.services.cash import donation_moderate
from donations.services.history import (
    donation_change,
    monthly_gift_change,
)
from donations.services.rates import RATE_PLACES
from donations.services.receipts import receipt_queue
from donations.services.recording import (
    PaymentNote,
    charge_refunds,
    charge_sync_into,
    payment_apply,
)

logger = logging.getLogger(__name__)

Status = MonthlyGift.Status
# Demo checkouts, subscriptions and invoices carry ids that start with this; Stripe's never do.
DEMO_PREFIX = "demo_"
CAMPAIGN_CLOSED_NOTE = "charged after its campaign closed on {date}; not counted: refund it"
NOT_STOPPABLE = _("This monthly gift is not charging any more.")


def _as_time(unix: int | None) -> datetime.datetime | None:
    return None if unix is None else datetime.datetime.fromtimestamp(unix, datetime.UTC)


def _ended(gift: MonthlyGift, end: str) -> None:
    """Say why and when a monthly gift stopped (the first reason given is kept)."""
    gift.end_reason = gift.end_reason or end
    if gift.status in MONTHLY_FINAL and gift.ended_at is None:
        gift.ended_at = timezone.now()


def _gift(**match) -> MonthlyGift | None:
    return MonthlyGift.objects.filter(**match).first()


def _valid_uuid(value: str | None) -> str | None:
    try:
        return str(uuid.UUID(value)) if value else None
    except ValueError:
        return None


def monthly_checkout_sync(
    *,
    session: gateway.CheckoutFacts,
    invoice: gateway.InvoiceFacts | None = None,
    event_id: str = "",
    origin: str = "",
) -> Donation | None:
    """Make a monthly gift match its subscription-mode Checkout Session as Stripe has it
    now (`session`, just read), then sync the session's first invoice (`invoice` when the
    caller has it: the demo's).

    Completed: the monthly gift gets its subscription (an id another gift holds is not
    taken: flagged instead) and becomes active; its first invoice, paid, is its first month.
    Expired or failed: the monthly gift never started and its first gift did not go
    through. Returns the first month's gift, or None for a session of no monthly gift.
    """
    with monthly_gift_change(
        MonthlyGift.objects.filter(stripe_checkout_session_id=session.session_id),
        action=MonthlyGiftChange.Action.STRIPE_UPDATE,
        stripe_event_id=event_id,
        reason=origin,
    ) as change:
        if change is None:
            logger.warning("Stripe session %s matches no monthly gift.", session.session_id)
            return None
        gift = change.row
        ending = CHECKOUT_ENDINGS.get(session.outcome)
        if ending is not None and gift.status == Status.PENDING:
            gift.status = Status.EXPIRED
            _ended(gift, MonthlyGift.End.CHECKOUT)
            with donation_change(
                Donation.objects.filter(
                    monthly_gift=gift, stripe_checkout_session_id=session.session_id,
                    status=Donation.Status.PENDING,
                ),
                stripe_event_id=event_id, reason=origin, facts=True,
            ) as first:  # fmt: skip
                if first is not None:
                    first.row.status = ending
        elif session.subscription_id:
            change.note = _claim_subscription(gift, session.subscription_id)
            paid = session.outcome == gateway.CheckoutOutcome.PAID
            if paid and gift.stripe_subscription_id and gift.status == Status.PENDING:
                gift.status = Status.ACTIVE
    month = None
    paid = session.outcome == gateway.CheckoutOutcome.PAID
    if (
        paid
        and gift.stripe_subscription_id == session.subscription_id
        and (invoice is not None or session.invoice_id)
    ):
        month = invoice_sync(
            invoice_id=invoice.invoice_id if invoice else session.invoice_id,
            facts=invoice, event_id=event_id, origin=origin,
        )  # fmt: skip
    if isinstance(month, Donation):
        return month
    return Donation.objects.filter(
        monthly_gift=gift, stripe_checkout_session_id=session.session_id
    ).first()


CHECKOUT_ENDINGS = {
    gateway.CheckoutOutcome.EXPIRED: Donation.Status.EXPIRED,
    gateway.CheckoutOutcome.FAILED: Donation.Status.FAILED,
}


def _claim_subscription(gift: MonthlyGift, subscription_id: str) -> str:
    """Set the gift's subscription unless it has one or another gift holds this one."""
    if gift.stripe_subscription_id:
        return ""
    taken = MonthlyGift.objects.filter(stripe_subscription_id=subscription_id).exclude(pk=gift.pk)
    if taken.exists():
        logger.error("Subscription %s belongs to another monthly gift.", subscription_id)
        return f"subscription {subscription_id} belongs to another monthly gift; not taken"
    gift.stripe_subscription_id = subscription_id
    return ""


def _checkout_first(invoice: gateway.InvoiceFacts) -> None:
    """An invoice of a subscription no monthly gift holds yet, whose metadata names a pending
    one of ours: sync that gift's session as Stripe has it now (it names the subscription),
    so the invoice finds its gift. The session, never the invoice's metadata, decides."""
    gift_id = _valid_uuid(invoice.monthly_gift_id)
    pending = gift_id and _gift(pk=gift_id, status=Status.PENDING)
    session_id = pending and pending.stripe_checkout_session_id
    if not session_id or session_id.startswith(DEMO_PREFIX):
        return
    try:
        session = gateway.retrieve_checkout_session(session_id)
    except gateway.NotFoundError:
        logger.warning("Invoice %s names monthly gift %s, whose session Stripe does not know.",
                       invoice.invoice_id, gift_id)  # fmt: skip
        return
    if session.subscription_id == invoice.subscription_id:
        monthly_checkout_sync(session=session, origin=SUBSCRIPTION_FIRST)


SUBSCRIPTION_FIRST = "Stripe reported an invoice of this monthly gift before its checkout"


def invoice_sync(
    *,
    invoice_id: str,
    facts: gateway.InvoiceFacts | None = None,
    hint: gateway.InvoiceFacts | None = None,
    event_id: str = "",
    origin: str = "",
) -> Donation | MonthlyGift | None:
    """Make a monthly gift match one invoice of its subscription as Stripe has it now
    (`facts` when the caller has just read it; `hint`, an event's copy, only names the
    subscription, so an invoice of no gift of ours costs no call to Stripe).

    Paid: its month (`_month_sync`), once, by its invoice id. Open or draft while the
    campaign is closed: stopped at Stripe (voided, or a draft kept from advancing; one
    already paid is left as it is: that is final) and the gift stopped. Open (a renewal
    that failed): the subscription is synced too, for the gift's status. A month charged
    after the campaign closed is kept uncounted, flagged, and stops the gift. Returns the
    month, or the monthly gift for news that made no month; None for no gift of ours.
    """
    named = facts or hint
    if named is not None and not named.subscription_id:
        return None
    if (
        named is not None
        and not MonthlyGift.objects.filter(stripe_subscription_id=named.subscription_id).exists()
    ):
        _checkout_first(named)
        if not MonthlyGift.objects.filter(stripe_subscription_id=named.subscription_id).exists():
            logger.warning("Invoice %s is of no monthly gift of ours; ignored.", invoice_id)
            return None
    if facts is None:
        facts = gateway.retrieve_invoice(invoice_id)
    gift = _gift(stripe_subscription_id=facts.subscription_id) if facts.subscription_id else None
    if gift is None:
        logger.warning("Invoice %s is of no monthly gift of ours; ignored.", invoice_id)
        return None
    if facts.paid:
        month = _month_sync(gift, facts, event_id=event_id, origin=origin)
        if month.review_reason == Donation.ReviewReason.CAMPAIGN_CLOSED:
            monthly_gift_stop(gift=gift, end=MonthlyGift.End.CAMPAIGN, reason=(
                f"invoice {facts.invoice_id} charged after the campaign closed"))  # fmt: skip
        elif gift.status in (Status.PAST_DUE, Status.UNPAID) and not is_demo(gift):
            subscription_sync(subscription_id=gift.stripe_subscription_id, event_id=event_id,
                              origin=origin)  # fmt: skip
        return month
    if facts.status in ("draft", "open") and gift.campaign.closed_on(timezone.localdate()):
        if not is_demo(gift):
            gateway.stop_invoice(facts.invoice_id)
        monthly_gift_stop(gift=gift, end=MonthlyGift.End.CAMPAIGN, reason=(
            f"invoice {facts.invoice_id} came after the campaign closed; stopped"))  # fmt: skip
    elif facts.status == "open" and not is_demo(gift):
        subscription_sync(subscription_id=facts.subscription_id, event_id=event_id,
                          origin=origin)  # fmt: skip
    gift.refresh_from_db()
    return gift


def _month_sync(
    gift: MonthlyGift, invoice: gateway.InvoiceFacts, *, event_id: str, origin: str
) -> Donation:
    """One paid invoice, one gift: found by its invoice id if recorded before (then only
    Stripe's later facts are added); else, for the subscription's first invoice
    (`billing_reason` subscription_create), the pending first month; for a renewal
    (subscription_cycle), a new month; for anything else, a new month flagged for
    organizers. Under the monthly gift's row lock, so two syncs of one invoice take turns;
    the invoice id is unique besides."""
    with monthly_gift_change(
        MonthlyGift.objects.filter(pk=gift.pk),
        action=MonthlyGiftChange.Action.PAYMENT,
        stripe_event_id=event_id,
        reason=origin,
    ) as gift_change:
        gift_change.note = f"invoice {invoice.invoice_id}"
        gift = gift_change.row
        recorded = Donation.objects.filter(stripe_invoice_id=invoice.invoice_id).first()
        if recorded is not None:
            refunds = charge_refunds(invoice.charge, known=bool(recorded.amount_refunded))
            with donation_change(recorded, stripe_event_id=event_id, reason=origin,
                                 facts=True) as change:  # fmt: skip
                if invoice.charge is not None:
                    change.note = charge_sync_into(change, invoice.charge, refunds)
            return change.row
        first = invoice.billing_reason == "subscription_create"
        pending = Donation.objects.filter(
            monthly_gift=gift, stripe_invoice_id__isnull=True, status=Donation.Status.PENDING
        ).order_by("created_at")
        pending = pending.first() if first else None
        with donation_change(
            pending or _new_month(gift), stripe_event_id=event_id, reason=origin, facts=True
        ) as change:
            month = change.row
            month.stripe_invoice_id = invoice.invoice_id
            note = payment_apply(month, charged=invoice.amount_paid, currency=invoice.currency,
                                 payment_intent_id=invoice.payment_intent_id,
                                 charge=invoice.charge)  # fmt: skip
            month.received_at = _as_time(invoice.paid_at) or timezone.now()
            closed_on = gift.campaign.closed_on(timezone.localdate(month.received_at))
            if closed_on is not None and not note.refused:
                month.review_reason = Donation.ReviewReason.CAMPAIGN_CLOSED
                note = PaymentNote(CAMPAIGN_CLOSED_NOTE.format(date=closed_on.isoformat()),
                                   refused=True)  # fmt: skip
                logger.error("Monthly gift %s: invoice %s %s.", gift.pk, invoice.invoice_id, note)
            elif invoice.billing_reason not in MONTH_REASONS:
                month.review_reason = Donation.ReviewReason.INVOICE_REASON
                note = PaymentNote(UNEXPECTED_INVOICE_NOTE.format(
                    reason=invoice.billing_reason or "none"))  # fmt: skip
            change.note = str(note)
            if not note.refused:
                month.status = Donation.Status.SUCCEEDED
                receipt_queue(donation=month)
                refunds = charge_refunds(invoice.charge)
                if refunds is not None:
                    change.note = charge_sync_into(change, invoice.charge, refunds) or change.note
        if month.status == Donation.Status.SUCCEEDED and gift.started_at is None:
            gift.started_at = month.received_at
            gift.amount_converted = month.amount_converted
        if gift.status == Status.PENDING:
            gift.status = Status.ACTIVE
    return month


# Why Stripe made an invoice: the first month, or a renewal. Anything else (a manual
# invoice, a change of the subscription) is recorded and flagged.
MONTH_REASONS = ("subscription_create", "subscription_cycle")
UNEXPECTED_INVOICE_NOTE = "an invoice Stripe made for {reason}, not for a month: check it"


def _new_month(gift: MonthlyGift) -> Donation:
    """A new month's gift with the giver's choices; its conversion starts as the last
    month's (`payment_apply` converts it afresh when a rate of the day is stored)."""
    previous = (
        Donation.objects.filter(monthly_gift=gift)
        .order_by("-received_at", "-id")
        .only("amount_converted", "conversion_rate", "rate_date", "rate_source", "amount")
        .first()
    )
    month = Donation(
        campaign=gift.campaign,
        team_member_id=gift.team_member_id,
        monthly_gift=gift,
        source=Donation.Source.ONLINE,
        status=Donation.Status.PENDING,
        giver_name=gift.giver_name,
        email=gift.email,
        anonymous=gift.anonymous,
        hide_amount=gift.hide_amount,
        message=gift.message,
        name_hidden_by_organizer=gift.name_hidden_by_organizer,
        message_hidden_by_organizer=gift.message_hidden_by_organizer,
        language=gift.language,
        amount=gift.amount,
        currency=gift.currency,
        fee_cover_amount=gift.fee_cover_amount,
        received_at=timezone.now(),
    )
    if previous is not None and previous.amount == gift.amount:
        month.amount_converted = previous.amount_converted
        month.conversion_rate = previous.conversion_rate
        month.rate_date = previous.rate_date
        month.rate_source = previous.rate_source
    else:
        month.amount_converted = gift.amount_converted
        month.conversion_rate = (
            (gift.amount_converted / gift.amount).quantize(RATE_PLACES) if gift.amount else 1
        )
        month.rate_date = timezone.localdate()
        month.rate_source = Donation.RateSource.ECB
    return month


# A subscription's state, in our terms. Unpaid (Stripe stopped retrying) and paused
# subscriptions charge nothing: their gifts are not counted as active.
SUBSCRIPTION_STATUSES = {
    gateway.SubscriptionState.ACTIVE: Status.ACTIVE,
    gateway.SubscriptionState.PAST_DUE: Status.PAST_DUE,
    gateway.SubscriptionState.UNPAID: Status.UNPAID,
    gateway.SubscriptionState.PAUSED: Status.PAUSED,
    gateway.SubscriptionState.ENDING: Status.ENDING,
    gateway.SubscriptionState.CANCELED: Status.CANCELED,
    gateway.SubscriptionState.EXPIRED: Status.EXPIRED,
}


def subscription_sync(
    *,
    subscription_id: str,
    facts: gateway.SubscriptionFacts | None = None,
    event_id: str = "",
    origin: str = "",
) -> MonthlyGift | None:
    """Make a monthly gift's status and paid month match its subscription as Stripe has it
    now (`facts`: the demo's own). A gift that is over stays over. Returns None (without
    asking Stripe) for a subscription no monthly gift holds."""
    if not MonthlyGift.objects.filter(stripe_subscription_id=subscription_id).exists():
        logger.warning("Subscription %s matches no monthly gift; ignored.", subscription_id)
        return None
    if facts is None:
        facts = gateway.retrieve_subscription(subscription_id)
    with monthly_gift_change(
        MonthlyGift.objects.filter(stripe_subscription_id=subscription_id),
        action=MonthlyGiftChange.Action.STRIPE_UPDATE,
        stripe_event_id=event_id,
        reason=origin,
    ) as change:
        gift = change.row
        target = SUBSCRIPTION_STATUSES.get(facts.state)
        if target is not None and gift.status not in MONTHLY_FINAL:
            gift.status = target
            if target in (Status.ENDING, *MONTHLY_FINAL):
                _ended(gift, MonthlyGift.End.STRIPE)
        if facts.paid_through is not None:
            gift.paid_through = _as_time(facts.paid_through)
    return gift


def is_demo(gift: MonthlyGift) -> bool:
    return (gift.stripe_subscription_id or "").startswith(DEMO_PREFIX)


@dataclass(frozen=True)
class Stopped:
    gift: MonthlyGift
    changed: bool


# A monthly gift still charging, or held by Stripe (unpaid, paused): it may be stopped.
STOPPABLE = (*MONTHLY_ACTIVE, Status.UNPAID, Status.PAUSED)


def monthly_gift_stop(
    *,
    gift: MonthlyGift,
    end: str,
    by=None,
    reason: str,
    at_period_end: bool = False,
    retry: bool = True,
) -> Stopped:
    """Stop a monthly gift at Stripe, then record it (history, tallies, an email to the
    donor in their language once committed).

    Now (the donor's stop, or a gift of a closed campaign that Stripe is retrying:
    cancelled, nothing more is charged) or at the end of the month paid (an active gift of a
    completed campaign: it ends then, and never charges again). A gift already ending or
    over is left as it is. A stop now is recorded as requested first, with its history row,
    so that one Stripe does not confirm leaves a trace: then GatewayError propagates, the
    stop is retried by the task worker (`monthly_gift_stop_task`, and the sweep while it is
    requested) and the campaign's organizers are told. Each attempt has its own idempotency
    key, so a retry is never answered with an earlier attempt's error.
    """
    stoppable = (*STOPPABLE, Status.ENDING) if not at_period_end else STOPPABLE
    if gift.status not in (*stoppable, Status.PENDING) or (
        gift.status == Status.PENDING and not gift.stripe_subscription_id
    ):
        return Stopped(gift, False)
    stripe_id = gift.stripe_subscription_id if not is_demo(gift) else None
    subscription = None
    if stripe_id and at_period_end:
        subscription = gateway.end_subscription_at_period_end(stripe_id)
        if subscription.latest_invoice_id:  # a renewal made already must not charge either
            gateway.stop_invoice(subscription.latest_invoice_id)
    elif stripe_id:
        first_request = _stop_requested(gift, end=end, by=by, reason=reason)
        try:
            subscription = gateway.cancel_subscription(stripe_id, attempt=uuid.uuid4().hex)
            if end == MonthlyGift.End.CAMPAIGN and subscription.latest_invoice_id:
                gateway.stop_invoice(subscription.latest_invoice_id)  # no retry after close
        except gateway.NotFoundError:
            logger.warning("Stripe does not know subscription %s.", stripe_id)
        except gateway.GatewayError:
            logger.exception("Stripe did not stop monthly gift %s; retried later.", gift.pk)
            if retry:  # the task's own failure waits for the sweep
                enqueue(monthly_gift_stop_task, str(gift.pk))
            if first_request:
                enqueue(monthly_stop_failed_mail_task, str(gift.pk))
            raise
    target = Status.ENDING if at_period_end else Status.CANCELED
    with monthly_gift_change(
        gift, action=MonthlyGiftChange.Action.STOP, by=by, reason=reason
    ) as change:
        locked = change.row
        changed = locked.status in (*stoppable, Status.PENDING)
        if changed:
            locked.status = target
            _ended(locked, end)
        if subscription is not None and subscription.paid_through is not None:
            locked.paid_through = _as_time(subscription.paid_through)
        if changed:
            template = "monthly_ended" if end == MonthlyGift.End.CAMPAIGN else "monthly_stopped"
            enqueue_on_commit(monthly_email_task, str(locked.pk), template)
    return Stopped(locked, changed)


def _stop_requested(gift: MonthlyGift, *, end: str, by, reason: str) -> bool:
    """Keep that a stop was asked for (and why), before Stripe is asked; True the first time."""
    with monthly_gift_change(
        gift, action=MonthlyGiftChange.Action.STOP_REQUEST, by=by, reason=reason
    ) as change:
        first = change.row.stop_requested_at is None
        if first:
            change.row.stop_requested_at = timezone.now()
            change.row.end_reason = change.row.end_reason or end
    return first


def monthly_gift_stops_due(*, before: datetime.datetime, limit: int) -> list[str]:
    """Monthly gifts whose stop was requested before then and Stripe has not confirmed."""
    return [
        str(pk)
        for pk in MonthlyGift.objects.filter(
            stop_requested_at__lt=before, status__in=(*STOPPABLE, Status.ENDING)
        ).values_list("pk", flat=True)[:limit]
    ]


@task()
def monthly_gift_stop_task(gift_id: str) -> None:
    """Ask Stripe again to stop a monthly gift whose stop was requested. A Stripe that still
    does not answer is logged; the sweep enqueues this again while the stop is requested."""
    gift = MonthlyGift.objects.filter(pk=gift_id).first()
    if gift is None or gift.stop_requested_at is None:
        return
    try:
        monthly_gift_stop(gift=gift, end=gift.end_reason or MonthlyGift.End.DONOR,
                          reason="stop requested earlier, retried", retry=False)  # fmt: skip
    except gateway.GatewayError:
        logger.warning("Monthly gift %s still not stopped at Stripe.", gift_id)


@task()
def monthly_stop_failed_mail_task(gift_id: str) -> None:
    """Tell the campaign's organizers that a donor asked to stop a monthly gift and Stripe
    has not confirmed it yet (it is retried): a donor charged meanwhile needs a refund."""
    gift = MonthlyGift.objects.select_related("campaign").get(pk=gift_id)
    campaign = gift.campaign
    recipients = [address for address in (campaign.organizer_email,) if address]
    if not recipients:
        return
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "campaign_title": campaign.title,
            "giver_name": gift.giver_name or _("Anonymous"),
            "amount": money.format_money(gift.amount, gift.currency, babel_locale()),
            "requested_at": timezone.localtime(gift.stop_requested_at).strftime("%Y-%m-%d %H:%M"),
        }
        subject = render_to_string("donations/email/monthly_stop_failed_subject.txt", context)
        body = render_to_string("donations/email/monthly_stop_failed.txt", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()), body=body, from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients, headers={"Auto-Submitted": "auto-generated"},
    )  # fmt: skip
    try:
        message.send(fail_silently=False)
    except Exception:  # the stop is retried whatever the mail does
        logger.exception("Could not tell the organizers of monthly gift %s.", gift_id)


@task()
def monthly_email_task(gift_id: str, template: str) -> None:
    """Tell the donor, in their language. A mail server that refuses is logged, never
    undoes the stop (it happened at Stripe already)."""
    gift = MonthlyGift.objects.select_related("campaign").get(pk=gift_id)
    if not gift.email:
        return

    def stopped(locale: str) -> dict:
        paid_through = gift.paid_through if gift.status == Status.ENDING else None
        return {
            "raised": money.format_money(gift.raised, gift.campaign.currency, locale),
            "months": gift.months,
            "paid_through": (
                format_date(timezone.localtime(paid_through).date(), format="long", locale=locale)
                if paid_through
                else ""
            ),
        }

    message = monthly_gift_email(gift=gift, template=template, extra=stopped)
    try:
        message.send(fail_silently=False)
    except Exception:  # any backend failure: the stop stands, the log says who was not told
        logger.exception("Could not email the donor of monthly gift %s.", gift_id)


def monthly_gift_email(
    *, gift: MonthlyGift, template: str, extra: Callable[[str], dict]
) -> EmailMultiAlternatives:
    """An email to a monthly gift's donor in their language (`donations/email/<template>`):
    the gift's amount, campaign, organizer and donor link, plus `extra(babel_locale)`; replies
    go to the organizers."""
    language = gift.language if gift.language in dict(settings.LANGUAGES) else "en"
    with translation.override(language):
        locale = babel_locale()
        context = {
            "giver_name": gift.giver_name,
            "campaign_title": gift.campaign.localized("title", language),
            "organizer_name": gift.campaign.organizer_name,
            "amount": money.format_money(gift.amount, gift.currency, locale),
            "manage_url": donor_link_url(email=gift.email),
            **extra(locale),
        }
        subject = render_to_string(f"donations/email/{template}_subject.txt", context)
        body = render_to_string(f"donations/email/{template}.txt", context)
    return EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[gift.email],
        reply_to=[gift.campaign.organizer_email] if gift.campaign.organizer_email else None,
        headers={"Auto-Submitted": "auto-generated"},
    )


@dataclass
class CampaignStop:
    """What stopping a campaign's monthly gifts did."""

    stopped: int = 0
    failed: list[str] = field(default_factory=list)


COMPLETED_REASON = "the campaign completed"


def monthly_gifts_stop_for_campaign(
    *, campaign: Campaign, by=None, origin: str = ""
) -> CampaignStop:
    """Stop every monthly gift of a closed campaign (each donor told by email); each stop's
    history names who completed the campaign (`by`, a user) or what did (`origin`).

    An active gift ends with its paid month; one Stripe is retrying (past due) or holds
    (unpaid, paused) is cancelled now, so no late retry charges a closed campaign. Each
    subscription's latest invoice, if it is a renewal not paid yet, is stopped (a draft kept
    from advancing, an open one voided), and the campaign's open Checkout Sessions are
    expired, so nobody can pay into it any more. One that Stripe cannot be told about
    stays as it was and is named in the result, so a second run stops it."""
    result = CampaignStop()
    reason = f"{COMPLETED_REASON} ({origin})" if origin else COMPLETED_REASON
    gifts = MonthlyGift.objects.filter(campaign=campaign, status__in=STOPPABLE)
    for gift in gifts.order_by("created_at"):
        try:
            stopped = monthly_gift_stop(
                gift=gift,
                end=MonthlyGift.End.CAMPAIGN,
                by=by,
                reason=reason,
                at_period_end=gift.status == Status.ACTIVE,
            )
        except gateway.GatewayError as error:
            logger.error("Monthly gift %s not stopped: %s", gift.pk, error)
            result.failed.append(str(gift.pk))
            continue
        result.stopped += stopped.changed
    result.failed += _open_sessions_expire(campaign)
    return result


def open_sessions(campaigns) -> QuerySet:
    """Pending online gifts whose Checkout Session may still be paid (Stripe keeps a session
    open at most a day), of the given campaigns (a queryset of them)."""
    return Donation.objects.filter(
        campaign__in=campaigns,
        source=Donation.Source.ONLINE,
        status=Donation.Status.PENDING,
        stripe_checkout_session_id__isnull=False,
        created_at__gte=timezone.now() - datetime.timedelta(days=1),
    ).exclude(stripe_checkout_session_id__startswith=DEMO_PREFIX)


def _open_sessions_expire(campaign: Campaign) -> list[str]:
    """Expire the campaign's Checkout Sessions that may still be paid (its pending gifts');
    returns the ones Stripe could not be told about."""
    failed = []
    pending = open_sessions(Campaign.objects.filter(pk=campaign.pk))
    for session_id in pending.values_list("stripe_checkout_session_id", flat=True):
        try:
            gateway.expire_checkout_session(session_id)
        except gateway.NotFoundError:
            continue
        except gateway.GatewayError as error:
            logger.error("Checkout Session %s not expired: %s", session_id, error)
            failed.append(session_id)
    return failed


@dataclass(frozen=True)
class Completion:
    campaign: Campaign
    completed_now: bool
    # Monthly gifts still active, which the task worker now stops at Stripe.
    monthly_to_stop: int


@task()
def campaign_monthly_gifts_stop_task(campaign_id: int, user_id: int | None, origin: str) -> None:
    """The Stripe calls of a completion, in the worker: its monthly gifts stop and its open
    Checkout Sessions expire (`monthly_gifts_stop_for_campaign`). What Stripe could not be
    told about stays as it was: the task fails (logged), and the sweep enqueues it again
    while the campaign has a gift still charging or a session still open."""
    campaign = Campaign.objects.get(pk=campaign_id)
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    result = monthly_gifts_stop_for_campaign(campaign=campaign, by=user, origin=origin)
    if result.failed:
        raise gateway.GatewayError(
            f"Stripe did not answer for {len(result.failed)} monthly gifts of {campaign.slug}"
        )


def _monthly_gifts_stop_later(*, campaign: Campaign, by, origin: str) -> int:
    """Enqueue the Stripe calls of a completion once it commits (monthly gifts to stop, open
    Checkout Sessions to expire); how many monthly gifts they stop."""
    to_stop = MonthlyGift.objects.filter(campaign=campaign, status__in=STOPPABLE).count()
    this = Campaign.objects.filter(pk=campaign.pk)
    if to_stop or open_sessions(this).exists():
        user_id = by.pk if by is not None else None
        enqueue_on_commit(campaign_monthly_gifts_stop_task, campaign.pk, user_id, origin)
    return to_stop


def campaign_complete(*, campaign: Campaign, today: datetime.date, by=None) -> Completion:
    """Mark a campaign completed, then have the task worker stop its monthly gifts (see
    `monthly_gifts_stop_for_campaign`), so no request waits on Stripe. Idempotent: a
    completed campaign stays as it was and only gifts still active are stopped. A campaign
    past its end date is completed on that date, so its page keeps saying when giving closed.
    Raises ValidationError for a draft.
    `by` is the user who completes it, or the name of the command that does; the completion
    gets a CampaignChange row saying so (`campaign_change_record`), and each monthly gift
    stopped its history row.
    """
    user, origin = (None, by) if isinstance(by, str) else (by, "")
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        completed_now = locked.status != Campaign.Status.COMPLETED
        if completed_now:
            if locked.status != Campaign.Status.LIVE:
                raise ValidationError(CAMPAIGN_NOT_LIVE, code="not_live")
            ended = locked.ends_on if locked.ends_on and locked.ends_on < today else today
            changes = {
                "status": [locked.status, Campaign.Status.COMPLETED.value],
                "completed_on": [
                    locked.completed_on and locked.completed_on.isoformat(),
                    ended.isoformat(),
                ],
            }
            locked.status = Campaign.Status.COMPLETED
            locked.completed_on = ended
            locked.full_clean()
            locked.save(update_fields=["status", "completed_on", "updated_at"])
            campaign_change_record(
                campaign=locked,
                action=CampaignChange.Action.COMPLETE,
                changes=changes,
                by=user,
                reason=origin,
            )
            campaign_pages_changed(campaign_ids=[locked.pk], site=True)  # the home's order
            logger.info("Campaign %s completed on %s (by %s).", locked.slug, ended, by or "-")
        to_stop = _monthly_gifts_stop_later(campaign=locked, by=user, origin=origin)
    return Completion(locked, completed_now, to_stop)


def campaign_completed_by_edit(*, campaign: Campaign, by) -> int:
    """A campaign whose status an organizer edited to completed, already saved through
    `campaign_save` (which kept the completion in its history): the task worker stops its
    monthly gifts, as with `campaign_complete`. Returns how many it stops."""
    return _monthly_gifts_stop_later(campaign=campaign, by=by, origin="")


def campaigns_complete_ended(*, today: datetime.date) -> list[Completion]:
    """Complete every live campaign past its end date, and stop the monthly gifts still
    active on any completed campaign (one whose stop failed before, or that was completed
    by editing it). Safe to run at any time, twice or late."""
    due = Campaign.objects.filter(status=Campaign.Status.LIVE, ends_on__lt=today)
    with_active = Campaign.objects.filter(
        status=Campaign.Status.COMPLETED,
        monthly_gifts__status__in=STOPPABLE,
    ).distinct()
    ids = sorted(
        set(due.values_list("pk", flat=True)) | set(with_active.values_list("pk", flat=True))
    )
    return [
        campaign_complete(campaign=campaign, today=today, by="campaigns_complete_ended")
        for campaign in Campaign.objects.filter(pk__in=ids).order_by("pk")
    ]


def monthly_gift_moderate(
    *, gift: MonthlyGift, by, hide_name: bool, hide_message: bool, reason: str = ""
) -> MonthlyGift:
    """Hide a monthly gift's public name or message: the giver list entry and every month
    of it (each month's history says so). Organizers of its campaign and superusers only."""
    if not permissions.may_moderate_monthly_gift(user=by, gift=gift):
        raise PermissionDenied
    with monthly_gift_change(
        gift, action=MonthlyGiftChange.Action.MODERATE, by=by, reason=reason
    ) as change:
        locked = change.row
        locked.name_hidden_by_organizer = hide_name
        locked.message_hidden_by_organizer = hide_message
    with transaction.atomic():
        for month in Donation.objects.filter(monthly_gift=locked).select_related("campaign"):
            donation_moderate(
                donation=month, by=by, hide_name=hide_name, hide_message=hide_message,
                reason=reason,
            )  # fmt: skip
    return locked

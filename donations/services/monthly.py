"""Monthly gifts: what Stripe says about their subscriptions and invoices, and their ends.

A monthly gift is a Stripe subscription started from Checkout in subscription mode. Each paid
invoice is one counted gift (a Donation carrying the invoice id, unique), recorded exactly
once whichever arrives first of the webhook (`invoice.paid`, `checkout.session.completed`),
the thank-you page and reconciliation: all of them end in `_month_record`, under the monthly
gift's row lock, with the Stripe event claimed in the same transaction. The first month is
the gift the donate form started (pending until its invoice is paid); later months are new
gifts with the giver's choices, and go the same way.

A monthly gift's status only moves forward (pending → active ⇄ past due → ending →
stopped); Stripe's news of it applies in the order Stripe made it (`stripe_status_at`).
It ends when its donor stops it (cancelled at Stripe now), when its campaign completes
(cancelled at Stripe at the end of the paid month: `campaign_complete`), or when Stripe ends
it. A month charged for a campaign that has closed is never counted: it is kept uncounted
and flagged for organizers to refund, and the monthly gift is stopped.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field

from babel.dates import format_date
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

import money
from campaigns.models import Campaign, CampaignChange
from campaigns.services import (
    CAMPAIGN_NOT_LIVE,
    campaign_change_record,
    campaign_content_changed,
)
from config.i18n import babel_locale
from config.tasks import enqueue_on_commit, task
from donations import permissions
from donations import stripe_gateway as gateway
from donations.donor_links import donor_link_url
from donations.models import (
    MONTHLY_ACTIVE,
    MONTHLY_FINAL,
    Donation,
    MonthlyGift,
    MonthlyGiftChange,
    StripeEvent,
)
from donations.services.cash import donation_moderate
from donations.services.history import (
    donation_snapshot,
    monthly_gift_change_recorded,
    monthly_gift_changes,
    monthly_gift_snapshot,
)
from donations.services.rates import RATE_PLACES
from donations.services.receipts import receipt_queue
from donations.services.recording import (
    PaymentNote,
    charge_matches,
    charge_refunds_apply,
    donation_save_reported,
    payment_apply,
    refund_total_apply,
    status_move,
    stripe_event_claim,
    stripe_event_link,
    stripe_facts_fill,
)

logger = logging.getLogger(__name__)

Status = MonthlyGift.Status
# Where a monthly gift may go from each status. Active and past due alternate as renewals
# fail and succeed; stopped and never started are final.
GIFT_FORWARD = {
    Status.PENDING: {Status.ACTIVE, Status.PAST_DUE, Status.ENDING, Status.CANCELED,
                     Status.EXPIRED},
    Status.ACTIVE: {Status.PAST_DUE, Status.ENDING, Status.CANCELED},
    Status.PAST_DUE: {Status.ACTIVE, Status.ENDING, Status.CANCELED},
    Status.ENDING: {Status.CANCELED},
}  # fmt: skip
SUBSCRIPTION_STATUSES = {
    gateway.SubscriptionState.ACTIVE: Status.ACTIVE,
    gateway.SubscriptionState.PAST_DUE: Status.PAST_DUE,
    gateway.SubscriptionState.ENDING: Status.ENDING,
    gateway.SubscriptionState.CANCELED: Status.CANCELED,
    gateway.SubscriptionState.EXPIRED: Status.EXPIRED,
}
# Demo checkouts, subscriptions and invoices carry ids that start with this; Stripe's never do.
DEMO_PREFIX = "demo_"
CAMPAIGN_CLOSED_NOTE = "charged after its campaign closed on {date}; not counted: refund it"
NOT_STOPPABLE = _("This monthly gift is not charging any more.")


def _as_time(unix: int | None) -> datetime.datetime | None:
    return None if unix is None else datetime.datetime.fromtimestamp(unix, datetime.UTC)


def _gift_move(gift: MonthlyGift, status: str) -> bool:
    if status in GIFT_FORWARD.get(gift.status, set()):
        gift.status = status
        return True
    return False


def _ended(gift: MonthlyGift, end: str) -> None:
    """Say why and when a monthly gift stopped (the first reason given is kept)."""
    gift.end_reason = gift.end_reason or end
    if gift.status in MONTHLY_FINAL and gift.ended_at is None:
        gift.ended_at = timezone.now()


def _gift_save(
    gift: MonthlyGift,
    before: dict | None,
    *,
    action: str,
    event: gateway.WebhookEvent | None = None,
    origin: str = "",
    by=None,
    note: str = "",
) -> None:
    """Save only what changed, with its history row. The running totals (`raised`,
    `months`) are never written from here: services/totals.py moves them with F()."""
    changes = monthly_gift_changes(before, gift)
    if not changes:
        return
    gift.full_clean(validate_unique=False, validate_constraints=False)
    if before is None:
        gift.save()
    else:
        gift.save(update_fields=[*changes, "updated_at"])
    reason = f"Stripe event {event.type}" if event else origin
    monthly_gift_change_recorded(
        gift=gift,
        before=before,
        action=action,
        by=by,
        stripe_event_id=event.event_id if event else "",
        reason=f"{reason}: {note}" if note else reason,
    )


def _locked_gift(**match) -> MonthlyGift | None:
    return (
        MonthlyGift.objects.select_for_update(of=("self",))
        .select_related("campaign")
        .filter(**match)
        .first()
    )


def _newer(gift: MonthlyGift, event: gateway.WebhookEvent | None) -> bool:
    """Whether Stripe made this news after the latest news applied (no event: Stripe's
    current word, asked now, always applies)."""
    if event is None or gift.stripe_status_at is None:
        return True
    return event.created >= int(gift.stripe_status_at.timestamp())


def _stamp(gift: MonthlyGift, event: gateway.WebhookEvent | None) -> None:
    if event is not None and event.created:
        gift.stripe_status_at = _as_time(event.created)


def _link(stored: StripeEvent | bool | None, gift: MonthlyGift, month: Donation | None) -> None:
    if isinstance(stored, StripeEvent):
        stored.monthly_gift = gift
        stored.save(update_fields=["monthly_gift"])
    if month is not None:
        stripe_event_link(stored, month)


def monthly_gift_record_checkout(
    *,
    session: gateway.CheckoutFacts,
    invoice: gateway.InvoiceFacts | None = None,
    event: gateway.WebhookEvent | None = None,
    origin: str = "",
) -> Donation | None:
    """Record what a subscription-mode Checkout Session says, with its first invoice when
    the caller has it: at most once per event, only moving forward.

    Completed: the monthly gift gets its subscription (an id another gift holds is not
    taken: flagged instead) and becomes active; the first invoice, paid, is its first month.
    Expired or failed: the monthly gift never started and its first gift did not go through.
    Returns the first month's gift, or None for a repeated event or an unknown session.
    """
    with transaction.atomic():
        stored = stripe_event_claim(event)
        if stored is False:
            return None
        gift = _locked_gift(stripe_checkout_session_id=session.session_id)
        if gift is None:
            logger.warning(
                "Stripe session %s matches no monthly gift; ignored.", session.session_id
            )
            return None
        first = (
            Donation.objects.select_for_update(of=("self",))
            .select_related("campaign")
            .filter(monthly_gift=gift, stripe_checkout_session_id=session.session_id)
            .first()
        )
        before = monthly_gift_snapshot(gift)
        note = ""
        if session.outcome in (gateway.CheckoutOutcome.EXPIRED, gateway.CheckoutOutcome.FAILED):
            if _gift_move(gift, Status.EXPIRED):
                _ended(gift, MonthlyGift.End.CHECKOUT)
            if first is not None:
                first_before = donation_snapshot(first)
                failed = session.outcome == gateway.CheckoutOutcome.FAILED
                status_move(first, Donation.Status.FAILED if failed else Donation.Status.EXPIRED)
                donation_save_reported(first, first_before, event=event, origin=origin)
        elif session.subscription_id:
            note = _claim_subscription(gift, session.subscription_id)
            if session.outcome == gateway.CheckoutOutcome.PAID and gift.stripe_subscription_id:
                _gift_move(gift, Status.ACTIVE)
        _gift_save(
            gift, before, action=MonthlyGiftChange.Action.STRIPE_UPDATE, event=event,
            origin=origin, note=note,
        )  # fmt: skip
        month = None
        if invoice is not None and invoice.subscription_id == gift.stripe_subscription_id:
            month = _month_record(gift, invoice, event=event, origin=origin)
        _link(stored, gift, month or first)
    return month or first


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


def monthly_gift_record_invoice(
    *,
    invoice: gateway.InvoiceFacts,
    event: gateway.WebhookEvent | None = None,
    origin: str = "",
) -> Donation | MonthlyGift | None:
    """Record one invoice of a monthly gift's subscription, at most once per event.

    Paid: its month (`_month_record`). A failed renewal (`invoice.payment_failed`): the gift
    is past due while Stripe retries; a later success of the same invoice is its month,
    once. Returns the month, or the monthly gift for news that made no month; None for a
    repeated event or a subscription no monthly gift holds.
    """
    with transaction.atomic():
        stored = stripe_event_claim(event)
        if stored is False or not invoice.subscription_id:
            return None
        gift = _locked_gift(stripe_subscription_id=invoice.subscription_id)
        if gift is None:
            logger.warning("Invoice %s matches no monthly gift; ignored.", invoice.invoice_id)
            return None
        month = None
        if invoice.paid:
            month = _month_record(gift, invoice, event=event, origin=origin)
        elif event is not None and event.type == "invoice.payment_failed":
            before = monthly_gift_snapshot(gift)
            if _newer(gift, event) and gift.status == Status.ACTIVE:
                _gift_move(gift, Status.PAST_DUE)
                _stamp(gift, event)
            _gift_save(
                gift, before, action=MonthlyGiftChange.Action.STRIPE_UPDATE, event=event,
                note=f"invoice {invoice.invoice_id} not paid; Stripe retries",
            )  # fmt: skip
        _link(stored, gift, month)
    return month or gift


def _month_record(
    gift: MonthlyGift,
    invoice: gateway.InvoiceFacts,
    *,
    event: gateway.WebhookEvent | None,
    origin: str,
) -> Donation | None:
    """One paid invoice, one gift: found by its invoice id if recorded before (then only
    Stripe's later facts are added), else the pending first month, else a new month. The
    monthly gift is locked by the caller, so two reporters of one invoice take turns, and
    the invoice id is unique besides."""
    recorded = (
        Donation.objects.select_for_update(of=("self",))
        .select_related("campaign")
        .filter(stripe_invoice_id=invoice.invoice_id)
        .first()
    )
    if recorded is not None:
        before = donation_snapshot(recorded)
        if invoice.charge is not None and charge_matches(recorded, invoice.charge):
            stripe_facts_fill(recorded, invoice.charge)
            charge = invoice.charge
            refund_total_apply(
                recorded, charge.amount_refunded, fully_refunded=charge.fully_refunded
            )
        donation_save_reported(recorded, before, event=event, origin=origin)
        return recorded
    if not invoice.paid:
        return None
    month = (
        Donation.objects.select_for_update(of=("self",))
        .select_related("campaign")
        .filter(monthly_gift=gift, stripe_invoice_id__isnull=True, status=Donation.Status.PENDING)
        .order_by("created_at")
        .first()
    )
    before = donation_snapshot(month) if month is not None else None
    if month is None:
        month = _new_month(gift)
    month.stripe_invoice_id = invoice.invoice_id
    note = payment_apply(
        month,
        charged=invoice.amount_paid,
        currency=invoice.currency,
        payment_intent_id=invoice.payment_intent_id,
        charge=invoice.charge,
    )
    paid_at = _as_time(invoice.paid_at) or timezone.now()
    month.received_at = paid_at
    closed_on = gift.campaign.closed_on(timezone.localdate(paid_at))
    if closed_on is not None and not note.refused:
        month.review_reason = Donation.ReviewReason.CAMPAIGN_CLOSED
        note = PaymentNote(CAMPAIGN_CLOSED_NOTE.format(date=closed_on.isoformat()), refused=True)
        logger.error("Monthly gift %s: invoice %s %s.", gift.pk, invoice.invoice_id, note)
    counted = not note.refused and status_move(month, Donation.Status.SUCCEEDED)
    if counted:
        charge_refunds_apply(month, invoice.charge)
    donation_save_reported(month, before, event=event, origin=origin, note=str(note))
    if counted:
        receipt_queue(donation=month)
    gift_before = monthly_gift_snapshot(gift)
    if counted and gift.started_at is None:
        gift.started_at = month.received_at
        gift.amount_converted = month.amount_converted
    if gift.status == Status.PENDING or (gift.status == Status.PAST_DUE and _newer(gift, event)):
        _gift_move(gift, Status.ACTIVE)
        _stamp(gift, event)
    _gift_save(
        gift, gift_before, action=MonthlyGiftChange.Action.PAYMENT, event=event, origin=origin,
        note=f"invoice {invoice.invoice_id}",
    )  # fmt: skip
    return month


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


def monthly_gift_record_subscription(
    *,
    subscription: gateway.SubscriptionFacts,
    event: gateway.WebhookEvent | None = None,
    origin: str = "",
) -> MonthlyGift | None:
    """Apply a subscription's state to its monthly gift, at most once per event, in the
    order Stripe made the news, only moving forward. Returns None for a repeated event or a
    subscription no monthly gift holds."""
    with transaction.atomic():
        stored = stripe_event_claim(event)
        if stored is False:
            return None
        gift = _locked_gift(stripe_subscription_id=subscription.subscription_id)
        if gift is None:
            logger.warning(
                "Subscription %s matches no monthly gift; ignored.", subscription.subscription_id
            )
            return None
        before = monthly_gift_snapshot(gift)
        if _newer(gift, event):
            target = SUBSCRIPTION_STATUSES.get(subscription.state)
            moved = target is not None and _gift_move(gift, target)
            if moved and target in (Status.ENDING, Status.CANCELED, Status.EXPIRED):
                _ended(gift, MonthlyGift.End.STRIPE)
            if subscription.paid_through is not None:
                gift.paid_through = _as_time(subscription.paid_through)
            _stamp(gift, event)
        _gift_save(
            gift, before, action=MonthlyGiftChange.Action.STRIPE_UPDATE, event=event,
            origin=origin,
        )  # fmt: skip
        _link(stored, gift, None)
    return gift


def is_demo(gift: MonthlyGift) -> bool:
    return (gift.stripe_subscription_id or "").startswith(DEMO_PREFIX)


@dataclass(frozen=True)
class Stopped:
    gift: MonthlyGift
    changed: bool


def monthly_gift_stop(
    *, gift: MonthlyGift, end: str, by=None, reason: str, at_period_end: bool = False
) -> Stopped:
    """Stop a monthly gift at Stripe, then record it (history, tallies, an email to the
    donor in their language once committed).

    Now (the donor's stop: cancelled, nothing more is charged) or at the end of the month
    paid (a completed campaign: it ends then, and never charges again). A gift already
    ending or over is left as it is. Raises GatewayError when Stripe cannot be told: then
    nothing changes here, and the caller may try again.
    """
    if gift.status not in (*MONTHLY_ACTIVE, Status.PENDING) or (
        gift.status == Status.PENDING and not gift.stripe_subscription_id
    ):
        return Stopped(gift, False)
    subscription = None
    if gift.stripe_subscription_id and not is_demo(gift):
        try:
            if at_period_end:
                subscription = gateway.end_subscription_at_period_end(gift.stripe_subscription_id)
            else:
                subscription = gateway.cancel_subscription(gift.stripe_subscription_id)
        except gateway.NotFoundError:
            logger.warning("Stripe does not know subscription %s.", gift.stripe_subscription_id)
    with transaction.atomic():
        locked = _locked_gift(pk=gift.pk)
        before = monthly_gift_snapshot(locked)
        target = Status.ENDING if at_period_end else Status.CANCELED
        if _gift_move(locked, target):
            _ended(locked, end)
        if subscription is not None and subscription.paid_through is not None:
            locked.paid_through = _as_time(subscription.paid_through)
        _gift_save(locked, before, action=MonthlyGiftChange.Action.STOP, by=by, origin=reason)
        changed = locked.status == target and before["status"] != target
        if changed:
            template = "monthly_ended" if end == MonthlyGift.End.CAMPAIGN else "monthly_stopped"
            enqueue_on_commit(monthly_email_task, str(locked.pk), template)
    return Stopped(locked, changed)


@task()
def monthly_email_task(gift_id: str, template: str) -> None:
    """Tell the donor, in their language. A mail server that refuses is logged, never
    undoes the stop (it happened at Stripe already)."""
    gift = MonthlyGift.objects.select_related("campaign").get(pk=gift_id)
    if not gift.email:
        return
    language = gift.language if gift.language in dict(settings.LANGUAGES) else "en"
    with translation.override(language):
        locale = babel_locale()
        paid_through = gift.paid_through if gift.status == Status.ENDING else None
        context = {
            "giver_name": gift.giver_name,
            "campaign_title": gift.campaign.localized("title", language),
            "organizer_name": gift.campaign.organizer_name,
            "amount": money.format_money(gift.amount, gift.currency, locale),
            "raised": money.format_money(gift.raised, gift.campaign.currency, locale),
            "months": gift.months,
            "paid_through": (
                format_date(timezone.localtime(paid_through).date(), format="long", locale=locale)
                if paid_through
                else ""
            ),
            "manage_url": donor_link_url(email=gift.email),
        }
        subject = render_to_string(f"donations/email/{template}_subject.txt", context)
        message = EmailMultiAlternatives(
            subject=" ".join(subject.split()),
            body=render_to_string(f"donations/email/{template}.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[gift.email],
            reply_to=[gift.campaign.organizer_email] if gift.campaign.organizer_email else None,
            headers={"Auto-Submitted": "auto-generated"},
        )
    try:
        message.send(fail_silently=False)
    except Exception:  # any backend failure: the stop stands, the log says who was not told
        logger.exception("Could not email the donor of monthly gift %s.", gift_id)


@dataclass
class CampaignStop:
    """What stopping a campaign's monthly gifts did."""

    stopped: int = 0
    failed: list[str] = field(default_factory=list)


COMPLETED_REASON = "the campaign completed"


def monthly_gifts_stop_for_campaign(
    *, campaign: Campaign, by=None, origin: str = ""
) -> CampaignStop:
    """Stop every monthly gift of a closed campaign at the end of its paid month (each
    donor told by email); each stop's history names who completed the campaign (`by`, a
    user) or what did (`origin`, a command). One that Stripe cannot be told about stays
    active and is named in the result, so a second run stops it."""
    result = CampaignStop()
    reason = f"{COMPLETED_REASON} ({origin})" if origin else COMPLETED_REASON
    gifts = MonthlyGift.objects.filter(campaign=campaign, status__in=MONTHLY_ACTIVE)
    for gift in gifts.order_by("created_at"):
        try:
            stopped = monthly_gift_stop(
                gift=gift,
                end=MonthlyGift.End.CAMPAIGN,
                by=by,
                reason=reason,
                at_period_end=True,
            )
        except gateway.GatewayError as error:
            logger.error("Monthly gift %s not stopped: %s", gift.pk, error)
            result.failed.append(str(gift.pk))
            continue
        result.stopped += stopped.changed
    return result


@dataclass(frozen=True)
class Completion:
    campaign: Campaign
    completed_now: bool
    # Monthly gifts still active, which the task worker now stops at Stripe.
    monthly_to_stop: int


@task()
def campaign_monthly_gifts_stop_task(campaign_id: int, user_id: int | None, origin: str) -> None:
    """The Stripe calls of a completion, in the worker: every monthly gift still active ends
    with its paid month. A gift Stripe could not be told about stays active: the task fails
    (logged), and the sweep enqueues it again while the campaign has one."""
    campaign = Campaign.objects.get(pk=campaign_id)
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    result = monthly_gifts_stop_for_campaign(campaign=campaign, by=user, origin=origin)
    if result.failed:
        raise gateway.GatewayError(
            f"Stripe did not answer for {len(result.failed)} monthly gifts of {campaign.slug}"
        )


def _monthly_gifts_stop_later(*, campaign: Campaign, by, origin: str) -> int:
    """Enqueue the Stripe calls of a completion once it commits; how many gifts they stop."""
    active = MonthlyGift.objects.filter(campaign=campaign, status__in=MONTHLY_ACTIVE).count()
    if active:
        user_id = by.pk if by is not None else None
        enqueue_on_commit(campaign_monthly_gifts_stop_task, campaign.pk, user_id, origin)
    return active


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
            campaign_content_changed(campaign=locked)
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
        monthly_gifts__status__in=MONTHLY_ACTIVE,
    ).distinct()
    ids = sorted(
        set(due.values_list("pk", flat=True)) | set(with_active.values_list("pk", flat=True))
    )
    return [
        campaign_complete(campaign=campaign, today=today, by="campaigns_complete_ended")
        for campaign in Campaign.objects.filter(pk__in=ids).order_by("pk")
    ]


def monthly_gift_refuse_invoice(
    *, invoice: gateway.InvoiceFacts, event: gateway.WebhookEvent | None = None
) -> MonthlyGift | None:
    """An invoice about to charge a monthly gift whose campaign has closed: void it (or
    stop a draft from advancing) at Stripe and stop the gift now. For a campaign still open,
    nothing to do. Returns the monthly gift, or None when no monthly gift holds it."""
    gift = (
        MonthlyGift.objects.select_related("campaign")
        .filter(stripe_subscription_id=invoice.subscription_id or "")
        .first()
    )
    if gift is None:
        return None
    closed = gift.campaign.closed_on(timezone.localdate()) is not None
    if closed and invoice.status in ("draft", "open"):
        gateway.stop_invoice(invoice)
        monthly_gift_stop(gift=gift, end=MonthlyGift.End.CAMPAIGN, reason=(
            f"invoice {invoice.invoice_id} came after the campaign closed; voided"))  # fmt: skip
    with transaction.atomic():
        stored = stripe_event_claim(event)
        if stored is not False:
            _link(stored, gift, None)
    gift.refresh_from_db()
    return gift


def monthly_gift_moderate(
    *, gift: MonthlyGift, by, hide_name: bool, hide_message: bool, reason: str = ""
) -> MonthlyGift:
    """Hide a monthly gift's public name or message: the giver list entry and every month
    of it (each month's history says so). Organizers of its campaign and superusers only."""
    if not permissions.may_moderate_monthly_gift(user=by, gift=gift):
        raise PermissionDenied
    with transaction.atomic():
        locked = _locked_gift(pk=gift.pk)
        before = monthly_gift_snapshot(locked)
        locked.name_hidden_by_organizer = hide_name
        locked.message_hidden_by_organizer = hide_message
        _gift_save(locked, before, action=MonthlyGiftChange.Action.MODERATE, by=by, origin=reason)
        for month in Donation.objects.filter(monthly_gift=locked).select_related("campaign"):
            donation_moderate(
                donation=month, by=by, hide_name=hide_name, hide_message=hide_message,
                reason=reason,
            )  # fmt: skip
    return locked

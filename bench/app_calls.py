"""Every call the benchmark makes into the application's internals, in one place.

When a name moves in the app, only this module changes. Everything else in bench/ speaks
HTTP, management commands, or these functions. Call `django.setup()` first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from campaigns.demo import LIVE_SLUG
from campaigns.models import Campaign
from donations.models import Donation, Receipt, StripeEvent, WebhookDelivery
from donations.selectors.givers import campaign_totals
from donations.services.cash import CashGift, donation_record_cash
from donations.services.online import donation_start_checkout

CASH_RECORDER = "bench-cash-recorder"


def live_campaign() -> Campaign:
    """The live demo campaign that `seed_demo --givers N` fills."""
    return Campaign.objects.get(slug=LIVE_SLUG)


def campaign_path(campaign: Campaign) -> str:
    return campaign.get_absolute_url()


def raised(campaign: Campaign) -> Decimal:
    """The raised total as the page must show it (the app's own selector)."""
    return campaign_totals(campaign=campaign).raised


def counted_gifts(campaign: Campaign) -> int:
    return campaign_totals(campaign=campaign).donor_count


def cash_recorder():
    """A superuser who records the gift stream (superusers may record cash for any campaign)."""
    user, _created = get_user_model().objects.get_or_create(
        username=CASH_RECORDER, defaults={"is_superuser": True, "is_staff": True}
    )
    return user


def cash_gift_record(*, campaign: Campaign, recorder, amount: Decimal) -> Decimal:
    """Record one cash gift through the volunteer service; returns what it adds to raised."""
    gift = CashGift(
        amount=amount,
        currency=campaign.currency,
        received_on=timezone.localdate(),
        name="Bench giver",
        location="Benchmark",
    )
    # Every gift of the stream is the same on purpose; the volunteer's "this is another gift"
    # answer lets the cash service's twin check record each one.
    donation = donation_record_cash(
        campaign=campaign,
        entered_by=recorder,
        gift=gift,
        form_token=uuid.uuid4(),
        another_gift=True,
    )
    return donation.amount_converted - donation.amount_refunded_converted


def checkout_start(*, campaign: Campaign, amount: Decimal, email: str) -> str:
    """Start an online gift through the real service (Stripe or its stand-in); its session id."""
    start = donation_start_checkout(
        campaign=campaign,
        team_member=None,
        amount=amount,
        currency=campaign.currency,
        giver_name="Bench giver",
        email=email,
        anonymous=False,
        hide_amount=False,
        message="",
        cover_fees=False,
        language="en",
    )
    return start.donation.stripe_checkout_session_id


@dataclass(frozen=True)
class RecordedGift:
    """What the database holds for one Checkout Session after the webhooks."""

    session_id: str
    status: str
    amount: Decimal
    amount_charged: Decimal | None
    event_ids: tuple[str, ...]
    receipts: int
    receipts_sent: int


def recorded_gifts(*, session_ids: list[str]) -> dict[str, RecordedGift]:
    """The gift of each session, with the Stripe events linked to it and its receipts."""
    donations = Donation.objects.filter(stripe_checkout_session_id__in=session_ids)
    found = {}
    for donation in donations.values(
        "id", "stripe_checkout_session_id", "status", "amount", "amount_charged"
    ):
        found[donation["id"]] = donation
    events: dict = {}
    for donation_id, event_id in StripeEvent.objects.filter(donation_id__in=found).values_list(
        "donation_id", "event_id"
    ):
        events.setdefault(donation_id, []).append(event_id)
    receipts: dict = {}
    sent: dict = {}
    for donation_id, status in Receipt.objects.filter(donation_id__in=found).values_list(
        "donation_id", "status"
    ):
        receipts[donation_id] = receipts.get(donation_id, 0) + 1
        if status == Receipt.Status.SENT:
            sent[donation_id] = sent.get(donation_id, 0) + 1
    return {
        row["stripe_checkout_session_id"]: RecordedGift(
            session_id=row["stripe_checkout_session_id"],
            status=row["status"],
            amount=row["amount"],
            amount_charged=row["amount_charged"],
            event_ids=tuple(sorted(events.get(donation_id, []))),
            receipts=receipts.get(donation_id, 0),
            receipts_sent=sent.get(donation_id, 0),
        )
        for donation_id, row in found.items()
    }


def succeeded_count(*, session_ids: list[str]) -> int:
    """How many of these sessions' gifts have succeeded (one cheap query, for polling)."""
    return Donation.objects.filter(
        stripe_checkout_session_id__in=session_ids, status=Donation.Status.SUCCEEDED
    ).count()


def stored_event_count(*, event_ids: list[str]) -> int:
    """How many StripeEvent rows hold these event ids (at most one each: unique)."""
    return StripeEvent.objects.filter(event_id__in=event_ids).count()


def inbox_processed_count(*, event_ids: list[str]) -> int:
    """How many of these events the inbox holds as processed (one cheap query, for polling)."""
    return WebhookDelivery.objects.filter(
        event_id__in=event_ids, processed_at__isnull=False
    ).count()


def tasks_waiting() -> int:
    """Tasks of the database backend not finished yet (ready to run, or running)."""
    return DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).count()


@dataclass(frozen=True)
class InboxRow:
    """One event's row in the webhook inbox, and when its gift was stored (if it was)."""

    event_id: str
    outcome: str
    attempts: int
    received_at: float
    processed_at: float | None
    recorded_at: float | None  # StripeEvent.processed_at: in the transaction that records


def inbox_rows(*, event_ids: list[str]) -> list[InboxRow]:
    """The inbox rows of these events (at most one each: unique), times as Unix seconds."""
    recorded = dict(
        StripeEvent.objects.filter(event_id__in=event_ids).values_list("event_id", "processed_at")
    )
    return [
        InboxRow(
            event_id=row["event_id"],
            outcome=row["outcome"],
            attempts=row["attempts"],
            received_at=row["received_at"].timestamp(),
            processed_at=row["processed_at"].timestamp() if row["processed_at"] else None,
            recorded_at=recorded[row["event_id"]].timestamp()
            if row["event_id"] in recorded
            else None,
        )
        for row in WebhookDelivery.objects.filter(event_id__in=event_ids).values(
            "event_id", "outcome", "attempts", "received_at", "processed_at"
        )
    ]


SUCCEEDED = Donation.Status.SUCCEEDED.value
PENDING = Donation.Status.PENDING.value
RECORDED = WebhookDelivery.Outcome.RECORDED.value

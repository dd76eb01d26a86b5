"""Demo data: givers for the demo campaigns and the rates they need, and demo months.

`demo_next_month` plays Stripe's part at renewal for the demo's monthly gifts (no Stripe key,
no money moves): each active demo monthly gift gets its next invoice, recorded through the
same code as a real `invoice.paid`; one set to end at its period's end ends, as Stripe would
end it.

The demo's exchange rates are the values of the ECB's reference rates of 2022-07-08 (the
sample file in tests/data), repeated over the days the demo needs and stored with the source
"DEMO" so that nobody mistakes them for the real rate of those days.
"""

from __future__ import annotations

import datetime
import random
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from donations import stripe_gateway as gateway
from donations.models import (
    MONTHLY_ACTIVE,
    Donation,
    DonationChange,
    ExchangeRate,
    ExchangeRateChange,
    MonthlyGift,
)
from donations.services.history import donations_created_bulk, exchange_rate_changes_recorded
from donations.services.monthly import (
    DEMO_PREFIX,
    invoice_sync,
    monthly_gift_stop,
    subscription_sync,
)
from donations.services.rates import conversion_apply, convert_amount, parse_ecb_xml

DEMO_RATES_FILE = Path(__file__).resolve().parent.parent / "demo_data" / "eurofxref-sample.xml"
DEMO_HISTORY_REASON = "demo data (seed_demo)"
DEMO_RATES_REASON = "demo rates (seed_demo): not the real rates of those days"
GIVER_NAMESPACE = uuid.UUID("6f1c1d4e-3c39-4c5e-9d0f-5b0f4f0a9e11")

FIRST_NAMES = [
    "Ana", "Luis", "María", "José", "Rosa", "Carlos", "Guadalupe", "Juan", "Elena", "Miguel",
    "Sofía", "Jorge", "Lucía", "Pedro", "Carmen", "Diego", "Teresa", "Raúl", "Isabel", "Sam",
    "Priya", "Kwame", "Mei", "Olga", "Tom", "Fatima", "Noah", "Aisha", "Liam", "Hana",
]  # fmt: skip
LAST_NAMES = [
    "García", "Martínez", "Hernández", "López", "González", "Pérez", "Sánchez", "Ramírez",
    "Torres", "Flores", "Rivera", "Gómez", "Díaz", "Cruz", "Morales", "Reyes", "Smith",
    "Nguyen", "Kowalski", "Okafor", "Chen", "Novak", "Brown", "Khan",
]  # fmt: skip
MESSAGES = [
    "Con todo el corazón. ¡Adelante!",
    "Safe travels to every family on the road.",
    "Collected at our church potluck.",
    "Nadie es ilegal.",
    "From a teacher in Pilsen, with love.",
    "Wish it could be more.",
    "",
    "",
    "",
]
AMOUNTS = {
    "USD": ["10", "20", "25", "35", "50", "75", "100", "150", "250"],
    "EUR": ["15", "20", "30", "50", "100"],
    "MXN": ["200", "300", "500", "1000"],
    "CAD": ["20", "40", "60"],
}


def demo_rates_ensure(*, days: list[datetime.date]) -> int:
    """Store the demo rates for each day that has none yet; returns how many were added."""
    sample = [
        (currency, rate) for _date, currency, rate in parse_ecb_xml(DEMO_RATES_FILE.read_bytes())
    ]
    existing = set(ExchangeRate.objects.filter(date__in=days).values_list("date", "currency"))
    rows = [
        ExchangeRate(date=day, currency=currency, per_euro=rate, source=ExchangeRate.Source.DEMO)
        for day in days
        for currency, rate in sample
        if (day, currency) not in existing
    ]
    with transaction.atomic():
        ExchangeRate.objects.bulk_create(rows)
        exchange_rate_changes_recorded(
            changed=[(rate, None) for rate in rows],
            action=ExchangeRateChange.Action.IMPORT,
            reason=DEMO_RATES_REASON,
        )
    return len(rows)


def _synthetic_giver(
    rng: random.Random, *, campaign, key: str, received_at, members, override: dict, conversions
) -> Donation:
    currency = rng.choices(list(AMOUNTS), weights=[70, 12, 12, 6])[0]
    if currency not in campaign.donation_currencies:
        currency = campaign.currency
    currency = override.get("currency", currency)
    amount = Decimal(rng.choice(AMOUNTS[currency]))
    on = timezone.localdate(received_at)
    if (amount, currency, on) not in conversions:
        conversions[amount, currency, on] = convert_amount(
            amount=amount, currency=currency, to_currency=campaign.currency, on=on
        )
    converted = conversions[amount, currency, on]
    offline = override.get("offline", rng.random() < 0.3)
    anonymous = override.get("anonymous", rng.random() < 0.1)
    donation = Donation(
        id=uuid.uuid5(GIVER_NAMESPACE, f"{campaign.slug}/{key}"),
        campaign=campaign,
        team_member=rng.choice(members) if members and rng.random() < 0.4 else None,
        source=Donation.Source.OFFLINE if offline else Donation.Source.ONLINE,
        status=Donation.Status.SUCCEEDED,
        giver_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
        anonymous=anonymous,
        hide_amount=override.get("hide_amount", False),
        message=rng.choice(MESSAGES),
        amount=amount,
        currency=currency,
        received_at=received_at,
        location="Sunday pantry" if offline else "",
    )
    conversion_apply(donation=donation, converted=converted)
    return donation


def demo_givers_load(
    *,
    campaign,
    count: int,
    start: datetime.datetime,
    end: datetime.datetime,
    prefix: str,
    overrides: dict[int, dict] | None = None,
) -> int:
    """Bulk-insert `count` deterministic givers spread between start and end.

    Each giver's id is derived from the campaign and its index, so running this again with
    the same count inserts nothing. Amounts are converted with the stored rates exactly as a
    real gift would be; returns the number of rows actually inserted.
    """
    rng = random.Random(f"{campaign.slug}/{prefix}")  # demo data, not security
    members = list(campaign.team_members.all())
    span = (end - start).total_seconds()
    conversions: dict = {}  # the same gift on the same day converts the same way
    givers = [
        _synthetic_giver(
            rng,
            campaign=campaign,
            key=f"{prefix}-{index}",
            received_at=start + datetime.timedelta(seconds=span * index / max(count, 1)),
            members=members,
            override=(overrides or {}).get(index, {}),
            conversions=conversions,
        )
        for index in range(count)
    ]
    ids = [giver.id for giver in givers]
    with transaction.atomic():
        existing = set(Donation.objects.filter(id__in=ids).values_list("id", flat=True))
        return donations_created_bulk(
            [giver for giver in givers if giver.id not in existing],
            action_of=_demo_action,
            reason=DEMO_HISTORY_REASON,
        )


def _demo_action(giver: Donation) -> str:
    if giver.source == Donation.Source.OFFLINE:
        return DonationChange.Action.RECORD
    return DonationChange.Action.PAYMENT


@dataclass
class DemoMonth:
    """What one `demo_next_month` run did."""

    charged: list[Donation] = field(default_factory=list)
    ended: list[MonthlyGift] = field(default_factory=list)


def demo_next_month(*, now: datetime.datetime) -> DemoMonth:
    """Charge the next month of every active demo monthly gift, as Stripe would at renewal,
    through the same sync (`invoice_sync`). A demo gift set to end
    with its paid month ends instead; one whose campaign has closed is stopped, not charged.
    """
    result = DemoMonth()
    gifts = MonthlyGift.objects.filter(
        status__in=[*MONTHLY_ACTIVE, MonthlyGift.Status.ENDING],
        stripe_subscription_id__startswith=DEMO_PREFIX,
    ).select_related("campaign")
    for gift in gifts.order_by("created_at"):
        if gift.status == MonthlyGift.Status.ENDING:
            facts = gateway.SubscriptionFacts(
                subscription_id=gift.stripe_subscription_id,
                state=gateway.SubscriptionState.CANCELED,
                status="canceled",
            )
            result.ended.append(
                subscription_sync(
                    subscription_id=gift.stripe_subscription_id,
                    facts=facts,
                    origin="demo_next_month",
                )
            )
            continue
        if gift.campaign.closed_on(timezone.localdate(now)) is not None:
            stopped = monthly_gift_stop(
                gift=gift, end=MonthlyGift.End.CAMPAIGN, reason="demo_next_month: campaign closed"
            )
            result.ended.append(stopped.gift)
            continue
        number = gift.months_given.filter(stripe_invoice_id__isnull=False).count() + 1
        invoice = gateway.InvoiceFacts(
            invoice_id=f"{DEMO_PREFIX}in_{gift.pk.hex}_{number}",
            subscription_id=gift.stripe_subscription_id,
            status="paid",
            billing_reason="subscription_cycle",
            amount_paid=gift.amount + gift.fee_cover_amount,
            currency=gift.currency,
            paid_at=int(now.timestamp()),
        )
        month = invoice_sync(invoice_id=invoice.invoice_id, facts=invoice, origin="demo_next_month")
        if isinstance(month, Donation):
            result.charged.append(month)
    return result

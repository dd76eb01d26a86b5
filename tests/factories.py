"""factory-boy factories for every model the tests build."""

import datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from campaigns.models import Campaign, StorySection, TeamMember
from donations.models import Donation, ExchangeRate, MonthlyGift
from donations.services.totals import (
    monthly_totals_apply,
    tally_values,
    totals_add,
    totals_apply,
    totals_delta,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.django.Password("correct horse battery staple")


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    slug = factory.Sequence(lambda n: f"campaign-{n}")
    title = factory.Sequence(lambda n: f"Mutual aid fund {n}")
    organizer_name = "Neighbors Together"
    organizer_email = "organizers@example.org"
    summary = "Groceries and rent for families on our block."
    goal_amount = Decimal("1000.00")
    currency = "USD"
    accepted_currencies = "EUR,MXN,JPY"
    status = Campaign.Status.LIVE
    launched_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=10))


class StorySectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StorySection

    campaign = factory.SubFactory(CampaignFactory)
    position = factory.Sequence(int)
    heading = factory.Sequence(lambda n: f"Section {n}")
    body = "First paragraph.\n\nSecond paragraph with https://example.org/more in it."


class TeamMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TeamMember

    campaign = factory.SubFactory(CampaignFactory)
    position = factory.Sequence(int)
    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


def donations_bulk_create(gifts: list[Donation]) -> list[Donation]:
    """Insert many built gifts at once and move the running totals as the services do."""
    created = Donation.objects.bulk_create(gifts)
    delta: dict = {}
    for gift in created:
        for key, (raised, count) in totals_delta(None, tally_values(gift)).items():
            old_raised, old_count = delta.get(key, (Decimal(0), 0))
            delta[key] = (old_raised + raised, old_count + count)
    totals_add(delta)
    return created


class DonationFactory(factory.django.DjangoModelFactory):
    """A succeeded gift in the campaign's currency, converted 1:1.

    Created gifts move the campaign's running totals as a service would, so the pages that
    read the totals see them (the factory writes the row; it records no history).
    """

    class Meta:
        model = Donation

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        gift = super()._create(model_class, *args, **kwargs)
        totals_apply(before=None, donation=gift)
        return gift

    campaign = factory.SubFactory(CampaignFactory)
    source = Donation.Source.ONLINE
    status = Donation.Status.SUCCEEDED
    giver_name = factory.Sequence(lambda n: f"Giver {n}")
    email = factory.Sequence(lambda n: f"giver{n}@example.org")
    amount = Decimal("25.00")
    currency = factory.LazyAttribute(lambda gift: gift.campaign.currency)
    amount_converted = factory.LazyAttribute(lambda gift: gift.amount)
    conversion_rate = Decimal(1)
    rate_date = factory.LazyFunction(timezone.localdate)
    rate_source = Donation.RateSource.SAME_CURRENCY
    received_at = factory.LazyFunction(timezone.now)


class OfflineDonationFactory(DonationFactory):
    source = Donation.Source.OFFLINE
    email = ""
    location = "Sunday pantry"


class ExchangeRateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExchangeRate
        django_get_or_create = ["date", "currency"]

    date = factory.LazyFunction(timezone.localdate)
    currency = "USD"
    per_euro = Decimal("1.0163")
    source = "ECB"


class PendingOnlineDonationFactory(DonationFactory):
    """An online gift waiting for Stripe: its Checkout Session exists, nothing is recorded yet."""

    status = Donation.Status.PENDING
    stripe_checkout_session_id = factory.Sequence(lambda n: f"cs_test_pending{n}")


class VolunteerAssignmentFactory(factory.django.DjangoModelFactory):
    """A volunteer assigned to a campaign (no group, no permission: the assignment decides)."""

    class Meta:
        model = "donations.VolunteerAssignment"

    user = factory.SubFactory(UserFactory)
    campaign = factory.SubFactory(CampaignFactory)


class MonthlyGiftFactory(factory.django.DjangoModelFactory):
    """An active monthly gift (its first month paid at `started_at`). Give it months with
    `DonationFactory(monthly_gift=gift, ...)`: they move its running total as a service would;
    the gift moves the campaign's active monthly figures."""

    class Meta:
        model = MonthlyGift

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        gift = super()._create(model_class, *args, **kwargs)
        monthly_totals_apply(before=None, gift=gift)
        return gift

    campaign = factory.SubFactory(CampaignFactory)
    status = MonthlyGift.Status.ACTIVE
    giver_name = factory.Sequence(lambda n: f"Monthly giver {n}")
    email = factory.Sequence(lambda n: f"monthly{n}@example.org")
    amount = Decimal("20.00")
    currency = factory.LazyAttribute(lambda gift: gift.campaign.currency)
    amount_converted = factory.LazyAttribute(lambda gift: gift.amount)
    started_at = factory.LazyFunction(timezone.now)
    stripe_subscription_id = factory.Sequence(lambda n: f"sub_factory{n}")


def months_of(gift: MonthlyGift, count: int, **fields) -> list[Donation]:
    """`count` counted months of a monthly gift, a month apart, the latest now."""
    now = timezone.now()
    return [
        DonationFactory(
            campaign=gift.campaign,
            monthly_gift=gift,
            team_member=gift.team_member,
            giver_name=gift.giver_name,
            email=gift.email,
            amount=gift.amount,
            received_at=now - datetime.timedelta(days=30 * (count - 1 - index)),
            stripe_invoice_id=f"in_{gift.pk.hex[:8]}_{index}",
            **fields,
        )
        for index in range(count)
    ]

import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Sum

from campaigns.demo import LIVE_SLUG, SEED_SLUG
from campaigns.models import Campaign, StorySection, TeamMember, Update
from donations.models import Donation, ExchangeRate

pytestmark = pytest.mark.django_db

SEED_HEADINGS = [
    "The migrant caravan",
    "Challenges and needs",
    "Help us provide essential resources",
    "Want to get involved with LVSN?",
]


def counts() -> dict[str, int]:
    return {
        "campaigns": Campaign.objects.count(),
        "sections": StorySection.objects.count(),
        "members": TeamMember.objects.count(),
        "updates": Update.objects.count(),
        "donations": Donation.objects.count(),
        "rates": ExchangeRate.objects.count(),
    }


@pytest.fixture
def seeded():
    call_command("seed_demo", stdout=None)
    return Campaign.objects.get(slug=SEED_SLUG)


def page_raised(client, campaign) -> Decimal:
    html = client.get(campaign.get_absolute_url()).content.decode()
    return Decimal(re.search(r'<data class="raised" value="([0-9.]+)">', html).group(1))


def test_seed_demo_twice_gives_the_same_rows(seeded):
    first = counts()
    call_command("seed_demo")
    assert counts() == first
    assert first["campaigns"] == 2


def test_seed_campaign_tells_the_seed_story(seeded):
    assert seeded.title == "Solidarity with the migrant caravan!"
    assert seeded.organizer_name == "Little Village Solidarity Network"
    assert list(seeded.sections.values_list("heading", flat=True)) == SEED_HEADINGS
    assert list(seeded.team_members.values_list("name", flat=True)) == ["Little Village"]
    assert seeded.status == Campaign.Status.COMPLETED
    assert seeded.completed_on is not None
    assert seeded.completed_on > seeded.launched_on
    assert seeded.share_baseline_total >= 1000


def test_seed_givers_show_every_case_of_the_giver_list(seeded):
    gifts = Donation.objects.filter(campaign=seeded)
    assert 35 <= gifts.count() <= 45
    assert gifts.exclude(status="succeeded").count() == 0
    assert len(set(gifts.values_list("currency", flat=True))) >= 3
    assert gifts.filter(anonymous=True).count() >= 2
    assert gifts.filter(hide_amount=True).count() == 1
    assert gifts.filter(source="offline").exists()
    assert gifts.filter(source="online").exists()
    first, last = gifts.order_by("received_at")[0], gifts.order_by("-received_at")[0]
    assert first.received_at.date() >= seeded.launched_on
    assert (last.received_at - first.received_at).days >= 28


def test_seed_gifts_in_other_currencies_are_converted_with_a_stored_rate(seeded):
    foreign = Donation.objects.filter(campaign=seeded).exclude(currency="USD")
    assert foreign.exists()
    for gift in foreign:
        # The demo's rates are illustrative, and every gift converted with them says so.
        assert gift.rate_source == Donation.RateSource.DEMO
        assert gift.amount_converted > 0
        for currency in {gift.currency, "USD"} - {"EUR"}:
            assert ExchangeRate.objects.filter(currency=currency, date=gift.rate_date).exists()


def test_seed_page_raised_is_the_exact_sum_of_converted_amounts(client, seeded):
    expected = Donation.objects.filter(campaign=seeded).aggregate(total=Sum("amount_converted"))
    assert page_raised(client, seeded) == expected["total"]


def test_live_demo_campaign_is_open_in_usd(seeded):
    live = Campaign.objects.get(slug=LIVE_SLUG)
    assert live.status == Campaign.Status.LIVE
    assert live.currency == "USD"
    assert Donation.objects.filter(campaign=live).exists()


def test_live_demo_campaign_shows_its_news_in_both_languages(client, seeded):
    live = Campaign.objects.get(slug=LIVE_SLUG)
    english = client.get(live.get_absolute_url()).content.decode()
    spanish = client.get(f"/es{live.get_absolute_url()}").content.decode()

    assert live.updates.published().count() == 2
    assert "Boots are next" in english and "The first forty coats are out" in english
    assert "Ahora siguen las botas" in spanish


def test_extra_givers_are_added_once(client, seeded):
    live = Campaign.objects.get(slug=LIVE_SLUG)
    before = Donation.objects.filter(campaign=live).count()
    call_command("seed_demo", givers=30)
    assert Donation.objects.filter(campaign=live).count() == before + 30
    call_command("seed_demo", givers=30)
    assert Donation.objects.filter(campaign=live).count() == before + 30
    gifts = Donation.objects.filter(campaign=live)
    assert gifts.filter(source="offline").exists()
    assert gifts.filter(source="online").exists()
    assert page_raised(client, live) == gifts.aggregate(total=Sum("amount_converted"))["total"]


def test_seed_demo_leaves_an_organizers_edits_alone(seeded):
    section = seeded.sections.get(position=0)
    section.heading = "Edited by an organizer"
    section.save()
    call_command("seed_demo")
    section.refresh_from_db()
    assert section.heading == "Edited by an organizer"

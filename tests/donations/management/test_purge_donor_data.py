"""purge_donor_data: emails and private notes leave campaigns that ended long ago; amounts,
public names and totals stay; it says what it removed and does nothing the second time."""

import datetime
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from campaigns.models import Campaign
from donations.models import Donation, DonationChange, MonthlyGift, Receipt
from donations.services.cash import donation_update_cash
from donations.services.privacy import REMOVED
from tests.factories import (
    CampaignFactory,
    DonationFactory,
    MonthlyGiftFactory,
    OfflineDonationFactory,
    months_of,
)

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def ended(slug: str, days_ago: int, *, completed: bool = True) -> Campaign:
    day = TODAY - datetime.timedelta(days=days_ago)
    if completed:
        return CampaignFactory(
            slug=slug,
            status=Campaign.Status.COMPLETED,
            completed_on=day,
            launched_on=day - datetime.timedelta(days=60),
        )
    return CampaignFactory(slug=slug, ends_on=day, launched_on=day - datetime.timedelta(days=60))


def purge(*args: str) -> str:
    out = StringIO()
    call_command("purge_donor_data", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def old_campaign(cash_organizer):
    """Completed 400 days ago: an online gift with email, a cash gift with an edited note."""
    campaign = ended("old-drive", 400)
    online = DonationFactory(
        campaign=campaign, giver_name="Rosa Díaz", email="rosa@example.org", amount=Decimal(40)
    )
    Receipt.objects.create(
        donation=online, status="failed", last_error="550 rosa@example.org: mailbox unknown"
    )
    cash = OfflineDonationFactory(
        campaign=campaign, giver_name="Tomás", note="paid with coins", amount=Decimal(10)
    )
    from donations.services.access import organizer_assign

    organizer_assign(by=None, user=cash_organizer, campaign=campaign)
    donation_update_cash(
        donation=cash, by=cash_organizer, values={"note": "called him at 555-0101"}
    )
    return campaign


def test_it_removes_emails_notes_and_their_copies_and_says_so(old_campaign):
    raised_before = Donation.objects.filter(campaign=old_campaign).counted().count()

    output = purge("--older-than", "365d")

    assert (
        "old-drive: removed 1 emails and 1 private notes; cleared 1 history entries and "
        "1 receipt errors." in output
    )
    gifts = Donation.objects.filter(campaign=old_campaign).order_by("giver_name")
    assert [(g.giver_name, g.email, g.note, g.amount) for g in gifts] == [
        ("Rosa Díaz", "", "", Decimal("40.00")),
        ("Tomás", "", "", Decimal("10.00")),
    ]
    assert Donation.objects.filter(campaign=old_campaign).counted().count() == raised_before
    history = json.dumps([c.changes for c in DonationChange.objects.all()], ensure_ascii=False)
    assert "rosa@example.org" not in history
    assert "555-0101" not in history and "coins" not in history
    assert Receipt.objects.get().last_error == REMOVED
    purges = DonationChange.objects.filter(action=DonationChange.Action.PURGE)
    assert sorted(list(c.changes) for c in purges) == [["email"], ["note"]]
    assert all(c.changes[next(iter(c.changes))] == [REMOVED, ""] for c in purges)


def test_the_campaign_page_still_shows_the_same_totals_and_names(client, old_campaign):
    before = client.get("/c/old-drive/").content.decode()

    purge("--older-than", "365d")

    after = client.get("/c/old-drive/").content.decode()
    assert '<data class="raised" value="50.00">' in before
    assert '<data class="raised" value="50.00">' in after
    assert "Rosa Díaz" in after and "Tomás" in after


def test_a_second_run_removes_nothing(old_campaign):
    purge("--older-than", "365d")
    changes = DonationChange.objects.count()

    output = purge("--older-than", "365d")

    assert "Nothing to remove (1 ended campaigns checked)." in output
    assert DonationChange.objects.count() == changes


def test_recent_live_and_draft_campaigns_keep_their_data(db):
    recent = ended("recent", 100)
    past_end = ended("past-end", 400, completed=False)
    live = CampaignFactory(slug="live")
    draft = CampaignFactory(slug="draft", status=Campaign.Status.DRAFT)
    for campaign in (recent, past_end, live, draft):
        DonationFactory(campaign=campaign, email=f"giver@{campaign.slug}.org")

    output = purge("--older-than", "365d")

    kept = set(Donation.objects.exclude(email="").values_list("campaign__slug", flat=True))
    assert kept == {"recent", "live", "draft"}
    assert "past-end: removed 1 emails" in output


def test_the_campaign_option_limits_it_to_one(old_campaign):
    other = ended("other-old", 500)
    DonationFactory(campaign=other, email="keep@example.org")

    assert "not ended longer ago" in purge("--older-than", "450d", "--campaign", "old-drive")
    output = purge("--older-than", "365d", "--campaign", "old-drive")

    assert "old-drive: removed" in output and "other-old" not in output
    assert Donation.objects.get(campaign=other).email == "keep@example.org"


def test_bad_arguments_are_refused():
    with pytest.raises(CommandError, match="No campaign"):
        purge("--older-than", "365d", "--campaign", "nope")
    with pytest.raises(CommandError):
        purge("--older-than", "a year")


def test_monthly_gifts_forget_their_donors_emails_too():
    campaign = ended("monthly-drive", 400)
    gift = MonthlyGiftFactory(campaign=campaign, email="rosa@example.org", status="canceled")
    months_of(gift, 2)

    purge("--older-than", "365d")
    again = purge("--older-than", "365d")

    gift = MonthlyGift.objects.get(pk=gift.pk)
    assert gift.email == ""
    assert set(gift.months_given.values_list("email", flat=True)) == {""}
    assert gift.changes.get(action="purge").changes == {"email": [REMOVED, ""]}
    assert "rosa@example.org" not in json.dumps(list(gift.changes.values_list("changes")))
    assert (gift.months, gift.raised) == (2, Decimal("40.00"))
    assert again.startswith("Nothing to remove")

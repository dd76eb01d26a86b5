"""A team member's gifts: protected from the member's deletion, moved only through the
service that writes their history and moves the tallies (donations/services/members.py)."""

import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import ProtectedError

from campaigns.models import TeamMember
from donations.models import Donation, DonationChange, GiftTally, MonthlyGift, MonthlyGiftChange
from donations.selectors.givers import campaign_totals
from donations.services.cash import donation_void
from donations.services.members import (
    MOVE_OTHER_CAMPAIGN_ERROR,
    MOVE_REASON_ERROR,
    team_member_gifts_move,
)
from donations.services.totals import monthly_recount, totals_recount
from tests.factories import (
    CampaignFactory,
    DonationFactory,
    MonthlyGiftFactory,
    OfflineDonationFactory,
    TeamMemberFactory,
    UserFactory,
    months_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(cash_campaign):
    """Ana, with a cash gift of 30, an online gift of 25 and a monthly gift of 20 (two
    months counted); Bea, with nothing yet."""
    ana = TeamMemberFactory(campaign=cash_campaign, name="Ana", slug="ana")
    bea = TeamMemberFactory(campaign=cash_campaign, name="Bea", slug="bea")
    OfflineDonationFactory(campaign=cash_campaign, team_member=ana, amount=Decimal("30.00"))
    DonationFactory(campaign=cash_campaign, team_member=ana, amount=Decimal("25.00"))
    monthly = MonthlyGiftFactory(campaign=cash_campaign, team_member=ana)
    months_of(monthly, 2)
    return ana, bea


def member_raised(campaign) -> dict[int, Decimal]:
    return campaign_totals(campaign=campaign).raised_by_member


def test_a_member_with_gifts_cannot_be_deleted_the_database_refuses(team):
    ana, _bea = team

    with pytest.raises(ProtectedError):
        ana.delete()

    assert TeamMember.objects.filter(pk=ana.pk).exists()
    assert Donation.objects.filter(team_member=ana).count() == 4


def test_moving_a_members_gifts_writes_their_history_and_moves_the_tallies(
    cash_campaign, cash_organizer, team
):
    ana, bea = team
    assert member_raised(cash_campaign)[ana.pk] == Decimal("95.00")

    moved = team_member_gifts_move(
        member=ana, to_member=bea, by=cash_organizer, reason="Ana moved away; Bea took over."
    )

    assert (moved.gifts, moved.monthly_gifts) == (4, 1)
    assert not Donation.objects.filter(team_member=ana).exists()
    assert not MonthlyGift.objects.filter(team_member=ana).exists()
    raised = member_raised(cash_campaign)
    assert raised.get(ana.pk, Decimal(0)) == Decimal(0)
    assert raised[bea.pk] == Decimal("95.00")
    assert campaign_totals(campaign=cash_campaign).raised == Decimal("95.00")
    tally = GiftTally.objects.get(campaign=cash_campaign, member_key=bea.pk, source="online")
    assert (tally.monthly_active, tally.monthly_amount) == (1, Decimal("20.00"))
    assert totals_recount() == []
    assert monthly_recount() == []
    changes = DonationChange.objects.filter(action="member")
    assert changes.count() == 4
    assert {tuple(change.changes["team_member"]) for change in changes} == {(ana.pk, bea.pk)}
    assert {(change.changed_by, change.reason) for change in changes} == {
        (cash_organizer, "Ana moved away; Bea took over.")
    }
    monthly_change = MonthlyGiftChange.objects.get(action="member")
    assert monthly_change.changes == {"team_member": [ana.pk, bea.pk]}


def test_gifts_moved_to_no_member_count_for_the_campaign_alone_and_the_member_may_go(
    cash_campaign, cash_organizer, team
):
    ana, _bea = team

    team_member_gifts_move(member=ana, to_member=None, by=cash_organizer, reason="Ana left.")
    ana.delete()

    assert not any(member_raised(cash_campaign).values())
    assert campaign_totals(campaign=cash_campaign).raised == Decimal("95.00")
    assert totals_recount() == []
    cash = Donation.objects.get(source="offline")
    donation_void(donation=cash, by=cash_organizer, reason="Counted twice.")
    assert campaign_totals(campaign=cash_campaign).raised == Decimal("65.00")
    assert totals_recount() == []


def test_only_organizers_of_the_campaign_move_its_members_gifts(cash_campaign, team):
    ana, bea = team
    other_organizer = UserFactory(username="elsewhere", is_staff=True, is_superuser=False)

    with pytest.raises(PermissionDenied):
        team_member_gifts_move(member=ana, to_member=bea, by=other_organizer, reason="Mine now.")

    assert Donation.objects.filter(team_member=ana).count() == 4
    assert not DonationChange.objects.filter(action="member").exists()


def test_gifts_move_only_with_a_reason_and_within_the_campaign(cash_campaign, cash_organizer, team):
    ana, bea = team
    stranger = TeamMemberFactory(campaign=CampaignFactory())

    with pytest.raises(ValidationError) as no_reason:
        team_member_gifts_move(member=ana, to_member=bea, by=cash_organizer, reason="  ")
    with pytest.raises(ValidationError) as elsewhere:
        team_member_gifts_move(member=ana, to_member=stranger, by=cash_organizer, reason="Why")

    assert no_reason.value.message_dict == {"reason": [MOVE_REASON_ERROR]}
    assert elsewhere.value.message_dict == {"to_member": [MOVE_OTHER_CAMPAIGN_ERROR]}
    assert Donation.objects.filter(team_member=ana).count() == 4


def test_the_migration_recounts_tallies_drifted_by_past_member_deletions(
    cash_campaign, cash_organizer, team
):
    """Before the member foreign keys protected their gifts, deleting a member set its gifts'
    member to none and left its tally counting them."""
    ana, _bea = team
    Donation.objects.filter(team_member=ana).update(team_member=None)
    MonthlyGift.objects.filter(team_member=ana).update(team_member=None)
    ana.delete()
    assert totals_recount() != []
    migration = importlib.import_module(
        "donations.migrations.0017_team_members_protect_their_gifts"
    )

    migration.recount_tallies(apps, None)

    assert totals_recount() == []
    assert campaign_totals(campaign=cash_campaign).raised == Decimal("95.00")
    cash = Donation.objects.get(source="offline")
    donation_void(donation=cash, by=cash_organizer, reason="Counted twice.")  # no IntegrityError
    assert campaign_totals(campaign=cash_campaign).raised == Decimal("65.00")


def test_the_migration_leaves_exact_tallies_as_they_are(cash_campaign, team):
    before = sorted(GiftTally.objects.values_list("pk", "member_key", "raised", "gifts"))
    migration = importlib.import_module(
        "donations.migrations.0017_team_members_protect_their_gifts"
    )

    migration.recount_tallies(apps, None)

    assert sorted(GiftTally.objects.values_list("pk", "member_key", "raised", "gifts")) == before

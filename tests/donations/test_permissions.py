"""donations/permissions.py: the one place that decides who may do what with gifts."""

import datetime

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from donations import permissions
from tests.factories import CampaignFactory, OfflineDonationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(cash_volunteer, cash_other_volunteer, cash_organizer, cash_superuser):
    inactive = UserFactory(username="gone", is_staff=True, is_superuser=True, is_active=False)
    return {
        "anonymous": AnonymousUser(),
        "assigned": cash_volunteer,
        "unassigned": cash_other_volunteer,
        "organizer": cash_organizer,
        "superuser": cash_superuser,
        "inactive superuser": inactive,
    }


EXPECTED = {
    #  organizer, manages here, manages elsewhere, sees donors here, elsewhere, records cash here
    "anonymous": (False, False, False, False, False, False),
    "assigned": (False, False, False, False, False, True),
    "unassigned": (False, False, False, False, False, False),
    "organizer": (True, True, False, True, False, False),
    "superuser": (True, True, True, True, True, True),
    "inactive superuser": (False, False, False, False, False, False),
}


@pytest.mark.parametrize("role", list(EXPECTED))
def test_each_role_gets_exactly_its_rights(people, cash_campaign, role):
    user = people[role]
    elsewhere = CampaignFactory()
    answers = (
        permissions.is_organizer(user),
        permissions.may_manage_campaign(user=user, campaign=cash_campaign),
        permissions.may_manage_campaign(user=user, campaign=elsewhere),
        permissions.may_see_donors(user=user, campaign=cash_campaign),
        permissions.may_see_donors(user=user, campaign=elsewhere),
        permissions.may_record_cash(user=user, campaign=cash_campaign),
    )
    assert answers == EXPECTED[role]
    managed = set(permissions.managed_campaigns(user))
    assert managed == {
        campaign for campaign, yes in [(cash_campaign, answers[1]), (elsewhere, answers[2])] if yes
    }


def test_an_organizer_voids_cash_only_of_the_campaigns_they_organize(people, cash_campaign):
    here = OfflineDonationFactory(campaign=cash_campaign)
    elsewhere = OfflineDonationFactory(campaign=CampaignFactory())
    now = timezone.now()

    assert permissions.may_void_cash(donation=here, user=people["organizer"], now=now)
    assert not permissions.may_void_cash(donation=elsewhere, user=people["organizer"], now=now)
    assert permissions.may_void_cash(donation=elsewhere, user=people["superuser"], now=now)


def test_a_volunteer_may_void_only_their_own_entry_within_a_day(people, cash_campaign):
    volunteer = people["assigned"]
    own = OfflineDonationFactory(campaign=cash_campaign, entered_by=volunteer)
    someone_elses = OfflineDonationFactory(campaign=cash_campaign, entered_by=people["superuser"])
    now = timezone.now()

    assert permissions.may_void_cash(donation=own, user=volunteer, now=now)
    assert not permissions.may_void_cash(donation=someone_elses, user=volunteer, now=now)
    later = own.created_at + permissions.VOLUNTEER_VOID_WINDOW + datetime.timedelta(seconds=1)
    assert not permissions.may_void_cash(donation=own, user=volunteer, now=later)
    assert permissions.may_void_cash(donation=own, user=people["organizer"], now=later)


def test_a_volunteer_moved_off_the_campaign_may_no_longer_void(people, cash_campaign):
    volunteer = people["assigned"]
    own = OfflineDonationFactory(campaign=cash_campaign, entered_by=volunteer)
    volunteer.volunteer_assignments.all().delete()

    assert not permissions.may_void_cash(donation=own, user=volunteer, now=timezone.now())


def test_nobody_voids_an_online_gift_this_way(people):
    from tests.factories import DonationFactory

    gift = DonationFactory(campaign=CampaignFactory())
    for user in people.values():
        assert not permissions.may_void_cash(donation=gift, user=user, now=timezone.now())

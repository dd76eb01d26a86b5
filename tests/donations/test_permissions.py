"""donations/permissions.py: the one place that decides who may do what with gifts."""

import datetime

import pytest
from django.contrib.auth.models import AnonymousUser, Permission
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from donations import permissions
from donations.models import OrganizerAssignment, Receipt, VolunteerAssignment
from donations.services.access import organizer_assign
from donations.services.cash import volunteer_assign
from donations.services.receipts import receipt_resend
from tests.factories import CampaignFactory, DonationFactory, OfflineDonationFactory, UserFactory

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


@pytest.fixture
def failed_receipt():
    def make(campaign) -> Receipt:
        gift = DonationFactory(campaign=campaign)
        return Receipt.objects.create(donation=gift, status=Receipt.Status.FAILED)

    return make


def test_staff_who_may_only_view_receipts_cannot_resend_one(client, cash_campaign, failed_receipt):
    """Resending mails a donor: it needs an organizer of the gift's campaign, not "view"."""
    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_receipt"))
    organizer_assign(by=None, user=viewer, campaign=cash_campaign)
    receipt = failed_receipt(cash_campaign)
    client.force_login(viewer)

    page = client.get("/admin/donations/receipt/")
    client.post(
        "/admin/donations/receipt/",
        {"action": "resend", "_selected_action": [str(receipt.pk)], "index": "0"},
    )

    assert page.status_code == 200
    assert 'value="resend"' not in page.content.decode()
    receipt.refresh_from_db()
    assert receipt.status == Receipt.Status.FAILED


@pytest.mark.parametrize(
    "attempt",
    [
        "an organizer assigns another organizer",
        "a volunteer assigns themselves as organizer",
        "an organizer assigns a volunteer elsewhere",
        "a volunteer assigns a volunteer",
        "an organizer resends a receipt elsewhere",
    ],
)
def test_services_that_assign_people_or_resend_receipts_refuse_who_may_not(
    attempt, cash_campaign, cash_organizer, cash_volunteer, failed_receipt
):
    elsewhere = CampaignFactory(slug="elsewhere")
    newcomer = UserFactory(username="newcomer", is_staff=True)
    receipt = failed_receipt(elsewhere)
    calls = {
        "an organizer assigns another organizer": lambda: organizer_assign(
            by=cash_organizer, user=newcomer, campaign=cash_campaign
        ),
        "a volunteer assigns themselves as organizer": lambda: organizer_assign(
            by=cash_volunteer, user=cash_volunteer, campaign=elsewhere
        ),
        "an organizer assigns a volunteer elsewhere": lambda: volunteer_assign(
            by=cash_organizer, user=newcomer, campaign=elsewhere
        ),
        "a volunteer assigns a volunteer": lambda: volunteer_assign(
            by=cash_volunteer, user=newcomer, campaign=cash_campaign
        ),
        "an organizer resends a receipt elsewhere": lambda: receipt_resend(
            receipt=receipt, by=cash_organizer
        ),
    }

    with pytest.raises(PermissionDenied):
        calls[attempt]()

    assert not OrganizerAssignment.objects.filter(user__in=[newcomer, cash_volunteer]).exists()
    assert not VolunteerAssignment.objects.filter(user=newcomer).exists()
    receipt.refresh_from_db()
    assert receipt.status == Receipt.Status.FAILED


def test_the_operator_at_the_shell_and_the_campaigns_organizers_may(
    cash_campaign, cash_organizer, failed_receipt
):
    newcomer = UserFactory(username="newcomer", is_staff=True)
    volunteer = UserFactory(username="new-volunteer")

    organizer_assign(by=None, user=newcomer, campaign=cash_campaign)
    volunteer_assign(by=cash_organizer, user=volunteer, campaign=cash_campaign)
    resent = receipt_resend(receipt=failed_receipt(cash_campaign), by=cash_organizer)

    assert permissions.may_manage_campaign(user=newcomer, campaign=cash_campaign)
    assert permissions.may_record_cash(user=volunteer, campaign=cash_campaign)
    assert resent.status == Receipt.Status.QUEUED


def test_an_organizer_who_creates_a_campaign_is_its_first_organizer_and_nobody_elses(
    cash_organizer,
):
    draft = CampaignFactory(slug="brand-new", status="draft")
    other = UserFactory(username="other-organizer", is_staff=True)
    other.groups.add(*cash_organizer.groups.all())

    organizer_assign(by=cash_organizer, user=cash_organizer, campaign=draft)

    assert permissions.may_manage_campaign(user=cash_organizer, campaign=draft)
    with pytest.raises(PermissionDenied):
        organizer_assign(by=other, user=other, campaign=draft)

"""Organizers see, edit, report on and export only the campaigns they are assigned to;
superusers see all and assign organizers in the admin."""

import datetime
import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Update
from donations.models import (
    Donation,
    DonationChange,
    ExportLog,
    OrganizerAssignment,
    Receipt,
    StripeEvent,
    VolunteerAssignment,
)
from donations.services.access import organizer_assign
from donations.services.cash import donation_mark_deposited, donation_moderate, volunteer_assign
from tests.factories import (
    CampaignFactory,
    DonationFactory,
    OfflineDonationFactory,
    StorySectionFactory,
    TeamMemberFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def make_organizer(username: str, *campaigns):
    user = UserFactory(username=username, is_staff=True)
    user.groups.add(Group.objects.get(name="Organizers"))
    for campaign in campaigns:
        organizer_assign(by=None, user=user, campaign=campaign)
    return user


@pytest.fixture
def two_groups(db):
    """Two campaigns of two groups, each with content, gifts and records, and their organizer."""
    ours = CampaignFactory(slug="ours", title="Our fund")
    theirs = CampaignFactory(slug="theirs", title="Their fund")
    rows = {}
    for campaign in (ours, theirs):
        gift = DonationFactory(campaign=campaign, giver_name=f"Giver of {campaign.slug}")
        rows[campaign.slug] = {
            "campaign": campaign,
            "section": StorySectionFactory(campaign=campaign, heading=f"Story of {campaign.slug}"),
            "member": TeamMemberFactory(campaign=campaign, name=f"Member of {campaign.slug}"),
            "update": Update.objects.create(
                campaign=campaign, title=f"News of {campaign.slug}", body="."
            ),
            "donation": gift,
            "cash": OfflineDonationFactory(campaign=campaign),
            "receipt": Receipt.objects.create(donation=gift),
            "change": DonationChange.objects.create(
                donation=gift, action=DonationChange.Action.EDIT, reason=f"edit {campaign.slug}"
            ),
            "export": ExportLog.objects.create(user=UserFactory(), campaign=campaign),
            "event": StripeEvent.objects.create(
                event_id=f"evt_{campaign.slug}", type="checkout.session.completed", donation=gift
            ),
            "volunteer": volunteer_assign(by=None, user=UserFactory(), campaign=campaign),
        }
    return rows


CHANGELISTS = {
    "campaign": "admin:campaigns_campaign_changelist",
    "section": "admin:campaigns_storysection_changelist",
    "member": "admin:campaigns_teammember_changelist",
    "update": "admin:campaigns_update_changelist",
    "donation": "admin:donations_donation_changelist",
    "receipt": "admin:donations_receipt_changelist",
    "change": "admin:donations_donationchange_changelist",
    "export": "admin:donations_exportlog_changelist",
    "event": "admin:donations_stripeevent_changelist",
    "volunteer": "admin:donations_volunteerassignment_changelist",
}
CHANGE_VIEWS = {
    "campaign": "admin:campaigns_campaign_change",
    "section": "admin:campaigns_storysection_change",
    "member": "admin:campaigns_teammember_change",
    "update": "admin:campaigns_update_change",
    "donation": "admin:donations_donation_change",
    "receipt": "admin:donations_receipt_change",
    "change": "admin:donations_donationchange_change",
    "export": "admin:donations_exportlog_change",
    "event": "admin:donations_stripeevent_change",
    "volunteer": "admin:donations_volunteerassignment_change",
}


@pytest.mark.parametrize("kind", list(CHANGELISTS))
def test_an_organizer_lists_only_rows_of_their_campaigns(client, two_groups, kind):
    client.force_login(make_organizer("olivia", two_groups["ours"]["campaign"]))

    response = client.get(reverse(CHANGELISTS[kind]))

    assert response.status_code == 200
    shown = {row.pk for row in response.context["cl"].result_list}
    assert two_groups["ours"][kind].pk in shown
    assert two_groups["theirs"][kind].pk not in shown
    assert "Their fund" not in response.content.decode()  # not even in a filter


@pytest.mark.parametrize("kind", list(CHANGE_VIEWS))
def test_an_organizer_cannot_open_another_groups_row(client, two_groups, kind):
    client.force_login(make_organizer("olivia", two_groups["ours"]["campaign"]))

    ours = client.get(reverse(CHANGE_VIEWS[kind], args=[two_groups["ours"][kind].pk]))
    theirs = client.get(reverse(CHANGE_VIEWS[kind], args=[two_groups["theirs"][kind].pk]))

    assert ours.status_code == 200
    assert theirs.status_code == 302  # the admin's "does not exist", back to the index
    assert theirs["Location"] == reverse("admin:index")


@pytest.mark.parametrize("kind", ["campaign", "donation"])
def test_a_superuser_lists_every_campaigns_rows(client, two_groups, kind):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    response = client.get(reverse(CHANGELISTS[kind]))

    shown = {row.pk for row in response.context["cl"].result_list}
    assert {two_groups["ours"][kind].pk, two_groups["theirs"][kind].pk} <= shown


def test_an_organizer_adds_updates_and_volunteers_only_to_their_campaigns(client, two_groups):
    ours, theirs = two_groups["ours"]["campaign"], two_groups["theirs"]["campaign"]
    client.force_login(make_organizer("olivia", ours))
    volunteer = UserFactory(username="newvol")

    update = client.post(
        reverse("admin:campaigns_update_add"),
        {"campaign": theirs.pk, "status": "published", "title": "Sneaky", "body": "."},
    )
    assignment = client.post(
        reverse("admin:donations_volunteerassignment_add"),
        {"user": volunteer.pk, "campaign": theirs.pk},
    )

    assert update.status_code == 200 and "Select a valid choice" in update.content.decode()
    assert assignment.status_code == 200
    assert not Update.objects.filter(title="Sneaky").exists()
    assert not VolunteerAssignment.objects.filter(user=volunteer).exists()
    client.post(
        reverse("admin:donations_volunteerassignment_add"),
        {"user": volunteer.pk, "campaign": ours.pk},
    )
    assert VolunteerAssignment.objects.filter(user=volunteer, campaign=ours).exists()


def test_an_organizer_who_creates_a_campaign_organizes_it(client, db):
    organizer = make_organizer("olivia")
    client.force_login(organizer)

    client.post(
        reverse("admin:campaigns_campaign_add"),
        {
            "title": "New drive",
            "slug": "new-drive",
            "status": "draft",
            "language": "en",
            "summary": "Food.",
            "organizer_name": "Us",
            "goal_amount": "500",
            "currency": "USD",
            "launched_on": timezone.localdate().isoformat(),
            "facebook_share_baseline": "0",
            "x_share_baseline": "0",
            "whatsapp_share_baseline": "0",
            "telegram_share_baseline": "0",
            "email_share_baseline": "0",
            "sections-TOTAL_FORMS": "0",
            "sections-INITIAL_FORMS": "0",
            "team_members-TOTAL_FORMS": "0",
            "team_members-INITIAL_FORMS": "0",
        },
    )

    assert OrganizerAssignment.objects.filter(user=organizer, campaign__slug="new-drive").exists()
    assert client.get(reverse(CHANGELISTS["campaign"])).context["cl"].result_count == 1


def test_only_superusers_assign_organizers(client, two_groups):
    ours, theirs = two_groups["ours"]["campaign"], two_groups["theirs"]["campaign"]
    organizer = make_organizer("olivia", ours)
    url = reverse("admin:donations_organizerassignment_add")

    client.force_login(organizer)
    assert client.get(url).status_code == 403
    assert client.post(url, {"user": organizer.pk, "campaign": theirs.pk}).status_code == 403
    assert client.get(reverse("admin:donations_organizerassignment_changelist")).status_code == 403

    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    response = client.post(url, {"user": organizer.pk, "campaign": theirs.pk})
    assert response.status_code == 302
    client.force_login(organizer)
    shown = client.get(reverse(CHANGELISTS["donation"])).context["cl"].result_list
    assert {gift.campaign.slug for gift in shown} == {"ours", "theirs"}


@pytest.mark.parametrize("page", ["report", "export-csv"])
def test_report_and_export_answer_only_for_assigned_campaigns(client, two_groups, page):
    client.force_login(make_organizer("olivia", two_groups["ours"]["campaign"]))

    ours = client.get(reverse(f"donations:{page}", args=["ours"]))
    theirs = client.get(reverse(f"donations:{page}", args=["theirs"]))

    assert ours.status_code == 200
    assert theirs.status_code == 403
    assert list(ExportLog.objects.filter(campaign__slug="theirs", user__username="olivia")) == []


def test_services_refuse_an_organizer_of_another_campaign(two_groups):
    organizer = make_organizer("olivia", two_groups["ours"]["campaign"])
    theirs_cash = two_groups["theirs"]["cash"]
    ours_cash = two_groups["ours"]["cash"]

    with pytest.raises(PermissionDenied):
        donation_moderate(donation=theirs_cash, by=organizer, hide_name=True, hide_message=False)
    changed = donation_mark_deposited(
        donations=[ours_cash, theirs_cash], deposited_on=datetime.date(2026, 1, 5), by=organizer
    )

    assert changed == 1
    assert Donation.objects.get(pk=theirs_cash.pk).deposited_on is None
    assert Donation.objects.get(pk=ours_cash.pk).deposited_on == datetime.date(2026, 1, 5)


def test_the_migration_assigns_every_existing_organizer_to_every_campaign(db):
    first, second = CampaignFactory(), CampaignFactory()
    organizer = make_organizer("olivia")
    not_staff = UserFactory(username="former")
    not_staff.groups.add(Group.objects.get(name="Organizers"))
    volunteer = UserFactory(username="vol", is_staff=True)
    migration = importlib.import_module("donations.migrations.0011_organizer_assignments")

    migration.assign_existing_organizers(apps, None)
    migration.assign_existing_organizers(apps, None)  # twice: nothing is duplicated

    assigned = set(OrganizerAssignment.objects.values_list("user__username", "campaign_id"))
    assert assigned == {("olivia", first.pk), ("olivia", second.pk)}
    assert organizer.pk and volunteer.pk

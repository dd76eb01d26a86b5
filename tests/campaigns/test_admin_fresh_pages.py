"""Every admin path that changes a campaign's content leaves no stale cached page behind.

An anonymous visitor reads the page (so it is cached), an organizer changes something in the
admin, and the visitor's next read shows the change at once: the standalone section and team
member pages, the campaign's inlines, bulk deletes and a renamed slug all go through
campaigns/services.py, which bumps the page versions once committed.
"""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from campaigns.models import StorySection, TeamMember, Update
from campaigns.services import campaign_update_save
from donations.services.access import organizer_assign
from tests.campaigns.test_admin import FormFields
from tests.factories import CampaignFactory, StorySectionFactory, TeamMemberFactory, UserFactory
from tests.html import texts

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    return CampaignFactory(slug="pantry", title="Pantry")


@pytest.fixture
def organizer(client, campaign):
    user = UserFactory(username="olga", is_staff=True)
    user.groups.add(Group.objects.get(name="Organizers"))
    organizer_assign(by=None, user=user, campaign=campaign)
    client.force_login(user)
    return user


@pytest.fixture
def visitor():
    """An anonymous reader: no session cookie, so the page cache serves them."""
    return Client()


@pytest.fixture
def admin_post(client, django_capture_on_commit_callbacks):
    """POST in the admin as the organizer, running what waits for the commit (as in
    production, where the request's transaction commits)."""

    def post(url, data):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data)

    return post


def form_data(client, url) -> dict:
    parser = FormFields()
    parser.feed(client.get(url).content.decode())
    return parser.data


def headings(visitor, campaign) -> list[str]:
    return texts(visitor.get(campaign.get_absolute_url()).content.decode(), ".story-section h2")


def members(visitor, campaign) -> list[str]:
    html = visitor.get(campaign.get_absolute_url()).content.decode()
    return [name.split(" ")[0] for name in texts(html, ".team-member a:first-of-type")]


def test_a_section_edited_on_its_own_admin_page_shows_at_once(
    client, organizer, visitor, admin_post, campaign
):
    section = StorySectionFactory(campaign=campaign, heading="Old heading")
    assert headings(visitor, campaign) == ["Old heading"]
    url = reverse("admin:campaigns_storysection_change", args=[section.pk])
    data = form_data(client, url)
    data["heading"] = "New heading"

    assert admin_post(url, data).status_code == 302

    assert headings(visitor, campaign) == ["New heading"]


def test_a_section_deleted_on_its_own_admin_page_leaves_the_page_at_once(
    client, organizer, visitor, admin_post, campaign
):
    section = StorySectionFactory(campaign=campaign, heading="Going away")
    assert headings(visitor, campaign) == ["Going away"]

    url = reverse("admin:campaigns_storysection_delete", args=[section.pk])
    assert admin_post(url, {"post": "yes"}).status_code == 302

    assert not StorySection.objects.filter(pk=section.pk).exists()
    assert headings(visitor, campaign) == []


def test_a_section_moved_to_another_campaign_leaves_the_first_page_at_once(
    client, organizer, visitor, admin_post, campaign
):
    other = CampaignFactory(slug="coats")
    organizer_assign(by=None, user=organizer, campaign=other)
    section = StorySectionFactory(campaign=campaign, heading="Misplaced")
    assert headings(visitor, campaign) == ["Misplaced"]
    assert headings(visitor, other) == []
    url = reverse("admin:campaigns_storysection_change", args=[section.pk])
    data = form_data(client, url)
    data["campaign"] = str(other.pk)

    assert admin_post(url, data).status_code == 302

    assert headings(visitor, campaign) == []
    assert headings(visitor, other) == ["Misplaced"]


def test_a_team_member_renamed_on_its_own_admin_page_shows_at_once(
    client, organizer, visitor, admin_post, campaign
):
    member = TeamMemberFactory(campaign=campaign, name="Ana")
    assert members(visitor, campaign) == ["Ana"]
    url = reverse("admin:campaigns_teammember_change", args=[member.pk])
    data = form_data(client, url)
    data["name"] = "Beatriz"

    assert admin_post(url, data).status_code == 302

    assert members(visitor, campaign) == ["Beatriz"]


def test_a_team_member_without_gifts_deleted_on_its_admin_page_leaves_the_page_at_once(
    client, organizer, visitor, admin_post, campaign
):
    member = TeamMemberFactory(campaign=campaign, name="Ana")
    assert members(visitor, campaign) == ["Ana"]

    url = reverse("admin:campaigns_teammember_delete", args=[member.pk])
    assert admin_post(url, {"post": "yes"}).status_code == 302

    assert not TeamMember.objects.filter(pk=member.pk).exists()
    assert members(visitor, campaign) == []


def bulk_delete(admin_post, model: str, pks) -> None:
    url = reverse(f"admin:campaigns_{model}_changelist")
    data = {"action": "delete_selected", "post": "yes", "_selected_action": [str(pk) for pk in pks]}
    assert admin_post(url, data).status_code == 302


def test_sections_deleted_in_bulk_leave_the_page_at_once(organizer, visitor, admin_post, campaign):
    sections = [StorySectionFactory(campaign=campaign, heading=f"Part {n}") for n in (1, 2, 3)]
    assert headings(visitor, campaign) == ["Part 1", "Part 2", "Part 3"]

    bulk_delete(admin_post, "storysection", [section.pk for section in sections[:2]])

    assert headings(visitor, campaign) == ["Part 3"]


def test_team_members_deleted_in_bulk_leave_the_page_at_once(
    organizer, visitor, admin_post, campaign
):
    gone = [TeamMemberFactory(campaign=campaign, name=name) for name in ("Ana", "Bea")]
    TeamMemberFactory(campaign=campaign, name="Carla")
    assert members(visitor, campaign) == ["Ana", "Bea", "Carla"]

    bulk_delete(admin_post, "teammember", [member.pk for member in gone])

    assert members(visitor, campaign) == ["Carla"]


def test_updates_deleted_in_bulk_leave_the_page_at_once(organizer, visitor, admin_post, campaign):
    update = campaign_update_save(
        update=Update(campaign=campaign, title="Rent paid", body="Thanks!", status="published")
    )
    html = visitor.get(campaign.get_absolute_url()).content.decode()
    assert texts(html, ".update h3") == ["Rent paid"]

    bulk_delete(admin_post, "update", [update.pk])

    html = visitor.get(campaign.get_absolute_url()).content.decode()
    assert texts(html, ".update h3") == []


def test_inline_edits_and_deletes_show_at_once(client, organizer, visitor, admin_post, campaign):
    StorySectionFactory(campaign=campaign, heading="Kept")
    TeamMemberFactory(campaign=campaign, name="Ana")
    assert headings(visitor, campaign) == ["Kept"]
    assert members(visitor, campaign) == ["Ana"]
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    data = form_data(client, url)
    data["sections-0-heading"] = "Edited"
    data["team_members-0-DELETE"] = "on"

    assert admin_post(url, data).status_code == 302

    assert headings(visitor, campaign) == ["Edited"]
    assert members(visitor, campaign) == []


def test_a_renamed_campaign_is_gone_from_its_old_address_at_once(
    client, organizer, visitor, admin_post, campaign
):
    old_url = campaign.get_absolute_url()
    assert visitor.get(old_url).status_code == 200
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    data = form_data(client, url)
    data["slug"] = "food-pantry"

    assert admin_post(url, data).status_code == 302

    assert visitor.get(old_url).status_code == 404
    assert visitor.get("/c/food-pantry/").status_code == 200

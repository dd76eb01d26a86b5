from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from campaigns.models import StorySection
from donations.services.access import organizer_assign
from tests.factories import CampaignFactory, StorySectionFactory, TeamMemberFactory, UserFactory

pytestmark = pytest.mark.django_db

ORGANIZER_CODENAMES = {
    "add_campaign",
    "change_campaign",
    "view_campaign",
    "add_storysection",
    "change_storysection",
    "delete_storysection",
    "view_storysection",
    "add_teammember",
    "change_teammember",
    "delete_teammember",
    "view_teammember",
    "change_donation",
    "view_donation",
    "view_exchangerate",
    "add_volunteerassignment",
    "change_volunteerassignment",
    "delete_volunteerassignment",
    "view_volunteerassignment",
    "view_receipt",
    "view_donationchange",
    "view_exportlog",
    "view_stripeevent",
    "add_update",
    "change_update",
    "delete_update",
    "view_update",
    "view_sharecount",
    "change_monthlygift",
    "view_monthlygift",
    "view_monthlygiftchange",
}


class FormFields(HTMLParser):
    """What a browser would submit from the admin change form, as the page left it."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        name = attributes.get("name")
        if tag == "input" and name and attributes.get("type") not in ("submit", "file"):
            if attributes.get("type") == "checkbox":
                if "checked" in attributes:
                    self.data[name] = attributes.get("value", "on")
            else:
                self.data[name] = attributes.get("value", "")
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in attributes:
            self.data[self._select] = attributes.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += data


@pytest.fixture
def organizer(client):
    user = UserFactory(username="olivia", is_staff=True)
    user.groups.add(Group.objects.get(name="Organizers"))
    client.force_login(user)
    return user


def change_url(campaign) -> str:
    return reverse("admin:campaigns_campaign_change", args=[campaign.pk])


def test_organizer_edits_a_story_section_through_the_admin_and_the_page_shows_it(client, organizer):
    campaign = CampaignFactory()
    organizer_assign(by=None, user=organizer, campaign=campaign)
    section = StorySectionFactory(campaign=campaign, heading="Old heading", body="Old words.")
    TeamMemberFactory(campaign=campaign)
    form = client.get(change_url(campaign))
    assert form.status_code == 200
    parser = FormFields()
    parser.feed(form.content.decode())
    data = parser.data
    assert data["sections-TOTAL_FORMS"] == "1"
    assert data["sections-0-id"] == str(section.pk)
    data["sections-0-heading"] = "Where the money goes"
    data["sections-0-body"] = "Rent for March.\n\nSee https://example.org/receipts"
    response = client.post(change_url(campaign), data)
    assert response.status_code == 302, response.context["errors"] if response.context else ""
    section.refresh_from_db()
    assert section.heading == "Where the money goes"
    page = client.get(campaign.get_absolute_url()).content.decode()
    assert "<h2>Where the money goes</h2>" in page
    assert "<p>Rent for March.</p>" in page
    assert "Old words." not in page


def test_organizer_adds_a_section_through_the_inline(client, organizer):
    campaign = CampaignFactory()
    organizer_assign(by=None, user=organizer, campaign=campaign)
    parser = FormFields()
    parser.feed(client.get(change_url(campaign)).content.decode())
    data = parser.data
    assert data["sections-TOTAL_FORMS"] == "0"
    data.update(
        {
            "sections-TOTAL_FORMS": "1",
            "sections-0-position": "0",
            "sections-0-heading": "New section",
            "sections-0-body": "Fresh text.",
            "sections-0-campaign": str(campaign.pk),
        }
    )
    response = client.post(change_url(campaign), data)
    assert response.status_code == 302
    assert list(
        StorySection.objects.filter(campaign=campaign).values_list("heading", flat=True)
    ) == ["New section"]


def test_an_invalid_edit_changes_nothing(client, organizer):
    campaign = CampaignFactory(title="Kept title")
    organizer_assign(by=None, user=organizer, campaign=campaign)
    section = StorySectionFactory(campaign=campaign, heading="Kept heading")
    parser = FormFields()
    parser.feed(client.get(change_url(campaign)).content.decode())
    data = parser.data
    data["title"] = ""
    data["sections-0-heading"] = "Lost heading"
    response = client.post(change_url(campaign), data)
    assert response.status_code == 200
    section.refresh_from_db()
    campaign.refresh_from_db()
    assert section.heading == "Kept heading"
    assert campaign.title == "Kept title"


def test_non_staff_user_is_sent_to_the_admin_login(client):
    client.force_login(UserFactory(is_staff=False))
    response = client.get(reverse("admin:campaigns_campaign_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_anonymous_visitor_is_sent_to_the_admin_login(client):
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_organizers_group_has_exactly_its_rights():
    organizers = Group.objects.get(name="Organizers")
    assert set(organizers.permissions.values_list("codename", flat=True)) == ORGANIZER_CODENAMES


def test_volunteers_group_has_no_model_rights():
    assert Group.objects.get(name="Volunteers").permissions.count() == 0


def test_organizer_cannot_reach_user_accounts_or_delete_campaigns(client, organizer):
    campaign = CampaignFactory()
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
    assert (
        client.get(reverse("admin:campaigns_campaign_delete", args=[campaign.pk])).status_code
        == 403
    )


def test_campaign_changelist_renders_with_status_filter_and_donations_link(client, organizer):
    campaign = CampaignFactory(title="Coats for kids")
    organizer_assign(by=None, user=organizer, campaign=campaign)
    response = client.get(reverse("admin:campaigns_campaign_changelist"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Coats for kids" in html
    assert "?status__exact=live" in html
    donations = reverse("admin:donations_donation_changelist")
    assert f"{donations}?campaign__id__exact={campaign.pk}" in html


def test_campaign_change_page_has_inlines_and_view_on_site(client, organizer):
    campaign = CampaignFactory()
    organizer_assign(by=None, user=organizer, campaign=campaign)
    StorySectionFactory(campaign=campaign)
    TeamMemberFactory(campaign=campaign)
    response = client.get(change_url(campaign))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="sections-TOTAL_FORMS"' in html
    assert 'name="team_members-TOTAL_FORMS"' in html
    view_on_site = reverse("admin:view_on_site", args=[_content_type_id(), campaign.pk])
    assert f'href="{view_on_site}"' in html
    redirect = client.get(view_on_site)
    assert redirect.status_code == 302
    assert redirect["Location"].endswith(campaign.get_absolute_url())


def test_campaign_add_page_prepopulates_the_slug_from_the_title(client, organizer):
    response = client.get(reverse("admin:campaigns_campaign_add"))
    html = response.content.decode()
    assert response.status_code == 200
    assert (
        "&quot;id&quot;: &quot;#id_slug&quot;, &quot;name&quot;: &quot;slug&quot;, "
        "&quot;dependency_ids&quot;: [&quot;#id_title&quot;]"
    ) in html


def _content_type_id() -> int:
    from django.contrib.contenttypes.models import ContentType

    from campaigns.models import Campaign

    return ContentType.objects.get_for_model(Campaign).id


def test_currency_is_fixed_once_a_campaign_is_public_but_not_while_it_is_a_draft(client, organizer):
    live = CampaignFactory(currency="USD")
    draft = CampaignFactory(currency="USD", status="draft")
    organizer_assign(by=None, user=organizer, campaign=live)
    organizer_assign(by=None, user=organizer, campaign=draft)

    live_html = client.get(change_url(live)).content.decode()
    draft_html = client.get(change_url(draft)).content.decode()

    assert 'name="currency"' not in live_html
    assert 'name="currency"' in draft_html

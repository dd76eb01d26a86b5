"""The back office for monthly gifts: moderation reaches the giver list entry and every month;
completing a campaign (action or status edit) stops its monthly gifts."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from donations.services.access import organizer_assign
from tests.campaigns.test_admin import FormFields
from tests.factories import CampaignFactory, MonthlyGiftFactory, UserFactory, months_of
from tests.html import texts

pytestmark = pytest.mark.django_db


@pytest.fixture
def organizer(client):
    user = UserFactory(username="org", is_staff=True)
    user.groups.add(Group.objects.get(name="Organizers"))
    client.force_login(user)
    return user


@pytest.fixture
def monthly(organizer, demo_payments):
    campaign = CampaignFactory(slug="coats")
    organizer_assign(by=None, user=organizer, campaign=campaign)
    gift = MonthlyGiftFactory(
        campaign=campaign, giver_name="Rude name", stripe_subscription_id="demo_sub_1"
    )
    months_of(gift, 2)
    return gift


def test_an_organizer_hides_a_monthly_givers_name_on_the_page_and_in_every_month(
    client, organizer, monthly, django_capture_on_commit_callbacks
):
    url = reverse("admin:donations_monthlygift_change", args=[monthly.pk])
    data = {
        "name_hidden_by_organizer": "on",
        "months_given-TOTAL_FORMS": "0",
        "months_given-INITIAL_FORMS": "0",
        "changes-TOTAL_FORMS": "0",
        "changes-INITIAL_FORMS": "0",
        "_save": "Save",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)

    assert response.status_code == 302
    monthly.refresh_from_db()
    assert monthly.name_hidden_by_organizer
    assert set(monthly.months_given.values_list("name_hidden_by_organizer", flat=True)) == {True}
    assert monthly.changes.filter(action="moderate", changed_by=organizer).exists()
    html = client.get(monthly.campaign.get_absolute_url()).content.decode()
    assert texts(html, ".giver-monthly .giver-name") == ["Anonymous"]


def test_the_admin_action_completes_a_campaign_and_stops_its_monthly_gifts(
    client, organizer, monthly, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the worker's task, at once
        response = client.post(
            reverse("admin:campaigns_campaign_changelist"),
            {
                "action": "complete_campaigns",
                "_selected_action": [monthly.campaign.pk],
                "index": "0",
            },
            follow=True,
        )

    monthly.refresh_from_db()
    assert Campaign.objects.get(pk=monthly.campaign.pk).status == "completed"
    assert (monthly.status, monthly.end_reason) == ("ending", "campaign")
    shown = " ".join(texts(response.content.decode(), ".messagelist li"))
    assert f"{monthly.campaign.title} is completed" in shown
    assert "1 monthly gift stops with its paid month" in shown


def test_completing_a_campaign_by_editing_its_status_stops_its_monthly_gifts_too(
    client, organizer, monthly, django_capture_on_commit_callbacks
):
    campaign = monthly.campaign
    change = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    parser = FormFields()
    parser.feed(client.get(change).content.decode())
    data = parser.data | {
        "status": "completed",
        "completed_on": timezone.localdate().isoformat(),
        "_save": "Save",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(change, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    monthly.refresh_from_db()
    assert monthly.status == "ending"

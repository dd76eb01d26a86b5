"""What may no longer change on a campaign, whoever saves it (campaigns/services.py).

The currency is fixed once any gift or monthly gift exists, whatever the campaign's status
(gifts were converted into it). A draft goes live before it completes. A completed campaign
is final: only a superuser reopens it, with a reason that its history keeps, as it keeps
every completion.
"""

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignChange
from campaigns.services import (
    CAMPAIGN_NOT_LIVE,
    COMPLETED_IS_FINAL_ERROR,
    CURRENCY_FIXED_ERROR,
    REOPEN_REASON_ERROR,
    campaign_save,
)
from donations.services.access import organizer_assign
from donations.services.monthly import campaign_complete
from tests.campaigns.test_admin import FormFields
from tests.factories import CampaignFactory, DonationFactory, MonthlyGiftFactory, UserFactory
from tests.html import texts

pytestmark = pytest.mark.django_db


@pytest.fixture
def organizer(client):
    user = UserFactory(username="omar", is_staff=True)
    user.groups.add(Group.objects.get(name="Organizers"))
    client.force_login(user)
    return user


@pytest.fixture
def superuser():
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def change_url(campaign) -> str:
    return reverse("admin:campaigns_campaign_change", args=[campaign.pk])


def admin_form(client, campaign) -> dict:
    parser = FormFields()
    parser.feed(client.get(change_url(campaign)).content.decode())
    return parser.data


def completed_campaign(**fields) -> Campaign:
    return CampaignFactory(status="completed", completed_on=timezone.localdate(), **fields)


def test_a_live_campaign_with_gifts_keeps_its_currency_when_saved_as_a_draft_first(
    client, organizer
):
    campaign = CampaignFactory(currency="USD")
    organizer_assign(by=None, user=organizer, campaign=campaign)
    DonationFactory(campaign=campaign)
    data = admin_form(client, campaign)
    data["status"] = "draft"
    assert client.post(change_url(campaign), data).status_code == 302

    data = admin_form(client, campaign)
    data["currency"] = "EUR"
    client.post(change_url(campaign), data)

    campaign.refresh_from_db()
    assert campaign.status == "draft"
    assert campaign.currency == "USD"


@pytest.mark.parametrize("gift_factory", [DonationFactory, MonthlyGiftFactory])
def test_the_service_refuses_a_new_currency_once_any_gift_exists_whatever_the_status(
    organizer, gift_factory
):
    campaign = CampaignFactory(currency="USD", status="draft")
    gift_factory(campaign=campaign)
    campaign.currency = "EUR"

    with pytest.raises(ValidationError) as refused:
        campaign_save(campaign=campaign, by=organizer)

    assert refused.value.message_dict["currency"] == [CURRENCY_FIXED_ERROR % {"currency": "USD"}]
    campaign.refresh_from_db()
    assert campaign.currency == "USD"


def test_a_draft_without_gifts_may_still_change_its_currency(client, organizer):
    campaign = CampaignFactory(currency="USD", status="draft")
    organizer_assign(by=None, user=organizer, campaign=campaign)
    data = admin_form(client, campaign)
    data["currency"] = "EUR"

    assert client.post(change_url(campaign), data).status_code == 302

    campaign.refresh_from_db()
    assert campaign.currency == "EUR"


def test_an_organizer_cannot_reopen_a_completed_campaign(client, organizer):
    campaign = completed_campaign()
    organizer_assign(by=None, user=organizer, campaign=campaign)
    data = admin_form(client, campaign)
    assert "reason" not in data
    data["status"] = "live"

    response = client.post(change_url(campaign), data)

    assert response.status_code == 200
    assert str(COMPLETED_IS_FINAL_ERROR) in texts(response.content.decode(), ".errorlist li")
    campaign.refresh_from_db()
    assert campaign.status == "completed"
    assert not CampaignChange.objects.exists()


def test_the_service_refuses_a_reopening_by_an_organizer_even_with_a_reason(organizer):
    campaign = completed_campaign()
    organizer_assign(by=None, user=organizer, campaign=campaign)
    campaign.status = "live"

    with pytest.raises(ValidationError) as refused:
        campaign_save(campaign=campaign, by=organizer, reason="We got more time.")

    assert refused.value.message_dict["status"] == [COMPLETED_IS_FINAL_ERROR]
    campaign.refresh_from_db()
    assert campaign.status == "completed"


def test_a_superuser_reopens_a_completed_campaign_only_with_a_reason_kept_in_its_history(
    client, superuser
):
    campaign = completed_campaign()
    client.force_login(superuser)
    data = admin_form(client, campaign)
    data["status"] = "live"

    without_reason = client.post(change_url(campaign), data)

    assert without_reason.status_code == 200
    assert str(REOPEN_REASON_ERROR) in texts(without_reason.content.decode(), ".errorlist li")
    campaign.refresh_from_db()
    assert campaign.status == "completed"

    data["reason"] = "The landlord gave us another month."
    assert client.post(change_url(campaign), data).status_code == 302

    campaign.refresh_from_db()
    assert campaign.status == "live"
    change = CampaignChange.objects.get(campaign=campaign)
    assert (change.action, change.changed_by, change.reason) == (
        "reopen",
        superuser,
        "The landlord gave us another month.",
    )
    assert change.changes == {"status": ["completed", "live"]}
    page = client.get(change_url(campaign)).content.decode()
    assert "The landlord gave us another month." in texts(page, ".field-history .readonly")[0]


def test_completing_a_campaign_by_its_status_is_still_allowed(client, organizer):
    campaign = CampaignFactory()
    organizer_assign(by=None, user=organizer, campaign=campaign)
    data = admin_form(client, campaign)
    data["status"] = "completed"
    data["completed_on"] = timezone.localdate().isoformat()

    assert client.post(change_url(campaign), data).status_code == 302

    campaign.refresh_from_db()
    assert campaign.status == "completed"


def test_completing_through_the_campaign_save_service_leaves_a_history_row(organizer):
    campaign = CampaignFactory()
    campaign.status = Campaign.Status.COMPLETED
    campaign.completed_on = timezone.localdate()

    campaign_save(campaign=campaign, by=organizer)

    completion = CampaignChange.objects.get(campaign=campaign)
    assert (completion.action, completion.changed_by, completion.reason) == (
        "complete",
        organizer,
        "",
    )
    assert completion.changes == {
        "status": ["live", "completed"],
        "completed_on": [None, timezone.localdate().isoformat()],
    }


def test_saving_a_completed_campaign_again_records_no_second_completion(organizer):
    campaign = completed_campaign()
    campaign.summary = "Thank you all."

    campaign_save(campaign=campaign, by=organizer)

    assert not CampaignChange.objects.exists()


def test_a_draft_cannot_be_completed_by_editing_its_status_as_campaign_complete_refuses(
    client, organizer
):
    campaign = CampaignFactory(status="draft")
    organizer_assign(by=None, user=organizer, campaign=campaign)
    data = admin_form(client, campaign)
    data["status"] = "completed"
    data["completed_on"] = timezone.localdate().isoformat()

    response = client.post(change_url(campaign), data)

    assert response.status_code == 200
    assert texts(response.content.decode(), ".field-status .errorlist li") == [
        str(CAMPAIGN_NOT_LIVE)
    ]
    campaign.refresh_from_db()
    assert campaign.status == "draft"
    assert not CampaignChange.objects.exists()


def test_the_service_refuses_a_draft_completed_with_the_message_campaign_complete_gives(
    organizer,
):
    campaign = CampaignFactory(status="draft")
    with pytest.raises(ValidationError) as by_the_action:
        campaign_complete(campaign=campaign, today=timezone.localdate(), by=organizer)
    campaign.status = Campaign.Status.COMPLETED
    campaign.completed_on = timezone.localdate()

    with pytest.raises(ValidationError) as by_an_edit:
        campaign_save(campaign=campaign, by=organizer)

    assert by_an_edit.value.message_dict["status"] == [CAMPAIGN_NOT_LIVE]
    assert by_the_action.value.messages == [CAMPAIGN_NOT_LIVE]
    campaign.refresh_from_db()
    assert campaign.status == "draft"


def test_the_admin_history_names_each_change_who_or_what_made_it_and_when(client, superuser):
    campaign = CampaignFactory()
    campaign_complete(campaign=campaign, today=timezone.localdate(), by="campaigns_complete_ended")
    campaign.refresh_from_db()
    campaign.status = Campaign.Status.LIVE
    campaign_save(campaign=campaign, by=superuser, reason="More time.")
    client.force_login(superuser)

    page = client.get(change_url(campaign)).content.decode()

    now = timezone.localtime().strftime("%Y-%m-%d")
    assert texts(page, ".field-history label") == ["History:"]
    history = texts(page, ".field-history .readonly")[0]
    assert "None" not in history
    assert history.startswith(f"Campaign completed · campaigns_complete_ended · {now}")
    assert f"Reopened · root (More time.) · {now}" in history

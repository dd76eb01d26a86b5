import pytest
from django.urls import reverse

from tests.factories import CampaignFactory, DonationFactory

pytestmark = pytest.mark.django_db


def test_campaign_page_shows_raised_total_in_data_markup(client):
    campaign = CampaignFactory()
    DonationFactory.create_batch(3, campaign=campaign)
    response = client.get(reverse("campaigns:detail", kwargs={"slug": campaign.slug}))
    assert response.status_code == 200
    assert '<data class="raised" value="75.00">$75.00</data>' in response.content.decode()

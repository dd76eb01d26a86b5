"""Page weight budgets (Design issue): small enough for a cheap phone on a slow network."""

import gzip
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    CampaignFactory,
    DonationFactory,
    StorySectionFactory,
    TeamMemberFactory,
)

STATIC = Path(__file__).resolve().parent.parent / "static"
HTML_GZIP_BUDGET = 30 * 1024
CSS_BUDGET = 25 * 1024
JS_BUDGET = 10 * 1024


@pytest.mark.django_db
def test_the_campaign_page_and_a_page_of_50_givers_are_at_most_30_kb_gzipped(client):
    campaign = CampaignFactory()
    StorySectionFactory.create_batch(4, campaign=campaign, body="A paragraph of the story. " * 40)
    members = TeamMemberFactory.create_batch(3, campaign=campaign)
    for index in range(60):
        DonationFactory(
            campaign=campaign,
            team_member=members[index % 3],
            giver_name=f"Giver number {index} with a longer family name",
            message="Con todo el corazón, desde Pilsen. ¡Adelante, vecinos! " * 3,
            received_at=timezone.now(),
        )

    page = client.get(campaign.get_absolute_url()).content
    givers = client.get(reverse("campaigns:givers", kwargs={"slug": campaign.slug})).content

    # The campaign page opens with the 10 latest gifts; the givers page lists 50 at a time.
    assert page.count(b'class="giver ') + page.count(b'class="giver"') == 10
    assert givers.count(b'class="giver ') + givers.count(b'class="giver"') == 50
    assert len(gzip.compress(page)) <= HTML_GZIP_BUDGET
    assert len(gzip.compress(givers)) <= HTML_GZIP_BUDGET


def test_all_css_is_at_most_25_kb_before_compression():
    sizes = {path.name: path.stat().st_size for path in (STATIC / "css").glob("*.css")}
    assert sizes
    assert sum(sizes.values()) <= CSS_BUDGET, sizes


def test_all_javascript_is_at_most_10_kb_before_compression():
    sizes = {path.name: path.stat().st_size for path in (STATIC / "js").glob("*.js")}
    assert sizes
    assert sum(sizes.values()) <= JS_BUDGET, sizes

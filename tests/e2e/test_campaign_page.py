import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.e2e.helpers import SCREENSHOTS
from tests.factories import (
    CampaignFactory,
    DonationFactory,
    OfflineDonationFactory,
    StorySectionFactory,
    TeamMemberFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Kept after the run so that a person can look at the phone layout.
SCREENSHOT = SCREENSHOTS / "campaign-long-title-en-320.png"


@pytest.fixture
def campaign():
    campaign = CampaignFactory(
        title="Solidarity with the migrant caravan, and a long title that must wrap on phones",
        organizer_name="Little Village Solidarity Network",
        organizer_url="https://example.org/lvsn",
        goal_amount=Decimal("25000.00"),
        facebook_share_baseline=1804,
        ends_on=timezone.localdate() + datetime.timedelta(days=12),
    )
    StorySectionFactory(
        campaign=campaign,
        heading="The migrant caravan",
        body="A long paragraph " * 30
        + "\n\nhttps://www.facebook.com/a-very-long-link-without-spaces-x",
    )
    StorySectionFactory(campaign=campaign, heading="Challenges and needs")
    member = TeamMemberFactory(campaign=campaign, name="Little Village")
    now = timezone.now()
    DonationFactory(
        campaign=campaign,
        giver_name="María Guadalupe Hernández-Rodríguez de la Cruz",
        amount=Decimal("12345.67"),
        message="¡Adelante! " * 20,
        team_member=member,
        received_at=now - datetime.timedelta(days=3),
    )
    DonationFactory(
        campaign=campaign,
        currency="MXN",
        amount=Decimal("500.00"),
        amount_converted=Decimal("24.37"),
        received_at=now - datetime.timedelta(days=2),
    )
    OfflineDonationFactory(campaign=campaign, anonymous=True, amount=Decimal("40.00"))
    return campaign


def csp_violations(page) -> list[str]:
    messages: list[str] = []
    page.on(
        "console",
        lambda message: (
            messages.append(message.text)
            if "Content Security Policy" in message.text
            or "Content-Security-Policy" in message.text
            else None
        ),
    )
    return messages


def test_campaign_page_fits_a_320px_phone(live_server, campaign, new_context):
    page = new_context(viewport={"width": 320, "height": 640}).new_page()
    violations = csp_violations(page)
    response = page.goto(live_server.url + campaign.get_absolute_url())
    assert response.status == 200
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 320
    raised = page.locator("data.raised")
    assert raised.count() == 1
    assert raised.is_visible()
    assert raised.inner_text() == "$12,410.04"
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert violations == []


def test_campaign_page_is_complete_with_javascript_off(live_server, campaign, new_context):
    page = new_context(java_script_enabled=False).new_page()
    page.goto(live_server.url + campaign.get_absolute_url())
    assert page.locator("h1").inner_text().startswith("Solidarity with the migrant caravan")
    assert page.locator("data.raised").inner_text() == "$12,410.04"
    assert page.locator("data.donor-count").get_attribute("value") == "3"
    assert page.locator("data.share-count").inner_text() == "1,804"
    assert page.locator("progress.goal-progress").get_attribute("value") == "12410.04"
    assert page.locator(".story-section h2").all_inner_texts() == [
        "The migrant caravan",
        "Challenges and needs",
    ]
    assert page.locator(".giver").count() == 3
    assert page.locator(".giver-name").first.inner_text() == "Anonymous"
    assert page.get_by_text("Offline donation").count() == 1
    assert page.locator("data.member-raised").inner_text() == "$12,345.67"
    assert page.get_by_text("12 days left").count() == 1


def test_browser_reports_no_csp_violations_on_the_public_pages(live_server, campaign, page):
    violations = csp_violations(page)
    for path in (
        "/",
        campaign.get_absolute_url(),
        f"/c/{campaign.slug}/givers/",
        f"/c/{campaign.slug}/tally/",
        campaign.team_members.get().get_absolute_url(),
    ):
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        assert "content-security-policy" in response.headers
    assert violations == []


def test_language_switch_in_the_browser(live_server, campaign, page):
    page.goto(live_server.url + campaign.get_absolute_url())
    page.get_by_role("link", name="Español").click()
    page.wait_for_url(f"{live_server.url}/es{campaign.get_absolute_url()}")
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.get_by_text("Donación en efectivo").count() == 1


def test_a_csp_violation_would_be_reported(live_server, campaign, page):
    """Proves the listener above can fail: an off-site image breaks img-src."""
    violations = csp_violations(page)
    page.goto(live_server.url + campaign.get_absolute_url())
    page.evaluate(
        "document.body.insertAdjacentHTML('beforeend', '<img src=\"https://example.org/x.png\">')"
    )
    page.wait_for_timeout(300)
    assert any("img-src" in message for message in violations)

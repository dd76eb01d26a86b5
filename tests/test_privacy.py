"""Hidden names and amounts never reach public HTML (pages, page source, OpenGraph tags);
donors' emails appear only in the admin, the export and receipts."""

from decimal import Decimal

import pytest

from donations.services.access import organizer_assign
from tests.factories import (
    CampaignFactory,
    DonationFactory,
    PendingOnlineDonationFactory,
    TeamMemberFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

PUBLIC = [
    "/",
    "/c/open/",
    "/c/open/givers/",
    "/c/open/m/team/",
    "/c/open/updates/",
    "/c/open/flyer/",
    "/c/open/m/team/flyer/",
    "/c/open/tally/",
    "/c/open/donate/",
    "/donations/thanks/?session_id=cs_test_privacy",
]


@pytest.fixture
def campaign(rates_today, stripe_http):
    campaign = CampaignFactory(slug="open", title="Open fund")
    member = TeamMemberFactory(campaign=campaign, slug="team")
    DonationFactory(
        campaign=campaign, team_member=member, giver_name="Hidden Person",
        email="hidden@example.org", anonymous=True, hide_amount=True, amount=Decimal("123.45"),
        message="from the corner shop",
    )  # fmt: skip
    DonationFactory(
        campaign=campaign, giver_name="Moderated Person", email="moderated@example.org",
        name_hidden_by_organizer=True, amount=Decimal("10.00"),
    )  # fmt: skip
    DonationFactory(
        campaign=campaign, team_member=member, giver_name="Visible Person",
        email="visible@example.org", amount=Decimal("50.00"),
    )  # fmt: skip
    PendingOnlineDonationFactory(
        campaign=campaign, stripe_checkout_session_id="cs_test_privacy",
        giver_name="Pending Person", email="pending@example.org", status="succeeded",
        anonymous=True,
    )  # fmt: skip
    return campaign


def test_public_pages_never_show_hidden_names_amounts_or_any_email(client, campaign):
    visible_somewhere = False
    for url in PUBLIC:
        html = client.get(url).content.decode()
        for secret in ("Hidden Person", "Moderated Person", "Pending Person", "123.45", "123"):
            assert secret not in html, (url, secret)
        assert "@example.org" not in html.replace("organizers@example.org", ""), url
        visible_somewhere |= "Visible Person" in html
    assert visible_somewhere


def test_emails_are_in_the_admin_and_the_export_for_organizers(client, campaign):
    organizer = UserFactory(username="olivia", is_staff=True, is_superuser=True)
    organizer_assign(by=None, user=organizer, campaign=campaign)
    client.force_login(organizer)

    export = b"".join(client.get("/organize/open/export.csv").streaming_content).decode()
    changelist = client.get("/admin/donations/donation/?q=hidden").content.decode()

    assert "hidden@example.org" in export and "Hidden Person" in export
    assert "Hidden Person" in changelist

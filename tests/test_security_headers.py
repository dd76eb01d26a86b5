"""Security headers on every kind of page, the admin included; signed-in pages are never
stored by a browser or a proxy."""

import pytest
from django.test import override_settings
from django.urls import reverse

from donations.models import Donation
from donations.services.access import organizer_assign
from tests.factories import (
    CampaignFactory,
    DonationFactory,
    PendingOnlineDonationFactory,
    TeamMemberFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

PUBLIC_PAGES = [
    "/",
    "/c/heads/",
    "/c/heads/givers/",
    "/c/heads/m/team/",
    "/c/heads/flyer/",
    "/c/heads/m/team/flyer/",
    "/c/heads/updates/",
    "/c/heads/tally/",
    "/c/heads/donate/",
    "/c/heads/share/email/",
    "/donations/thanks/?session_id={session}",
    "/donations/demo-checkout/{pending}/",
    "/lang/es/?next=/",
    "/accounts/login/",
    "/accounts/password_reset/",
    "/healthz",
    "/no-such-page/",
    "/admin/login/",
]
SIGNED_IN_PAGES = [
    "/volunteer/",
    "/volunteer/heads/cash/",
    "/volunteer/heads/cash/batch/",
    "/organize/heads/report/",
    "/organize/heads/export.csv",
    "/accounts/two-factor/",
    "/admin/",
    "/admin/donations/donation/",
    "/admin/donations/donation/{gift}/change/",
    "/admin/campaigns/campaign/{campaign}/change/",
    "/c/heads/",
]


@pytest.fixture
def site(demo_payments, rates_today):
    campaign = CampaignFactory(slug="heads")
    TeamMemberFactory(campaign=campaign, slug="team")
    gift = DonationFactory(campaign=campaign)
    pending = PendingOnlineDonationFactory(campaign=campaign, stripe_checkout_session_id="demo_x")
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    organizer_assign(by=None, user=root, campaign=campaign)
    return {
        "campaign": campaign.pk,
        "gift": gift.pk,
        "pending": pending.pk,
        "session": pending.stripe_checkout_session_id,
        "root": root,
    }


def assert_security_headers(response, url: str) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, url
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp, url
    assert headers.get("X-Content-Type-Options") == "nosniff", url
    assert headers.get("Referrer-Policy") == "strict-origin-when-cross-origin", url
    assert headers.get("X-Frame-Options") == "DENY", url
    assert headers.get("Cross-Origin-Opener-Policy") == "same-origin", url
    policy = headers.get("Permissions-Policy", "")
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()"):
        assert feature in policy, url
    assert headers.get("Strict-Transport-Security", "").startswith("max-age=2592000"), url


@override_settings(SECURE_HSTS_SECONDS=2592000)
def test_every_public_page_sends_the_security_headers(client, site):
    for template in PUBLIC_PAGES:
        url = template.format(**site)
        response = client.get(url, secure=True)
        assert response.status_code in (200, 302, 404), url
        assert_security_headers(response, url)


@override_settings(SECURE_HSTS_SECONDS=2592000)
def test_every_signed_in_page_sends_them_and_is_never_stored(client, site):
    client.force_login(site["root"])
    for template in SIGNED_IN_PAGES:
        url = template.format(**site)
        response = client.get(url, secure=True)
        assert response.status_code == 200, url
        assert_security_headers(response, url)
        cache_control = response.headers.get("Cache-Control", "")
        assert "no-store" in cache_control and "private" in cache_control, url
        assert "public" not in cache_control, url


def test_an_anonymous_page_is_not_marked_no_store_by_the_signed_in_rule(client, site):
    response = client.get("/c/heads/")

    assert "no-store" not in response.headers.get("Cache-Control", "")
    assert Donation.objects.count() == 2


def test_the_admin_pages_send_the_permissions_policy(client, site):
    client.force_login(site["root"])

    for url in [reverse("admin:index"), reverse("admin:donations_donation_changelist")]:
        assert "camera=()" in client.get(url).headers["Permissions-Policy"]

"""Inputs an adversarial test of the running app found ending in a 500, each fixed."""

import base64
import datetime
import uuid

import pytest
from django.db import connection

from donations.models import Donation
from tests.factories import CampaignFactory, DonationFactory, TeamMemberFactory

pytestmark = pytest.mark.django_db


def _cursor(moment: str, giver_id: uuid.UUID | None = None) -> str:
    raw = f"{moment}|{giver_id or uuid.uuid4()}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("offset", ["+16:00", "-16:00", "+23:59", "-23:59:59"])
def test_a_giver_cursor_with_an_offset_postgresql_refuses_is_read_in_utc(client, offset):
    campaign = CampaignFactory(slug="walk")
    member = TeamMemberFactory(campaign=campaign, slug="ana")
    gift = DonationFactory(
        campaign=campaign,
        team_member=member,
        received_at=datetime.datetime(2031, 5, 1, 10, tzinfo=datetime.UTC),
    )
    # The same moment as the gift's, written with the offset (a cursor names a listed gift).
    zone = datetime.datetime.fromisoformat(f"2031-05-01T10:00:00{offset}").tzinfo
    cursor = _cursor(gift.received_at.astimezone(zone).isoformat(), gift.id)

    for path in ("/c/walk/", "/c/walk/givers/", "/c/walk/m/ana/"):
        response = client.get(path, {"after": cursor})
        assert response.status_code == 200, path


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00", "2031-02-30T00:00:00Z"]
)
def test_a_giver_cursor_that_is_no_position_in_utc_is_a_404(client, moment):
    CampaignFactory(slug="walk")

    response = client.get("/c/walk/givers/", {"after": _cursor(moment)})

    assert response.status_code == 404


def test_an_email_longer_than_the_column_is_refused_by_the_form_before_the_rate_limit(
    client, stripe_http, rates_today, settings
):
    settings.CHECKOUT_RATE_LIMITS = ["1/m"]
    CampaignFactory(slug="walk")
    email = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".org"  # 313 characters
    assert 254 < len(email) <= 320

    answers = [
        client.post(
            "/c/walk/donate/",
            {"amount": "25", "currency": "USD", "name": "Ana", "email": email},
        )
        for _ in range(3)
    ]

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert answers[0].context["form"].errors["email"]
    assert Donation.objects.count() == 0
    assert stripe_http.requests == []
    ok = client.post(
        "/c/walk/donate/", {"amount": "25", "currency": "USD", "name": "Ana", "email": "a@b.org"}
    )
    assert ok.status_code == 303  # no rate-limit slot was used by the refused posts


@pytest.mark.parametrize("session_id", ["cs_" + "a" * 300, "é" * 5, "cs_test_1 OR 1=1", ""])
def test_a_thank_you_session_id_that_is_no_stripe_id_is_a_404_without_a_query(
    client, stripe_http, session_id, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = client.get("/donations/thanks/", {"session_id": session_id})

    assert response.status_code == 404
    assert stripe_http.requests == []


@pytest.mark.parametrize(
    "path, query",
    [
        ("/donations/thanks/", {"session_id": "cs_test_\x00abc"}),
        ("/donations/thanks/", {"session_id": "\x00"}),
        ("/c/walk/share/x/", {"member": "ana\x00"}),
        ("/c/walk/givers/", {"after\x00": "x"}),
        ("/c/walk/donate/", {"member": "\x00"}),
    ],
)
def test_a_nul_character_anywhere_in_the_url_is_a_400_before_any_view_runs(
    client, path, query, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = client.get(path, query)

    assert response.status_code == 400


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL refuses NUL in text")
def test_a_nul_in_a_share_member_slug_is_no_500_on_postgresql(client):
    CampaignFactory(slug="walk")

    response = client.get("/c/walk/share/facebook/", {"member": "ana\x00"})

    assert response.status_code == 400

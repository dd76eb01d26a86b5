"""Donor self-service for monthly gifts: seen once with their running total, stopped from the
donor's own link (cancelled at Stripe, confirmed on screen and by email), changed once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from donations.donor_links import donor_link_token
from donations.models import Donation, MonthlyGift
from donations.selectors.givers import campaign_totals
from tests.donations import stripe_fakes as fakes
from tests.donations.monthly_helpers import active_monthly, first_month, start_monthly
from tests.factories import CampaignFactory, DonationFactory
from tests.html import data_values, texts

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(rates_today):
    return CampaignFactory(slug="coats", title="Winter coats", title_es="Abrigos de invierno")


def manage_url(email="rosa@example.org") -> str:
    return reverse("donations:manage", kwargs={"token": donor_link_token(email=email)})


def stripe_calls(fake, gift) -> list[str]:
    return [r.method for r in fake.requests if r.path.endswith(gift.stripe_subscription_id)]


@pytest.fixture
def renewed(client, stripe_http, campaign):
    """Rosa's monthly gift, two months paid, beside a gift she gave once."""
    gift, stripe = active_monthly(client, stripe_http, campaign)
    fakes.deliver(client, fakes.event("invoice.paid", _paid(stripe, 2)))
    DonationFactory(campaign=campaign, email="rosa@example.org", amount=Decimal("10.00"))
    gift.refresh_from_db()
    return gift


def _paid(stripe, number):
    stripe.pay(number)
    return stripe.webhook_invoice(number)


def test_the_donors_page_shows_a_monthly_gift_once_with_its_running_total_and_months(
    client, renewed
):
    html = client.get(manage_url()).content.decode()

    assert texts(html, ".donor-monthly h3") == ["$25.00 every month · Active"]
    assert texts(html, ".donor-monthly .monthly-total")[0].startswith(
        "$50.00 given so far, over 2 months."
    )
    assert len(texts(html, ".donor-monthly .monthly-months li")) == 2
    # The gift given once has its own card; the months have none of their own.
    assert len(texts(html, ".donor-gift:not(.donor-monthly) h3")) == 1
    assert texts(html, ".donor-monthly button[value=stop]") == ["Stop this monthly gift"]


def test_a_donor_stops_their_monthly_gift_from_their_link(
    client, stripe_http, renewed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            manage_url(), {"monthly": str(renewed.pk), "action": "stop"}, follow=True
        )

    html = response.content.decode()
    assert texts(html, ".messages li") == [
        "Your monthly gift is stopped: nothing more will be charged. A confirmation is on its "
        "way to your email."
    ]
    renewed.refresh_from_db()
    assert (renewed.status, renewed.end_reason) == ("canceled", "donor")
    assert stripe_calls(stripe_http, renewed) == ["DELETE"]
    assert texts(html, ".donor-monthly button[value=stop]") == []
    assert [message.subject for message in mail.outbox] == [
        "Your monthly gift to Winter coats is stopped"
    ]
    assert "Over 2 months you gave $50.00." in mail.outbox[0].body
    assert renewed.changes.filter(action="stop", reason__contains="donor").exists()
    page = client.get(renewed.campaign.get_absolute_url()).content.decode()
    assert data_values(page, "monthly-count")[0][0] == "0"
    assert data_values(page, "donor-count")[0][0] == "3"  # what was given stays counted


def test_the_stop_confirmation_is_in_the_donors_language(
    client, stripe_http, campaign, django_capture_on_commit_callbacks
):
    gift, _stripe = active_monthly(
        client, stripe_http, campaign, email="ana@example.org", name="Ana", language="es"
    )
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(manage_url("ana@example.org"), {"monthly": str(gift.pk), "action": "stop"})

    assert [message.subject for message in mail.outbox] == [
        "Tu donación mensual a Abrigos de invierno está detenida"
    ]


def test_a_link_cannot_stop_somebody_elses_monthly_gift(client, stripe_http, renewed):
    response = client.post(
        manage_url("sam@example.org"), {"monthly": str(renewed.pk), "action": "stop"}
    )

    assert response.status_code == 404
    renewed.refresh_from_db()
    assert renewed.status == "active"
    assert stripe_calls(stripe_http, renewed) == []


def test_when_stripe_does_not_answer_the_gift_is_not_stopped_and_the_page_says_so(
    client, stripe_http, renewed
):
    stripe_http.errors[f"/v1/subscriptions/{renewed.stripe_subscription_id}"] = 500

    response = client.post(
        manage_url(), {"monthly": str(renewed.pk), "action": "stop"}, follow=True
    )

    assert texts(response.content.decode(), ".messages li") == [
        "The payment service did not answer, so your monthly gift is not stopped yet. Try "
        "again in a few minutes."
    ]
    renewed.refresh_from_db()
    assert renewed.status == "active"
    assert [m for m in mail.outbox if "stopped" in m.subject] == []


def test_a_donor_hides_their_name_on_a_monthly_gift_and_every_month(
    client, renewed, django_capture_on_commit_callbacks
):
    prefix = f"monthly-{renewed.pk}"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            manage_url(),
            {"monthly": str(renewed.pk), "action": "save", f"{prefix}-giver_name": "Rosa",
             f"{prefix}-anonymous": "on", f"{prefix}-message": "Cada mes"},
        )  # fmt: skip

    renewed.refresh_from_db()
    assert (renewed.anonymous, renewed.message) == (True, "Cada mes")
    assert set(renewed.months_given.values_list("anonymous", "message")) == {(True, "Cada mes")}
    assert renewed.changes.filter(action="donor").exists()
    page = client.get(renewed.campaign.get_absolute_url()).content.decode()
    assert texts(page, ".giver-monthly .giver-name") == ["Anonymous"]
    assert texts(page, ".giver-monthly .giver-message") == ["Cada mes"]


def test_the_yearly_statement_sums_each_monthly_gift(client, renewed):
    year = timezone.localdate().year
    token = donor_link_token(email="rosa@example.org")

    html = client.get(
        reverse("donations:manage-statement", kwargs={"token": token, "year": year})
    ).content.decode()

    assert len(texts(html, "tbody tr")) == 3
    assert len(texts(html, "tbody .statement-monthly")) == 2
    assert texts(html, ".statement-monthly-gifts li") == [
        "Winter coats: $25.00 a month; $50.00 this year, over 2 months. $50.00 in all so far."
    ]


def test_a_demo_monthly_gift_is_stopped_without_stripe(client, demo_payments, campaign):
    gift = start_monthly(client, campaign)
    client.post(f"/donations/demo-checkout/{first_month(gift).pk}/", {"action": "pay"})

    client.post(manage_url(), {"monthly": str(gift.pk), "action": "stop"})

    gift.refresh_from_db()
    assert (gift.status, gift.end_reason) == ("canceled", "donor")
    assert campaign_totals(campaign=campaign).monthly_count == 0


def test_a_monthly_gift_that_never_started_is_not_on_the_donors_page(client, demo_payments,
                                                                     campaign):  # fmt: skip
    gift = start_monthly(client, campaign)
    DonationFactory(campaign=campaign, email="rosa@example.org")

    html = client.get(manage_url()).content.decode()

    assert texts(html, ".donor-monthly") == []
    assert MonthlyGift.objects.get(pk=gift.pk).status == "pending"
    assert Donation.objects.filter(email="rosa@example.org").count() == 2

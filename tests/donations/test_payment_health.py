"""Trouble seen early: every webhook delivery kept with its outcome and logged on one line;
the admin's payment health panel; the warning on the campaign admin and the scheduled email
when checkouts got no webhook for an hour."""

import datetime
import logging
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from donations.models import Donation, PaymentAlert, Receipt, WebhookDelivery
from donations.services.access import organizer_assign
from tests.donations import stripe_fakes as fakes
from tests.factories import CampaignFactory, PendingOnlineDonationFactory, UserFactory

pytestmark = pytest.mark.django_db

PANEL = "admin:donations_payment_health"
Outcome = WebhookDelivery.Outcome


@pytest.fixture
def gift(rates_today):
    return PendingOnlineDonationFactory(
        campaign=CampaignFactory(slug="coats", title="Winter coats", currency="USD"),
        amount=Decimal("25.00"),
        currency="USD",
    )


def completed(donation, **kwargs):
    session = fakes.checkout_session(donation=donation, amount_total=2500, currency="usd")
    return fakes.event("checkout.session.completed", session, **kwargs), session


def event_lines(caplog) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.getMessage().startswith("payment_event ")
    ]


def test_each_delivery_is_kept_and_logged_on_one_line_with_its_outcome(
    client, stripe_http, gift, caplog
):
    payload, session = completed(gift, event_id="evt_paid")
    stripe_http.sessions[gift.stripe_checkout_session_id] = session
    stranger = PendingOnlineDonationFactory.build(stripe_checkout_session_id="cs_test_nobody")
    unknown, _session = completed(stranger, event_id="evt_unknown")

    with caplog.at_level(logging.INFO, logger="donations.services.payments"):
        assert fakes.deliver(client, payload).status_code == 200
        assert fakes.deliver(client, payload).status_code == 200
        fakes.deliver(client, fakes.event("customer.created", {}, event_id="evt_other"))
        fakes.deliver(client, unknown)
        bad = client.post(
            "/stripe/webhook/", data="{}", content_type="application/json",
            HTTP_STRIPE_SIGNATURE="t=1,v1=forged",
        )  # fmt: skip

    assert bad.status_code == 400
    deliveries = list(WebhookDelivery.objects.order_by("id"))
    assert [(d.event_id, d.outcome) for d in deliveries] == [
        ("evt_paid", Outcome.RECORDED),
        ("evt_paid", Outcome.REPEATED),
        ("evt_other", Outcome.IGNORED),
        ("evt_unknown", Outcome.UNMATCHED),
        ("", Outcome.REJECTED),
    ]
    assert deliveries[0].donation == gift
    lines = event_lines(caplog)
    assert len(lines) == 5
    assert lines[0] == (
        f"payment_event event_id=evt_paid type=checkout.session.completed outcome=recorded "
        f"donation={gift.pk} campaign={gift.campaign_id} status=succeeded reason=''"
    )
    assert lines[4].startswith("payment_event event_id=- type=- outcome=rejected")


def test_a_failure_while_recording_is_kept_after_the_rollback(stripe_http, gift, caplog):
    payload, _session = completed(gift, event_id="evt_breaks")
    stripe_http.errors[f"/v1/checkout/sessions/{gift.stripe_checkout_session_id}"] = 500

    with caplog.at_level(logging.INFO, logger="donations.services.payments"):
        response = fakes.deliver(Client(raise_request_exception=False), payload)

    assert response.status_code == 500
    gift.refresh_from_db()
    assert gift.status == Donation.Status.PENDING
    failed = WebhookDelivery.objects.get()
    assert (failed.event_id, failed.outcome) == ("evt_breaks", Outcome.FAILED)
    assert failed.reason.startswith("GatewayError")
    assert "outcome=failed" in event_lines(caplog)[0]


def organizer_of(*campaigns):
    user = UserFactory(username="olivia", email="olivia@example.org", is_staff=True)
    user.groups.add(Group.objects.get(name="Organizers"))
    for campaign in campaigns:
        organizer_assign(by=None, user=user, campaign=campaign)
    return user


def started_ago(donation, hours: float):
    created = timezone.now() - datetime.timedelta(hours=hours)
    Donation.objects.filter(pk=donation.pk).update(created_at=created)


def test_the_panel_shows_webhooks_checkouts_pending_gifts_and_failing_receipts(client, gift):
    other_campaign = CampaignFactory(slug="elsewhere")
    started_ago(gift, 2)
    succeeded = PendingOnlineDonationFactory(campaign=gift.campaign, status="succeeded")
    Receipt.objects.create(donation=succeeded, status="failed", last_error="SMTP 451 later")
    PendingOnlineDonationFactory(campaign=other_campaign)  # not this organizer's
    WebhookDelivery.objects.create(outcome=Outcome.REJECTED, reason="No signatures found")
    client.force_login(organizer_of(gift.campaign))

    response = client.get(reverse(PANEL))

    assert response.status_code == 200
    health = response.context["health"]
    assert (health.checkouts_started, health.checkouts_completed) == (2, 1)
    assert health.pending_over_an_hour == 1
    assert health.receipts_failing == 1
    html = response.content.decode()
    assert '<data class="checkouts-started" value="2">' in html
    assert "No signatures found" in html
    assert "SMTP 451 later" in html
    assert [row.campaign_title for row in health.silent] == ["Winter coats"]
    index = client.get(reverse("admin:index")).content.decode()
    assert reverse(PANEL) in index


def test_the_panel_is_for_organizers_and_superusers(client, gift):
    client.force_login(UserFactory(username="vol"))
    assert client.get(reverse(PANEL)).status_code == 302  # to the admin sign-in
    client.force_login(UserFactory(username="staff-only", is_staff=True))
    assert client.get(reverse(PANEL)).status_code == 403
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    assert client.get(reverse(PANEL)).status_code == 200


def test_the_admin_index_links_the_panel_only_for_who_may_open_it(client, gift):
    """The link follows permissions.may_see_payment_health, not a model permission: a staff
    member given the right to view Stripe events is still not let into the panel."""
    viewer = UserFactory(username="events-viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_stripeevent"))
    client.force_login(viewer)
    assert reverse(PANEL) not in client.get(reverse("admin:index")).content.decode()
    assert client.get(reverse(PANEL)).status_code == 403

    client.force_login(organizer_of(gift.campaign))
    assert reverse(PANEL) in client.get(reverse("admin:index")).content.decode()


def test_the_campaign_admin_warns_when_checkouts_got_no_webhook_for_an_hour(client, gift):
    client.force_login(organizer_of(gift.campaign))
    change = reverse("admin:campaigns_campaign_change", args=[gift.campaign.pk])

    started_ago(gift, 0.5)
    assert "Stripe has not sent the site a webhook" not in client.get(change).content.decode()
    started_ago(gift, 2)
    assert "Stripe has not sent the site a webhook" in client.get(change).content.decode()
    WebhookDelivery.objects.create(outcome=Outcome.REJECTED, reason="wrong secret")
    assert "Stripe has not sent the site a webhook" in client.get(change).content.decode()
    WebhookDelivery.objects.create(outcome=Outcome.RECORDED, event_type="charge.updated")
    assert "Stripe has not sent the site a webhook" not in client.get(change).content.decode()


def test_demo_checkouts_never_raise_the_warning(client, gift):
    Donation.objects.filter(pk=gift.pk).update(stripe_checkout_session_id="demo_abc")
    started_ago(gift, 2)
    client.force_login(organizer_of(gift.campaign))

    assert client.get(reverse(PANEL)).context["health"].silent == []


def check() -> str:
    out = StringIO()
    call_command("payments_check", stdout=out)
    return out.getvalue()


def test_the_scheduled_check_emails_the_campaigns_organizers_once_a_day(gift):
    organizer_of(gift.campaign)
    UserFactory(username="root", email="root@example.org", is_staff=True, is_superuser=True)
    started_ago(gift, 2)

    first = check()
    second = check()

    assert "alert sent for coats to 1 people" in first
    assert "0 alerts sent" in second
    assert [message.to for message in mail.outbox] == [["olivia@example.org"]]
    message = mail.outbox[0]
    assert "Winter coats" in message.subject
    assert "http://testserver/stripe/webhook/" in message.body
    assert "reconcile_stripe" in message.body
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=25)):
        started_ago(gift, 2)
        assert "alert sent for coats" in check()
    assert len(mail.outbox) == 2
    assert PaymentAlert.objects.count() == 2


def test_without_organizers_the_superusers_hear_of_it(gift):
    UserFactory(username="root", email="root@example.org", is_staff=True, is_superuser=True)
    started_ago(gift, 2)

    check()

    assert [message.to for message in mail.outbox] == [["root@example.org"]]


def test_the_check_forgets_old_deliveries(db):
    old = WebhookDelivery.objects.create(outcome=Outcome.RECORDED)
    WebhookDelivery.objects.filter(pk=old.pk).update(
        received_at=timezone.now() - datetime.timedelta(days=91)
    )
    WebhookDelivery.objects.create(outcome=Outcome.RECORDED)

    assert "1 old webhook deliveries removed" in check()
    assert WebhookDelivery.objects.count() == 1

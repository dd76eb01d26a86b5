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
from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone

from donations.models import (
    Donation,
    PaymentAlert,
    Receipt,
    WebhookDelivery,
    WebhookRejection,
)
from donations.services.access import organizer_assign
from donations.services.sweep import work_sweep
from tests.donations import stripe_fakes as fakes
from tests.donations.mail_backends import FlakyEmailBackend
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


def test_each_event_is_kept_once_and_logged_on_one_line_with_its_outcome(
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
    assert [(d.event_id, d.outcome, d.attempts) for d in deliveries] == [
        ("evt_paid", Outcome.RECORDED, 1),
        ("evt_unknown", Outcome.UNMATCHED, 1),
    ]
    assert deliveries[0].donation == gift
    assert deliveries[0].object_id == gift.stripe_checkout_session_id
    assert all(d.processed_at is not None for d in deliveries)
    assert WebhookRejection.objects.get().count == 1
    lines = event_lines(caplog)
    assert len(lines) == 4
    assert lines[0] == (
        f"payment_event event_id=evt_paid type=checkout.session.completed outcome=recorded "
        f"donation={gift.pk} campaign={gift.campaign_id} status=succeeded reason=''"
    )
    assert lines[1] == "payment_event event_id=evt_other type=customer.created outcome=ignored"
    assert lines[3].startswith("payment_event outcome=rejected")


def test_a_flood_of_unsigned_posts_is_counted_not_stored_and_keeps_the_real_failure_shown(
    client, stripe_http, gift
):
    payload, _session = completed(gift, event_id="evt_breaks")
    stripe_http.errors[f"/v1/checkout/sessions/{gift.stripe_checkout_session_id}"] = 500
    fakes.deliver(client, payload)
    for _ in range(300):
        client.post("/stripe/webhook/", data="{}", content_type="application/json")
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    health = client.get(reverse(PANEL)).context["health"]

    assert WebhookDelivery.objects.count() == 1
    assert WebhookRejection.objects.count() == 1
    assert health.rejected == 300
    assert [delivery.event_id for delivery in health.problems] == ["evt_breaks"]
    assert health.events_waiting == 1


def test_a_failure_while_recording_is_kept_after_the_rollback(stripe_http, gift, caplog):
    payload, _session = completed(gift, event_id="evt_breaks")
    stripe_http.errors[f"/v1/checkout/sessions/{gift.stripe_checkout_session_id}"] = 500

    with caplog.at_level(logging.INFO, logger="donations.services.payments"):
        response = fakes.deliver(Client(raise_request_exception=False), payload)

    assert response.status_code == 200  # in the inbox: the worker failed, not the webhook
    gift.refresh_from_db()
    assert gift.status == Donation.Status.PENDING
    failed = WebhookDelivery.objects.get()
    assert (failed.event_id, failed.outcome, failed.processed_at) == (
        "evt_breaks",
        Outcome.FAILED,
        None,
    )
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
    WebhookRejection.objects.create(
        hour=timezone.now().replace(minute=0, second=0, microsecond=0),
        count=3,
        last_reason="No signatures found",
    )
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
    WebhookRejection.objects.create(hour=timezone.now(), count=1, last_reason="wrong secret")
    assert "Stripe has not sent the site a webhook" in client.get(change).content.decode()
    WebhookDelivery.objects.create(
        event_id="evt_1", outcome=Outcome.RECORDED, event_type="charge.updated"
    )
    assert "Stripe has not sent the site a webhook" not in client.get(change).content.decode()


def test_demo_checkouts_never_raise_the_warning(client, gift):
    Donation.objects.filter(pk=gift.pk).update(stripe_checkout_session_id="demo_abc")
    started_ago(gift, 2)
    client.force_login(organizer_of(gift.campaign))

    assert client.get(reverse(PANEL)).context["health"].silent == []


def check() -> str:
    """payments_check, with the tasks it enqueues run as it commits (as the worker would)."""
    out = StringIO()
    with TestCase.captureOnCommitCallbacks(execute=True):
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


def test_an_alert_the_mail_server_refused_is_mailed_by_the_sweep_later(gift, settings):
    organizer_of(gift.campaign)
    started_ago(gift, 2)
    settings.EMAIL_BACKEND = "tests.donations.mail_backends.FlakyEmailBackend"
    FlakyEmailBackend.failures = 1

    check()

    alert = PaymentAlert.objects.get()
    assert (alert.mailed_at, len(mail.outbox)) == (None, 0)
    later = timezone.now() + datetime.timedelta(seconds=settings.TASKS_SWEEP_AFTER_SECONDS + 1)
    with time_machine.travel(later):
        work_sweep(now=timezone.now())
    alert.refresh_from_db()
    assert alert.mailed_at is not None
    assert [message.to for message in mail.outbox] == [["olivia@example.org"]]
    assert "1 alert sent" not in check() and PaymentAlert.objects.count() == 1


def test_without_organizers_the_superusers_hear_of_it(gift):
    UserFactory(username="root", email="root@example.org", is_staff=True, is_superuser=True)
    started_ago(gift, 2)

    check()

    assert [message.to for message in mail.outbox] == [["root@example.org"]]


def test_the_check_forgets_old_processed_events_and_keeps_those_still_waiting(db):
    long_ago = timezone.now() - datetime.timedelta(days=91)
    old = WebhookDelivery.objects.create(
        event_id="evt_old", outcome=Outcome.RECORDED, processed_at=long_ago
    )
    waiting = WebhookDelivery.objects.create(event_id="evt_waiting", payload="{}")
    WebhookDelivery.objects.filter(pk__in=[old.pk, waiting.pk]).update(received_at=long_ago)
    WebhookDelivery.objects.create(
        event_id="evt_new", outcome=Outcome.RECORDED, processed_at=timezone.now()
    )
    WebhookRejection.objects.create(hour=long_ago, count=4)

    assert "1 old webhook deliveries removed" in check()
    assert set(WebhookDelivery.objects.values_list("event_id", flat=True)) == {
        "evt_waiting",
        "evt_new",
    }
    assert WebhookRejection.objects.count() == 0

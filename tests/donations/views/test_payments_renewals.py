"""Renewals that need their donor: a bank's confirmation (3D Secure) or a failed charge.

Stripe reports them by webhook; the donor gets one email per invoice and kind, in their
language, with the invoice's page as Stripe has it when the mail goes (never the payload's).
"""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from donations.models import MonthlyGift, RenewalNotice
from donations.services.sweep import work_sweep
from tests.donations import stripe_fakes as fakes
from tests.donations.mail_backends import FlakyEmailBackend
from tests.donations.monthly_helpers import active_monthly, start_monthly
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db

STRIPE_PAGE = "https://invoice.stripe.com/i/acct_fake/live_renewal"


@pytest.fixture
def campaign(rates_today):
    return CampaignFactory(
        slug="coats", title="Winter coats", title_es="Abrigos de invierno", currency="USD",
        organizer_name="Mutual Aid North",
    )  # fmt: skip


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """Deliver one signed event, with the tasks enqueued on commit run at once (the worker)."""

    def send(payload: dict):
        with django_capture_on_commit_callbacks(execute=True):
            response = fakes.deliver(client, payload)
        assert response.status_code == 200
        return response

    return send


def renewal(fake, stripe, number: int = 2) -> dict:
    """Month `number` of the gift, open at Stripe (not charged), with its page; the webhook's
    copy names another page, which nothing may use."""
    stripe.pay(number, status="open")
    fake.invoices[f"in_{stripe.prefix}_{number}"]["hosted_invoice_url"] = STRIPE_PAGE
    sent = stripe.webhook_invoice(number)
    sent["hosted_invoice_url"] = "https://pay.example.net/not-stripe"
    return sent


def test_a_renewal_needing_3d_secure_emails_the_donor_the_invoice_page_once(
    client, stripe_http, campaign, deliver
):
    gift, stripe = active_monthly(client, stripe_http, campaign)
    invoice = renewal(stripe_http, stripe)
    mail.outbox.clear()  # the first month's receipt
    event = fakes.event("invoice.payment_action_required", invoice)

    deliver(event)
    deliver(event)  # delivered again
    deliver(fakes.event("invoice.payment_action_required", invoice))  # re-sent

    [message] = mail.outbox
    assert message.to == ["rosa@example.org"]
    assert message.subject == "Confirm this month's gift to Winter coats with your bank"
    assert "confirm this month's gift of $25.00 to Winter coats" in message.body
    assert "Nothing has been charged yet." in message.body
    assert STRIPE_PAGE in message.body and "pay.example.net" not in message.body
    assert "http://testserver/donations/manage/" in message.body  # how to stop it instead
    assert "Mutual Aid North will answer" in message.body
    notice = RenewalNotice.objects.get()
    assert (notice.kind, notice.status, notice.monthly_gift) == ("action_required", "mailed", gift)
    assert notice.stripe_invoice_id == invoice["id"] and notice.mailed_at is not None
    gift.refresh_from_db()
    assert gift.status == MonthlyGift.Status.PAST_DUE  # as Stripe has the subscription now


def test_a_failed_renewal_emails_the_donor_in_their_language_once_however_often_it_fails(
    client, stripe_http, campaign, deliver
):
    gift, stripe = active_monthly(client, stripe_http, campaign, language="es")
    invoice = renewal(stripe_http, stripe)
    mail.outbox.clear()

    deliver(fakes.event("invoice.payment_failed", invoice))
    deliver(fakes.event("invoice.payment_failed", invoice))  # Smart Retries

    [message] = mail.outbox
    assert message.subject == "La donación de este mes a Abrigos de invierno no se pudo cobrar"
    assert "No se pudo cobrar a tu tarjeta la donación de este mes de" in message.body
    assert "Para pagarla ahora, o con otra tarjeta, abre esta página:" in message.body
    assert STRIPE_PAGE in message.body
    assert "detener tu donación mensual" in message.body
    gift.refresh_from_db()
    assert gift.status == MonthlyGift.Status.PAST_DUE  # recorded as before


def test_the_same_invoice_needing_3d_secure_after_failing_is_a_second_email(
    client, stripe_http, campaign, deliver
):
    _gift, stripe = active_monthly(client, stripe_http, campaign)
    invoice = renewal(stripe_http, stripe)
    mail.outbox.clear()

    deliver(fakes.event("invoice.payment_failed", invoice))
    deliver(fakes.event("invoice.payment_action_required", invoice))

    assert [m.subject for m in mail.outbox] == [
        "This month's gift to Winter coats did not go through",
        "Confirm this month's gift to Winter coats with your bank",
    ]


def test_a_renewal_stripe_reports_paid_by_the_time_the_mail_goes_is_not_mailed(
    client, stripe_http, campaign, deliver
):
    _gift, stripe = active_monthly(client, stripe_http, campaign)
    invoice = renewal(stripe_http, stripe)
    stripe.pay(2)  # the donor confirmed meanwhile: Stripe has it paid
    mail.outbox.clear()

    deliver(fakes.event("invoice.payment_action_required", invoice))

    # The sync records the month Stripe has paid (its receipt goes out); no renewal notice.
    assert [m.subject for m in mail.outbox if "Confirm" in m.subject] == []
    assert all("receipt" in m.subject.lower() or "thank" in m.subject.lower()
               for m in mail.outbox), [m.subject for m in mail.outbox]  # fmt: skip
    notice = RenewalNotice.objects.get()
    assert notice.status == RenewalNotice.Status.NOT_NEEDED
    assert notice.reason == f"invoice {invoice['id']} is paid now"


def test_a_first_month_failing_in_checkout_emails_nobody(client, stripe_http, campaign, deliver):
    gift = start_monthly(client, campaign)
    first = fakes.invoice(
        gift=gift, invoice_id="in_first", amount=2500, status="open",
        billing_reason="subscription_create",
    )  # fmt: skip
    first["hosted_invoice_url"] = STRIPE_PAGE
    stripe_http.invoices["in_first"] = first
    mail.outbox.clear()

    for kind in ("invoice.payment_failed", "invoice.payment_action_required"):
        deliver(fakes.event(kind, first))

    assert mail.outbox == []
    assert not RenewalNotice.objects.exists()


def test_the_first_invoice_of_an_active_gift_is_checkouts_and_emails_nobody(
    client, stripe_http, campaign, deliver
):
    gift, _stripe = active_monthly(client, stripe_http, campaign)
    first = fakes.invoice(
        gift=gift, invoice_id="in_again", amount=2500, status="open",
        subscription_id=gift.stripe_subscription_id, billing_reason="subscription_create",
    )  # fmt: skip
    mail.outbox.clear()

    deliver(fakes.event("invoice.payment_failed", first))

    assert mail.outbox == [] and not RenewalNotice.objects.exists()


def test_an_invoice_of_no_monthly_gift_of_ours_emails_nobody(
    client, stripe_http, campaign, deliver
):
    gift, _stripe = active_monthly(client, stripe_http, campaign)
    stranger = fakes.invoice(
        gift=gift, invoice_id="in_stranger", amount=2500, status="open",
        subscription_id="sub_someone_else",
    )  # fmt: skip
    stranger["parent"]["subscription_details"]["metadata"] = {}
    mail.outbox.clear()

    deliver(fakes.event("invoice.payment_action_required", stranger))

    assert mail.outbox == [] and not RenewalNotice.objects.exists()


def test_a_notice_the_mail_server_refused_is_mailed_by_the_sweep_later(
    client, stripe_http, campaign, deliver, settings
):
    _gift, stripe = active_monthly(client, stripe_http, campaign)
    invoice = renewal(stripe_http, stripe)
    mail.outbox.clear()
    settings.EMAIL_BACKEND = "tests.donations.mail_backends.FlakyEmailBackend"
    FlakyEmailBackend.failures = 1

    deliver(fakes.event("invoice.payment_failed", invoice))

    notice = RenewalNotice.objects.get()
    assert (notice.status, len(mail.outbox)) == (RenewalNotice.Status.QUEUED, 0)
    later = timezone.now() + datetime.timedelta(seconds=settings.TASKS_SWEEP_AFTER_SECONDS + 1)
    with time_machine.travel(later):
        assert work_sweep(now=timezone.now()).renewal_notices == 1
    notice.refresh_from_db()
    assert notice.status == RenewalNotice.Status.MAILED
    failed = "This month's gift to Winter coats did not go through"
    assert [(m.to, m.subject) for m in mail.outbox if "Receipt" not in m.subject] == [
        (["rosa@example.org"], failed)
    ]
    with time_machine.travel(later + datetime.timedelta(minutes=5)):
        assert work_sweep(now=timezone.now()).renewal_notices == 0

"""Monthly gifts: campaign completion stopping them, reconciliation, demo months, totals."""

from __future__ import annotations

import datetime
import io
import re
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from campaigns.models import Campaign
from donations.models import Donation, GiftTally, MonthlyGift
from donations.selectors.givers import campaign_totals
from donations.services.monthly import campaign_complete, campaigns_complete_ended
from donations.services.reconcile import donations_reconcile
from donations.services.totals import monthly_recount, totals_recount
from tests.donations import stripe_fakes as fakes
from tests.donations.monthly_helpers import active_monthly, first_month, start_monthly
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(rates_today):
    return CampaignFactory(slug="coats", title="Winter coats", title_es="Abrigos de invierno")


def subscription_calls(fake, subscription_id: str) -> list[tuple[str, dict]]:
    return [
        (r.method, r.form)
        for r in fake.requests
        if r.path == f"/v1/subscriptions/{subscription_id}"
    ]


# Campaign completion


def test_completing_a_campaign_stops_its_monthly_gifts_at_period_end_and_tells_each_donor(
    client, stripe_http, campaign, django_capture_on_commit_callbacks
):
    english, _stripe = active_monthly(client, stripe_http, campaign)
    spanish, _stripe = active_monthly(
        client, stripe_http, campaign, email="ana@example.org", name="Ana", language="es"
    )
    mail.outbox.clear()

    assert subscription_calls(stripe_http, english.stripe_subscription_id) == []
    with django_capture_on_commit_callbacks(execute=True):
        completion = campaign_complete(campaign=campaign, today=timezone.localdate())

    assert completion.completed_now and completion.monthly_to_stop == 2
    campaign.refresh_from_db()
    assert (campaign.status, campaign.completed_on) == ("completed", timezone.localdate())
    for gift in (english, spanish):
        gift.refresh_from_db()
        assert (gift.status, gift.end_reason) == ("ending", "campaign")
        assert subscription_calls(stripe_http, gift.stripe_subscription_id) == [
            ("POST", {"cancel_at_period_end": "true"})
        ]
    subjects = sorted(message.subject for message in mail.outbox)
    assert subjects == [
        "Abrigos de invierno ha terminado: tu donación mensual se detiene",
        "Winter coats has completed: your monthly gift stops",
    ]
    assert campaign_totals(campaign=campaign).monthly_count == 0
    assert campaign_totals(campaign=campaign).donor_count == 2  # their months still count


def test_completing_again_changes_nothing_and_emails_nobody(
    client, stripe_http, campaign, django_capture_on_commit_callbacks
):
    active_monthly(client, stripe_http, campaign)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_complete(campaign=campaign, today=timezone.localdate())
    calls, sent = len(stripe_http.requests), len(mail.outbox)
    assert sent == 1

    with django_capture_on_commit_callbacks(execute=True):
        again = campaign_complete(campaign=campaign, today=timezone.localdate())

    assert (again.completed_now, again.monthly_to_stop) == (False, 0)
    assert (len(stripe_http.requests), len(mail.outbox)) == (calls, sent)


def test_stripe_ending_the_subscription_at_period_end_then_cancels_the_ending_gift(
    client, stripe_http, campaign, django_capture_on_commit_callbacks
):
    gift, _stripe = active_monthly(client, stripe_http, campaign)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_complete(campaign=campaign, today=timezone.localdate())
    ended = fakes.subscription(
        gift=gift, subscription_id=gift.stripe_subscription_id, status="canceled"
    )
    stripe_http.subscriptions[gift.stripe_subscription_id] = ended  # Stripe, at period end

    fakes.deliver(client, fakes.event("customer.subscription.deleted", ended))

    gift.refresh_from_db()
    assert (gift.status, gift.end_reason) == ("canceled", "campaign")


def test_the_scheduled_command_completes_ended_campaigns_and_stops_their_gifts(
    client, stripe_http, campaign, capsys, django_capture_on_commit_callbacks
):
    gift, _stripe = active_monthly(client, stripe_http, campaign)
    ended_on = timezone.localdate() - datetime.timedelta(days=2)
    Campaign.objects.filter(pk=campaign.pk).update(ends_on=ended_on)
    running = CampaignFactory(ends_on=timezone.localdate() + datetime.timedelta(days=5))

    with django_capture_on_commit_callbacks(execute=True):  # the worker's task, at once
        call_command("campaigns_complete_ended")

    campaign.refresh_from_db()
    running.refresh_from_db()
    gift.refresh_from_db()
    assert (campaign.status, campaign.completed_on) == ("completed", ended_on)
    assert running.status == "live"
    assert gift.status == "ending"
    output = capsys.readouterr().out
    assert f"coats: completed on {ended_on}" in output
    assert "coats: 1 monthly gifts to stop" in output


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # db_worker commits
def test_a_stop_stripe_does_not_answer_is_retried_by_the_worker_until_it_goes_through(
    client, stripe_http, campaign, settings
):
    """The completion's Stripe calls run in the worker; while Stripe fails, the gift stays
    active and the task fails; the sweep enqueues it again and a later run stops it."""
    gift, _stripe = active_monthly(client, stripe_http, campaign)
    gift.refresh_from_db()
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}  # a worker
    Campaign.objects.filter(pk=campaign.pk).update(
        ends_on=timezone.localdate() - datetime.timedelta(days=1)
    )
    stripe_http.errors[f"/v1/subscriptions/{gift.stripe_subscription_id}"] = 500

    call_command("campaigns_complete_ended", stdout=StringIO())
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", stdout=StringIO())

    gift.refresh_from_db()
    assert gift.status == "active"
    assert Campaign.objects.get(pk=campaign.pk).status == "completed"
    del stripe_http.errors[f"/v1/subscriptions/{gift.stripe_subscription_id}"]
    later = timezone.now() + datetime.timedelta(seconds=settings.TASKS_SWEEP_AFTER_SECONDS + 1)
    with time_machine.travel(later):
        call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", stdout=StringIO())
    gift.refresh_from_db()
    assert gift.status == "ending"


def test_a_draft_is_not_completed(campaign, stripe_http):
    draft = CampaignFactory(status=Campaign.Status.DRAFT)

    with pytest.raises(Exception, match="Only a live campaign can be completed"):
        campaign_complete(campaign=draft, today=timezone.localdate())

    draft.refresh_from_db()
    assert draft.status == "draft"


def test_completed_campaigns_with_gifts_still_active_are_stopped_by_the_command(
    client, stripe_http, campaign, django_capture_on_commit_callbacks
):
    gift, _stripe = active_monthly(client, stripe_http, campaign)
    Campaign.objects.filter(pk=campaign.pk).update(
        status="completed", completed_on=timezone.localdate()
    )

    with django_capture_on_commit_callbacks(execute=True):
        completions = campaigns_complete_ended(today=timezone.localdate())

    assert [c.campaign.pk for c in completions] == [campaign.pk]

    gift.refresh_from_db()
    assert gift.status == "ending"


# Reconciliation


def test_reconciliation_records_a_renewal_whose_webhook_never_came_once(
    client, stripe_http, campaign
):
    gift, stripe = active_monthly(client, stripe_http, campaign)
    stripe.pay(2)  # paid at Stripe; its invoice.paid never arrived
    since = timezone.now() - datetime.timedelta(hours=72)

    report = donations_reconcile(since=since)
    again = donations_reconcile(since=since)

    month = Donation.objects.get(stripe_invoice_id=f"in_{stripe.prefix}_2")
    assert month.status == Donation.Status.SUCCEEDED
    assert month.stripe_charge_id == f"ch_{stripe.prefix}_2"
    assert [m.invoice_id for m in report.months_recorded] == [f"in_{stripe.prefix}_2"]
    assert again.months_recorded == []
    gift.refresh_from_db()
    assert (gift.months, gift.raised) == (2, Decimal("50.00"))
    assert campaign_totals(campaign=campaign).donor_count == 2


def test_reconciliation_applies_a_cancellation_whose_webhook_never_came(
    client, stripe_http, campaign
):
    gift, _stripe = active_monthly(client, stripe_http, campaign)
    stripe_http.subscriptions[gift.stripe_subscription_id]["status"] = "canceled"

    report = donations_reconcile(since=timezone.now() - datetime.timedelta(hours=72))

    gift.refresh_from_db()
    assert (gift.status, gift.end_reason) == ("canceled", "stripe")
    assert [(c.old_status, c.new_status) for c in report.monthly_changes] == [
        ("active", "canceled")
    ]


def test_reconciliation_records_a_monthly_checkout_whose_webhooks_never_came(
    client, stripe_http, campaign
):
    gift = start_monthly(client, campaign)
    stripe = fakes.MonthlyStripe(stripe_http, gift)
    invoice = stripe.pay(1)
    stripe_http.sessions[gift.stripe_checkout_session_id] = fakes.monthly_session(
        donation=first_month(gift),
        amount_total=2500,
        subscription_obj=stripe_http.subscriptions["sub_fake_1"],
        invoice_id=invoice["id"],
    )

    donations_reconcile(since=timezone.now() - datetime.timedelta(hours=72))

    gift.refresh_from_db()
    assert (gift.status, gift.stripe_subscription_id, gift.months) == ("active", "sub_fake_1", 1)
    assert first_month(gift).stripe_invoice_id == "in_month_1"
    assert Donation.objects.filter(monthly_gift=gift).count() == 1


def test_reconcile_stripe_prints_the_months_it_recorded(client, stripe_http, campaign, capsys):
    gift, stripe = active_monthly(client, stripe_http, campaign)
    stripe.pay(2)

    call_command("reconcile_stripe", "--since", "72h")

    output = capsys.readouterr().out
    assert f"monthly gift {gift.pk}: invoice in_{stripe.prefix}_2 recorded" in output
    assert "months recorded: 1" in output


# Demo months


def test_demo_next_month_charges_each_active_demo_gift_through_the_recording_path(
    client, demo_payments, campaign, capsys
):
    gift = start_monthly(client, campaign)
    client.post(f"/donations/demo-checkout/{first_month(gift).pk}/", {"action": "pay"})
    stopped = start_monthly(client, campaign, email="sam@example.org")
    client.post(f"/donations/demo-checkout/{first_month(stopped).pk}/", {"action": "decline"})

    call_command("demo_next_month")
    call_command("demo_next_month")

    gift.refresh_from_db()
    assert (gift.status, gift.months, gift.raised) == ("active", 3, Decimal("75.00"))
    months = list(gift.months_given.order_by("received_at", "pk"))
    assert [m.status for m in months] == ["succeeded"] * 3
    assert len({m.stripe_invoice_id for m in months}) == 3
    assert all(m.receipt for m in months)
    stopped.refresh_from_db()
    assert (stopped.status, stopped.months) == ("expired", 0)
    assert "Demo month: 1 monthly gifts charged, 0 ended." in capsys.readouterr().out
    assert campaign_totals(campaign=campaign).donor_count == 3


def test_demo_next_month_ends_a_demo_gift_of_a_completed_campaign(
    client, demo_payments, campaign, django_capture_on_commit_callbacks
):
    gift = start_monthly(client, campaign)
    client.post(f"/donations/demo-checkout/{first_month(gift).pk}/", {"action": "pay"})
    with django_capture_on_commit_callbacks(execute=True):
        campaign_complete(campaign=campaign, today=timezone.localdate())
    gift.refresh_from_db()
    assert gift.status == "ending"

    call_command("demo_next_month")

    gift.refresh_from_db()
    assert (gift.status, gift.months) == ("canceled", 1)


def test_demo_next_month_refuses_to_run_with_real_payments(stripe_http):
    with pytest.raises(CommandError, match="real payments"):
        call_command("demo_next_month")


# Running totals


def test_totals_verify_finds_and_fixes_drift_in_the_monthly_figures(client, stripe_http, campaign):
    gift, _stripe = active_monthly(client, stripe_http, campaign)
    assert totals_recount() == [] and monthly_recount() == []
    GiftTally.objects.filter(campaign=campaign, monthly_active=1).update(monthly_active=5)
    MonthlyGift.objects.filter(pk=gift.pk).update(months=9)

    drifts = totals_recount(fix=True)
    monthly = monthly_recount(fix=True)

    assert [(d.stored_monthly, d.actual_monthly) for d in drifts] == [
        ((Decimal("25.00"), 5), (Decimal("25.00"), 1))
    ]
    assert [(m.stored, m.actual) for m in monthly] == [
        ((Decimal("25.00"), 9), (Decimal("25.00"), 1))
    ]
    assert totals_recount() == [] and monthly_recount() == []
    assert campaign_totals(campaign=campaign).monthly_count == 1


def test_the_totals_verify_command_finds_and_fixes_a_monthly_gifts_running_total(
    client, stripe_http, campaign
):
    gift, _stripe = active_monthly(client, stripe_http, campaign)
    MonthlyGift.objects.filter(pk=gift.pk).update(raised=Decimal("999.00"), months=9)

    with pytest.raises(CommandError, match="1 totals drifted"):
        call_command("totals_verify")
    out = io.StringIO()
    call_command("totals_verify", "--fix", stdout=out)

    # SQLite sums without the column's places (25), PostgreSQL with them (25.00).
    assert re.search(
        rf"monthly gift {gift.pk}: stored 999\.00 in 9 months, actual 25(\.00)? in 1 months "
        r"\(fixed\)",
        out.getvalue(),
    )
    gift.refresh_from_db()
    assert (gift.raised, gift.months) == (Decimal("25.00"), 1)
    again = io.StringIO()
    call_command("totals_verify", stdout=again)
    assert "No drift" in again.getvalue()


def test_the_totals_verify_command_reports_the_active_monthly_gifts_it_fixes(
    client, stripe_http, campaign
):
    active_monthly(client, stripe_http, campaign)
    GiftTally.objects.filter(campaign=campaign, monthly_active=1).update(monthly_active=5)
    out = io.StringIO()

    call_command("totals_verify", "--fix", stdout=out)

    assert re.search(
        r"stored 5 active monthly gifts giving 25\.00 a month, actual 1 giving 25(\.00)? \(fixed\)",
        out.getvalue(),
    )
    assert campaign_totals(campaign=campaign).monthly_count == 1

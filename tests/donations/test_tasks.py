"""Answer Stripe at once, work later: the webhook's inbox, the task worker and its sweep.

These tests use the database task backend (`task_queue`), as production does: what is
enqueued waits for `db_worker`, which they run with --batch (everything due, then exit). The
worker closes connections it finds inside a transaction (as a long-running process should),
so the tests that run it commit for real (`WORKER`).
"""

import datetime
import os
import signal
import threading
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from donations.models import Donation, Receipt, StripeEvent, WebhookDelivery
from donations.services.receipts import receipt_queue
from tests.donations import stripe_fakes as fakes
from tests.factories import CampaignFactory, DonationFactory, PendingOnlineDonationFactory

pytestmark = pytest.mark.django_db
WORKER = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def gift(rates_today):
    return PendingOnlineDonationFactory(
        campaign=CampaignFactory(slug="coats", currency="USD"),
        amount=Decimal("25.00"),
        currency="USD",
    )


def paid(stripe_http, gift, event_id="evt_paid"):
    session = fakes.checkout_session(donation=gift, amount_total=2500, currency="usd")
    stripe_http.sessions[gift.stripe_checkout_session_id] = session
    return fakes.event("checkout.session.completed", session, event_id=event_id)


def work(*extra: str) -> str:
    out = StringIO()
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", *extra, stdout=out)
    return out.getvalue()


@WORKER
def test_the_webhook_stores_the_event_and_answers_without_calling_stripe(
    client, stripe_http, gift, task_queue
):
    response = fakes.deliver(client, paid(stripe_http, gift))

    inbox = WebhookDelivery.objects.get()
    gift.refresh_from_db()
    assert response.status_code == 200
    assert stripe_http.requests == []
    assert (inbox.event_id, inbox.event_type, inbox.object_id) == (
        "evt_paid",
        "checkout.session.completed",
        gift.stripe_checkout_session_id,
    )
    assert (inbox.outcome, inbox.attempts, inbox.processed_at) == ("queued", 0, None)
    assert gift.status == Donation.Status.PENDING
    assert DBTaskResult.objects.count() == 1

    work()

    inbox.refresh_from_db()
    gift.refresh_from_db()
    assert gift.status == Donation.Status.SUCCEEDED
    assert (inbox.outcome, inbox.attempts) == ("recorded", 1)
    assert inbox.processed_at is not None
    assert stripe_http.requests != []  # the worker re-read the session


@WORKER
def test_an_event_delivered_again_is_stored_once_and_recorded_once(
    client, stripe_http, gift, task_queue
):
    payload = paid(stripe_http, gift)
    for _ in range(3):
        assert fakes.deliver(client, payload).status_code == 200
    work()
    assert fakes.deliver(client, payload).status_code == 200  # after processing
    work()

    assert WebhookDelivery.objects.count() == 1
    assert StripeEvent.objects.count() == 1
    assert Donation.objects.get(pk=gift.pk).status == Donation.Status.SUCCEEDED
    assert Receipt.objects.count() == 1


def test_a_type_the_site_does_not_use_is_answered_200_and_not_stored(
    client, stripe_http, task_queue
):
    response = fakes.deliver(client, fakes.event("customer.created", {}, event_id="evt_x"))

    assert response.status_code == 200
    assert WebhookDelivery.objects.count() == 0
    assert DBTaskResult.objects.count() == 0


@WORKER
def test_a_task_lost_with_a_killed_worker_is_swept_and_done_by_the_next_worker(
    client, stripe_http, gift, task_queue, settings
):
    """A worker killed mid-task leaves the task claimed forever; the row still says the event
    waits, so the next worker's sweep enqueues it again within two minutes."""
    fakes.deliver(client, paid(stripe_http, gift))
    DBTaskResult.objects.update(status="RUNNING", started_at=timezone.now())  # claimed, then killed
    WebhookDelivery.objects.update(attempts=1)

    work()  # at once: the sweep waits a minute for a task that may still be running
    assert Donation.objects.get(pk=gift.pk).status == Donation.Status.PENDING

    later = timezone.now() + datetime.timedelta(seconds=settings.TASKS_SWEEP_AFTER_SECONDS + 1)
    with time_machine.travel(later):
        work()

    assert Donation.objects.get(pk=gift.pk).status == Donation.Status.SUCCEEDED
    assert WebhookDelivery.objects.get().processed_at is not None


@WORKER
def test_an_event_that_keeps_failing_waits_longer_after_each_attempt(
    client, stripe_http, gift, task_queue, settings
):
    stripe_http.errors[f"/v1/checkout/sessions/{gift.stripe_checkout_session_id}"] = 500
    fakes.deliver(client, paid(stripe_http, gift))
    work()
    assert WebhookDelivery.objects.get().attempts == 1
    start = timezone.now()

    for minutes, attempts in ((1.1, 2), (2.2, 2), (3.3, 3), (6.0, 3), (7.5, 4)):
        with time_machine.travel(start + datetime.timedelta(minutes=minutes)):
            work()
        assert WebhookDelivery.objects.get().attempts == attempts, minutes

    del stripe_http.errors[f"/v1/checkout/sessions/{gift.stripe_checkout_session_id}"]
    with time_machine.travel(start + datetime.timedelta(minutes=16)):
        work()
    assert Donation.objects.get(pk=gift.pk).status == Donation.Status.SUCCEEDED


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_receipt_is_enqueued_when_its_gift_commits_and_sent_by_the_worker(task_queue):
    with transaction.atomic():
        receipt = receipt_queue(donation=DonationFactory(email="ana@example.org"))
        assert DBTaskResult.objects.count() == 0  # not before the commit

    assert DBTaskResult.objects.count() == 1
    work()

    receipt.refresh_from_db()
    assert receipt.status == Receipt.Status.SENT
    assert [message.to for message in mail.outbox] == [["ana@example.org"]]


@WORKER
def test_a_receipt_whose_task_was_lost_is_swept_and_sent(task_queue, settings):
    receipt = receipt_queue(donation=DonationFactory(email="ana@example.org"))
    DBTaskResult.objects.all().delete()  # the queue lost it

    later = timezone.now() + datetime.timedelta(seconds=settings.TASKS_SWEEP_AFTER_SECONDS + 1)
    with time_machine.travel(later):
        work()

    receipt.refresh_from_db()
    assert receipt.status == Receipt.Status.SENT
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_send_receipts_loop_is_a_deprecated_alias_of_the_worker(task_queue):
    receipt = receipt_queue(donation=DonationFactory(email="ana@example.org"))
    timer = threading.Timer(3, os.kill, args=(os.getpid(), signal.SIGTERM))
    err = StringIO()

    timer.start()
    with pytest.raises(SystemExit), pytest.warns(DeprecationWarning):
        call_command("send_receipts", "--loop", stdout=StringIO(), stderr=err)
    timer.join()

    receipt.refresh_from_db()
    assert receipt.status == Receipt.Status.SENT
    assert "deprecated" in err.getvalue()


def test_send_receipts_sends_what_is_due_in_its_own_process_and_exits():
    receipt_queue(donation=DonationFactory(email="ana@example.org"))
    out = StringIO()

    call_command("send_receipts", stdout=out)

    assert "1 sent, 0 failed." in out.getvalue()
    assert len(mail.outbox) == 1

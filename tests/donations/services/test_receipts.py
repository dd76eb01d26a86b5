import datetime
import threading
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from donations.models import Receipt
from donations.services.access import organizer_assign
from donations.services.receipts import (
    GAVE_UP_AFTER_CRASHES,
    MAX_ATTEMPTS,
    RESEND_WHILE_SENDING,
    RETRY_DELAYS,
    STALE_CLAIM_AFTER,
    receipt_queue,
    receipt_resend,
    receipt_send_due,
)
from tests.donations.mail_backends import CountingEmailBackend, FlakyEmailBackend
from tests.factories import CampaignFactory, DonationFactory, OfflineDonationFactory, UserFactory

pytestmark = pytest.mark.django_db

FLAKY = "tests.donations.mail_backends.FlakyEmailBackend"
COUNTING = "tests.donations.mail_backends.CountingEmailBackend"


@pytest.fixture
def flaky_mail(settings):
    settings.EMAIL_BACKEND = FLAKY
    FlakyEmailBackend.failures = 0
    yield FlakyEmailBackend
    FlakyEmailBackend.failures = 0


@pytest.fixture
def gift():
    campaign = CampaignFactory(
        title="Rent relief for Pilsen",
        organizer_name="Pilsen Mutual Aid",
        organizer_email="hola@pilsen.example.org",
        receipt_legal_line="Pilsen Mutual Aid is not a charity; gifts are not tax-deductible.",
    )
    return DonationFactory(
        campaign=campaign,
        giver_name="Ana & Luis",
        email="ana@example.org",
        amount=Decimal("1234.50"),
        currency="USD",
        received_at=datetime.datetime(2026, 3, 14, 18, 0, tzinfo=datetime.UTC),
    )


def queued(donation) -> Receipt:
    receipt = receipt_queue(donation=donation)
    assert receipt is not None
    return receipt


def test_receipt_is_queued_once_however_often_success_is_reported(gift):
    first = receipt_queue(donation=gift)
    again = receipt_queue(donation=gift)

    assert first == again
    assert Receipt.objects.filter(donation=gift).count() == 1
    assert first.status == Receipt.Status.QUEUED


def test_gift_without_email_gets_no_receipt():
    cash = OfflineDonationFactory()

    assert receipt_queue(donation=cash) is None
    assert not Receipt.objects.exists()


def test_send_receipts_sends_each_due_receipt_once():
    receipts = [queued(DonationFactory()) for _ in range(3)]
    out = StringIO()

    call_command("send_receipts", stdout=out)
    call_command("send_receipts", stdout=StringIO())

    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        receipt.donation.email for receipt in receipts
    )
    assert "3 sent, 0 failed." in out.getvalue()
    for receipt in receipts:
        receipt.refresh_from_db()
        assert receipt.status == Receipt.Status.SENT
        assert receipt.sent_at is not None
        assert receipt.attempts == 1


def test_receipt_names_campaign_organizer_amount_date_reference_and_legal_line(gift):
    queued(gift)

    receipt_send_due(now=timezone.now(), limit=10)

    [message] = mail.outbox
    assert message.subject == "Receipt for your gift to Rent relief for Pilsen"
    assert message.to == ["ana@example.org"]
    assert message.reply_to == ["hola@pilsen.example.org"]
    for expected in [
        "Dear Ana & Luis,",
        "Thank you for your gift to Rent relief for Pilsen, organized by Pilsen Mutual Aid.",
        "Amount: $1,234.50",
        "Date: March 14, 2026",
        f"Reference: {gift.pk}",
        "hola@pilsen.example.org",
        "Pilsen Mutual Aid is not a charity; gifts are not tax-deductible.",
        "http://testserver/c/",
    ]:
        assert expected in message.body
    assert "Total charged" not in message.body


def test_receipt_has_an_escaped_html_alternative(gift):
    queued(gift)

    receipt_send_due(now=timezone.now(), limit=10)

    [message] = mail.outbox
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert '<html lang="en">' in html
    assert "Dear Ana &amp; Luis," in html
    assert "$1,234.50" in html
    assert str(gift.pk) in html
    assert "gifts are not tax-deductible." in html
    assert "<script" not in html
    assert "style=" not in html


def test_receipt_shows_fee_cover_and_total_charged_when_the_donor_added_fees():
    donation = DonationFactory(
        amount=Decimal("20.00"),
        currency="EUR",
        amount_converted=Decimal("21.80"),
        fee_cover_amount=Decimal("0.89"),
        amount_charged=Decimal("20.89"),
        currency_charged="EUR",
    )
    queued(donation)

    receipt_send_due(now=timezone.now(), limit=10)

    body = mail.outbox[0].body
    assert "Amount: €20.00" in body
    assert "Added to cover processing fees: €0.89" in body
    assert "Total charged: €20.89" in body


def test_spanish_donor_gets_a_spanish_receipt(gift):
    gift.language = "es"
    gift.save()
    queued(gift)

    receipt_send_due(now=timezone.now(), limit=10)

    [message] = mail.outbox
    assert message.subject == "Recibo de tu donación a Rent relief for Pilsen"
    assert "Hola, Ana & Luis:" in message.body
    assert "Gracias por tu donación a Rent relief for Pilsen" in message.body
    assert "Monto: $1,234.50" in message.body
    assert "14 de marzo de 2026" in message.body
    assert "Guarda este correo como comprobante de tu donación." in message.body
    assert "Thank you" not in message.body
    html = message.alternatives[0][0]
    assert '<html lang="es">' in html
    assert "Referencia" in html


def test_smtp_failure_is_retried_after_back_off_then_sent(gift, flaky_mail):
    receipt = queued(gift)
    flaky_mail.failures = 1
    start = timezone.now()

    first = receipt_send_due(now=start, limit=10)

    receipt.refresh_from_db()
    assert first.failed == [receipt]
    assert receipt.status == Receipt.Status.FAILED
    assert receipt.attempts == 1
    assert "SMTPServerDisconnected" in receipt.last_error
    assert receipt.next_attempt_at == start + RETRY_DELAYS[0]
    assert mail.outbox == []

    too_soon = receipt_send_due(now=start + datetime.timedelta(seconds=30), limit=10)
    assert too_soon.sent == too_soon.failed == []

    later = start + RETRY_DELAYS[0]
    receipt_send_due(now=later, limit=10)

    receipt.refresh_from_db()
    assert receipt.status == Receipt.Status.SENT
    assert receipt.sent_at == later
    assert receipt.attempts == 2
    assert receipt.last_error == ""
    assert len(mail.outbox) == 1


def test_failed_send_is_reported_by_the_command(gift, flaky_mail):
    queued(gift)
    flaky_mail.failures = 1
    err = StringIO()

    call_command("send_receipts", stdout=StringIO(), stderr=err)

    assert "failed" in err.getvalue()
    assert "SMTPServerDisconnected" in err.getvalue()
    assert Receipt.objects.get().status == Receipt.Status.FAILED


def test_receipt_gives_up_after_the_last_attempt_and_stays_failed(gift, flaky_mail):
    receipt = queued(gift)
    flaky_mail.failures = 1000
    now = timezone.now()

    for attempt in range(1, MAX_ATTEMPTS + 1):
        report = receipt_send_due(now=now, limit=10)
        assert report.failed == [receipt]
        receipt.refresh_from_db()
        assert receipt.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            now = receipt.next_attempt_at

    assert receipt.status == Receipt.Status.FAILED
    assert receipt.next_attempt_at is None
    a_week_later = now + datetime.timedelta(days=7)
    assert receipt_send_due(now=a_week_later, limit=10).failed == []
    assert mail.outbox == []


def test_receipt_claimed_by_a_crashed_worker_is_reclaimed(gift):
    receipt = queued(gift)
    now = timezone.now()
    Receipt.objects.filter(pk=receipt.pk).update(
        status=Receipt.Status.SENDING, attempts=1, claimed_at=now - STALE_CLAIM_AFTER
    )

    report = receipt_send_due(now=now, limit=10)

    receipt.refresh_from_db()
    assert report.sent == [receipt]
    assert receipt.status == Receipt.Status.SENT
    assert receipt.attempts == 2
    assert len(mail.outbox) == 1


def test_receipt_being_sent_by_a_live_worker_is_left_alone(gift):
    receipt = queued(gift)
    now = timezone.now()
    Receipt.objects.filter(pk=receipt.pk).update(
        status=Receipt.Status.SENDING, attempts=1, claimed_at=now - datetime.timedelta(minutes=1)
    )

    report = receipt_send_due(now=now, limit=10)

    receipt.refresh_from_db()
    assert report.sent == report.failed == []
    assert receipt.status == Receipt.Status.SENDING
    assert mail.outbox == []


def test_receipt_that_keeps_crashing_workers_is_given_up(gift):
    receipt = queued(gift)
    now = timezone.now()
    Receipt.objects.filter(pk=receipt.pk).update(
        status=Receipt.Status.SENDING,
        attempts=MAX_ATTEMPTS,
        claimed_at=now - STALE_CLAIM_AFTER,
    )

    receipt_send_due(now=now, limit=10)

    receipt.refresh_from_db()
    assert receipt.status == Receipt.Status.FAILED
    assert receipt.last_error == GAVE_UP_AFTER_CRASHES
    assert receipt.next_attempt_at is None
    assert mail.outbox == []


def test_resend_queues_a_sent_receipt_again(gift):
    receipt = queued(gift)
    receipt_send_due(now=timezone.now(), limit=10)

    receipt = receipt_resend(receipt=receipt, by=None)
    receipt_send_due(now=timezone.now(), limit=10)

    receipt.refresh_from_db()
    assert receipt.status == Receipt.Status.SENT
    assert len(mail.outbox) == 2


def test_resend_is_refused_while_a_worker_is_sending(gift):
    receipt = queued(gift)
    Receipt.objects.filter(pk=receipt.pk).update(
        status=Receipt.Status.SENDING, attempts=1, claimed_at=timezone.now()
    )

    with pytest.raises(ValidationError) as refused:
        receipt_resend(receipt=receipt, by=None)

    assert refused.value.messages == [RESEND_WHILE_SENDING]
    receipt.refresh_from_db()
    assert receipt.status == Receipt.Status.SENDING
    assert receipt.attempts == 1


def test_organizer_resends_a_failed_receipt_from_the_admin(client, gift, flaky_mail):
    receipt = queued(gift)
    flaky_mail.failures = 1000
    now = timezone.now()
    for _ in range(MAX_ATTEMPTS):
        receipt_send_due(now=now, limit=10)
        now += RETRY_DELAYS[-1]
    organizer = UserFactory(is_staff=True)
    organizer.groups.add(Group.objects.get(name="Organizers"))
    organizer_assign(by=None, user=organizer, campaign=gift.campaign)
    client.force_login(organizer)
    changelist = reverse("admin:donations_receipt_changelist")

    page = client.get(changelist, {"status__exact": "failed"})
    response = client.post(
        changelist, {"action": "resend", "_selected_action": [receipt.pk]}, follow=True
    )

    assert page.status_code == 200
    assert "SMTPServerDisconnected" in page.content.decode()
    assert "1 receipt queued to be sent again." in response.content.decode()
    receipt.refresh_from_db()
    assert receipt.status == Receipt.Status.QUEUED
    assert receipt.attempts == 0
    assert receipt.last_error == ""
    flaky_mail.failures = 0
    receipt_send_due(now=timezone.now(), limit=10)
    assert len(mail.outbox) == 1


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL's concurrent row updates"
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_workers_send_each_receipt_exactly_once(settings):
    settings.EMAIL_BACKEND = COUNTING
    CountingEmailBackend.recipients = []
    receipts = [queued(DonationFactory()) for _ in range(30)]
    start_together = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start_together.wait()
            call_command("send_receipts", stdout=StringIO())
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(CountingEmailBackend.recipients) == sorted(
        receipt.donation.email for receipt in receipts
    )
    assert Receipt.objects.filter(status=Receipt.Status.SENT).count() == 30
    assert set(Receipt.objects.values_list("attempts", flat=True)) == {1}

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client

from donations.models import Donation, Receipt, StripeEvent
from tests.donations import stripe_fakes as fakes
from tests.factories import CampaignFactory, PendingOnlineDonationFactory

DELIVERIES = 20


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL row locks; set DATABASE_URL to a PostgreSQL server",
)
# serialized_rollback: the flush after a transactional test would drop the roles' groups that
# a data migration created, and later tests need them.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_same_completed_event_delivered_20_times_at_once_records_one_donation(
    stripe_http, rates_today
):
    gift = PendingOnlineDonationFactory(campaign=CampaignFactory(), amount=Decimal("25.00"))
    charge = fakes.charge(donation=gift, amount=2500, currency="usd")
    session = fakes.checkout_session(
        donation=gift,
        amount_total=2500,
        currency="usd",
        payment_intent=fakes.expanded_intent(charge_obj=charge),
    )
    stripe_http.sessions[gift.stripe_checkout_session_id] = session
    body, header = fakes.signed(fakes.event("checkout.session.completed", session))
    start = threading.Barrier(DELIVERIES)
    statuses: list[int] = []

    def deliver() -> None:
        try:
            start.wait()
            response = Client().post(
                "/stripe/webhook/", data=body, content_type="application/json",
                HTTP_STRIPE_SIGNATURE=header,
            )  # fmt: skip
            statuses.append(response.status_code)
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=deliver) for _ in range(DELIVERIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    gift.refresh_from_db()
    assert statuses == [200] * DELIVERIES
    assert gift.status == Donation.Status.SUCCEEDED
    assert Donation.objects.filter(status=Donation.Status.SUCCEEDED).count() == 1
    assert StripeEvent.objects.count() == 1
    assert Receipt.objects.count() == 1

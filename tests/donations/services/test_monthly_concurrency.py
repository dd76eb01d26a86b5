import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client

from donations.models import Donation, MonthlyGift
from donations.selectors.givers import campaign_totals
from tests.donations import stripe_fakes as fakes
from tests.donations.monthly_helpers import active_monthly
from tests.factories import CampaignFactory

DELIVERIES = 20


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL row locks; set DATABASE_URL to a PostgreSQL server",
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_one_renewal_reported_20_times_at_once_by_different_events_counts_once(
    stripe_http, rates_today
):
    campaign = CampaignFactory()
    gift, stripe = active_monthly(Client(), stripe_http, campaign)
    stripe.pay(2)
    bodies = [
        fakes.signed(fakes.event("invoice.paid", stripe.webhook_invoice(2)))
        for _delivery in range(DELIVERIES)
    ]
    start = threading.Barrier(DELIVERIES)
    statuses: list[int] = []

    def deliver(body: str, header: str) -> None:
        try:
            start.wait()
            response = Client().post(
                "/stripe/webhook/", data=body, content_type="application/json",
                HTTP_STRIPE_SIGNATURE=header,
            )  # fmt: skip
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=signed) for signed in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * DELIVERIES
    assert Donation.objects.filter(stripe_invoice_id=f"in_{stripe.prefix}_2").count() == 1
    gift = MonthlyGift.objects.get(pk=gift.pk)
    assert (gift.months, gift.raised) == (2, Decimal("50.00"))
    totals = campaign_totals(campaign=campaign)
    assert (totals.donor_count, totals.raised) == (2, Decimal("50.00"))

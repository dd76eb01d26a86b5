"""Monthly gifts started and paid the way a giver and Stripe do it, for the tests."""

from __future__ import annotations

from django.urls import reverse
from django.utils import translation

from donations.models import Donation, MonthlyGift
from tests.donations import stripe_fakes as fakes


def start_monthly(client, campaign, *, amount="25", email="rosa@example.org", name="Rosa",
                  language="en") -> MonthlyGift:  # fmt: skip
    """Give monthly through the donate form (in `language`: its path); the gift is pending."""
    with translation.override(language):
        donate_url = reverse("donations:donate", kwargs={"slug": campaign.slug})
    response = client.post(
        donate_url,
        {"amount": amount, "currency": campaign.currency, "name": name, "email": email,
         "frequency": "monthly"},
    )  # fmt: skip
    assert response.status_code == 303, response.content
    return MonthlyGift.objects.get(email=email, campaign=campaign)


def first_month(gift: MonthlyGift) -> Donation:
    return gift.months_given.get(stripe_checkout_session_id=gift.stripe_checkout_session_id)


def pay_first_month(
    client, fake, gift, *, subscription_id="sub_fake_1", prefix="month"
) -> fakes.MonthlyStripe:
    """Stripe completes the gift's Checkout (subscription and first invoice) and says so."""
    stripe = fakes.MonthlyStripe(fake, gift, subscription_id=subscription_id, prefix=prefix)
    invoice = stripe.pay(1)
    session = fakes.monthly_session(
        donation=first_month(gift),
        amount_total=invoice["amount_paid"],
        subscription_obj=fake.subscriptions[subscription_id],
        invoice_id=invoice["id"],
    )
    fake.sessions[gift.stripe_checkout_session_id] = session
    response = fakes.deliver(client, fakes.event("checkout.session.completed", session))
    assert response.status_code == 200
    gift.refresh_from_db()
    return stripe


def active_monthly(client, fake, campaign, **start) -> tuple[MonthlyGift, fakes.MonthlyStripe]:
    gift = start_monthly(client, campaign, **start)
    number = MonthlyGift.objects.count()
    stripe = pay_first_month(
        client, fake, gift, subscription_id=f"sub_fake_{number}", prefix=f"m{number}"
    )
    return gift, stripe

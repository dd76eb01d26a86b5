"""The Stripe webhook: Stripe's events about online gifts, verified, then recorded once."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from donations.models import WebhookDelivery
from donations.services.payments import stripe_webhook_receive


@csrf_exempt  # Stripe cannot send a CSRF token; the signature authenticates the request.
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Stripe's events. 400 for a bad, missing or stale signature: no gift touched.

    A correctly signed event whose shape we cannot read (an object that is not an object, a
    missing id, an amount that is not a number...) is logged as an error and answered 400,
    with nothing written: Stripe keeps it in the endpoint's failed deliveries and retries it,
    so it stays visible and can be recorded once the code reads it (a 200 would drop it).
    Otherwise 200, also for events we ignore or about payments we do not know. An error while
    recording propagates as a 500 with the transaction rolled back, so Stripe delivers again.
    """
    delivery = stripe_webhook_receive(
        payload=request.body, signature=request.headers.get("Stripe-Signature", "")
    )
    rejected = delivery.outcome == WebhookDelivery.Outcome.REJECTED
    return HttpResponse(status=400 if rejected else 200)

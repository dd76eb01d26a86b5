"""The Stripe webhook: Stripe's events, verified, stored once in the inbox, answered at once."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from donations.services.payments import stripe_webhook_receive


@csrf_exempt  # Stripe cannot send a CSRF token; the signature authenticates the request.
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Stripe's events, as Stripe advises: verify, store, answer 2xx, process later.

    400 for a bad, missing or stale signature, and for a correctly signed event whose shape
    we cannot read (Stripe keeps it among the endpoint's failed deliveries and retries it):
    nothing stored. Otherwise 200: the event is in the inbox (once, whatever the retries) and
    a task processes it; types we do not use are answered 200 and not stored.
    """
    received = stripe_webhook_receive(
        payload=request.body, signature=request.headers.get("Stripe-Signature", "")
    )
    return HttpResponse(status=200 if received.accepted else 400)

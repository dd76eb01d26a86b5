"""Receipts: queued with the gift's success, sent later by `send_receipts`."""

from __future__ import annotations

from django.utils import timezone

from donations.models import Donation, Receipt


def receipt_queue(*, donation: Donation) -> Receipt:
    """Queue the receipt for a succeeded gift. Call inside the transaction that records it.

    Idempotent: a gift has at most one receipt (one-to-one), however often its success is
    reported.
    """
    receipt, _created = Receipt.objects.get_or_create(
        donation=donation, defaults={"next_attempt_at": timezone.now()}
    )
    return receipt

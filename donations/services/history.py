"""A gift's history: one DonationChange row for each change of a gift, whoever made it.

Services take a snapshot of the gift before they change it (`donation_snapshot`) and call
`donation_history_record` after, inside the same transaction: the row holds the old and the
new value of each field that changed, and says who (a user) or what (a Stripe event id, or a
reason such as "thank-you page") made the change. Nothing is written when nothing changed.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

from django.db.models import Model
from django.utils import timezone

from donations.models import Donation, DonationChange

# Bookkeeping columns that change with every save and say nothing about the gift.
IGNORED_FIELDS = frozenset({"updated_at", "created_at"})


def history_value(field: str, value: Any) -> Any:
    """A JSON-safe form of a field's value, as the database stores it."""
    if isinstance(value, Decimal):
        places = Donation._meta.get_field(field).decimal_places
        return str(value.quantize(Decimal(1).scaleb(-places)))
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).isoformat()
    if isinstance(value, (datetime.date, uuid.UUID, Model)):
        return str(value)
    return value


def donation_snapshot(donation: Donation) -> dict[str, Any]:
    """The gift's stored field values, by column name, to compare against after a change."""
    return {
        field.attname: getattr(donation, field.attname)
        for field in Donation._meta.concrete_fields
        if field.attname not in IGNORED_FIELDS
    }


# Foreign keys are compared by their column (`team_member_id`) and named by their field.
FIELD_NAMES = {field.attname: field.name for field in Donation._meta.concrete_fields}


def donation_changes(before: dict[str, Any], donation: Donation) -> dict[str, list]:
    """{field: [old, new]} for every field whose value differs from the snapshot."""
    after = donation_snapshot(donation)
    return {
        FIELD_NAMES[column]: [
            history_value(column, before.get(column)),
            history_value(column, value),
        ]
        for column, value in after.items()
        if before.get(column) != value
    }


def donation_history_record(
    *,
    donation: Donation,
    action: str,
    changes: dict[str, list],
    by=None,
    stripe_event_id: str = "",
    reason: str = "",
) -> DonationChange | None:
    """Store one history row for a change already made; None (nothing stored) if no change.

    Call inside the transaction that saves the gift, so the row and the change stand or fall
    together.
    """
    if not changes:
        return None
    return DonationChange.objects.create(
        donation=donation,
        action=action,
        changes=changes,
        changed_by=by,
        stripe_event_id=stripe_event_id,
        reason=reason,
    )

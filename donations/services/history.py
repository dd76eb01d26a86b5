"""A gift changed: the one place that writes its history and moves what depends on it.

Services take a snapshot of the gift before they change it (`donation_snapshot`; None for a
gift being created), save it, then call `donation_change_recorded` inside the same
transaction. It writes one DonationChange row with the old and new value of each field that
changed and who (a user) or what (a Stripe event id, or a reason such as "thank-you page")
made the change; moves the campaign's running totals (services/totals.py) by what the change
did to the gift's counting; and, once the transaction commits, tells the campaign's cached
pages that they are out of date. Nothing happens when nothing changed.

A monthly gift's own changes (its status, its subscription, the donor's choices) go through
`monthly_gift_change_recorded` the same way: a MonthlyGiftChange row, the tallies' active
monthly gifts and monthly amount, the page versions. Its months are gifts like any other.

What happens to a gift without changing its columns (its receipt sent again) is kept by
`donation_event_recorded`; a stored exchange rate's changes by `exchange_rate_change_recorded`
(ExchangeRateChange). A campaign's completion and reopening are kept by the campaigns app
(`campaigns.services.campaign_change_record`, CampaignChange).
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from campaigns.pagecache import page_version_bump, page_version_bump_slug
from donations.models import (
    Donation,
    DonationChange,
    ExchangeRate,
    ExchangeRateChange,
    MonthlyGift,
    MonthlyGiftChange,
)
from donations.services.totals import monthly_totals_apply, totals_apply

# Bookkeeping columns that change with every save and say nothing about the gift.
IGNORED_FIELDS = frozenset({"updated_at", "created_at"})
# A monthly gift's running totals move with its months (services/totals.py), not by itself.
MONTHLY_IGNORED_FIELDS = IGNORED_FIELDS | {"raised", "months"}


def history_value(field: str, value: Any, model=Donation) -> Any:
    """A JSON-safe form of a field's value, as the database stores it."""
    if isinstance(value, Decimal):
        places = model._meta.get_field(field).decimal_places
        return str(value.quantize(Decimal(1).scaleb(-places)))
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).isoformat()
    if isinstance(value, (datetime.date, uuid.UUID, Model)):
        return str(value)
    return value


def _snapshot(instance: Model, ignored: frozenset[str]) -> dict[str, Any]:
    """The stored field values, by column name (foreign keys as `team_member_id`)."""
    return {
        field.attname: getattr(instance, field.attname)
        for field in type(instance)._meta.concrete_fields
        if field.attname not in ignored
    }


def _changes(
    before: dict[str, Any] | None, instance: Model, ignored: frozenset[str]
) -> dict[str, list]:
    """{field name: [old, new]} for every column that differs from the snapshot. For a new
    row (no snapshot) only its status is named: it came into being with it."""
    if before is None:
        return {"status": [None, instance.status]}
    model = type(instance)
    return {
        model._meta.get_field(column).name: [
            history_value(column, before.get(column), model),
            history_value(column, value, model),
        ]
        for column, value in _snapshot(instance, ignored).items()
        if before.get(column) != value
    }


def donation_snapshot(donation: Donation) -> dict[str, Any]:
    """The gift's stored field values, by column name, to compare against after a change."""
    return _snapshot(donation, IGNORED_FIELDS)


def donation_changes(before: dict[str, Any] | None, donation: Donation) -> dict[str, list]:
    """{field: [old, new]} for every field whose value differs from the snapshot."""
    return _changes(before, donation, IGNORED_FIELDS)


def _bump_on_commit(donation: Donation) -> None:
    """Stale the campaign's cached pages once this change is committed (by its slug when the
    campaign was read with the gift, saving a query)."""
    if Donation.campaign.is_cached(donation):
        slug = donation.campaign.slug
        transaction.on_commit(lambda: page_version_bump_slug(slug))
    else:
        campaign_id = donation.campaign_id
        transaction.on_commit(lambda: page_version_bump(campaign_id))


def donation_change_recorded(
    *,
    donation: Donation,
    before: dict[str, Any] | None,
    action: str,
    by=None,
    stripe_event_id: str = "",
    reason: str = "",
    also: dict[str, list] | None = None,
) -> DonationChange | None:
    """Record a change already saved: history row, running totals, page versions.

    Call inside the transaction that saved the gift, so that all of it stands or falls
    together. `also` adds changes kept beside the gift's columns ({what: [old, new]}, such
    as a refund's status), which are news even when the gift's own columns did not move.
    Returns the history row, or None (and does nothing) if nothing changed.
    """
    changes = {**donation_changes(before, donation), **(also or {})}
    if not changes:
        return None
    totals_apply(before=before, donation=donation)
    _bump_on_commit(donation)
    return DonationChange.objects.create(
        donation=donation,
        action=action,
        changes=changes,
        changed_by=by,
        stripe_event_id=stripe_event_id,
        reason=reason,
    )


def donation_event_recorded(
    *, donation: Donation, action: str, by=None, reason: str = "", changes: dict | None = None
) -> DonationChange:
    """Keep something done to a gift that changes none of its columns (its receipt queued
    again): one history row, no totals to move, no page to refresh."""
    return DonationChange.objects.create(
        donation=donation, action=action, changes=changes or {}, changed_by=by, reason=reason
    )


def monthly_gift_snapshot(gift: MonthlyGift) -> dict[str, Any]:
    """The monthly gift's stored values by column, less its running totals."""
    return _snapshot(gift, MONTHLY_IGNORED_FIELDS)


def monthly_gift_changes(before: dict[str, Any] | None, gift: MonthlyGift) -> dict[str, list]:
    """{field: [old, new]} for every column that differs from the snapshot."""
    return _changes(before, gift, MONTHLY_IGNORED_FIELDS)


def monthly_gift_change_recorded(
    *,
    gift: MonthlyGift,
    before: dict[str, Any] | None,
    action: str,
    by=None,
    stripe_event_id: str = "",
    reason: str = "",
) -> MonthlyGiftChange | None:
    """Record a change of a monthly gift already saved: history row, the tallies' active
    monthly gifts and monthly amount, page versions. Call inside the transaction that saved
    it. Returns the history row, or None (and does nothing) if nothing changed."""
    changes = monthly_gift_changes(before, gift)
    if not changes:
        return None
    monthly_totals_apply(before=before, gift=gift)
    campaign_id = gift.campaign_id
    transaction.on_commit(lambda: page_version_bump(campaign_id))
    return MonthlyGiftChange.objects.create(
        monthly_gift=gift,
        action=action,
        changes=changes,
        changed_by=by,
        stripe_event_id=stripe_event_id,
        reason=reason,
    )


RATE_FIELDS = ("per_euro", "source")


def exchange_rate_snapshot(rate: ExchangeRate) -> dict[str, Any]:
    """The rate's value and source, to compare against after a change."""
    return {field: getattr(rate, field) for field in RATE_FIELDS}


def _rate_change_row(
    rate: ExchangeRate,
    before: dict[str, Any] | None,
    *,
    action: str,
    by,
    reason: str,
    deleted: bool = False,
) -> ExchangeRateChange | None:
    after = None if deleted else exchange_rate_snapshot(rate)
    changes = {
        field: [
            history_value(field, (before or {}).get(field), ExchangeRate),
            history_value(field, (after or {}).get(field), ExchangeRate),
        ]
        for field in RATE_FIELDS
        if (before or {}).get(field) != (after or {}).get(field)
    }
    if not changes:
        return None
    return ExchangeRateChange(
        rate=None if deleted else rate,
        date=rate.date,
        currency=rate.currency,
        action=action,
        changes=changes,
        changed_by=by,
        reason=reason,
    )


def exchange_rate_change_recorded(
    *,
    rate: ExchangeRate,
    before: dict[str, Any] | None,
    action: str,
    by=None,
    reason: str = "",
    deleted: bool = False,
) -> ExchangeRateChange | None:
    """Record a change of a stored rate, saved (or about to be deleted, with `deleted`), in
    the transaction that made it. Returns the history row, or None when nothing changed.
    Gifts converted with the rate keep the rate they were converted at: nothing else moves."""
    row = _rate_change_row(rate, before, action=action, by=by, reason=reason, deleted=deleted)
    if row is not None:
        row.save(force_insert=True)
    return row


def exchange_rate_changes_recorded(
    *, changed: list[tuple[ExchangeRate, dict[str, Any] | None]], action: str, reason: str
) -> int:
    """Record many rate changes at once (an ECB import of years of rates): one history row
    for each rate whose value or source changed. Returns how many rows were written."""
    rows = [
        row
        for rate, before in changed
        if (row := _rate_change_row(rate, before, action=action, by=None, reason=reason))
    ]
    ExchangeRateChange.objects.bulk_create(rows, batch_size=1000)
    return len(rows)

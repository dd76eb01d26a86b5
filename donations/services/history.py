"""The gate: every change of a gift or monthly gift goes through here, and nothing else
writes their history or moves their tallies (tests/test_architecture.py checks it).

`donation_change` and `monthly_gift_change` are context managers. Given the row (or a
queryset naming it), they lock it with `select_for_update(of=("self",))` in a transaction,
snapshot it, let the caller change it, then run `full_clean`, save only the columns that
changed, write one history row (DonationChange / MonthlyGiftChange) with the old and new value
of each and who (a user) or what (a Stripe event id, or a reason such as "thank-you page")
made it, move the running totals (services/totals.py) by what the change did to the gift's
counting, and stale the campaign's pages (origin and edge) once the transaction commits.
Nothing happens when nothing changed. A new row (not saved yet) is inserted instead of locked.
`donations_created_bulk` does the same for many new gifts at once (the demo's givers).

What happens to a gift without changing its columns (its receipt sent again) is kept by
`donation_event_recorded`; a stored exchange rate's changes by `exchange_rate_change_recorded`
(ExchangeRateChange). A campaign's completion and reopening are kept by the campaigns app
(`campaigns.services.campaign_change_record`, CampaignChange).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from campaigns.services import campaign_pages_changed
from donations.models import (
    Donation,
    DonationChange,
    ExchangeRate,
    ExchangeRateChange,
    MonthlyGift,
    MonthlyGiftChange,
)
from donations.services.totals import (
    monthly_totals_apply,
    tally_values,
    totals_add,
    totals_apply,
    totals_delta,
)

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


def _donation_recorded(
    *,
    donation: Donation,
    before: dict[str, Any] | None,
    action: str,
    by=None,
    stripe_event_id: str = "",
    reason: str = "",
    also: dict[str, list] | None = None,
) -> DonationChange | None:
    """Record a change already saved: history row, running totals, stale pages.

    Call inside the transaction that saved the gift, so that all of it stands or falls
    together. `also` adds changes kept beside the gift's columns ({what: [old, new]}, such
    as a refund's status), which are news even when the gift's own columns did not move.
    Returns the history row, or None (and does nothing) if nothing changed.
    """
    changes = {**donation_changes(before, donation), **(also or {})}
    if not changes:
        return None
    totals_apply(before=before, donation=donation)
    campaign_pages_changed(campaign_ids=[donation.campaign_id])
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


def _monthly_gift_recorded(
    *,
    gift: MonthlyGift,
    before: dict[str, Any] | None,
    action: str,
    by=None,
    stripe_event_id: str = "",
    reason: str = "",
) -> MonthlyGiftChange | None:
    """Record a change of a monthly gift already saved: history row, the tallies' active
    monthly gifts and monthly amount, stale pages. Call inside the transaction that saved
    it. Returns the history row, or None (and does nothing) if nothing changed."""
    changes = monthly_gift_changes(before, gift)
    if not changes:
        return None
    monthly_totals_apply(before=before, gift=gift)
    campaign_pages_changed(campaign_ids=[gift.campaign_id])
    return MonthlyGiftChange.objects.create(
        monthly_gift=gift,
        action=action,
        changes=changes,
        changed_by=by,
        stripe_event_id=stripe_event_id,
        reason=reason,
    )


# The gift's links to other rows: read with it; Stripe's facts never change them, so
# validating those facts need not look them up again.
RELATED_FIELDS = ("campaign", "team_member", "entered_by", "voided_by", "monthly_gift")


def _action_for(changes: dict) -> str:
    """The history action of a change reported by Stripe, from what it changed."""
    if "status" in changes:
        return STATUS_ACTIONS.get(changes["status"][1], DonationChange.Action.STRIPE_UPDATE)
    if "amount_refunded" in changes or any(key.startswith("refund ") for key in changes):
        return DonationChange.Action.REFUND
    if "dispute_status" in changes:
        return DonationChange.Action.DISPUTE
    return DonationChange.Action.STRIPE_UPDATE


STATUS_ACTIONS = {
    Donation.Status.SUCCEEDED: DonationChange.Action.PAYMENT,
    Donation.Status.FAILED: DonationChange.Action.FAILURE,
    Donation.Status.EXPIRED: DonationChange.Action.EXPIRY,
    Donation.Status.REFUNDED: DonationChange.Action.REFUND,
}


@dataclass
class Change:
    """A change in progress: the locked row, its snapshot, and what the history will say.

    The caller may set `action` (empty: worked out from what changed, for Stripe's news),
    `note` (added to the reason: why something was flagged rather than applied) and `also`
    (news kept beside the row, such as a refund's status: history even when no column
    moved). `history` is the row written, once the block ends."""

    row: Any
    before: dict[str, Any] | None
    action: str = ""
    by: Any = None
    stripe_event_id: str = ""
    reason: str = ""
    note: str = ""
    also: dict[str, list] = field(default_factory=dict)
    history: Any = None

    @property
    def full_reason(self) -> str:
        if self.note:
            return f"{self.reason}: {self.note}" if self.reason else self.note
        return self.reason


def _locked(model, target, lock: bool = True):
    """The row to change: a new instance as it is, else locked (a queryset's first row)."""
    if isinstance(target, model) and target._state.adding:
        return target
    rows = target if isinstance(target, QuerySet) else model.objects.filter(pk=target.pk)
    if lock:
        rows = rows.select_for_update(of=("self",))
    return rows.select_related("campaign").first()


def _saved(row, before: dict | None, changes: dict[str, list], clean: Callable) -> None:
    clean()
    if before is None:
        row.save(force_insert=True)
    else:
        row.save(update_fields=[*changes, "updated_at"])


@contextmanager
def donation_change(
    target: Donation | QuerySet,
    *,
    action: str = "",
    by=None,
    stripe_event_id: str = "",
    reason: str = "",
    facts: bool = False,
) -> Iterator[Change | None]:
    """Change one gift through the gate (see the module docstring); yields None when the
    queryset names no gift. `facts`: the change carries Stripe's facts, not a person's
    input, so only the fields are validated (the unique Stripe ids and the check constraints
    are the database's to enforce on save; validating them here cost about 30 queries)."""
    with transaction.atomic():
        donation = _locked(Donation, target)
        if donation is None:
            yield None
            return
        new = donation._state.adding
        change = Change(
            donation,
            None if new else donation_snapshot(donation),
            action=action,
            by=by,
            stripe_event_id=stripe_event_id,
            reason=reason,
        )
        yield change
        changes = donation_changes(change.before, donation)
        if not changes and not change.also:
            return
        if changes:
            if facts:
                clean = lambda: donation.full_clean(  # noqa: E731
                    exclude=list(RELATED_FIELDS), validate_unique=False,
                    validate_constraints=False,
                )  # fmt: skip
            else:
                clean = lambda: donation.full_clean(exclude=["form_token"])  # noqa: E731
            _saved(donation, change.before, changes, clean)
        change.history = _donation_recorded(
            donation=donation,
            before=change.before,
            action=change.action or _action_for({**changes, **change.also}),
            by=change.by,
            stripe_event_id=change.stripe_event_id,
            reason=change.full_reason,
            also=change.also,
        )


@contextmanager
def monthly_gift_change(
    target: MonthlyGift | QuerySet,
    *,
    action: str,
    by=None,
    stripe_event_id: str = "",
    reason: str = "",
) -> Iterator[Change | None]:
    """Change one monthly gift through the gate; yields None when the queryset names none.
    Its running totals (`raised`, `months`) are never written here: they move with its
    months."""
    with transaction.atomic():
        gift = _locked(MonthlyGift, target)
        if gift is None:
            yield None
            return
        change = Change(
            gift,
            None if gift._state.adding else monthly_gift_snapshot(gift),
            action=action,
            by=by,
            stripe_event_id=stripe_event_id,
            reason=reason,
        )
        yield change
        changes = monthly_gift_changes(change.before, gift)
        if not changes:
            return
        clean = lambda: gift.full_clean(validate_unique=False, validate_constraints=False)  # noqa: E731
        _saved(gift, change.before, changes, clean)
        change.history = _monthly_gift_recorded(
            gift=gift,
            before=change.before,
            action=change.action,
            by=change.by,
            stripe_event_id=change.stripe_event_id,
            reason=change.full_reason,
        )


def donations_created_bulk(
    donations: list[Donation], *, action_of: Callable[[Donation], str], reason: str
) -> int:
    """Insert many new gifts at once through the gate: one history row each (`action_of`
    names its action), the tallies moved once by their sum, the pages staled on commit. For
    demo data at scale; each gift is validated by the caller as it is built."""
    if not donations:
        return 0
    with transaction.atomic():
        Donation.objects.bulk_create(donations, batch_size=2000)
        delta: dict = {}
        for donation in donations:
            for key, (raised, gifts) in totals_delta(None, tally_values(donation)).items():
                old_raised, old_gifts = delta.get(key, (0, 0))
                delta[key] = (old_raised + raised, old_gifts + gifts)
        totals_add(delta)
        campaign_pages_changed(campaign_ids={donation.campaign_id for donation in donations})
        DonationChange.objects.bulk_create(
            (
                DonationChange(
                    donation=donation,
                    action=action_of(donation),
                    changes={"status": [None, donation.status]},
                    reason=reason,
                )
                for donation in donations
            ),
            batch_size=2000,
        )
    return len(donations)


def history_scrub(*, campaign, fields: tuple[str, ...], placeholder: str, batch_size: int) -> int:
    """Replace the values of `fields` in the campaign's gifts' history with `placeholder`
    (a donor forgotten: their email kept nowhere). Returns how many history rows changed."""
    copies = DonationChange.objects.filter(donation__campaign=campaign).filter(
        Q(*(Q(changes__has_key=name) for name in fields), _connector=Q.OR)
    )
    scrubbed_rows = 0
    with transaction.atomic():
        for row in copies.select_for_update().iterator(chunk_size=batch_size):
            scrubbed = dict(row.changes)
            for name in fields:
                if name in scrubbed:
                    scrubbed[name] = [placeholder if value else value for value in scrubbed[name]]
            if scrubbed != row.changes:
                row.changes = scrubbed
                row.save(update_fields=["changes"])
                scrubbed_rows += 1
    return scrubbed_rows


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

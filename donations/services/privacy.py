"""Forgetting donors: emails and private notes of campaigns that ended long enough ago.

`donor_data_purge` empties each gift's email and private note (and each monthly gift's
email), and replaces their copies in
the gifts' change history (`DonationChange.changes`) and any receipt error (which can quote
the address) with REMOVED. Amounts, dates, public names and messages stay, so totals, the
giver list and the reports are unchanged. Each purged gift gets one history row saying what
was removed (never the values). Running it again finds nothing left to remove.

A campaign has ended when it is completed (on `completed_on`) or live past `ends_on`, as
`Campaign.closed_on` says; drafts never end.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q

from campaigns.models import Campaign
from donations.models import Donation, DonationChange, MonthlyGift, MonthlyGiftChange, Receipt
from donations.services.history import (
    donation_change,
    history_scrub,
    monthly_gift_change,
)

REMOVED = "[removed]"
PURGED_FIELDS = ("email", "note")
BATCH_SIZE = 500


@dataclass
class PurgeResult:
    campaign: Campaign
    emails: int = 0
    notes: int = 0
    history_entries: int = 0
    receipt_errors: int = 0

    @property
    def anything(self) -> bool:
        return any((self.emails, self.notes, self.history_entries, self.receipt_errors))


def campaigns_ended_before(cutoff: datetime.date):
    """Campaigns whose giving closed before `cutoff` (completed, or live past their end)."""
    return Campaign.objects.filter(
        Q(status=Campaign.Status.COMPLETED, completed_on__lt=cutoff)
        | Q(status=Campaign.Status.LIVE, ends_on__lt=cutoff)
    ).order_by("pk")


def _purge_gifts(campaign: Campaign, result: PurgeResult) -> list:
    """Empty emails and notes, a batch per transaction; returns the purged gifts' ids."""
    purged_ids = []
    holding = Donation.objects.filter(campaign=campaign).filter(~Q(email="") | ~Q(note=""))
    while True:
        with transaction.atomic():
            batch = list(holding.order_by("pk").values_list("pk", flat=True)[:BATCH_SIZE])
            for pk in batch:
                with donation_change(
                    Donation.objects.filter(pk=pk),
                    action=DonationChange.Action.PURGE,
                    reason="purge_donor_data: retention period over",
                    facts=True,
                ) as change:
                    for field in PURGED_FIELDS:
                        if getattr(change.row, field):
                            # the history says it was removed, not what
                            change.before[field] = REMOVED
                            setattr(change.row, field, "")
                    result.emails += change.before["email"] == REMOVED
                    result.notes += change.before["note"] == REMOVED
                purged_ids.append(pk)
        if len(batch) < BATCH_SIZE:
            return purged_ids


def _purge_monthly_gifts(campaign: Campaign, result: PurgeResult) -> None:
    """Empty the emails the campaign's monthly gifts keep for their donors."""
    with transaction.atomic():
        holding = MonthlyGift.objects.filter(campaign=campaign).exclude(email="")
        for pk in holding.order_by("pk").values_list("pk", flat=True):
            with monthly_gift_change(
                MonthlyGift.objects.filter(pk=pk),
                action=MonthlyGiftChange.Action.PURGE,
                reason="purge_donor_data: retention period over",
            ) as change:
                change.before["email"] = REMOVED  # the history says it was removed, not what
                change.row.email = ""
            result.emails += 1


def _scrub_history(campaign: Campaign, result: PurgeResult) -> None:
    result.history_entries += history_scrub(
        campaign=campaign, fields=PURGED_FIELDS, placeholder=REMOVED, batch_size=BATCH_SIZE
    )


def donor_data_purge(
    *, older_than: datetime.timedelta, now: datetime.datetime, campaign: Campaign | None = None
) -> list[PurgeResult]:
    """Remove donors' emails and private notes (and their copies) from every campaign that
    ended more than `older_than` before `now`, or from `campaign` alone if it did.

    Returns one result per campaign considered, each saying what it removed (zeros when
    there was nothing left). Idempotent and safe to run at any time: batches are short
    transactions, and a gift recorded meanwhile is simply purged on the next run.
    """
    cutoff = (now - older_than).date()
    campaigns = campaigns_ended_before(cutoff)
    if campaign is not None:
        campaigns = campaigns.filter(pk=campaign.pk)
    results = []
    for ended in campaigns:
        result = PurgeResult(campaign=ended)
        _purge_gifts(ended, result)
        _purge_monthly_gifts(ended, result)
        _scrub_history(ended, result)
        with transaction.atomic():
            result.receipt_errors = (
                Receipt.objects.filter(donation__campaign=ended)
                .exclude(last_error__in=["", REMOVED])
                .update(last_error=REMOVED)
            )
        results.append(result)
    return results

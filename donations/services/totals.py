"""Running totals: every change of a gift moves its campaign's tallies by the difference.

A gift counts when it succeeded (online paid, cash not voided) and its dispute was not lost;
it counts for its amount in the campaign currency less its refunded part (CONTRACTS.md).
`totals_apply` is given the gift's snapshot before a change and the gift after it, works out
what it counted for each time, and adds the difference to the tallies with F() expressions,
in the caller's transaction. A month of a monthly gift also moves that monthly gift's own
running total (`MonthlyGift.raised` and `months`) the same way. `monthly_totals_apply` does
the same for a monthly gift's change: the tallies keep how many monthly gifts are active and
what they give each month. `totals_recount` recomputes all of it from the rows, to find (and
with `fix`, repair) any drift.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Sum

from donations.models import (
    DISPUTE_NOT_COUNTED,
    MONTHLY_ACTIVE,
    RAISED,
    Donation,
    GiftTally,
    MonthlyGift,
)

TallyKey = tuple[int, int, str]  # campaign id, team member id (0: none), source


def _contribution(values: dict | None) -> tuple[TallyKey, Decimal, int] | None:
    """What a gift (as a snapshot of its columns) adds to its tally: key, raised, gifts."""
    if not values:
        return None
    counted = (
        values["status"] == Donation.Status.SUCCEEDED
        and values["dispute_status"] not in DISPUTE_NOT_COUNTED
    )
    if not counted:
        return None
    key = (values["campaign_id"], values["team_member_id"] or 0, values["source"])
    raised = values["amount_converted"] - values["amount_refunded_converted"]
    return key, raised, 1


def tally_values(donation: Donation) -> dict:
    return {
        "status": donation.status,
        "dispute_status": donation.dispute_status,
        "campaign_id": donation.campaign_id,
        "team_member_id": donation.team_member_id,
        "source": donation.source,
        "amount_converted": donation.amount_converted,
        "amount_refunded_converted": donation.amount_refunded_converted,
        "monthly_gift_id": donation.monthly_gift_id,
    }


def totals_delta(before: dict | None, after: dict | None) -> dict[TallyKey, tuple[Decimal, int]]:
    """The change in each tally when a gift goes from `before` to `after` (None: absent)."""
    delta: dict[TallyKey, list] = defaultdict(lambda: [Decimal(0), 0])
    for values, sign in ((before, -1), (after, 1)):
        contribution = _contribution(values)
        if contribution is not None:
            key, raised, gifts = contribution
            delta[key][0] += sign * raised
            delta[key][1] += sign * gifts
    return {key: (raised, gifts) for key, (raised, gifts) in delta.items() if raised or gifts}


def totals_add(delta: dict[TallyKey, tuple[Decimal, int]], *, fields=("raised", "gifts")) -> None:
    """Add to the tallies in one UPDATE each (creating a missing tally row first). `fields`
    names the two columns the delta moves: a sum and a count."""
    total, count = fields
    for (campaign_id, member_key, source), (raised, gifts) in sorted(delta.items()):
        row = GiftTally.objects.filter(
            campaign_id=campaign_id, member_key=member_key, source=source
        )
        changes = {total: F(total) + raised, count: F(count) + gifts}
        if row.update(**changes):
            continue
        try:
            with transaction.atomic():
                GiftTally.objects.create(
                    campaign_id=campaign_id, member_key=member_key, source=source
                )
        except IntegrityError:
            pass  # another transaction created it first; its row is there to update
        row.update(**changes)


def totals_apply(*, before: dict | None, donation: Donation | None) -> None:
    """Move the tallies by what a change of one gift did to its counting, and, for a month of
    a monthly gift, that monthly gift's running total. Call inside the transaction that
    saves the gift."""
    after = tally_values(donation) if donation is not None else None
    totals_add(totals_delta(before, after))
    _monthly_running_total_move(before, after)


def _monthly_running_total_move(before: dict | None, after: dict | None) -> None:
    moves: dict = defaultdict(lambda: [Decimal(0), 0])
    for values, sign in ((before, -1), (after, 1)):
        contribution = _contribution(values)
        if contribution is not None and values.get("monthly_gift_id"):
            _key, raised, months = contribution
            moves[values["monthly_gift_id"]][0] += sign * raised
            moves[values["monthly_gift_id"]][1] += sign * months
    for gift_id, (raised, months) in sorted(moves.items(), key=lambda item: str(item[0])):
        if raised or months:
            MonthlyGift.objects.filter(pk=gift_id).update(
                raised=F("raised") + raised, months=F("months") + months
            )


def monthly_tally_values(gift: MonthlyGift) -> dict:
    return {
        "status": gift.status,
        "campaign_id": gift.campaign_id,
        "team_member_id": gift.team_member_id,
        "amount_converted": gift.amount_converted,
    }


def _monthly_contribution(values: dict | None) -> tuple[TallyKey, Decimal, int] | None:
    """What a monthly gift adds to its tally while it is active: what it gives a month, 1."""
    if not values or values["status"] not in MONTHLY_ACTIVE:
        return None
    key = (values["campaign_id"], values["team_member_id"] or 0, Donation.Source.ONLINE.value)
    return key, values["amount_converted"], 1


def monthly_totals_apply(*, before: dict | None, gift: MonthlyGift) -> None:
    """Move the tallies' active monthly gifts and monthly amount by what a change of one
    monthly gift did. Call inside the transaction that saves it."""
    delta: dict[TallyKey, list] = defaultdict(lambda: [Decimal(0), 0])
    for values, sign in ((before, -1), (monthly_tally_values(gift), 1)):
        contribution = _monthly_contribution(values)
        if contribution is not None:
            key, amount, count = contribution
            delta[key][0] += sign * amount
            delta[key][1] += sign * count
    moved = {key: (amount, count) for key, (amount, count) in delta.items() if amount or count}
    totals_add(moved, fields=("monthly_amount", "monthly_active"))


ZERO_PAIR = (Decimal(0), 0)


@dataclass(frozen=True)
class TallyDrift:
    """A tally that differs from its rows: (raised, gifts) and, for active monthly gifts,
    (what they give a month, how many)."""

    campaign_id: int
    member_key: int
    source: str
    stored: tuple[Decimal, int]
    actual: tuple[Decimal, int]
    stored_monthly: tuple[Decimal, int] = ZERO_PAIR
    actual_monthly: tuple[Decimal, int] = ZERO_PAIR


@dataclass(frozen=True)
class MonthlyDrift:
    """A monthly gift whose running total differs from its counted months."""

    monthly_gift_id: str
    campaign_id: int
    stored: tuple[Decimal, int]
    actual: tuple[Decimal, int]


def _actual_tallies(campaign_id: int) -> tuple[dict, dict]:
    gifts = {
        (row["team_member_id"] or 0, row["source"]): (row["raised"], row["gifts"])
        for row in Donation.objects.filter(campaign_id=campaign_id)
        .counted()
        .values("team_member_id", "source")
        .annotate(raised=RAISED, gifts=Count("id"))
        .order_by()
    }
    monthly = {
        (row["team_member_id"] or 0, Donation.Source.ONLINE.value): (row["amount"], row["active"])
        for row in MonthlyGift.objects.filter(campaign_id=campaign_id, status__in=MONTHLY_ACTIVE)
        .values("team_member_id")
        .annotate(amount=Sum("amount_converted"), active=Count("id"))
        .order_by()
    }
    return gifts, monthly


def _same(have: tuple[Decimal, int], want: tuple[Decimal, int]) -> bool:
    return have[0] == want[0] and have[1] == want[1]


def totals_recount(*, campaign_ids: list[int] | None = None, fix: bool = False) -> list[TallyDrift]:
    """Compare every tally with the gifts it sums; with `fix`, set each drifted tally right.

    With `fix`, each campaign's tallies are locked while they are recounted, so gifts
    recorded meanwhile wait and are then added on top of the corrected figures.
    """
    campaigns = campaign_ids
    if campaigns is None:
        ids = set(GiftTally.objects.values_list("campaign_id", flat=True))
        ids |= set(Donation.objects.values_list("campaign_id", flat=True).distinct())
        ids |= set(MonthlyGift.objects.values_list("campaign_id", flat=True).distinct())
        campaigns = sorted(ids)
    drifts: list[TallyDrift] = []
    for campaign_id in campaigns:
        with transaction.atomic():
            stored_rows = GiftTally.objects.filter(campaign_id=campaign_id)
            if fix:
                stored_rows = stored_rows.select_for_update()
            stored = {
                (row.member_key, row.source): (
                    (row.raised, row.gifts),
                    (row.monthly_amount, row.monthly_active),
                )
                for row in stored_rows
            }
            actual, actual_monthly = _actual_tallies(campaign_id)
            for member_key, source in sorted(set(stored) | set(actual) | set(actual_monthly)):
                have, have_monthly = stored.get((member_key, source), (ZERO_PAIR, ZERO_PAIR))
                want = actual.get((member_key, source), ZERO_PAIR)
                want_monthly = actual_monthly.get((member_key, source), ZERO_PAIR)
                if _same(have, want) and _same(have_monthly, want_monthly):
                    continue
                drifts.append(
                    TallyDrift(
                        campaign_id, member_key, source, have, want, have_monthly, want_monthly
                    )
                )
                if fix:
                    GiftTally.objects.update_or_create(
                        campaign_id=campaign_id,
                        member_key=member_key,
                        source=source,
                        defaults={
                            "raised": want[0],
                            "gifts": want[1],
                            "monthly_amount": want_monthly[0],
                            "monthly_active": want_monthly[1],
                        },
                    )
    return drifts


def monthly_recount(
    *, campaign_ids: list[int] | None = None, fix: bool = False
) -> list[MonthlyDrift]:
    """Compare each monthly gift's running total with its counted months; with `fix`, set
    each drifted one right (its row locked while it is recounted)."""
    gifts = MonthlyGift.objects.order_by("pk")
    if campaign_ids is not None:
        gifts = gifts.filter(campaign_id__in=campaign_ids)
    actual = {
        row["monthly_gift_id"]: (row["raised"], row["months"])
        for row in Donation.objects.filter(monthly_gift__in=gifts)
        .counted()
        .values("monthly_gift_id")
        .annotate(raised=RAISED, months=Count("id"))
        .order_by()
    }
    drifts = []
    for gift in gifts.only("id", "campaign_id", "raised", "months"):
        want = actual.get(gift.pk, ZERO_PAIR)
        if _same((gift.raised, gift.months), want):
            continue
        drifts.append(
            MonthlyDrift(str(gift.pk), gift.campaign_id, (gift.raised, gift.months), want)
        )
        if fix:
            with transaction.atomic():
                locked = MonthlyGift.objects.select_for_update().get(pk=gift.pk)
                fresh = (
                    Donation.objects.filter(monthly_gift=locked)
                    .counted()
                    .aggregate(raised=RAISED, months=Count("id"))
                )
                locked.raised, locked.months = fresh["raised"], fresh["months"]
                locked.save(update_fields=["raised", "months"])
    return drifts

"""Running totals: every change of a gift moves its campaign's tallies by the difference.

A gift counts when it succeeded (online paid, cash not voided) and its dispute was not lost;
it counts for its amount in the campaign currency less its refunded part (CONTRACTS.md).
`totals_apply` is given the gift's snapshot before a change and the gift after it, works out
what it counted for each time, and adds the difference to the tallies with F() expressions,
in the caller's transaction. `totals_recount` recomputes the tallies from the gifts, to find
(and with `fix`, repair) any drift.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, F

from donations.models import DISPUTE_NOT_COUNTED, RAISED, Donation, GiftTally

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


def totals_add(delta: dict[TallyKey, tuple[Decimal, int]]) -> None:
    """Add to the tallies in one UPDATE each (creating a missing tally row first)."""
    for (campaign_id, member_key, source), (raised, gifts) in sorted(delta.items()):
        row = GiftTally.objects.filter(
            campaign_id=campaign_id, member_key=member_key, source=source
        )
        changes = {"raised": F("raised") + raised, "gifts": F("gifts") + gifts}
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
    """Move the tallies by what a change of one gift did to its counting. Call inside the
    transaction that saves the gift."""
    after = tally_values(donation) if donation is not None else None
    totals_add(totals_delta(before, after))


@dataclass(frozen=True)
class TallyDrift:
    campaign_id: int
    member_key: int
    source: str
    stored: tuple[Decimal, int]
    actual: tuple[Decimal, int]


def totals_recount(*, campaign_ids: list[int] | None = None, fix: bool = False) -> list[TallyDrift]:
    """Compare every tally with the gifts it sums; with `fix`, set each drifted tally right.

    With `fix`, each campaign's tallies are locked while they are recounted, so gifts
    recorded meanwhile wait and are then added on top of the corrected figures.
    """
    campaigns = campaign_ids
    if campaigns is None:
        ids = set(GiftTally.objects.values_list("campaign_id", flat=True))
        ids |= set(Donation.objects.values_list("campaign_id", flat=True).distinct())
        campaigns = sorted(ids)
    drifts: list[TallyDrift] = []
    for campaign_id in campaigns:
        with transaction.atomic():
            stored_rows = GiftTally.objects.filter(campaign_id=campaign_id)
            if fix:
                stored_rows = stored_rows.select_for_update()
            stored = {(row.member_key, row.source): (row.raised, row.gifts) for row in stored_rows}
            actual = {
                (row["team_member_id"] or 0, row["source"]): (row["raised"], row["gifts"])
                for row in Donation.objects.filter(campaign_id=campaign_id)
                .counted()
                .values("team_member_id", "source")
                .annotate(raised=RAISED, gifts=Count("id"))
                .order_by()
            }
            for member_key, source in sorted(set(stored) | set(actual)):
                have = stored.get((member_key, source), (Decimal(0), 0))
                want = actual.get((member_key, source), (Decimal(0), 0))
                if have[0] == want[0] and have[1] == want[1]:
                    continue
                drifts.append(TallyDrift(campaign_id, member_key, source, have, want))
                if fix:
                    GiftTally.objects.update_or_create(
                        campaign_id=campaign_id,
                        member_key=member_key,
                        source=source,
                        defaults={"raised": want[0], "gifts": want[1]},
                    )
    return drifts

"""Team members' gifts: moving them to another member of the campaign, or to none.

A member with gifts is never deleted (the gifts' foreign keys PROTECT it): an organizer
retires it, or first moves its gifts here. Each gift and monthly gift moved gets its own
history row (action "member") naming who moved it and why, and the tallies move with it,
through the same gate as every other change (services/history.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from campaigns.models import TeamMember
from donations import permissions
from donations.models import Donation, DonationChange, MonthlyGift, MonthlyGiftChange
from donations.services.cash import TEAM_MEMBER_RETIRED_ERROR
from donations.services.history import donation_change, monthly_gift_change

MOVE_REASON_ERROR = _("Say why these gifts are moved.")
MOVE_TO_ITSELF_ERROR = _("Choose another team member than the one whose gifts you move.")
MOVE_OTHER_CAMPAIGN_ERROR = _("Gifts move only to a team member of the same campaign.")


@dataclass(frozen=True)
class GiftsMoved:
    """How many gifts (every month of a monthly gift is one) and monthly gifts moved."""

    gifts: int
    monthly_gifts: int


def team_member_gifts_move(
    *, member: TeamMember, to_member: TeamMember | None, by, reason: str
) -> GiftsMoved:
    """Move every gift and monthly gift of `member` to `to_member` (None: to no member).

    Only organizers of the campaign (and superusers) may (`permissions.may_move_member_gifts`);
    a reason is required, and `to_member` is of the same campaign and not retired. All of it
    happens in one transaction, under the gifts' row locks: one history row per gift and per
    monthly gift moved, the tallies of both members moved by what each gift counts for, the
    campaign's cached pages stale once committed.
    """
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": MOVE_REASON_ERROR})
    if to_member is not None and to_member.pk == member.pk:
        raise ValidationError({"to_member": MOVE_TO_ITSELF_ERROR})
    if to_member is not None and to_member.campaign_id != member.campaign_id:
        raise ValidationError({"to_member": MOVE_OTHER_CAMPAIGN_ERROR})
    if to_member is not None and to_member.retired:
        raise ValidationError({"to_member": TEAM_MEMBER_RETIRED_ERROR})
    if not permissions.may_move_member_gifts(user=by, member=member):
        raise PermissionDenied
    with transaction.atomic():
        moved_gifts = 0
        for pk in Donation.objects.filter(team_member=member).values_list("pk", flat=True):
            with donation_change(
                Donation.objects.filter(pk=pk),
                action=DonationChange.Action.MEMBER_MOVE,
                by=by,
                reason=reason,
            ) as change:
                change.row.team_member = to_member
            moved_gifts += 1
        moved_monthly = 0
        for pk in MonthlyGift.objects.filter(team_member=member).values_list("pk", flat=True):
            with monthly_gift_change(
                MonthlyGift.objects.filter(pk=pk),
                action=MonthlyGiftChange.Action.MEMBER_MOVE,
                by=by,
                reason=reason,
            ) as change:
                change.row.team_member = to_member
            moved_monthly += 1
    return GiftsMoved(gifts=moved_gifts, monthly_gifts=moved_monthly)

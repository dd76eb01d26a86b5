"""Reads for the volunteers' pages: their campaigns and their own latest cash entries.

Each function returns evaluated data, so the templates run no query.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from campaigns.models import Campaign
from donations import permissions
from donations.models import Donation

RECENT_ENTRIES = 30


@dataclass(frozen=True)
class VolunteerHome:
    campaigns: list[Campaign]
    entries: list[Donation]


def volunteer_campaigns(*, user) -> list[Campaign]:
    """The published campaigns `user` may record cash for (all of them for a superuser)."""
    return list(
        permissions.cash_campaigns(user).public().order_by("status", "-launched_on", "title")
    )


def volunteer_home(*, user, now: datetime.datetime) -> VolunteerHome:
    """The volunteer's campaigns and their own latest entries, each marked `voidable`."""
    campaigns = volunteer_campaigns(user=user)
    assigned = {campaign.pk for campaign in campaigns}
    entries = list(
        permissions.own_cash_entries(user)
        .select_related("campaign", "team_member__campaign")
        .order_by("-created_at", "-id")[:RECENT_ENTRIES]
    )
    for entry in entries:
        entry.voidable = permissions.volunteer_may_void(
            donation=entry, user=user, now=now, assigned=entry.campaign_id in assigned
        )
    return VolunteerHome(campaigns=campaigns, entries=entries)

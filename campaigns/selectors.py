"""Reads of the campaigns app for its pages: shares, updates, the campaign list; and
whether a campaign or a team member has gifts, which decides what may still change.

Each returns evaluated data, so templates run no query.
"""

from __future__ import annotations

from dataclasses import dataclass

from campaigns.models import SHARE_NETWORKS, Campaign, ShareCount, TeamMember, Update

LATEST_UPDATES = 3


@dataclass(frozen=True)
class ShareTotals:
    """Shares per network: the organizer's baseline (before this site) plus counted here."""

    by_network: dict[str, tuple[int, int]]

    @property
    def total(self) -> int:
        return sum(baseline + counted for baseline, counted in self.by_network.values())


def campaign_share_total(*, campaign: Campaign) -> int:
    """Baselines plus counted shares; no query when the campaign was read
    `with_counted_shares()`."""
    counted = getattr(campaign, "shares_counted", None)
    if counted is None:
        return campaign_shares(campaign=campaign).total
    return campaign.share_baseline_total + counted


def campaign_shares(*, campaign: Campaign) -> ShareTotals:
    counted = dict(ShareCount.objects.filter(campaign=campaign).values_list("network", "count"))
    return ShareTotals(
        by_network={
            network: (getattr(campaign, f"{network}_share_baseline"), counted.get(network, 0))
            for network in SHARE_NETWORKS
        }
    )


@dataclass(frozen=True)
class UpdatesPreview:
    latest: list[Update]
    count: int


def campaign_updates_preview(*, campaign: Campaign, size: int = LATEST_UPDATES) -> UpdatesPreview:
    """The newest published updates and how many there are, in one query.

    Read through the campaign's related manager, so each update knows its campaign and
    showing it (its language comes from the campaign) costs no query per update.
    """
    published = list(campaign.updates.published()[: size + 1])
    count = len(published)
    if count > size:
        count = campaign.updates.published().count()
    return UpdatesPreview(latest=published[:size], count=count)


def campaign_updates(*, campaign: Campaign) -> list[Update]:
    return list(campaign.updates.published())


# Gifts are asked for through the reverse relations that the donations app declares on its
# foreign keys (`related_name`), so that this app imports nothing of donations.


def campaign_has_gifts(*, campaign: Campaign) -> bool:
    """Whether any gift or monthly gift, in any state, was ever started on the campaign."""
    return campaign.donations.exists() or campaign.monthly_gifts.exists()


def team_member_has_gifts(*, member: TeamMember) -> bool:
    """Whether any gift or monthly gift, in any state, is the team member's."""
    return member.donations.exists() or member.monthly_gifts.exists()

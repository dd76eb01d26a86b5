"""Reads for online giving."""

from __future__ import annotations

from campaigns.models import Campaign
from donations.models import Donation

# A gift that did not go through can be tried again from the form, filled in as before.
RESUMABLE = (Donation.Status.PENDING, Donation.Status.FAILED, Donation.Status.EXPIRED)


def resumable_gift(*, campaign: Campaign, donation_id: str | None) -> Donation | None:
    """The giver's own unfinished gift to this campaign, to fill the form in again.

    The id comes from the giver's session (never from the address bar), so nobody can fill
    the form with somebody else's name and email.
    """
    if not donation_id:
        return None
    return (
        Donation.objects.filter(
            pk=donation_id, campaign=campaign, source=Donation.Source.ONLINE, status__in=RESUMABLE
        )
        .select_related("team_member")
        .first()
    )

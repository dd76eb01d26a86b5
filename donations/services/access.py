"""Who organizes which campaign: organizer assignments (read by donations/permissions.py)."""

from __future__ import annotations

from campaigns.models import Campaign
from donations.models import OrganizerAssignment


def organizer_assign(*, user, campaign: Campaign) -> OrganizerAssignment:
    """Let `user` manage `campaign` as an organizer. Idempotent.

    Grants no model permission: the Organizers group and staff status give those.
    """
    assignment, _created = OrganizerAssignment.objects.get_or_create(user=user, campaign=campaign)
    return assignment

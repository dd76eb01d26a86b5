"""Who organizes which campaign: organizer assignments (read by donations/permissions.py)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from campaigns.models import Campaign
from donations import permissions
from donations.models import OrganizerAssignment


def organizer_assign(*, by, user, campaign: Campaign) -> OrganizerAssignment:
    """Let `user` manage `campaign` as an organizer. Idempotent.

    `by` is who asks (None: the operator at the shell); permissions.may_assign_organizer
    decides, or PermissionDenied. Grants no model permission: the Organizers group and
    staff status give those.
    """
    if not permissions.may_assign_organizer(by=by, user=user, campaign=campaign):
        raise PermissionDenied
    assignment, _created = OrganizerAssignment.objects.get_or_create(user=user, campaign=campaign)
    return assignment

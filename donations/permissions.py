"""Who may do what with donations: the one place that decides.

Views, the admin and the services ask these functions; nothing else checks a group, a
permission or an assignment. Roles are those of CONTRACTS.md: Organizers (a group with model
permissions, given by the roles migration), Volunteers (a group plus a VolunteerAssignment
per campaign) and superusers.
"""

from __future__ import annotations

import datetime

from donations.models import Donation, VolunteerAssignment

ORGANIZERS_GROUP = "Organizers"
VOLUNTEERS_GROUP = "Volunteers"
# Organizers hold this model permission (the roles migration); it marks who manages gifts.
MANAGE_DONATIONS_PERMISSION = "donations.change_donation"
VIEW_DONATIONS_PERMISSION = "donations.view_donation"
# How long a volunteer may void their own cash entry after entering it.
VOLUNTEER_VOID_WINDOW = datetime.timedelta(hours=24)


def _active(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def is_organizer(user) -> bool:
    """Organizers and superusers: they edit, void, deposit and moderate gifts."""
    return _active(user) and (user.is_superuser or user.has_perm(MANAGE_DONATIONS_PERMISSION))


def may_see_donors(user) -> bool:
    """Staff who may read donors' data: the report and the CSV export."""
    return _active(user) and user.is_staff and user.has_perm(VIEW_DONATIONS_PERMISSION)


def may_record_cash(*, user, campaign) -> bool:
    """Superusers, and volunteers assigned to this campaign, may record cash for it."""
    if not _active(user):
        return False
    if user.is_superuser:
        return True
    return VolunteerAssignment.objects.filter(user=user, campaign=campaign).exists()


def volunteer_may_void(*, donation: Donation, user, now: datetime.datetime, assigned: bool) -> bool:
    """A volunteer voids only their own counted cash entry, within 24 hours, while assigned.

    `assigned` is whether the user may still record cash for the entry's campaign; callers
    listing many entries work it out once for all of them.
    """
    return (
        _active(user)
        and assigned
        and donation.source == Donation.Source.OFFLINE
        and donation.status == Donation.Status.SUCCEEDED
        and donation.entered_by_id == user.pk
        and now - donation.created_at <= VOLUNTEER_VOID_WINDOW
    )


def may_void_cash(*, donation: Donation, user, now: datetime.datetime) -> bool:
    """Organizers void any cash entry not yet voided; a volunteer only their own (above)."""
    if donation.source != Donation.Source.OFFLINE or donation.status == Donation.Status.VOIDED:
        return False
    if is_organizer(user):
        return True
    assigned = may_record_cash(user=user, campaign=donation.campaign)
    return volunteer_may_void(donation=donation, user=user, now=now, assigned=assigned)

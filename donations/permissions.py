"""Who may do what with donations: the one place that decides.

Views, the admin and the services ask these functions; nothing else checks a group, a
permission or an assignment. Roles are those of CONTRACTS.md: Organizers (staff in a group
with model permissions, given by the roles migration, plus an OrganizerAssignment per
campaign they manage), Volunteers (a group plus a VolunteerAssignment per campaign) and
superusers, who manage every campaign and assign organizers.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from campaigns.models import Campaign
from donations.donor_links import same_address
from donations.models import Donation, OrganizerAssignment, VolunteerAssignment

ORGANIZERS_GROUP = "Organizers"
VOLUNTEERS_GROUP = "Volunteers"
# Organizers hold this model permission (the roles migration); it marks who manages gifts.
MANAGE_DONATIONS_PERMISSION = "donations.change_donation"
VIEW_DONATIONS_PERMISSION = "donations.view_donation"
# How long a volunteer may void their own cash entry after entering it.
VOLUNTEER_VOID_WINDOW = datetime.timedelta(hours=24)
# How long the thank-you page shows a gift's amount and masked email to the browser session
# that started the gift (its link travels through browser history and Stripe's redirect).
THANKS_DETAILS_FOR = datetime.timedelta(hours=1)


@dataclass(frozen=True)
class DonorLink:
    """A donor acting through their signed link, which was made for `email`."""

    email: str

    def __str__(self) -> str:  # what logs say: never the address
        return "the donor, through their link"


def _active(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def is_organizer(user) -> bool:
    """Organizers and superusers: they edit, void, deposit and moderate gifts (of the
    campaigns they manage: `may_manage_campaign`)."""
    return _active(user) and (user.is_superuser or user.has_perm(MANAGE_DONATIONS_PERMISSION))


def _manages_all(user) -> bool:
    return _active(user) and user.is_superuser


def managed_campaigns(user) -> QuerySet[Campaign]:
    """The campaigns `user` manages: every one for a superuser, those a staff member is
    assigned to as an organizer, none for anyone else."""
    if _manages_all(user):
        return Campaign.objects.all()
    if not (_active(user) and user.is_staff):
        return Campaign.objects.none()
    return Campaign.objects.filter(organizer_assignments__user=user)


def scoped_to_managed(queryset: QuerySet, *, user, campaign_field: str = "campaign") -> QuerySet:
    """`queryset` narrowed to rows of the campaigns `user` manages (all of them for a
    superuser). `campaign_field` is the lookup path from a row to its campaign."""
    if _manages_all(user):
        return queryset
    managed = managed_campaigns(user).values("pk")
    return queryset.filter(**{f"{campaign_field}__in": managed})


def may_manage_campaign(*, user, campaign: Campaign) -> bool:
    """Superusers, and staff assigned to the campaign as organizers."""
    if _manages_all(user):
        return True
    return (
        _active(user)
        and user.is_staff
        and OrganizerAssignment.objects.filter(user=user, campaign=campaign).exists()
    )


def visible_campaigns(user) -> QuerySet[Campaign]:
    """The campaigns whose pages `user` may see: every public one, and the drafts of the
    campaigns they manage (every draft for a superuser)."""
    public = Campaign.objects.public()
    if _manages_all(user):
        return Campaign.objects.all()
    if not (_active(user) and user.is_staff):
        return public
    managed = OrganizerAssignment.objects.filter(user=user).values("campaign")
    return public | Campaign.objects.filter(pk__in=managed)


def may_see_payment_health(user) -> bool:
    """The payment health panel: staff organizers (for their campaigns) and superusers."""
    return _active(user) and user.is_staff and is_organizer(user)


def alert_recipients(campaign: Campaign) -> list:
    """Who hears about trouble with a campaign's payments: its organizers, or, when it has
    none with an email address, the superusers."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    organizers = list(users.filter(is_staff=True, organizer_assignments__campaign=campaign))
    return organizers or list(users.filter(is_superuser=True))


def may_assign_organizers(user) -> bool:
    """Only superusers say who organizes which campaign."""
    return _manages_all(user)


def organizer_candidates():
    """Who may be assigned as an organizer: active staff accounts."""
    return get_user_model().objects.filter(is_staff=True, is_active=True)


def assigned_to_what_they_create(user) -> bool:
    """An organizer who creates a campaign is assigned to it, so they keep seeing it;
    superusers see every campaign and need no assignment."""
    return _active(user) and not _manages_all(user)


def may_assign_organizer(*, by, user, campaign: Campaign) -> bool:
    """Superusers assign organizers; an organizer assigns only themselves, as the first
    organizer of a campaign they have just created. `by` None is the operator at the shell.
    Only active staff accounts may be organizers."""
    if not organizer_candidates().filter(pk=user.pk).exists():
        return False
    if by is None or may_assign_organizers(by):
        return True
    return (
        by == user
        and is_organizer(by)
        and not OrganizerAssignment.objects.filter(campaign=campaign).exists()
    )


def may_assign_volunteers(*, by, campaign: Campaign) -> bool:
    """A campaign's organizers (and superusers) assign its volunteers; `by` None is the
    operator at the shell (volunteer_add)."""
    return by is None or (is_organizer(by) and may_manage_campaign(user=by, campaign=campaign))


def may_delete_gift_records(user) -> bool:
    """Gifts and receipts are the record of what was given: only superusers delete them."""
    return _manages_all(user)


def may_resend_receipts(user) -> bool:
    """Whether the admin offers the resend action: organizers and superusers (each receipt
    is then checked by `may_resend_receipt`)."""
    return _active(user) and user.is_staff and is_organizer(user)


def may_see_some_donors(user) -> bool:
    """Staff who may read donors' data at all: the report and the CSV export."""
    return _active(user) and user.is_staff and user.has_perm(VIEW_DONATIONS_PERMISSION)


def may_see_donors(*, user, campaign: Campaign) -> bool:
    """Donors' data of one campaign (report, export): its organizers and superusers."""
    return may_see_some_donors(user) and may_manage_campaign(user=user, campaign=campaign)


def may_change_donation(*, user, donation: Donation) -> bool:
    """Organizers of the gift's campaign (and superusers) edit, deposit and moderate it."""
    return is_organizer(user) and may_manage_campaign(user=user, campaign=donation.campaign)


def may_resend_receipt(*, by, receipt) -> bool:
    """A receipt is sent again for the organizers of its gift's campaign and superusers, or
    for its donor through their link (`DonorLink`)."""
    if isinstance(by, DonorLink):
        return link_reaches(email=by.email, gift=receipt.donation)
    return may_change_donation(user=by, donation=receipt.donation)


def may_moderate_monthly_gift(*, user, gift) -> bool:
    """Organizers of the monthly gift's campaign (and superusers) hide its name or message."""
    return is_organizer(user) and may_manage_campaign(user=user, campaign=gift.campaign)


def cash_campaigns(user) -> QuerySet[Campaign]:
    """The campaigns `user` may record cash for (as `may_record_cash`): every one for a
    superuser, those a volunteer is assigned to, none for anyone else."""
    if not _active(user):
        return Campaign.objects.none()
    if user.is_superuser:
        return Campaign.objects.all()
    return Campaign.objects.filter(volunteer_assignments__user=user)


def own_cash_entries(user) -> QuerySet[Donation]:
    """The cash entries `user` entered: the only gifts the volunteers' pages show them."""
    if not _active(user):
        return Donation.objects.none()
    return Donation.objects.filter(source=Donation.Source.OFFLINE, entered_by=user)


def may_see_gift_details(*, started_at: float | None, now: float) -> bool:
    """The thank-you page shows a gift's amount and masked email only to the browser
    session that started it (`started_at`, a timestamp it kept), for THANKS_DETAILS_FOR."""
    return started_at is not None and now - started_at <= THANKS_DETAILS_FOR.total_seconds()


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
    """Organizers void any cash entry of their campaigns not yet voided; a volunteer only
    their own (above)."""
    if donation.source != Donation.Source.OFFLINE or donation.status == Donation.Status.VOIDED:
        return False
    if may_change_donation(user=user, donation=donation):
        return True
    assigned = may_record_cash(user=user, campaign=donation.campaign)
    return volunteer_may_void(donation=donation, user=user, now=now, assigned=assigned)


def may_move_member_gifts(*, user, member) -> bool:
    """Organizers of the member's campaign (and superusers) move its gifts to another
    member or to none (services/members.py)."""
    return is_organizer(user) and may_manage_campaign(user=user, campaign=member.campaign)


def may_reopen_campaign(user) -> bool:
    """A completed campaign is final; only a superuser reopens one, with a written reason."""
    return _manages_all(user)


RATE_VIEW_PERMISSION = "donations.view_exchangerate"


def may_change_rates(user) -> bool:
    """Only superusers add, change or delete exchange rates by hand (the ECB import runs as
    a command): a rate converts the gifts of every campaign."""
    return _manages_all(user)


def may_see_rates(user) -> bool:
    """Staff who may read the stored rates (Organizers, by the roles migration) and their
    history; superusers."""
    return _active(user) and (
        user.is_superuser or (user.is_staff and user.has_perm(RATE_VIEW_PERMISSION))
    )


def may_record_cash_above_maximum(*, user, campaign: Campaign) -> bool:
    """A cash gift above the largest gift (DONATION_MAX_USD) is entered only by an organizer
    of its campaign (or a superuser), with a reason; volunteers split it into gifts within
    the bounds."""
    return is_organizer(user) and may_manage_campaign(user=user, campaign=campaign)


def link_reaches(*, email: str, gift) -> bool:
    """A donor's signed link (made for `email`) reaches a gift, a month of one or a monthly
    gift only when it was given with that address: ASCII letters in any case, nothing else
    folded. Whatever the database matched to find candidates, this decides."""
    return same_address(gift.email, email)

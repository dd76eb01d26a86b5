"""Offline gifts: cash that volunteers record and organizers reconcile.

Guarantees kept here, whoever calls (cash forms, admin, commands):
- an entry is recorded once per form token, however often the form is submitted;
- a gift in another currency is converted once, at the stored rate of the day it was received,
  and the rate, its date and its source are stored with it; without a rate nothing is stored;
- nothing is deleted: a voided entry keeps its row, its reason and who voided it;
- every change an organizer makes to an entry is kept in its DonationChange history.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, TeamMember
from donations.models import Donation, DonationChange, VolunteerAssignment
from donations.services.rates import ConvertedAmount, RateUnavailableError, convert_amount
from money import currency_decimals, has_at_most_decimals

VOLUNTEERS_GROUP = "Volunteers"
ORGANIZER_PERMISSION = "donations.change_donation"
VOID_WINDOW = datetime.timedelta(hours=24)
MAX_BATCH_ROWS = 30
# Offline gifts without a time of day are dated at noon, local time: the middle of the day
# cannot slip into the previous or next day when read in a neighbouring time zone.
OFFLINE_TIME_OF_DAY = datetime.time(12, 0)

NOT_ASSIGNED_ERROR = _("You are not assigned to this campaign.")
DRAFT_CAMPAIGN_ERROR = _("This campaign is not published yet.")
FUTURE_DATE_ERROR = _("The date received cannot be in the future.")
BEFORE_LAUNCH_ERROR = _("The date received cannot be before the campaign launched (%(date)s).")
CURRENCY_ERROR = _("This campaign does not accept %(currency)s.")
DECIMALS_ERROR = _("%(currency)s amounts have at most %(places)s decimal places.")
AMOUNT_ERROR = _("The amount must be more than zero.")
TEAM_MEMBER_ERROR = _("This team member is not part of this campaign.")
NO_RATE_ERROR = _(
    "There is no stored exchange rate for %(currency)s on %(date)s, so this gift cannot be "
    "converted into %(campaign_currency)s. Enter it in %(campaign_currency)s, or ask an "
    "organizer to import the rates."
)
TOKEN_ERROR = _("This form was already used by someone else. Reload the page.")
BATCH_EMPTY_ERROR = _("Fill in at least one row.")
BATCH_TOO_LONG_ERROR = _("A tally sheet has at most %(max)s rows.")
VOID_REASON_ERROR = _("Say why this entry is voided.")
VOID_NOT_ALLOWED_ERROR = _("You can void only your own entries, within 24 hours of entering them.")
NOT_OFFLINE_ERROR = _("Only offline entries can be changed this way.")
ALREADY_VOIDED_ERROR = _("This entry is already voided.")


@dataclass(frozen=True)
class OfflineGift:
    """One cash gift as a volunteer wrote it down (the cash form's fields)."""

    amount: Decimal
    currency: str
    received_on: datetime.date
    name: str = ""
    anonymous: bool = False
    team_member: TeamMember | None = None
    message: str = ""
    note: str = ""
    location: str = ""


class OfflineBatchError(Exception):
    """Some rows of a batch are wrong; `errors` maps each bad row's index to its error."""

    def __init__(self, errors: dict[int, ValidationError]):
        self.errors = errors
        super().__init__(f"{len(errors)} bad rows")


def is_organizer(user) -> bool:
    return bool(user.is_active and (user.is_superuser or user.has_perm(ORGANIZER_PERMISSION)))


def volunteer_may_record(*, user, campaign: Campaign) -> bool:
    """Superusers, and volunteers assigned to this campaign, may record cash for it."""
    if not (user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    return VolunteerAssignment.objects.filter(user=user, campaign=campaign).exists()


def volunteer_void_allowed(
    *, donation: Donation, user, now: datetime.datetime, assigned: bool
) -> bool:
    """A volunteer voids only their own counted offline entry, within 24 hours, while assigned."""
    return (
        donation.source == Donation.Source.OFFLINE
        and donation.status == Donation.Status.SUCCEEDED
        and user.is_active
        and donation.entered_by_id == user.pk
        and now - donation.created_at <= VOID_WINDOW
        and assigned
    )


def donation_is_voidable_by(*, donation: Donation, user, now: datetime.datetime) -> bool:
    """Organizers void any offline entry; a volunteer only their own, within 24 hours."""
    if donation.source != Donation.Source.OFFLINE or donation.status == Donation.Status.VOIDED:
        return False
    if is_organizer(user):
        return True
    assigned = volunteer_may_record(user=user, campaign=donation.campaign)
    return volunteer_void_allowed(donation=donation, user=user, now=now, assigned=assigned)


def offline_received_at(*, received_on: datetime.date, now: datetime.datetime) -> datetime.datetime:
    """Today's cash is timed now (newest in the giver list); an earlier day's at local noon."""
    if received_on == timezone.localdate(now):
        return now
    return timezone.make_aware(datetime.datetime.combine(received_on, OFFLINE_TIME_OF_DAY))


def _offline_gift_errors(*, campaign: Campaign, gift: OfflineGift, today: datetime.date) -> dict:
    errors: dict[str, Any] = {}
    if gift.amount <= 0:
        errors["amount"] = AMOUNT_ERROR
    elif gift.currency in campaign.donation_currencies and not has_at_most_decimals(
        gift.amount, currency_decimals(gift.currency)
    ):
        errors["amount"] = DECIMALS_ERROR % {
            "currency": gift.currency,
            "places": currency_decimals(gift.currency),
        }
    if gift.currency not in campaign.donation_currencies:
        errors["currency"] = CURRENCY_ERROR % {"currency": gift.currency}
    if gift.received_on > today:
        errors["received_on"] = FUTURE_DATE_ERROR
    elif gift.received_on < campaign.launched_on:
        errors["received_on"] = BEFORE_LAUNCH_ERROR % {"date": campaign.launched_on.isoformat()}
    if gift.team_member is not None and gift.team_member.campaign_id != campaign.pk:
        errors["team_member"] = TEAM_MEMBER_ERROR
    return errors


def offline_convert(
    *, campaign: Campaign, amount: Decimal, currency: str, received_on: datetime.date
) -> ConvertedAmount:
    """Convert into the campaign currency at the rate of the received date.

    Raises ValidationError on "currency" when no usable rate is stored. Writes nothing.
    """
    try:
        return convert_amount(
            amount=amount, currency=currency, to_currency=campaign.currency, on=received_on
        )
    except RateUnavailableError as error:
        message = NO_RATE_ERROR % {
            "currency": currency,
            "date": received_on.isoformat(),
            "campaign_currency": campaign.currency,
        }
        raise ValidationError({"currency": message}) from error


def offline_gift_convert(*, campaign: Campaign, gift: OfflineGift) -> ConvertedAmount:
    """Check the gift against the campaign and convert it; raises ValidationError by field.

    Writes nothing: the recording services call it before they store anything.
    """
    errors = _offline_gift_errors(campaign=campaign, gift=gift, today=timezone.localdate())
    if errors:
        raise ValidationError(errors)
    return offline_convert(
        campaign=campaign, amount=gift.amount, currency=gift.currency, received_on=gift.received_on
    )


def _new_offline_donation(
    *,
    campaign: Campaign,
    entered_by,
    gift: OfflineGift,
    converted: ConvertedAmount,
    form_token: uuid.UUID,
    now: datetime.datetime,
) -> Donation:
    donation = Donation(
        campaign=campaign,
        team_member=gift.team_member,
        source=Donation.Source.OFFLINE,
        status=Donation.Status.SUCCEEDED,
        giver_name=gift.name.strip(),
        anonymous=gift.anonymous,
        message=gift.message.strip(),
        amount=gift.amount,
        currency=gift.currency,
        amount_converted=converted.amount,
        conversion_rate=converted.rate,
        rate_date=converted.rate_date,
        rate_source=converted.rate_source,
        received_at=offline_received_at(received_on=gift.received_on, now=now),
        entered_by=entered_by,
        location=gift.location.strip(),
        note=gift.note.strip(),
        form_token=form_token,
    )
    donation.full_clean(exclude=["form_token"])
    return donation


def _entries_for_tokens(*, tokens: list[uuid.UUID], entered_by) -> list[Donation]:
    entries = list(Donation.objects.filter(form_token__in=tokens).order_by("received_at", "id"))
    if any(entry.entered_by_id != entered_by.pk for entry in entries):
        raise PermissionDenied(TOKEN_ERROR)
    return entries


def _check_may_record(*, user, campaign: Campaign) -> None:
    if campaign.status == Campaign.Status.DRAFT:
        raise PermissionDenied(DRAFT_CAMPAIGN_ERROR)
    if not volunteer_may_record(user=user, campaign=campaign):
        raise PermissionDenied(NOT_ASSIGNED_ERROR)


def donation_record_offline(
    *, campaign: Campaign, entered_by, gift: OfflineGift, form_token: uuid.UUID
) -> Donation:
    """Record one cash gift, counted at once, exactly once per form token.

    A token already used by the same person returns the entry it created (double tap, back
    button, retried request), also when two requests race: the unique constraint decides.
    Raises PermissionDenied (not assigned, or someone else's token) and ValidationError (by
    field, nothing stored) for a bad date, currency or amount, or a missing exchange rate.
    """
    existing = _entries_for_tokens(tokens=[form_token], entered_by=entered_by)
    if existing:
        return existing[0]
    _check_may_record(user=entered_by, campaign=campaign)
    converted = offline_gift_convert(campaign=campaign, gift=gift)
    donation = _new_offline_donation(
        campaign=campaign,
        entered_by=entered_by,
        gift=gift,
        converted=converted,
        form_token=form_token,
        now=timezone.now(),
    )
    try:
        with transaction.atomic():
            donation.save(force_insert=True)
    except IntegrityError:
        existing = _entries_for_tokens(tokens=[form_token], entered_by=entered_by)
        if not existing:
            raise
        return existing[0]
    return donation


def batch_row_token(*, batch_token: uuid.UUID, index: int) -> uuid.UUID:
    """Each row of a tally sheet gets its own token, derived from the sheet's."""
    return uuid.uuid5(batch_token, str(index))


def donation_record_offline_batch(
    *, campaign: Campaign, entered_by, gifts: dict[int, OfflineGift], batch_token: uuid.UUID
) -> list[Donation]:
    """Record a tally sheet: every row or none, each row once.

    `gifts` maps each filled row's index on the sheet to its gift. Every row is checked and
    converted before anything is written; bad rows raise OfflineBatchError with one error per
    row. A sheet submitted again returns the entries the first submission recorded.
    """
    if not gifts:
        raise ValidationError(BATCH_EMPTY_ERROR)
    if len(gifts) > MAX_BATCH_ROWS or max(gifts) >= MAX_BATCH_ROWS:
        raise ValidationError(BATCH_TOO_LONG_ERROR % {"max": MAX_BATCH_ROWS})
    tokens = {index: batch_row_token(batch_token=batch_token, index=index) for index in gifts}
    existing = _entries_for_tokens(tokens=list(tokens.values()), entered_by=entered_by)
    if existing:
        return existing
    _check_may_record(user=entered_by, campaign=campaign)
    converted: dict[int, ConvertedAmount] = {}
    errors: dict[int, ValidationError] = {}
    for index, gift in sorted(gifts.items()):
        try:
            converted[index] = offline_gift_convert(campaign=campaign, gift=gift)
        except ValidationError as error:
            errors[index] = error
    if errors:
        raise OfflineBatchError(errors)
    now = timezone.now()
    donations = [
        _new_offline_donation(
            campaign=campaign,
            entered_by=entered_by,
            gift=gift,
            converted=converted[index],
            form_token=tokens[index],
            now=now,
        )
        for index, gift in sorted(gifts.items())
    ]
    try:
        with transaction.atomic():
            for donation in donations:
                donation.save(force_insert=True)
    except IntegrityError:
        existing = _entries_for_tokens(tokens=list(tokens.values()), entered_by=entered_by)
        if not existing:
            raise
        return existing
    return donations


def _locked_offline_entry(donation: Donation) -> Donation:
    """The entry's row, locked for this transaction; ValidationError unless it is cash."""
    locked = (
        Donation.objects.select_for_update(of=("self",))
        .select_related("campaign")
        .get(pk=donation.pk)
    )
    if locked.source != Donation.Source.OFFLINE:
        raise ValidationError(NOT_OFFLINE_ERROR)
    return locked


def donation_void(*, donation: Donation, by, reason: str) -> Donation:
    """Void an offline entry: it leaves the page and the totals but keeps its row.

    Organizers may void any offline entry; a volunteer only their own, within 24 hours of
    entering it. A reason is always required. Writes a DonationChange with action "void".
    """
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": VOID_REASON_ERROR})
    with transaction.atomic():
        donation = _locked_offline_entry(donation)
        if donation.status == Donation.Status.VOIDED:
            raise ValidationError(ALREADY_VOIDED_ERROR)
        now = timezone.now()
        if not donation_is_voidable_by(donation=donation, user=by, now=now):
            raise PermissionDenied(VOID_NOT_ALLOWED_ERROR)
        previous_status = donation.status
        donation.status = Donation.Status.VOIDED
        donation.voided_at = now
        donation.voided_by = by
        donation.void_reason = reason
        donation.full_clean(exclude=["form_token"])
        donation.save()
        DonationChange.objects.create(
            donation=donation,
            changed_by=by,
            action="void",
            changes={"status": [previous_status, Donation.Status.VOIDED.value]},
            reason=reason,
        )
    return donation


# Fields an organizer may change on an offline entry; the rest is the record of how it came in.
OFFLINE_EDITABLE_FIELDS = (
    "giver_name",
    "anonymous",
    "hide_amount",
    "message",
    "team_member",
    "amount",
    "currency",
    "received_at",
    "location",
    "note",
    "deposited_on",
    "name_hidden_by_organizer",
    "message_hidden_by_organizer",
)
CONVERSION_INPUTS = ("amount", "currency", "received_at")


def _history_value(field: str, value: Any) -> Any:
    """A JSON-safe form of a field value for the change history, as the database stores it."""
    if isinstance(value, Decimal):
        places = Donation._meta.get_field(field).decimal_places
        return str(value.quantize(Decimal(1).scaleb(-places)))
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).isoformat()
    if isinstance(value, (datetime.date, uuid.UUID, Model)):
        return str(value)
    return value


def donation_update_offline(
    *, donation: Donation, by, values: dict[str, Any], reason: str = ""
) -> Donation:
    """An organizer's edit of an offline entry, kept in its change history.

    Only OFFLINE_EDITABLE_FIELDS change. The previous and new values go into one
    DonationChange (action "edit"). A changed amount, currency or received date is converted
    again at the rate of the (new) received date, and the new rate is stored; without a rate
    it raises ValidationError and nothing changes.
    """
    unknown = set(values) - set(OFFLINE_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        donation = _locked_offline_entry(donation)
        if not is_organizer(by):
            raise PermissionDenied
        changes = {
            field: [_history_value(field, getattr(donation, field)), _history_value(field, value)]
            for field, value in values.items()
            if getattr(donation, field) != value
        }
        if not changes:
            return donation
        for field, value in values.items():
            setattr(donation, field, value)
        offline_edit_validate(donation)
        if any(field in changes for field in CONVERSION_INPUTS):
            _reconvert(donation=donation, changes=changes)
        donation.full_clean(exclude=["form_token"])
        donation.save()
        DonationChange.objects.create(
            donation=donation, changed_by=by, action="edit", changes=changes, reason=reason
        )
    return donation


def offline_edit_validate(donation: Donation) -> None:
    """An organizer's edit obeys the same rules as the cash form (raises ValidationError)."""
    received_at = donation.received_at
    gift = OfflineGift(
        amount=donation.amount,
        currency=donation.currency,
        received_on=timezone.localdate(received_at) if received_at else timezone.localdate(),
        team_member=donation.team_member,
    )
    errors = _offline_gift_errors(campaign=donation.campaign, gift=gift, today=timezone.localdate())
    if "received_on" in errors:
        errors["received_at"] = errors.pop("received_on")
    if errors:
        raise ValidationError(errors)


def _reconvert(*, donation: Donation, changes: dict) -> None:
    converted = offline_convert(
        campaign=donation.campaign,
        amount=donation.amount,
        currency=donation.currency,
        received_on=timezone.localdate(donation.received_at),
    )
    for field, value in (
        ("amount_converted", converted.amount),
        ("conversion_rate", converted.rate),
        ("rate_date", converted.rate_date),
        ("rate_source", converted.rate_source),
    ):
        if getattr(donation, field) != value:
            changes[field] = [
                _history_value(field, getattr(donation, field)),
                _history_value(field, value),
            ]
        setattr(donation, field, value)


def donation_mark_deposited(*, donations, deposited_on: datetime.date, by) -> int:
    """Mark counted offline cash as deposited on a date; returns how many entries changed.

    Online and voided gifts are left alone. Each change is kept in the entry's history.
    """
    if not is_organizer(by):
        raise PermissionDenied
    changed = 0
    with transaction.atomic():
        rows = (
            Donation.objects.select_for_update()
            .filter(pk__in=[donation.pk for donation in donations])
            .filter(source=Donation.Source.OFFLINE, status=Donation.Status.SUCCEEDED)
            .exclude(deposited_on=deposited_on)
        )
        for donation in rows:
            DonationChange.objects.create(
                donation=donation,
                changed_by=by,
                action="deposit",
                changes={
                    "deposited_on": [
                        _history_value("deposited_on", donation.deposited_on),
                        deposited_on.isoformat(),
                    ]
                },
            )
            donation.deposited_on = deposited_on
            donation.save(update_fields=["deposited_on", "updated_at"])
            changed += 1
    return changed


def donation_moderate(
    *, donation: Donation, by, hide_name: bool, hide_message: bool, reason: str = ""
) -> Donation:
    """Hide a gift's public name or message without touching the gift itself.

    Works for online and offline gifts; the change is kept in the history ("moderate").
    """
    if not is_organizer(by):
        raise PermissionDenied
    with transaction.atomic():
        donation = Donation.objects.select_for_update().get(pk=donation.pk)
        changes = {
            field: [getattr(donation, field), value]
            for field, value in (
                ("name_hidden_by_organizer", hide_name),
                ("message_hidden_by_organizer", hide_message),
            )
            if getattr(donation, field) != value
        }
        if not changes:
            return donation
        donation.name_hidden_by_organizer = hide_name
        donation.message_hidden_by_organizer = hide_message
        donation.save(
            update_fields=["name_hidden_by_organizer", "message_hidden_by_organizer", "updated_at"]
        )
        DonationChange.objects.create(
            donation=donation, changed_by=by, action="moderate", changes=changes, reason=reason
        )
    return donation


def volunteer_assign(*, user, campaign: Campaign) -> VolunteerAssignment:
    """Let `user` record cash for `campaign`: joins the Volunteers group and gets the assignment.

    Idempotent. Grants no model permission and no admin access.
    """
    with transaction.atomic():
        group, _created = Group.objects.get_or_create(name=VOLUNTEERS_GROUP)
        user.groups.add(group)
        assignment, _created = VolunteerAssignment.objects.get_or_create(
            user=user, campaign=campaign
        )
    return assignment

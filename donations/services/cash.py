"""Cash gifts: what volunteers record by hand and organizers reconcile.

In the database and on the page these are "offline" gifts (`Donation.Source.OFFLINE`, the
"Offline donation" label); in code they are cash.

Guarantees kept here, whoever calls (cash forms, admin, commands):
- an entry is recorded once per form token, however often the form is submitted, and an
  entry identical to one the same volunteer saved in the last ten minutes (a page fetched
  again after Back, so with a new token) is stored only once the volunteer confirms it;
- a gift in another currency is converted once, at the stored rate of the day it was received,
  and the rate, its date and its source are stored with it; without a rate nothing is stored;
- nothing is deleted: a voided entry keeps its row, its reason and who voided it;
- every change of an entry (recorded, edited, voided, deposited, moderated) is kept in its
  DonationChange history, with who made it;
- an amount is a finite number within the largest gift (DONATION_MAX_USD at the stored rate,
  as online); a larger sum is split into several gifts, or entered by an organizer of the
  campaign with a reason, which its history keeps.
Who may do each of these is decided in donations/permissions.py.
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
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from campaigns.models import Campaign, TeamMember
from config.i18n import babel_locale
from donations import permissions
from donations.models import (
    CASH_BATCH_MAX_ROWS,
    Donation,
    DonationChange,
    VolunteerAssignment,
)
from donations.services.history import donation_change, donation_changes
from donations.services.rates import (
    ConvertedAmount,
    RateUnavailableError,
    conversion_apply,
    convert_amount,
    largest_gift,
    no_rate_error,
)
from money import currency_decimals, format_money, has_at_most_decimals

# Offline gifts without a time of day are dated at noon, local time: the middle of the day
# cannot slip into the previous or next day when read in a neighbouring time zone.
OFFLINE_TIME_OF_DAY = datetime.time(12, 0)

NOT_ASSIGNED_ERROR = _("You are not assigned to this campaign.")
DRAFT_CAMPAIGN_ERROR = _("This campaign is not published yet.")
FUTURE_DATE_ERROR = _("The date received cannot be in the future.")
BEFORE_LAUNCH_ERROR = _("The date received cannot be before the campaign launched (%(date)s).")
CURRENCY_ERROR = _("This campaign does not accept %(currency)s.")
DECIMALS_ERROR = ngettext_lazy(
    "Enter %(currency)s with at most %(places)d decimal.",
    "Enter %(currency)s with at most %(places)d decimals.",
    "places",
)
WHOLE_UNITS_ERROR = _("Enter %(currency)s as a whole number, without decimals.")
AMOUNT_ERROR = _("The amount must be more than zero.")
AMOUNT_NOT_A_NUMBER_ERROR = _("Enter the amount as a plain number, like 25 or 25.50.")
ABOVE_MAXIMUM_ERROR = _(
    "The largest gift is %(maximum)s. Enter a larger sum as several gifts, or ask an organizer "
    "of the campaign to enter it with a reason."
)
ABOVE_MAXIMUM_REASON_ERROR = _(
    "This is more than the largest gift (%(maximum)s). Say why in the reason box to record it."
)
NO_MAXIMUM_RATE_ERROR = _(
    "There is no stored exchange rate for %(currency)s on %(date)s, so this gift cannot be "
    "checked against the largest gift. Ask an administrator to load the rates."
)
# The field of the cash form (and the admin) where an organizer says why a gift is larger.
ABOVE_MAXIMUM_REASON_FIELD = "above_maximum_reason"
TEAM_MEMBER_ERROR = _("This team member is not part of this campaign.")
TEAM_MEMBER_RETIRED_ERROR = _("This team member has retired and takes no more gifts.")
TOKEN_ERROR = _("This form was already used by someone else. Reload the page.")
BATCH_EMPTY_ERROR = _("Fill in at least one row.")
BATCH_TOO_LONG_ERROR = _("A tally sheet has at most %(max)s rows.")
VOID_REASON_ERROR = _("Say why this entry is voided.")
VOID_NOT_ALLOWED_ERROR = _("You can void only your own entries, within 24 hours of entering them.")
NOT_CASH_ERROR = _("Only cash entries can be changed this way.")
ALREADY_VOIDED_ERROR = _("This entry is already voided.")
POSSIBLE_TWIN_ERROR = _(
    "You saved the same gift (same giver, amount, currency and date) a few minutes ago. If "
    "this is another gift, tick “Yes, this is another gift” and save again."
)
# An entry identical to one the same volunteer saved this recently asks for confirmation: a
# page fetched again after Back has a new form token, so the token alone cannot tell.
TWIN_WINDOW = datetime.timedelta(minutes=10)


@dataclass(frozen=True)
class CashGift:
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
    # Why an organizer records a gift above the largest gift (kept in its history).
    above_maximum_reason: str = ""


class CashBatchError(Exception):
    """Some rows of a batch are wrong; `errors` maps each bad row's index to its error."""

    def __init__(self, errors: dict[int, ValidationError]):
        self.errors = errors
        super().__init__(f"{len(errors)} bad rows")


def cash_received_at(*, received_on: datetime.date, now: datetime.datetime) -> datetime.datetime:
    """Today's cash is timed now (newest in the giver list); an earlier day's at local noon."""
    if received_on == timezone.localdate(now):
        return now
    return timezone.make_aware(datetime.datetime.combine(received_on, OFFLINE_TIME_OF_DAY))


def _cash_gift_errors(*, campaign: Campaign, gift: CashGift, today: datetime.date) -> dict:
    errors: dict[str, Any] = {}
    if not gift.amount.is_finite():
        errors["amount"] = AMOUNT_NOT_A_NUMBER_ERROR
    elif gift.amount <= 0:
        errors["amount"] = AMOUNT_ERROR
    elif gift.currency in campaign.donation_currencies and not has_at_most_decimals(
        gift.amount, currency_decimals(gift.currency)
    ):
        places = currency_decimals(gift.currency)
        message = DECIMALS_ERROR if places else WHOLE_UNITS_ERROR
        errors["amount"] = message % {"currency": gift.currency, "places": places}
    if gift.currency not in campaign.donation_currencies:
        errors["currency"] = CURRENCY_ERROR % {"currency": gift.currency}
    if gift.received_on > today:
        errors["received_on"] = FUTURE_DATE_ERROR
    elif gift.received_on < campaign.launched_on:
        errors["received_on"] = BEFORE_LAUNCH_ERROR % {"date": campaign.launched_on.isoformat()}
    if gift.team_member is not None and gift.team_member.campaign_id != campaign.pk:
        errors["team_member"] = TEAM_MEMBER_ERROR
    return errors


def _check_maximum(
    *, campaign: Campaign, gift: CashGift, converted: ConvertedAmount, entered_by
) -> None:
    """A gift above the largest gift (in the campaign currency, as converted) is refused
    for a volunteer, and for an organizer of the campaign until they say why."""
    try:
        maximum = largest_gift(currency=campaign.currency, on=gift.received_on)
    except RateUnavailableError as error:
        date = gift.received_on.isoformat()
        message = NO_MAXIMUM_RATE_ERROR % {"currency": error.currency, "date": date}
        raise ValidationError({"currency": message}) from error
    if converted.amount <= maximum:
        return
    shown = {"maximum": format_money(maximum, campaign.currency, babel_locale())}
    if not permissions.may_record_cash_above_maximum(user=entered_by, campaign=campaign):
        error = ValidationError(ABOVE_MAXIMUM_ERROR % shown, code="maximum")
        raise ValidationError({"amount": error})
    if not gift.above_maximum_reason.strip():
        error = ValidationError(ABOVE_MAXIMUM_REASON_ERROR % shown, code="reason_needed")
        raise ValidationError({ABOVE_MAXIMUM_REASON_FIELD: error})


def cash_convert(
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
        raise no_rate_error(
            currency=currency,
            campaign_currency=campaign.currency,
            on=received_on,
            field="currency",
        ) from error


def cash_gift_convert(*, campaign: Campaign, gift: CashGift, entered_by) -> ConvertedAmount:
    """Check the gift against the campaign and convert it; raises ValidationError by field.

    Writes nothing: the recording services call it before they store anything. Whether a
    gift above the largest gift may be recorded depends on who enters it (`entered_by`).
    """
    errors = _cash_gift_errors(campaign=campaign, gift=gift, today=timezone.localdate())
    if gift.team_member is not None and gift.team_member.retired:  # a new gift, not an edit
        errors.setdefault("team_member", TEAM_MEMBER_RETIRED_ERROR)
    if errors:
        raise ValidationError(errors)
    converted = cash_convert(
        campaign=campaign, amount=gift.amount, currency=gift.currency, received_on=gift.received_on
    )
    _check_maximum(campaign=campaign, gift=gift, converted=converted, entered_by=entered_by)
    return converted


def _new_cash_donation(
    *,
    campaign: Campaign,
    entered_by,
    gift: CashGift,
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
        received_at=cash_received_at(received_on=gift.received_on, now=now),
        entered_by=entered_by,
        location=gift.location.strip(),
        note=gift.note.strip(),
        form_token=form_token,
    )
    conversion_apply(donation=donation, converted=converted)
    donation.full_clean(exclude=["form_token"])
    return donation


def _save_recorded(recorded: list[tuple[Donation, CashGift]], *, by) -> None:
    """Insert new cash entries, each with its "recorded" history row (one transaction), which
    keeps the reason an organizer gave for a gift above the largest gift."""
    with transaction.atomic():
        for donation, gift in recorded:
            with donation_change(
                donation,
                action=DonationChange.Action.RECORD,
                by=by,
                reason=gift.above_maximum_reason.strip(),
            ):
                pass  # a new gift: the gate inserts it as built


def _entries_for_tokens(*, tokens: list[uuid.UUID], entered_by) -> list[Donation]:
    entries = list(Donation.objects.filter(form_token__in=tokens).order_by("received_at", "id"))
    if any(entry.entered_by_id != entered_by.pk for entry in entries):
        raise PermissionDenied(TOKEN_ERROR)
    return entries


def _recent_twin_exists(
    *, campaign: Campaign, entered_by, gift: CashGift, now: datetime.datetime
) -> bool:
    """Whether this volunteer saved an identical entry (giver, amount, currency, date) lately."""
    day_starts = timezone.make_aware(datetime.datetime.combine(gift.received_on, datetime.time()))
    next_day = gift.received_on + datetime.timedelta(days=1)
    day_ends = timezone.make_aware(datetime.datetime.combine(next_day, datetime.time()))
    return (
        Donation.objects.filter(
            source=Donation.Source.OFFLINE,
            campaign=campaign,
            entered_by=entered_by,
            giver_name=gift.name.strip(),
            amount=gift.amount,
            currency=gift.currency,
            received_at__gte=day_starts,
            received_at__lt=day_ends,
            created_at__gte=now - TWIN_WINDOW,
        )
        .exclude(status=Donation.Status.VOIDED)
        .exists()
    )


def _twin_error() -> ValidationError:
    return ValidationError(POSSIBLE_TWIN_ERROR, code="possible_twin")


def _check_may_record(*, user, campaign: Campaign) -> None:
    if campaign.status == Campaign.Status.DRAFT:
        raise PermissionDenied(DRAFT_CAMPAIGN_ERROR)
    if not permissions.may_record_cash(user=user, campaign=campaign):
        raise PermissionDenied(NOT_ASSIGNED_ERROR)


def donation_record_cash(
    *,
    campaign: Campaign,
    entered_by,
    gift: CashGift,
    form_token: uuid.UUID,
    another_gift: bool = False,
) -> Donation:
    """Record one cash gift, counted at once, exactly once per form token.

    A token already used by the same person returns the entry it created (double tap, back
    button, retried request), also when two requests race: the unique constraint decides.
    An entry identical to one this volunteer saved in the last ten minutes is refused with a
    ValidationError (code "possible_twin") unless `another_gift` confirms it.
    Raises PermissionDenied (not assigned, or someone else's token) and ValidationError (by
    field, nothing stored) for a bad date, currency or amount, or a missing exchange rate.
    """
    existing = _entries_for_tokens(tokens=[form_token], entered_by=entered_by)
    if existing:
        return existing[0]
    _check_may_record(user=entered_by, campaign=campaign)
    converted = cash_gift_convert(campaign=campaign, gift=gift, entered_by=entered_by)
    if not another_gift and _recent_twin_exists(
        campaign=campaign, entered_by=entered_by, gift=gift, now=timezone.now()
    ):
        raise _twin_error()
    donation = _new_cash_donation(
        campaign=campaign,
        entered_by=entered_by,
        gift=gift,
        converted=converted,
        form_token=form_token,
        now=timezone.now(),
    )
    try:
        _save_recorded([(donation, gift)], by=entered_by)
    except IntegrityError:
        existing = _entries_for_tokens(tokens=[form_token], entered_by=entered_by)
        if not existing:
            raise
        return existing[0]
    return donation


def batch_row_token(*, batch_token: uuid.UUID, index: int) -> uuid.UUID:
    """Each row of a tally sheet gets its own token, derived from the sheet's."""
    return uuid.uuid5(batch_token, str(index))


def cash_batch_convert(
    *,
    campaign: Campaign,
    gifts: dict[int, CashGift],
    entered_by,
    other_gift_rows: frozenset[int] = frozenset(),
    now: datetime.datetime | None = None,
) -> dict[int, ConvertedAmount]:
    """Check and convert every row of a tally sheet; writes nothing.

    Raises CashBatchError with every bad row's error at once, so a volunteer sees all of
    them in one pass (the batch form also asks this for the rows it could read while other
    rows did not parse). A row identical to an entry `entered_by` saved in the last ten
    minutes is an error too, unless its index is in `other_gift_rows`.
    """
    now = now or timezone.now()
    converted: dict[int, ConvertedAmount] = {}
    errors: dict[int, ValidationError] = {}
    for index, gift in sorted(gifts.items()):
        try:
            converted[index] = cash_gift_convert(
                campaign=campaign, gift=gift, entered_by=entered_by
            )
            if index not in other_gift_rows and _recent_twin_exists(
                campaign=campaign, entered_by=entered_by, gift=gift, now=now
            ):
                raise _twin_error()
        except ValidationError as error:
            errors[index] = error
    if errors:
        raise CashBatchError(errors)
    return converted


def donation_record_cash_batch(
    *,
    campaign: Campaign,
    entered_by,
    gifts: dict[int, CashGift],
    batch_token: uuid.UUID,
    other_gift_rows: frozenset[int] = frozenset(),
) -> list[Donation]:
    """Record a tally sheet: every row or none, each row once.

    `gifts` maps each filled row's index on the sheet to its gift. Every row is checked and
    converted before anything is written; bad rows raise CashBatchError with one error per
    row. A row identical to an entry this volunteer saved in the last ten minutes is such an
    error (code "possible_twin") unless its index is in `other_gift_rows`. A sheet submitted
    again returns the entries the first submission recorded.
    """
    if not gifts:
        raise ValidationError(BATCH_EMPTY_ERROR)
    if len(gifts) > CASH_BATCH_MAX_ROWS or max(gifts) >= CASH_BATCH_MAX_ROWS:
        raise ValidationError(BATCH_TOO_LONG_ERROR % {"max": CASH_BATCH_MAX_ROWS})
    tokens = {index: batch_row_token(batch_token=batch_token, index=index) for index in gifts}
    existing = _entries_for_tokens(tokens=list(tokens.values()), entered_by=entered_by)
    if existing:
        return existing
    _check_may_record(user=entered_by, campaign=campaign)
    now = timezone.now()
    converted = cash_batch_convert(
        campaign=campaign,
        gifts=gifts,
        entered_by=entered_by,
        other_gift_rows=other_gift_rows,
        now=now,
    )
    recorded = [
        (
            _new_cash_donation(
                campaign=campaign,
                entered_by=entered_by,
                gift=gift,
                converted=converted[index],
                form_token=tokens[index],
                now=now,
            ),
            gift,
        )
        for index, gift in sorted(gifts.items())
    ]
    try:
        _save_recorded(recorded, by=entered_by)
    except IntegrityError:
        existing = _entries_for_tokens(tokens=list(tokens.values()), entered_by=entered_by)
        if not existing:
            raise
        return existing
    return [donation for donation, _gift in recorded]


def _cash_entry(locked: Donation | None) -> Donation:
    """The entry's row the gate locked; ValidationError unless it is cash."""
    if locked is None:
        raise Donation.DoesNotExist
    if locked.source != Donation.Source.OFFLINE:
        raise ValidationError(NOT_CASH_ERROR)
    return locked


def donation_void(*, donation: Donation, by, reason: str) -> Donation:
    """Void a cash entry: it leaves the page and the totals but keeps its row.

    Organizers may void any cash entry; a volunteer only their own, within 24 hours of
    entering it (permissions.may_void_cash). A reason is always required. Writes a history
    row with action "void".
    """
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": VOID_REASON_ERROR})
    with donation_change(
        donation, action=DonationChange.Action.VOID, by=by, reason=reason
    ) as change:
        donation = _cash_entry(change.row)
        if donation.status == Donation.Status.VOIDED:
            raise ValidationError(ALREADY_VOIDED_ERROR)
        now = timezone.now()
        if not permissions.may_void_cash(donation=donation, user=by, now=now):
            raise PermissionDenied(VOID_NOT_ALLOWED_ERROR)
        donation.status = Donation.Status.VOIDED
        donation.voided_at = now
        donation.voided_by = by
        donation.void_reason = reason
    return donation


# Fields an organizer may change on a cash entry; the rest is the record of how it came in.
CASH_EDITABLE_FIELDS = (
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


def donation_update_cash(
    *, donation: Donation, by, values: dict[str, Any], reason: str = ""
) -> Donation:
    """An organizer's edit of a cash entry, kept in its change history.

    Only CASH_EDITABLE_FIELDS change. The previous and new values go into one history row
    (action "edit"). A changed amount, currency or received date is converted again at the
    rate of the (new) received date, and the new rate is stored; without a rate it raises
    ValidationError and nothing changes. A new amount above the largest gift needs `reason`.
    """
    unknown = set(values) - set(CASH_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")
    with donation_change(
        donation, action=DonationChange.Action.EDIT, by=by, reason=reason
    ) as change:
        donation = _cash_entry(change.row)
        if not permissions.may_change_donation(user=by, donation=donation):
            raise PermissionDenied
        for field, value in values.items():
            setattr(donation, field, value)
        changes = donation_changes(change.before, donation)
        if not changes:
            return donation
        cash_edit_validate(donation, by=by, reason=reason, changed=set(changes))
        if any(field in changes for field in CONVERSION_INPUTS):
            conversion_apply(
                donation=donation,
                converted=cash_convert(
                    campaign=donation.campaign,
                    amount=donation.amount,
                    currency=donation.currency,
                    received_on=timezone.localdate(donation.received_at),
                ),
            )
    return donation


def cash_edit_validate(
    donation: Donation, *, by, reason: str = "", changed: set[str] | None = None
) -> None:
    """An organizer's edit obeys the same rules as the cash form (raises ValidationError).

    When the amount, currency or date changes (`changed`: the fields edited; None, all of
    them) the entry must still convert, and a sum above the largest gift needs `reason`, as
    when it is recorded. A team member it is moved to must not be retired.
    """
    received_at = donation.received_at
    gift = CashGift(
        amount=donation.amount,
        currency=donation.currency,
        received_on=timezone.localdate(received_at) if received_at else timezone.localdate(),
        team_member=donation.team_member,
        above_maximum_reason=reason,
    )
    errors = _cash_gift_errors(campaign=donation.campaign, gift=gift, today=timezone.localdate())
    # A retired member takes no new gift; an entry that was already theirs stays theirs.
    newly_theirs = changed is None or "team_member" in changed
    if newly_theirs and gift.team_member is not None and gift.team_member.retired:
        errors.setdefault("team_member", TEAM_MEMBER_RETIRED_ERROR)
    if "received_on" in errors:
        errors["received_at"] = errors.pop("received_on")
    if errors:
        raise ValidationError(errors)
    if changed is None or changed & set(CONVERSION_INPUTS):
        converted = cash_convert(
            campaign=donation.campaign,
            amount=gift.amount,
            currency=gift.currency,
            received_on=gift.received_on,
        )
        _check_maximum(campaign=donation.campaign, gift=gift, converted=converted, entered_by=by)


def donation_mark_deposited(*, donations, deposited_on: datetime.date, by) -> int:
    """Mark counted cash as deposited on a date; returns how many entries changed.

    Online and voided gifts, and gifts of campaigns `by` does not manage, are left alone.
    Each change is kept in the entry's history.
    """
    if not permissions.is_organizer(by):
        raise PermissionDenied
    changed = 0
    with transaction.atomic():
        mine = permissions.scoped_to_managed(Donation.objects.all(), user=by)
        rows = (
            mine.select_for_update()
            .filter(pk__in=[donation.pk for donation in donations])
            .filter(source=Donation.Source.OFFLINE, status=Donation.Status.SUCCEEDED)
            .exclude(deposited_on=deposited_on)
        )
        for pk in rows.values_list("pk", flat=True):
            with donation_change(
                Donation.objects.filter(pk=pk), action=DonationChange.Action.DEPOSIT, by=by
            ) as change:
                change.row.deposited_on = deposited_on
            changed += 1
    return changed


def donation_moderate(
    *, donation: Donation, by, hide_name: bool, hide_message: bool, reason: str = ""
) -> Donation:
    """Hide a gift's public name or message without touching the gift itself.

    Works for online and cash gifts; the change is kept in the history ("moderate").
    """
    if not permissions.may_change_donation(user=by, donation=donation):
        raise PermissionDenied
    with donation_change(
        donation, action=DonationChange.Action.MODERATE, by=by, reason=reason
    ) as change:
        change.row.name_hidden_by_organizer = hide_name
        change.row.message_hidden_by_organizer = hide_message
    return change.row


def volunteer_assign(*, by, user, campaign: Campaign) -> VolunteerAssignment:
    """Let `user` record cash for `campaign`: joins the Volunteers group and gets the assignment.

    Idempotent. Grants no model permission and no admin access. `by` is who asks (None: the
    operator at the shell); permissions.may_assign_volunteers decides, or PermissionDenied.
    """
    if not permissions.may_assign_volunteers(by=by, campaign=campaign):
        raise PermissionDenied
    with transaction.atomic():
        group, _created = Group.objects.get_or_create(name=permissions.VOLUNTEERS_GROUP)
        user.groups.add(group)
        assignment, _created = VolunteerAssignment.objects.get_or_create(
            user=user, campaign=campaign
        )
    return assignment

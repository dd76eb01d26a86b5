"""The volunteers' cash forms. They parse what was typed; the cash services decide."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

import money
from campaigns.models import Campaign, TeamMember
from donations.models import CASH_BATCH_MAX_ROWS
from donations.services.cash import (
    ABOVE_MAXIMUM_REASON_FIELD,
    AMOUNT_NOT_A_NUMBER_ERROR,
    CashGift,
)

DATE_FORMAT = "%Y-%m-%d"


class PlainAmountField(forms.DecimalField):
    """An amount read as the donate form reads it (money.parse_amount): digits and at most
    one decimal point; no exponent ("1e9"), no "NaN" nor "Infinity", no grouping."""

    default_error_messages = {"invalid": AMOUNT_NOT_A_NUMBER_ERROR}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return money.parse_amount(str(value))
        except money.MoneyError as error:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from error


class CashEntryForm(forms.Form):
    """One cash gift; the field names are those of CONTRACTS.md and of the tally sheet."""

    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    anonymous = forms.BooleanField(label=_("Anonymous: hide the name"), required=False)
    amount = PlainAmountField(
        label=_("Amount"),
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.01", "inputmode": "decimal"}),
    )
    currency = forms.ChoiceField(label=_("Currency"))
    received_on = forms.DateField(
        label=_("Date received"),
        input_formats=[DATE_FORMAT],
        widget=forms.DateInput(format=DATE_FORMAT, attrs={"type": "date"}),
    )
    team_member = forms.ChoiceField(label=_("Team member"), required=False)
    message = forms.CharField(
        label=_("Public message"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Shown on the campaign page."),
    )
    note = forms.CharField(
        label=_("Private note"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Only organizers see it."),
    )
    location = forms.CharField(label=_("Location"), max_length=200, required=False)
    # Hidden until the cash service finds an identical entry saved minutes ago; then a
    # checkbox the volunteer ticks to confirm that this is another gift.
    another_gift = forms.BooleanField(
        label=_("Yes, this is another gift"), required=False, widget=forms.HiddenInput
    )
    # Hidden until the cash service asks an organizer why a gift is above the largest gift.
    above_maximum_reason = forms.CharField(
        label=_("Reason for a gift above the largest gift"),
        max_length=500,
        required=False,
        widget=forms.HiddenInput,
    )

    def __init__(self, *args, campaign: Campaign, members: list[TeamMember], **kwargs):
        super().__init__(*args, **kwargs)
        self.members = {member.slug: member for member in members}
        self.fields["currency"].choices = [(code, code) for code in campaign.donation_currencies]
        self.fields["team_member"].choices = [
            ("", _("None")),
            *((member.slug, member.localized("name", get_language())) for member in members),
        ]
        self.fields["received_on"].widget.attrs.update(
            {"min": campaign.launched_on.isoformat(), "max": timezone.localdate().isoformat()}
        )

    @property
    def asks_another_gift(self) -> bool:
        return not self.fields["another_gift"].widget.is_hidden

    def ask_another_gift(self, error) -> None:
        """Show the confirmation checkbox, unticked, with the service's question."""
        self.fields["another_gift"].widget = forms.CheckboxInput()
        self.add_error("another_gift", error)

    def add_error(self, field, error) -> None:
        """Show the service's errors; one asking for a reason shows the reason box."""
        asks_reason = isinstance(error, ValidationError) and hasattr(error, "error_dict")
        if asks_reason and ABOVE_MAXIMUM_REASON_FIELD in error.error_dict:
            self.fields[ABOVE_MAXIMUM_REASON_FIELD].widget = forms.Textarea(attrs={"rows": 2})
        super().add_error(field, error)

    def gift(self) -> CashGift:
        data = self.cleaned_data
        return CashGift(
            amount=data["amount"],
            currency=data["currency"],
            received_on=data["received_on"],
            name=data["name"],
            anonymous=data["anonymous"],
            team_member=self.members.get(data["team_member"]),
            message=data["message"],
            note=data["note"],
            location=data["location"],
            above_maximum_reason=data[ABOVE_MAXIMUM_REASON_FIELD],
        )


class CashForm(CashEntryForm):
    """The single-entry form, with its one-time token against double submits."""

    form_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


class BatchTokenForm(forms.Form):
    """The tally sheet's one-time token; each row's token is derived from it."""

    batch_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


CashRowFormSet = forms.formset_factory(
    CashEntryForm,
    extra=CASH_BATCH_MAX_ROWS,
    max_num=CASH_BATCH_MAX_ROWS,
    absolute_max=CASH_BATCH_MAX_ROWS,
    validate_max=True,
)


class VoidForm(forms.Form):
    # Required by the void service, which words the error; the form only bounds the length.
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)

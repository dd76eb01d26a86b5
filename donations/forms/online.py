"""The donate form: it reads what a giver typed; the online service decides the rules."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

import money
from campaigns.models import Campaign, TeamMember
from donations.models import Donation
from donations.services.online import (
    AMOUNT_INVALID,
    AMOUNT_REQUIRED,
    CURRENCY_NOT_ACCEPTED,
    FREQUENCY_INVALID,
    Frequency,
    gift_check,
)

MESSAGE_MAX_LENGTH = 500
# The value of the "Other" radio: the amount is the one typed beside it.
OTHER_AMOUNT = "other"
AMOUNT_AMBIGUOUS = _(
    "You chose %(chosen)s and also typed %(typed)s. Choose “Other” to give the amount you "
    "typed, or clear it to give %(chosen)s."
)


class FrequencyRadios(forms.RadioSelect):
    """Radios whose group is named by its first radio, so the error summary can link to it."""

    def id_for_label(self, id_, index=None):
        return f"{id_}_{index or 0}" if id_ else ""


class DonateForm(forms.Form):
    """The donate form of CONTRACTS.md, bound to one campaign and its team members."""

    # Preset radios are named `amount` (CONTRACTS.md); a typed amount goes in `amount_other`.
    amount = forms.CharField(label=_("Amount"), max_length=20, required=False)
    amount_other = forms.CharField(
        label=_("Other amount"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    frequency = forms.ChoiceField(
        label=_("How often"),
        choices=Frequency.choices,
        initial=Frequency.ONCE,
        required=False,
        widget=FrequencyRadios,
        error_messages={"invalid_choice": FREQUENCY_INVALID},
    )
    currency = forms.ChoiceField(
        label=_("Currency"), error_messages={"invalid_choice": CURRENCY_NOT_ACCEPTED}
    )
    name = forms.CharField(
        label=_("Your name"), max_length=Donation._meta.get_field("giver_name").max_length
    )
    # The column's own limit (254), not the form's default of 320: a longer address would
    # pass here and then fail at the database.
    email = forms.EmailField(
        label=_("Email"),
        max_length=Donation._meta.get_field("email").max_length,
        help_text=_("Your receipt goes here. It is never shown."),
    )
    anonymous = forms.BooleanField(label=_("Hide my name on the page"), required=False)
    hide_amount = forms.BooleanField(label=_("Show my gift without its amount"), required=False)
    message = forms.CharField(
        label=_("Words of support (optional, public)"),
        max_length=MESSAGE_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": MESSAGE_MAX_LENGTH}),
    )
    team_member = forms.ChoiceField(label=_("Giving with"), required=False)
    cover_fees = forms.BooleanField(
        label=_("Add an estimate of the card processing fee so the campaign gets my whole gift"),
        required=False,
    )
    # A honeypot: hidden from people by CSS, filled in by form-filling bots.
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(
        self,
        *args,
        campaign: Campaign,
        members: list[TeamMember],
        today: datetime.date,
        **kwargs,
    ):
        super().__init__(*args, label_suffix="", **kwargs)
        self.campaign = campaign
        self.today = today
        self.members_by_slug = {member.slug: member for member in members}
        self.fields["currency"].choices = [(code, code) for code in campaign.donation_currencies]
        self.fields["currency"].initial = campaign.currency
        self.fields["team_member"].choices = [("", _("Nobody in particular"))] + [
            (member.slug, member.localized("name", get_language())) for member in members
        ]

    @staticmethod
    def initial_from(gift: Donation, presets: list[Decimal]) -> dict:
        """The form as the giver left it when this gift was started (after a decline, or
        coming back from a cancelled Checkout)."""
        is_preset = gift.amount in presets
        return {
            "amount": str(gift.amount.normalize()) if is_preset else OTHER_AMOUNT,
            "amount_other": "" if is_preset else str(gift.amount),
            "currency": gift.currency,
            "name": gift.giver_name,
            "email": gift.email,
            "anonymous": gift.anonymous,
            "hide_amount": gift.hide_amount,
            "message": gift.message,
            "team_member": gift.team_member.slug if gift.team_member else "",
            "cover_fees": bool(gift.fee_cover_amount),
            "frequency": Frequency.MONTHLY if gift.monthly_gift_id else Frequency.ONCE,
        }

    @property
    def is_spam(self) -> bool:
        return bool(self.data.get("website"))

    def clean_amount(self) -> Decimal:
        """The chosen preset, or the typed amount when "Other" (or nothing) is chosen.

        Without JavaScript a giver can choose a preset and also type an amount; then neither
        is guessed: the form comes back with both kept and asks for one choice.
        """
        chosen = (self.cleaned_data["amount"] or "").strip()
        typed = (self.data.get("amount_other") or "").strip()
        if chosen in ("", OTHER_AMOUNT):
            text = typed
        elif typed and typed != chosen:
            raise ValidationError(
                AMOUNT_AMBIGUOUS, code="ambiguous", params={"chosen": chosen, "typed": typed}
            )
        else:
            text = chosen
        if not text:
            raise ValidationError(AMOUNT_REQUIRED, code="required")
        try:
            return money.parse_amount(text)
        except money.MoneyError as error:
            raise ValidationError(AMOUNT_INVALID, code="invalid") from error

    def clean_frequency(self) -> str:
        """`once` unless `monthly` is chosen (a POST without the field gives once)."""
        return self.cleaned_data.get("frequency") or Frequency.ONCE

    def clean_team_member(self) -> TeamMember | None:
        slug = self.cleaned_data.get("team_member")
        return self.members_by_slug.get(slug) if slug else None

    def clean(self) -> dict:
        """Show the online service's own rules next to their fields before anything is
        counted (rate limits) or stored; the service checks them again when it runs."""
        cleaned = super().clean()
        amount, currency = cleaned.get("amount"), cleaned.get("currency")
        if amount is not None and currency:
            try:
                gift_check(
                    campaign=self.campaign,
                    amount=amount,
                    currency=currency,
                    team_member=cleaned.get("team_member"),
                    today=self.today,
                )
            except ValidationError as error:
                self.add_error(None, error)
        return cleaned

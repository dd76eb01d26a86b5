"""Donor self-service forms: asking for a link, and changing the public side of a gift."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from donations.forms.online import MESSAGE_MAX_LENGTH
from donations.models import Donation, MonthlyGift


class LinkRequestForm(forms.Form):
    email = forms.EmailField(
        label=_("Your email"),
        max_length=254,
        help_text=_("The address your receipts went to."),
    )


class DonorGiftForm(forms.ModelForm):
    """The public side of one gift, as its donor may change it."""

    class Meta:
        model = Donation
        fields = ["giver_name", "anonymous", "hide_amount", "message"]
        labels = {
            "giver_name": _("Name shown"),
            "anonymous": _("Hide my name on the page"),
            "hide_amount": _("Show my gift without its amount"),
            "message": _("Words of support (public)"),
        }
        widgets = {
            "message": forms.Textarea(attrs={"rows": 2, "maxlength": MESSAGE_MAX_LENGTH}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)
        self.fields["message"].max_length = MESSAGE_MAX_LENGTH


class DonorMonthlyForm(DonorGiftForm):
    """The public side of a monthly gift (and so of every month of it)."""

    class Meta(DonorGiftForm.Meta):
        model = MonthlyGift

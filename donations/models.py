"""Donations, online (Stripe Checkout) and offline (cash entered by volunteers).

Every amount is a Decimal beside its ISO 4217 code. A gift is converted into its campaign's
currency once, when it is recorded, and the rate, its date and its source are stored with it.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from money import CURRENCY_CHOICES

MONEY = {"max_digits": 14, "decimal_places": 2}
RATE = {"max_digits": 20, "decimal_places": 10}
ZERO = Value(0, output_field=models.DecimalField(**MONEY))
# Raised, as CONTRACTS.md defines it, over counted gifts: each gift in the campaign currency
# (fee surcharges are never in it) less its refunded part. The one definition every total uses.
RAISED = Coalesce(Sum(F("amount_converted") - F("amount_refunded_converted")), ZERO)


class DonationSource(models.TextChoices):
    ONLINE = "online", _("Online")
    OFFLINE = "offline", _("Offline")


class DonationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", pgettext_lazy("gift status", "Failed")
    EXPIRED = "expired", _("Expired")
    REFUNDED = "refunded", _("Refunded")
    VOIDED = "voided", _("Voided")


class DisputeStatus(models.TextChoices):
    """Stripe's own dispute statuses (https://docs.stripe.com/api/disputes/object#dispute_object-status)."""

    NONE = "", _("No dispute")
    WARNING_NEEDS_RESPONSE = "warning_needs_response", _("Inquiry: needs a response")
    WARNING_UNDER_REVIEW = "warning_under_review", _("Inquiry: under review")
    WARNING_CLOSED = "warning_closed", _("Inquiry closed")
    NEEDS_RESPONSE = "needs_response", _("Disputed: needs a response")
    UNDER_REVIEW = "under_review", _("Disputed: under review")
    WON = "won", _("Dispute won")
    LOST = "lost", _("Dispute lost")
    PREVENTED = "prevented", _("Dispute prevented")
    APPEAL_NEEDS_RESPONSE = "appeal_needs_response", _("Appeal: needs a response")
    APPEAL_UNDER_REVIEW = "appeal_under_review", _("Appeal: under review")


# A gift whose disputed money is withdrawn for good (lost, or lost and under appeal) does not
# count; one whose dispute is later won (funds reinstated) counts again.
DISPUTE_NOT_COUNTED = ("lost", "appeal_needs_response", "appeal_under_review")


class ReviewReason(models.TextChoices):
    """Why an organizer should look at a gift: Stripe reported something we did not apply
    as it came (the history row of the change says what)."""

    NONE = "", _("Nothing to review")
    CHARGE_MISMATCH = "charge_mismatch", _("Charged another amount or currency than pledged")
    CHARGE_UNCOUNTABLE = "charge_uncountable", _("Charged in a currency that cannot be counted")
    REFUND_MISMATCH = "refund_mismatch", _("A refund did not match the gift's charge")
    STRIPE_ID_CONFLICT = "stripe_id_conflict", _("Its Stripe ids belong to another gift")
    CAMPAIGN_CLOSED = "campaign_closed", _("A monthly gift charged after its campaign closed")
    INVOICE_REASON = "invoice_reason", _("A monthly gift's invoice that is not for a month")


class RateSource(models.TextChoices):
    SAME_CURRENCY = "same", _("Same currency")
    ECB = "ecb", _("ECB reference rate")
    STRIPE = "stripe", _("Stripe settlement")
    MANUAL = "manual", _("Rate entered in the admin")
    DEMO = "demo", _("Demo rate (not a real rate of that day)")


# Tally sheets and the batch cash form hold this many rows; the cash service refuses more.
CASH_BATCH_MAX_ROWS = 30


class DonationQuerySet(models.QuerySet):
    def for_campaign(self, campaign) -> DonationQuerySet:
        return self.filter(campaign=campaign)

    def counted(self) -> DonationQuerySet:
        """Gifts that count: succeeded (online paid, offline not voided), dispute not lost.

        A fully refunded gift has status `refunded`, so it drops out here; a partly refunded
        one stays, and `totals()` subtracts the refunded part.
        """
        return self.filter(status=Donation.Status.SUCCEEDED).exclude(
            dispute_status__in=DISPUTE_NOT_COUNTED
        )

    def newest_first(self) -> DonationQuerySet:
        return self.order_by("-received_at", "-id")

    def before_cursor(self, received_at, donation_id) -> DonationQuerySet:
        """Keyset pagination: gifts older than (received_at, id), in newest-first order.

        The redundant `received_at <= …` gives the database a range to seek in the
        giver-list index; with the OR alone it scans the index from the newest gift on.
        """
        return self.filter(received_at__lte=received_at).filter(
            Q(received_at__lt=received_at) | Q(id__lt=donation_id)
        )


class PublicFace:
    """What the public may see of a gift, a monthly gift or a giver-list entry: the name
    unless the giver asked for anonymity or an organizer hid it, the message unless hidden."""

    anonymous: bool
    name_hidden_by_organizer: bool
    message: str
    message_hidden_by_organizer: bool

    @property
    def public_name_hidden(self) -> bool:
        return self.anonymous or self.name_hidden_by_organizer

    @property
    def public_message(self) -> str:
        return "" if self.message_hidden_by_organizer else self.message


class Donation(PublicFace, models.Model):
    Source = DonationSource
    Status = DonationStatus
    DisputeStatus = DisputeStatus
    RateSource = RateSource
    ReviewReason = ReviewReason

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.PROTECT,
        related_name="donations",
        verbose_name=_("campaign"),
    )
    team_member = models.ForeignKey(
        "campaigns.TeamMember",
        verbose_name=_("team member"),
        # A member with gifts is retired, or its gifts moved (services/members.py), never
        # deleted: a gift losing its member would leave the member's tally counting it.
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="donations",
    )
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    dispute_status = models.CharField(
        _("dispute"), max_length=30, choices=DisputeStatus.choices, default="", blank=True
    )
    # When Stripe said so: the `created` time of the event that set the status, so an older
    # event delivered late cannot undo a newer one.
    dispute_updated_at = models.DateTimeField(_("dispute updated at"), null=True, blank=True)
    dispute_fee = models.DecimalField(
        _("dispute fee"),
        null=True,
        blank=True,
        help_text=_("In the settlement currency."),
        **MONEY,
    )

    giver_name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("email"), blank=True)
    anonymous = models.BooleanField(_("anonymous"), default=False)
    hide_amount = models.BooleanField(_("hide amount"), default=False)
    message = models.TextField(_("public message"), max_length=500, blank=True)
    name_hidden_by_organizer = models.BooleanField(_("name hidden by organizer"), default=False)
    message_hidden_by_organizer = models.BooleanField(
        _("message hidden by organizer"), default=False
    )
    language = models.CharField(_("language"), max_length=8, default="en")

    # What the giver gave, in the currency they chose. `fee_cover_amount` is the optional
    # surcharge to cover processing fees: charged, never counted as raised.
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    fee_cover_amount = models.DecimalField(_("fee cover"), default=0, **MONEY)

    # The same gift in the campaign's currency, converted once when it was recorded.
    amount_converted = models.DecimalField(_("amount in campaign currency"), **MONEY)
    conversion_rate = models.DecimalField(_("rate"), **RATE)
    rate_date = models.DateField(_("rate date"))
    rate_source = models.CharField(_("rate source"), max_length=10, choices=RateSource.choices)

    # Refunds: the refunded part, in the gift's currency and (at the same rate) the campaign's.
    amount_refunded = models.DecimalField(_("refunded"), default=0, **MONEY)
    amount_refunded_converted = models.DecimalField(
        _("refunded in campaign currency"), default=0, **MONEY
    )

    received_at = models.DateTimeField(_("received at"), db_index=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    # Stripe (online gifts). Filled by the gateway's recording logic; never typed by a person.
    stripe_checkout_session_id = models.CharField(
        _("Stripe Checkout Session"), max_length=255, null=True, blank=True, unique=True
    )
    stripe_payment_intent_id = models.CharField(
        _("Stripe PaymentIntent"), max_length=255, null=True, blank=True, unique=True
    )
    stripe_charge_id = models.CharField(
        _("Stripe charge"), max_length=255, null=True, blank=True, unique=True
    )
    # A month of a monthly gift: its gift, and the Stripe invoice that charged it (one
    # counted gift per paid invoice, whichever way the news arrives).
    monthly_gift = models.ForeignKey(
        "donations.MonthlyGift",
        verbose_name=_("monthly gift"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="months_given",
    )
    stripe_invoice_id = models.CharField(
        _("Stripe invoice"), max_length=255, null=True, blank=True, unique=True
    )
    amount_charged = models.DecimalField(_("amount charged"), null=True, blank=True, **MONEY)
    currency_charged = models.CharField(_("currency charged"), max_length=3, blank=True)
    settlement_amount = models.DecimalField(_("settled amount"), null=True, blank=True, **MONEY)
    settlement_currency = models.CharField(_("settlement currency"), max_length=3, blank=True)
    settlement_exchange_rate = models.DecimalField(
        _("settlement exchange rate"), null=True, blank=True, **RATE
    )
    stripe_fee = models.DecimalField(_("Stripe fee"), null=True, blank=True, **MONEY)
    net_amount = models.DecimalField(_("net amount"), null=True, blank=True, **MONEY)
    review_reason = models.CharField(
        _("needs review"), max_length=30, choices=ReviewReason.choices, default="", blank=True
    )

    # Offline gifts: who entered it, where, and what became of the cash.
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("entered by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="entered_donations",
    )
    location = models.CharField(_("location"), max_length=200, blank=True)
    note = models.TextField(_("private note"), blank=True)
    form_token = models.UUIDField(
        _("form token"), null=True, blank=True, unique=True, editable=False
    )
    deposited_on = models.DateField(_("deposited on"), null=True, blank=True)
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("voided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="voided_donations",
    )
    void_reason = models.TextField(_("void reason"), blank=True)

    objects = DonationQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("donation")
        verbose_name_plural = _("donations")
        indexes = [
            models.Index(
                fields=["campaign", "status", "-received_at", "-id"], name="donation_giver_list"
            ),
            models.Index(fields=["campaign", "team_member", "status"], name="donation_member"),
            # The giver list's single gifts: months of a monthly gift are listed once, as
            # their monthly gift (selectors/givers.py), so this index leaves them out and a
            # page costs the same however many months they add.
            models.Index(
                fields=["campaign", "status", "-received_at", "-id"],
                condition=Q(monthly_gift__isnull=True),
                name="donation_giver_list_single",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="donation_amount_positive"),
            models.CheckConstraint(
                condition=Q(amount_converted__gte=0), name="donation_converted_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(fee_cover_amount__gte=0), name="donation_fee_cover_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0)
                & Q(amount_refunded_converted__gte=0)
                & Q(amount_refunded_converted__lte=F("amount_converted")),
                name="donation_refund_in_range",
            ),
            models.CheckConstraint(
                condition=Q(status__in=DonationStatus.values),
                name="donation_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(source__in=DonationSource.values),
                name="donation_source_valid",
            ),
            models.CheckConstraint(
                condition=Q(dispute_status__in=DisputeStatus.values),
                name="donation_dispute_valid",
            ),
            models.CheckConstraint(
                condition=Q(review_reason__in=ReviewReason.values),
                name="donation_review_reason_valid",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="donation_currency_iso"
            ),
            models.CheckConstraint(
                condition=Q(source="online") | Q(fee_cover_amount=0),
                name="donation_offline_has_no_fee_cover",
            ),
            models.CheckConstraint(
                condition=Q(status="voided", voided_at__isnull=False)
                | (~Q(status="voided") & Q(voided_at__isnull=True)),
                name="donation_voided_has_time",
            ),
        ]

    def __str__(self) -> str:
        source, status = self.get_source_display(), self.get_status_display()
        return f"{source} {self.amount} {self.currency} ({status})"

    @property
    def counted_amount(self):
        return self.amount_converted - self.amount_refunded_converted

    @property
    def charged_amount(self):
        """What the giver paid: Stripe's charged total once known, else gift plus fee cover."""
        if self.amount_charged is not None:
            return self.amount_charged
        return self.amount + self.fee_cover_amount

    @property
    def charged_currency(self) -> str:
        return self.currency_charged or self.currency


class GiftTally(models.Model):
    """Running totals of the counted gifts of one campaign, team member and source.

    Kept in step with every change of a gift, in the same transaction, by
    services/totals.py (always with F() expressions, never read-modify-write), so that the
    campaign page reads a handful of rows instead of aggregating every gift.
    `totals_verify` recomputes them from the gifts. `member_key` is the team member's id, or
    0 for gifts with no team member (a unique constraint cannot compare NULLs everywhere).
    """

    campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.CASCADE,
        related_name="gift_tallies",
        verbose_name=_("campaign"),
    )
    member_key = models.PositiveBigIntegerField(_("team member id (0: none)"), default=0)
    source = models.CharField(_("source"), max_length=10, choices=DonationSource.choices)
    raised = models.DecimalField(_("raised"), default=0, **MONEY)
    gifts = models.BigIntegerField(_("gifts"), default=0)
    # Active monthly gifts and what they give each month, in the campaign currency.
    monthly_active = models.BigIntegerField(_("active monthly gifts"), default=0)
    monthly_amount = models.DecimalField(_("given each month"), default=0, **MONEY)

    class Meta:
        verbose_name = _("gift tally")
        verbose_name_plural = _("gift tallies")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "member_key", "source"], name="gift_tally_unique"
            ),
            models.CheckConstraint(
                condition=Q(source__in=DonationSource.values), name="gift_tally_source_valid"
            ),
            models.CheckConstraint(condition=Q(gifts__gte=0), name="gift_tally_gifts_not_negative"),
            models.CheckConstraint(
                condition=Q(monthly_active__gte=0), name="gift_tally_monthly_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.member_key}/{self.source}: {self.gifts}, {self.raised}"


class MonthlyGiftStatus(models.TextChoices):
    PENDING = "pending", _("Checkout started")
    ACTIVE = "active", _("Active")
    PAST_DUE = "past_due", _("Last month failed; Stripe is retrying")
    UNPAID = "unpaid", _("Stripe stopped retrying a failed month")
    PAUSED = "paused", _("Paused at Stripe")
    ENDING = "ending", _("Ends with the month paid")
    CANCELED = "canceled", _("Stopped")
    EXPIRED = "expired", _("Never started")


# Monthly gifts that will charge again: the campaign page counts these as active.
MONTHLY_ACTIVE = ("active", "past_due")
# Monthly gifts that are over: nothing moves them again.
MONTHLY_FINAL = ("canceled", "expired")


class MonthlyGiftEnd(models.TextChoices):
    NONE = "", _("Not stopped")
    DONOR = "donor", _("Stopped by the donor")
    CAMPAIGN = "campaign", _("Its campaign completed")
    STRIPE = "stripe", _("Ended at Stripe")
    CHECKOUT = "checkout", _("Checkout not completed")


class MonthlyGift(PublicFace, models.Model):
    """A gift given every month through a Stripe subscription, with the giver's choices.

    Each paid invoice is one counted gift (a Donation with this gift and the invoice id), so
    totals and the gift count include every month. `raised` and `months` are the running
    totals of those months, kept by services/totals.py with every change of one of them; the
    giver list shows the monthly gift once, with them. The status is its subscription's as
    Stripe has it (services/monthly.py); `stop_requested_at` keeps a stop asked for and not
    confirmed by Stripe yet.
    """

    Status = MonthlyGiftStatus
    End = MonthlyGiftEnd

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.PROTECT,
        related_name="monthly_gifts",
        verbose_name=_("campaign"),
    )
    team_member = models.ForeignKey(
        "campaigns.TeamMember",
        verbose_name=_("team member"),
        # A member with gifts is retired, or its gifts moved (services/members.py), never
        # deleted: a gift losing its member would leave the member's tally counting it.
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="monthly_gifts",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    end_reason = models.CharField(
        _("why it ended"), max_length=10, choices=End.choices, default="", blank=True
    )

    giver_name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("email"), blank=True)
    anonymous = models.BooleanField(_("anonymous"), default=False)
    hide_amount = models.BooleanField(_("hide amount"), default=False)
    message = models.TextField(_("public message"), max_length=500, blank=True)
    name_hidden_by_organizer = models.BooleanField(_("name hidden by organizer"), default=False)
    message_hidden_by_organizer = models.BooleanField(
        _("message hidden by organizer"), default=False
    )
    language = models.CharField(_("language"), max_length=8, default="en")

    # Each month, in the giver's currency; and the gift (fee cover aside) in the campaign's,
    # an estimate until the first month is recorded, then that month's counted amount.
    amount = models.DecimalField(_("amount each month"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    fee_cover_amount = models.DecimalField(_("fee cover each month"), default=0, **MONEY)
    amount_converted = models.DecimalField(_("each month in campaign currency"), **MONEY)

    raised = models.DecimalField(_("raised so far"), default=0, **MONEY)
    months = models.BigIntegerField(_("months counted"), default=0)

    started_at = models.DateTimeField(_("first month paid at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    paid_through = models.DateTimeField(_("paid through"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    stripe_checkout_session_id = models.CharField(
        _("Stripe Checkout Session"), max_length=255, null=True, blank=True, unique=True
    )
    stripe_subscription_id = models.CharField(
        _("Stripe subscription"), max_length=255, null=True, blank=True, unique=True
    )
    stop_requested_at = models.DateTimeField(_("stop requested at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("monthly gift")
        verbose_name_plural = _("monthly gifts")
        indexes = [
            # The giver list's monthly entries, in the order of their first month.
            models.Index(fields=["campaign", "-started_at", "-id"], name="monthly_giver_list"),
            models.Index(fields=["status"], name="monthly_gift_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="monthly_amount_positive"),
            models.CheckConstraint(
                condition=Q(amount_converted__gte=0) & Q(fee_cover_amount__gte=0),
                name="monthly_amounts_not_negative",
            ),
            models.CheckConstraint(condition=Q(months__gte=0), name="monthly_months_not_negative"),
            models.CheckConstraint(
                condition=Q(status__in=MonthlyGiftStatus.values), name="monthly_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(end_reason__in=MonthlyGiftEnd.values), name="monthly_end_valid"
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="monthly_currency_iso"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} a month ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status in MONTHLY_ACTIVE

    @property
    def may_stop(self) -> bool:
        """Whether it will charge again, so that its donor may stop it."""
        return self.status in MONTHLY_ACTIVE


class ExchangeRateSource(models.TextChoices):
    ECB = "ECB", _("European Central Bank")
    DEMO = "DEMO", _("Demo (not a real rate of that day)")
    MANUAL = "MANUAL", _("Entered by hand")


class ExchangeRate(models.Model):
    """A reference rate: how many units of `currency` one euro bought on `date` (ECB)."""

    Source = ExchangeRateSource

    date = models.DateField(_("date"))
    currency = models.CharField(_("currency"), max_length=3)
    per_euro = models.DecimalField(_("units per EUR"), max_digits=18, decimal_places=6)
    source = models.CharField(
        _("source"), max_length=20, choices=Source.choices, default=Source.MANUAL
    )

    class Meta:
        ordering = ["-date", "currency"]
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        constraints = [
            models.UniqueConstraint(fields=["date", "currency"], name="exchange_rate_unique_day"),
            models.CheckConstraint(condition=Q(per_euro__gt=0), name="exchange_rate_positive"),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="exchange_rate_currency_iso"
            ),
            models.CheckConstraint(
                condition=Q(source__in=ExchangeRateSource.values), name="exchange_rate_source_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"1 EUR = {self.per_euro} {self.currency} on {self.date}"


class ExchangeRateChangeAction(models.TextChoices):
    ADD = "add", _("Added by hand")
    EDIT = "edit", _("Changed by hand")
    DELETE = "delete", _("Deleted")
    IMPORT = "import", _("Imported")


class ExchangeRateChange(models.Model):
    """One change of a stored rate: its old and new values, and who (a superuser) or what
    (the ECB import) made it. The day and currency are kept, so the row outlives the rate."""

    Action = ExchangeRateChangeAction

    rate = models.ForeignKey(
        ExchangeRate,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="changes",
        verbose_name=_("exchange rate"),
    )
    date = models.DateField(_("date"))
    currency = models.CharField(_("currency"), max_length=3)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="exchange_rate_changes",
    )
    changed_at = models.DateTimeField(_("changed at"), auto_now_add=True)
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    changes = models.JSONField(_("changes"), default=dict)
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = _("exchange rate change")
        verbose_name_plural = _("exchange rate changes")
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=ExchangeRateChangeAction.values),
                name="exchange_rate_change_action_valid",
            ),
        ]

    def __str__(self) -> str:
        who = self.changed_by or self.reason
        return f"{self.get_action_display()} of {self.currency} on {self.date} ({who})"


class StripeEvent(models.Model):
    """Each Stripe event id, stored in the same transaction as its effects: exactly once."""

    event_id = models.CharField(_("event id"), max_length=255, unique=True)
    type = models.CharField(_("type"), max_length=100)
    donation = models.ForeignKey(
        Donation, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("donation")
    )
    monthly_gift = models.ForeignKey(
        MonthlyGift,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("monthly gift"),
    )
    processed_at = models.DateTimeField(_("processed at"), auto_now_add=True)

    class Meta:
        ordering = ["-processed_at"]
        verbose_name = _("Stripe event")
        verbose_name_plural = _("Stripe events")

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class RefundStatus(models.TextChoices):
    """Stripe's refund statuses (https://docs.stripe.com/api/refunds/object#refund_object-status)."""

    PENDING = "pending", _("Pending")
    REQUIRES_ACTION = "requires_action", _("Requires action")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", pgettext_lazy("refund status", "Failed")
    CANCELED = "canceled", _("Canceled")


# Refunds that took the money (or are taking it); a failed or canceled one gave it back.
REFUND_HOLDS = ("pending", "requires_action", "succeeded")


class Refund(models.Model):
    """One Stripe refund of an online gift, by its id, with its status as Stripe last said.

    The gift's refunded part is the sum of its refunds that hold (pending, requiring action or
    succeeded), so a refund that fails or is canceled later gives its amount back.
    """

    Status = RefundStatus

    donation = models.ForeignKey(
        Donation, on_delete=models.CASCADE, related_name="refunds", verbose_name=_("donation")
    )
    stripe_refund_id = models.CharField(_("Stripe refund"), max_length=255, unique=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["donation", "stripe_refund_id"]
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=RefundStatus.values), name="refund_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stripe_refund_id}: {self.amount} {self.currency} ({self.status})"


class WebhookOutcome(models.TextChoices):
    QUEUED = "queued", _("Received: waiting for the worker")
    RECORDED = "recorded", _("Recorded")
    REPEATED = "repeated", _("Repeated: recorded before")
    IGNORED = "ignored", _("Ignored: a type the site does not use")
    UNMATCHED = "unmatched", _("No matching gift")
    REJECTED = "rejected", _("Rejected: bad or missing signature")
    FAILED = "failed", _("Failed while recording (retried)")


class WebhookDelivery(models.Model):
    """The inbox: each Stripe event the webhook accepted, stored once by its id with its
    verified body, then processed by a task (`stripe_event_process`). The row is the record:
    `processed_at` says it is done, `attempts` and `last_error` say how processing went, and
    the sweep enqueues again an event whose task was lost. `payments_check` drops the ones
    older than its --keep period. Refused deliveries are counted (WebhookRejection), not kept."""

    Outcome = WebhookOutcome

    received_at = models.DateTimeField(_("received at"), default=timezone.now, db_index=True)
    event_id = models.CharField(_("event id"), max_length=255, unique=True)
    event_type = models.CharField(_("type"), max_length=100)
    object_id = models.CharField(_("object"), max_length=255, blank=True)
    payload = models.TextField(_("payload"), blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.QUEUED
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    reason = models.TextField(_("last error"), blank=True)
    enqueued_at = models.DateTimeField(_("enqueued at"), null=True, blank=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    donation = models.ForeignKey(
        Donation, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("donation")
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("Stripe event received")
        verbose_name_plural = _("Stripe events received")
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome__in=WebhookOutcome.values), name="webhook_outcome_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["enqueued_at"],
                condition=Q(processed_at__isnull=True),
                name="webhook_unprocessed",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} ({self.outcome})"


class WebhookRejection(models.Model):
    """Deliveries refused for their signature (or a body we cannot read), counted per hour:
    a flood of forged requests costs one row an hour, and never pushes a real failure off
    the payment health panel."""

    hour = models.DateTimeField(_("hour"), unique=True)
    count = models.PositiveIntegerField(_("count"), default=0)
    last_reason = models.TextField(_("last reason"), blank=True)

    class Meta:
        ordering = ["-hour"]
        verbose_name = _("refused webhook deliveries")
        verbose_name_plural = _("refused webhook deliveries")

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00}: {self.count}"


class PaymentAlert(models.Model):
    """An email to a campaign's organizers about its payments (payments_check), kept so the
    same alert is not raised again before its repeat period. `sent_at` is when it was
    raised; the task worker mails it and sets `mailed_at` (the sweep retries until then)."""

    class Kind(models.TextChoices):
        WEBHOOK_SILENT = "webhook-silent", _("Checkouts without webhooks")

    campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.CASCADE,
        related_name="payment_alerts",
        verbose_name=_("campaign"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    sent_at = models.DateTimeField(_("sent at"))
    recipients = models.PositiveIntegerField(_("recipients"), default=0)
    mailed_at = models.DateTimeField(_("mailed at"), null=True, blank=True)

    class Meta:
        ordering = ["-sent_at"]
        verbose_name = _("payment alert")
        verbose_name_plural = _("payment alerts")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.campaign_id} at {self.sent_at:%Y-%m-%d %H:%M}"


class RenewalNoticeKind(models.TextChoices):
    ACTION_REQUIRED = "action_required", _("Renewal needs the donor's confirmation (3D Secure)")
    PAYMENT_FAILED = "payment_failed", _("Renewal failed")


class RenewalNoticeStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    MAILED = "mailed", _("Mailed")
    NOT_NEEDED = "not_needed", _("Not needed any more")


class RenewalNotice(models.Model):
    """An email to a monthly gift's donor about one renewal invoice that needs them (a bank's
    confirmation, or a failed charge), kept so that each invoice and kind is mailed at most
    once however often Stripe reports it. The task worker mails it (services/renewals.py),
    the sweep retries it until then."""

    Kind = RenewalNoticeKind
    Status = RenewalNoticeStatus

    monthly_gift = models.ForeignKey(
        MonthlyGift,
        on_delete=models.CASCADE,
        related_name="renewal_notices",
        verbose_name=_("monthly gift"),
    )
    stripe_invoice_id = models.CharField(_("Stripe invoice"), max_length=255)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.QUEUED
    )
    stripe_event_id = models.CharField(_("Stripe event"), max_length=255, blank=True)
    reason = models.CharField(_("why not mailed"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    mailed_at = models.DateTimeField(_("mailed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("renewal notice")
        verbose_name_plural = _("renewal notices")
        constraints = [
            models.UniqueConstraint(
                fields=["stripe_invoice_id", "kind"], name="renewal_notice_once_per_invoice"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=RenewalNoticeKind.values), name="renewal_notice_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=RenewalNoticeStatus.values),
                name="renewal_notice_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="renewal_notice_due")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.stripe_invoice_id}"


class ReceiptStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", pgettext_lazy("receipt status", "Failed")


class Receipt(models.Model):
    """A receipt email queued in the same transaction as the gift's success."""

    Status = ReceiptStatus

    donation = models.OneToOneField(
        Donation, on_delete=models.CASCADE, related_name="receipt", verbose_name=_("donation")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("receipt")
        verbose_name_plural = _("receipts")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="receipt_due")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ReceiptStatus.values),
                name="receipt_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Receipt for {self.donation_id} ({self.get_status_display()})"


class DonorLinkEmail(models.Model):
    """A donor's link, waiting to be emailed (the outbox of donations/services/donors.py).

    Queued by the request page, so the page answers the same whether the address gave or
    the mail server is down; sent by the receipts worker (`send_receipts`) with the
    receipts' retries, and deleted once sent or given up, so no address stays here.
    """

    email = models.EmailField(_("email"))  # as stored on the donor's gifts
    language = models.CharField(_("language"), max_length=10)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"))
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["next_attempt_at", "pk"]
        verbose_name = _("donor link email")
        verbose_name_plural = _("donor link emails")
        indexes = [models.Index(fields=["next_attempt_at"], name="donor_link_email_due")]

    def __str__(self) -> str:
        return f"Donor link email {self.pk}"


class VolunteerAssignment(models.Model):
    """Which campaigns a volunteer may record cash for; managed by organizers in the admin."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="volunteer_assignments",
        verbose_name=_("volunteer"),
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.CASCADE,
        related_name="volunteer_assignments",
        verbose_name=_("campaign"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["campaign", "user"]
        verbose_name = _("volunteer assignment")
        verbose_name_plural = _("volunteer assignments")
        constraints = [
            models.UniqueConstraint(fields=["user", "campaign"], name="volunteer_assignment_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.campaign}"


class OrganizerAssignment(models.Model):
    """Which campaigns an organizer manages (sees, edits, reports on and exports).

    Given by superusers in the admin; an organizer who creates a campaign is assigned to it.
    donations/permissions.py reads these; superusers need none.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="organizer_assignments",
        verbose_name=_("organizer"),
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.CASCADE,
        related_name="organizer_assignments",
        verbose_name=_("campaign"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["campaign", "user"]
        verbose_name = _("organizer assignment")
        verbose_name_plural = _("organizer assignments")
        constraints = [
            models.UniqueConstraint(fields=["user", "campaign"], name="organizer_assignment_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.campaign}"


class DonationChangeAction(models.TextChoices):
    START = "start", _("Checkout started")
    PAYMENT = "payment", _("Payment recorded")
    FAILURE = "failure", _("Payment failed")
    EXPIRY = "expiry", _("Checkout expired")
    REFUND = "refund", _("Refund")
    DISPUTE = "dispute", _("Dispute")
    STRIPE_UPDATE = "stripe", _("Stripe details updated")
    RECORD = "record", _("Cash recorded")
    EDIT = "edit", _("Edited")
    VOID = "void", _("Voided")
    DEPOSIT = "deposit", _("Cash deposited")
    MODERATE = "moderate", _("Moderated")
    DONOR_EDIT = "donor", _("Changed by the donor")
    PURGE = "purge", _("Personal data removed")
    MEMBER_MOVE = "member", _("Moved to another team member")
    RECEIPT_RESEND = "receipt", _("Receipt sent again")


class DonationChange(models.Model):
    """One change of a gift: what changed (old and new values), and who or what changed it.

    A person's change names them in `changed_by`; Stripe's names its event in
    `stripe_event_id` (empty when the change came from the thank-you page, reconciliation
    or the demo checkout, which `reason` then says).
    """

    Action = DonationChangeAction

    donation = models.ForeignKey(
        Donation, on_delete=models.CASCADE, related_name="changes", verbose_name=_("donation")
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="donation_changes",
    )
    stripe_event_id = models.CharField(_("Stripe event"), max_length=255, blank=True)
    changed_at = models.DateTimeField(_("changed at"), auto_now_add=True)
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    changes = models.JSONField(_("changes"), default=dict)
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = _("donation change")
        verbose_name_plural = _("donation changes")
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=DonationChangeAction.values),
                name="donation_change_action_valid",
            ),
        ]

    def __str__(self) -> str:
        who = self.changed_by or self.stripe_event_id or self.reason
        return f"{self.get_action_display()} of {self.donation_id} ({who})"


class MonthlyGiftChangeAction(models.TextChoices):
    START = "start", _("Checkout started")
    STRIPE_UPDATE = "stripe", _("Stripe reported a change")
    PAYMENT = "payment", _("Month recorded")
    STOP = "stop", _("Stopped")
    STOP_REQUEST = "stop_request", _("Stop requested")
    DONOR_EDIT = "donor", _("Changed by the donor")
    MODERATE = "moderate", _("Moderated")
    PURGE = "purge", _("Personal data removed")
    MEMBER_MOVE = "member", _("Moved to another team member")


class MonthlyGiftChange(models.Model):
    """One change of a monthly gift (its months have their own history, as every gift)."""

    Action = MonthlyGiftChangeAction

    monthly_gift = models.ForeignKey(
        MonthlyGift,
        on_delete=models.CASCADE,
        related_name="changes",
        verbose_name=_("monthly gift"),
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="monthly_gift_changes",
    )
    stripe_event_id = models.CharField(_("Stripe event"), max_length=255, blank=True)
    changed_at = models.DateTimeField(_("changed at"), auto_now_add=True)
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    changes = models.JSONField(_("changes"), default=dict)
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = _("monthly gift change")
        verbose_name_plural = _("monthly gift changes")
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=MonthlyGiftChangeAction.values),
                name="monthly_change_action_valid",
            ),
        ]

    def __str__(self) -> str:
        who = self.changed_by or self.stripe_event_id or self.reason
        return f"{self.get_action_display()} of {self.monthly_gift_id} ({who})"


class ExportLog(models.Model):
    """Every donations export: who took the donors' data, when, for which campaign."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="donation_exports",
        verbose_name=_("user"),
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.PROTECT,
        related_name="donation_exports",
        verbose_name=_("campaign"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("export log entry")
        verbose_name_plural = _("export log")

    def __str__(self) -> str:
        return f"{self.user} exported {self.campaign} at {self.created_at:%Y-%m-%d %H:%M}"

"""The organizers' back office.

Cash (offline) entries are edited through the cash services (history kept, amounts converted
again when they change); online gifts can only be moderated. Nothing here calls .update()
on money, and only superusers delete. An organizer sees only the campaigns they are assigned
to (permissions.managed_campaigns); superusers see all and assign organizers here.
"""

import copy

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from campaigns.models import TeamMember
from donations import permissions
from donations.forms.cash import PlainAmountField
from donations.models import (
    Donation,
    DonationChange,
    ExchangeRate,
    ExchangeRateChange,
    ExportLog,
    MonthlyGift,
    MonthlyGiftChange,
    OrganizerAssignment,
    Receipt,
    Refund,
    RenewalNotice,
    StripeEvent,
    VolunteerAssignment,
)
from donations.selectors.health import payment_health
from donations.services.access import organizer_assign
from donations.services.cash import (
    ABOVE_MAXIMUM_REASON_FIELD,
    CASH_EDITABLE_FIELDS,
    cash_edit_validate,
    donation_mark_deposited,
    donation_moderate,
    donation_update_cash,
    donation_void,
    volunteer_assign,
)
from donations.services.monthly import monthly_gift_moderate
from donations.services.rates import exchange_rate_delete, exchange_rate_set
from donations.services.receipts import receipt_resend

STRIPE_FIELDS = [
    "monthly_gift",
    "stripe_invoice_id",
    "stripe_checkout_session_id",
    "stripe_payment_intent_id",
    "stripe_charge_id",
    "amount_charged",
    "currency_charged",
    "settlement_amount",
    "settlement_currency",
    "settlement_exchange_rate",
    "stripe_fee",
    "net_amount",
]
CONVERSION_FIELDS = [
    "amount_converted",
    "conversion_rate",
    "rate_date",
    "rate_source",
    "amount_refunded",
    "amount_refunded_converted",
]
MODERATION_FIELDS = ("name_hidden_by_organizer", "message_hidden_by_organizer")
ALL_FIELDS = [field.name for field in Donation._meta.fields] + ["created_at", "updated_at"]
ONE_CAMPAIGN_ERROR = _("Select donations of one campaign only to export it.")
VOID_REASON_NEEDED = _("Type a reason in the box beside the action to void entries.")


class ManagedCampaignsOnly:
    """Only rows of the campaigns the signed-in person manages, and only those campaigns to
    choose from. `campaign_field` is the lookup path from a row to its campaign."""

    campaign_field = "campaign"

    def get_queryset(self, request: HttpRequest):
        return permissions.scoped_to_managed(
            super().get_queryset(request), user=request.user, campaign_field=self.campaign_field
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "campaign":
            kwargs["queryset"] = permissions.managed_campaigns(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# Filters list only the campaigns present in the (scoped) rows, never another group's.
CAMPAIGN_FILTER = ("campaign", admin.RelatedOnlyFieldListFilter)
GIFT_CAMPAIGN_FILTER = ("donation__campaign", admin.RelatedOnlyFieldListFilter)


class DepositedFilter(admin.SimpleListFilter):
    title = _("cash deposit")
    parameter_name = "deposited"

    def lookups(self, request, model_admin):
        return [("no", _("Cash not deposited yet")), ("yes", _("Cash deposited"))]

    def queryset(self, request, queryset):
        cash = queryset.filter(source=Donation.Source.OFFLINE, status=Donation.Status.SUCCEEDED)
        if self.value() == "no":
            return cash.filter(deposited_on__isnull=True)
        if self.value() == "yes":
            return cash.filter(deposited_on__isnull=False)
        return queryset


class DonationActionForm(ActionForm):
    """The action bar, with the deposit date and the void reason the actions need."""

    deposited_on = forms.DateField(
        label=_("Deposited on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
    )
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)


class DonationAdminForm(forms.ModelForm):
    above_maximum_reason = forms.CharField(
        label=_("Reason for a gift above the largest gift"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    # Who edits (set by DonationAdmin.get_form): the largest gift's rule depends on it.
    editor = None

    class Meta:
        model = Donation
        fields = list(CASH_EDITABLE_FIELDS)
        # Read as the cash form reads it: digits and one decimal point, no exponent ("2e1").
        field_classes = {"amount": PlainAmountField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and "team_member" in self.fields:
            # Retired members take no more gifts; the entry's own member stays choosable.
            self.fields["team_member"].queryset = TeamMember.objects.filter(
                Q(retired=False) | Q(pk=self.instance.team_member_id),
                campaign_id=self.instance.campaign_id,
            )

    def clean(self):
        """An edited offline entry obeys the cash form's rules and must still convert."""
        data = super().clean()
        donation = self.instance
        if donation.source != Donation.Source.OFFLINE or self.errors:
            return data
        edited = copy.copy(donation)
        for field in self.changed_data:
            if field != ABOVE_MAXIMUM_REASON_FIELD:
                setattr(edited, field, data.get(field))
        cash_edit_validate(
            edited,
            by=self.editor,
            reason=data.get(ABOVE_MAXIMUM_REASON_FIELD, ""),
            changed=set(self.changed_data),
        )
        return data


class DonationChangeInline(admin.TabularInline):
    model = DonationChange
    extra = 0
    can_delete = False
    fields = ["changed_at", "action", "changed_by", "stripe_event_id", "changes", "reason"]
    readonly_fields = fields
    ordering = ["-changed_at", "-id"]
    verbose_name_plural = _("History")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class RefundInline(admin.TabularInline):
    """Each Stripe refund of an online gift, as Stripe last reported it (read only)."""

    model = Refund
    extra = 0
    can_delete = False
    fields = ["stripe_refund_id", "amount", "currency", "status", "updated_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Donation)
class DonationAdmin(ManagedCampaignsOnly, admin.ModelAdmin):
    form = DonationAdminForm
    action_form = DonationActionForm
    actions = ["mark_deposited", "void_entries", "export_campaign"]
    inlines = [RefundInline, DonationChangeInline]
    list_display = [
        "received_at",
        "campaign",
        "giver_name",
        "anonymous",
        "amount",
        "currency",
        "amount_converted",
        "source",
        "status",
        "dispute_status",
        "entered_by",
        "location",
        "deposited_on",
    ]
    list_filter = [
        CAMPAIGN_FILTER,
        "source",
        "status",
        DepositedFilter,
        ("entered_by", admin.RelatedOnlyFieldListFilter),
        "location",
        "dispute_status",
        "review_reason",
        "currency",
        "name_hidden_by_organizer",
        "message_hidden_by_organizer",
    ]
    search_fields = [
        "giver_name",
        "email",
        "location",
        "note",
        "stripe_checkout_session_id",
        "stripe_charge_id",
    ]
    date_hierarchy = "received_at"
    list_select_related = ["campaign", "entered_by"]
    readonly_fields = [name for name in ALL_FIELDS if name not in CASH_EDITABLE_FIELDS]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "id",
                    "campaign",
                    "team_member",
                    "source",
                    "status",
                    "dispute_status",
                    "review_reason",
                ]
            },
        ),
        (
            _("Giver"),
            {
                "fields": [
                    "giver_name",
                    "email",
                    "anonymous",
                    "hide_amount",
                    "message",
                    "language",
                ]
            },
        ),
        (_("Moderation"), {"fields": list(MODERATION_FIELDS)}),
        (_("Amount"), {"fields": ["amount", "currency", "fee_cover_amount", *CONVERSION_FIELDS]}),
        (_("Stripe"), {"classes": ["collapse"], "fields": STRIPE_FIELDS}),
        (
            _("Offline"),
            {
                "fields": [
                    "received_at",
                    "entered_by",
                    "location",
                    "note",
                    "deposited_on",
                    "voided_at",
                    "voided_by",
                    "void_reason",
                ]
            },
        ),
        (_("Record"), {"classes": ["collapse"], "fields": ["created_at", "updated_at"]}),
    ]

    def has_add_permission(self, request) -> bool:
        # Gifts enter through Checkout or the volunteers' cash forms, which convert and log.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return permissions.may_delete_gift_records(request.user)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.editor = request.user
        return form

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or obj.source != Donation.Source.OFFLINE:
            return fieldsets
        if obj.status == Donation.Status.VOIDED:
            return fieldsets
        # An editable cash entry: the organizer may give a reason for a larger amount.
        return [
            (name, {**options, "fields": [*options["fields"], ABOVE_MAXIMUM_REASON_FIELD]})
            if name == _("Amount")
            else (name, options)
            for name, options in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.source == Donation.Source.ONLINE:
            # What Stripe reported is the record: organizers may only moderate.
            return [name for name in ALL_FIELDS if name not in MODERATION_FIELDS]
        if obj is not None and obj.status == Donation.Status.VOIDED:
            return ALL_FIELDS
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Donation, form, change: bool) -> None:
        reason = form.cleaned_data.get(ABOVE_MAXIMUM_REASON_FIELD, "")
        values = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name != ABOVE_MAXIMUM_REASON_FIELD
        }
        if not values:
            return
        if obj.source == Donation.Source.OFFLINE:
            donation_update_cash(donation=obj, by=request.user, values=values, reason=reason)
        elif obj.monthly_gift_id:
            # A month of a monthly gift: the giver list shows the monthly gift, so it and
            # every month of it are moderated together.
            monthly_gift_moderate(
                gift=obj.monthly_gift,
                by=request.user,
                hide_name=obj.name_hidden_by_organizer,
                hide_message=obj.message_hidden_by_organizer,
            )
        else:
            donation_moderate(
                donation=obj,
                by=request.user,
                hide_name=obj.name_hidden_by_organizer,
                hide_message=obj.message_hidden_by_organizer,
            )
        obj.refresh_from_db()

    @admin.action(
        description=_("Mark cash as deposited (on the date beside)"), permissions=["change"]
    )
    def mark_deposited(self, request: HttpRequest, queryset) -> None:
        form = DonationActionForm(request.POST)
        form.is_valid()
        deposited_on = form.cleaned_data.get("deposited_on") or timezone.localdate()
        count = donation_mark_deposited(
            donations=list(queryset), deposited_on=deposited_on, by=request.user
        )
        self.message_user(
            request,
            ngettext(
                "%(count)d cash entry marked as deposited on %(date)s.",
                "%(count)d cash entries marked as deposited on %(date)s.",
                count,
            )
            % {"count": count, "date": deposited_on.isoformat()},
        )

    @admin.action(
        description=_("Void offline entries (with the reason beside)"), permissions=["change"]
    )
    def void_entries(self, request: HttpRequest, queryset) -> None:
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(request, VOID_REASON_NEEDED, messages.ERROR)
            return
        voided = 0
        for donation in queryset:
            try:
                donation_void(donation=donation, by=request.user, reason=reason)
            except (ValidationError, PermissionDenied) as error:
                text = " ".join(getattr(error, "messages", [str(error)]))
                self.message_user(request, f"{donation}: {text}", messages.WARNING)
            else:
                voided += 1
        self.message_user(
            request,
            ngettext("%(count)d entry voided.", "%(count)d entries voided.", voided)
            % {"count": voided},
        )

    @admin.action(description=_("Export this campaign's donations (CSV)"), permissions=["view"])
    def export_campaign(self, request: HttpRequest, queryset):
        slugs = set(queryset.values_list("campaign__slug", flat=True))
        if len(slugs) != 1:
            self.message_user(request, ONE_CAMPAIGN_ERROR, messages.ERROR)
            return None
        return HttpResponseRedirect(reverse("donations:export-csv", kwargs={"slug": slugs.pop()}))


class MonthlyGiftChangeInline(DonationChangeInline):
    model = MonthlyGiftChange


class MonthInline(admin.TabularInline):
    """Each month of a monthly gift: a gift of its own (read only here)."""

    model = Donation
    fk_name = "monthly_gift"
    extra = 0
    can_delete = False
    fields = ["received_at", "amount", "currency", "status", "stripe_invoice_id", "review_reason"]
    readonly_fields = fields
    ordering = ["-received_at", "-id"]
    show_change_link = True
    verbose_name = _("month")
    verbose_name_plural = _("Months")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


MONTHLY_ALL_FIELDS = [field.name for field in MonthlyGift._meta.fields]


@admin.register(MonthlyGift)
class MonthlyGiftAdmin(ManagedCampaignsOnly, admin.ModelAdmin):
    """Monthly gifts as Stripe reports them; organizers may only moderate (each month of
    one is a donation of its own, with its refunds and disputes)."""

    list_display = [
        "created_at",
        "campaign",
        "giver_name",
        "amount",
        "currency",
        "status",
        "months",
        "raised",
        "started_at",
        "end_reason",
    ]
    list_filter = [CAMPAIGN_FILTER, "status", "end_reason", "currency"]
    search_fields = [
        "giver_name",
        "email",
        "stripe_subscription_id",
        "stripe_checkout_session_id",
    ]
    list_select_related = ["campaign"]
    readonly_fields = [name for name in MONTHLY_ALL_FIELDS if name not in MODERATION_FIELDS]
    inlines = [MonthInline, MonthlyGiftChangeInline]
    fieldsets = [
        (None, {"fields": ["id", "campaign", "team_member", "status", "end_reason"]}),
        (
            _("Giver"),
            {"fields": ["giver_name", "email", "anonymous", "hide_amount", "message", "language"]},
        ),
        (_("Moderation"), {"fields": list(MODERATION_FIELDS)}),
        (
            _("Amount"),
            {
                "fields": [
                    "amount",
                    "currency",
                    "fee_cover_amount",
                    "amount_converted",
                    "months",
                    "raised",
                ]
            },
        ),
        (_("Dates"), {"fields": ["created_at", "started_at", "paid_through", "ended_at"]}),
        (
            _("Stripe"),
            {
                "classes": ["collapse"],
                "fields": [
                    "stripe_checkout_session_id",
                    "stripe_subscription_id",
                    "stop_requested_at",
                    "updated_at",
                ],
            },
        ),
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # its months are donations: the record of what was given

    def save_model(self, request: HttpRequest, obj: MonthlyGift, form, change: bool) -> None:
        if not form.changed_data:
            return
        monthly_gift_moderate(
            gift=obj,
            by=request.user,
            hide_name=obj.name_hidden_by_organizer,
            hide_message=obj.message_hidden_by_organizer,
        )
        obj.refresh_from_db()


class RecordAdmin(admin.ModelAdmin):
    """An audit record: shown to organizers, never added, edited or deleted in the admin."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DonationChange)
class DonationChangeAdmin(ManagedCampaignsOnly, RecordAdmin):
    campaign_field = "donation__campaign"
    list_display = ["changed_at", "donation", "action", "changed_by", "stripe_event_id", "reason"]
    list_filter = ["action", GIFT_CAMPAIGN_FILTER]
    search_fields = ["donation__id", "changed_by__username", "stripe_event_id", "reason"]
    list_select_related = ["donation", "changed_by"]


@admin.register(VolunteerAssignment)
class VolunteerAssignmentAdmin(ManagedCampaignsOnly, admin.ModelAdmin):
    """Organizers assign volunteers to their campaigns here, without touching anyone's
    permissions."""

    list_display = ["user", "campaign", "created_at", "cash_form_link"]
    list_filter = [CAMPAIGN_FILTER]
    search_fields = ["user__username", "user__email", "campaign__title"]
    list_select_related = ["user", "campaign"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "campaign", "created_at"] if obj is not None else ["created_at"]

    def save_model(self, request: HttpRequest, obj: VolunteerAssignment, form, change: bool):
        if change:
            return
        assignment = volunteer_assign(by=request.user, user=obj.user, campaign=obj.campaign)
        obj.pk = assignment.pk
        obj.created_at = assignment.created_at

    @admin.display(description=_("Cash form"))
    def cash_form_link(self, assignment: VolunteerAssignment) -> str:
        url = reverse("donations:cash-new", kwargs={"slug": assignment.campaign.slug})
        return format_html('<a href="{}">{}</a>', url, url)


@admin.register(OrganizerAssignment)
class OrganizerAssignmentAdmin(admin.ModelAdmin):
    """Superusers say which staff member organizes which campaign."""

    list_display = ["user", "campaign", "created_at"]
    list_filter = ["campaign"]
    search_fields = ["user__username", "user__email", "campaign__title"]
    list_select_related = ["user", "campaign"]

    def has_module_permission(self, request) -> bool:
        return permissions.may_assign_organizers(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return permissions.may_assign_organizers(request.user)

    def has_add_permission(self, request) -> bool:
        return permissions.may_assign_organizers(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # an assignment is added or deleted, never changed

    def has_delete_permission(self, request, obj=None) -> bool:
        return permissions.may_assign_organizers(request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = permissions.organizer_candidates()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: OrganizerAssignment, form, change: bool):
        assignment = organizer_assign(by=request.user, user=obj.user, campaign=obj.campaign)
        obj.pk = assignment.pk
        obj.created_at = assignment.created_at


@admin.register(ExportLog)
class ExportLogAdmin(ManagedCampaignsOnly, RecordAdmin):
    list_display = ["created_at", "user", "campaign"]
    list_filter = [CAMPAIGN_FILTER, ("user", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "campaign__title"]
    date_hierarchy = "created_at"
    list_select_related = ["user", "campaign"]


class ExchangeRateChangeInline(admin.TabularInline):
    """A rate's history: who (or which import) set it, and its old and new values."""

    model = ExchangeRateChange
    extra = 0
    can_delete = False
    fields = ["changed_at", "action", "changed_by", "changes", "reason"]
    readonly_fields = fields
    ordering = ["-changed_at", "-id"]
    verbose_name_plural = _("History")

    def has_view_permission(self, request, obj=None) -> bool:
        return permissions.may_see_rates(request.user)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    """Rates convert every campaign's gifts: superusers set them (the rates services keep
    who did); organizers only see them and their history."""

    list_display = ["date", "currency", "per_euro", "source"]
    list_filter = ["currency", "source"]
    search_fields = ["currency"]
    date_hierarchy = "date"
    fields = ["date", "currency", "per_euro", "source"]
    readonly_fields = ["source"]
    inlines = [ExchangeRateChangeInline]

    def get_readonly_fields(self, request, obj=None):
        return ["date", "currency", "source"] if obj is not None else self.readonly_fields

    def has_add_permission(self, request) -> bool:
        return permissions.may_change_rates(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return permissions.may_change_rates(request.user)

    def has_delete_permission(self, request, obj=None) -> bool:
        return permissions.may_change_rates(request.user)

    def save_model(self, request: HttpRequest, obj: ExchangeRate, form, change: bool) -> None:
        saved = exchange_rate_set(
            date=obj.date, currency=obj.currency, per_euro=obj.per_euro, by=request.user
        )
        obj.pk, obj.source = saved.pk, saved.source

    def delete_model(self, request: HttpRequest, obj: ExchangeRate) -> None:
        exchange_rate_delete(rate=obj, by=request.user)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for rate in queryset:
            exchange_rate_delete(rate=rate, by=request.user)


@admin.register(ExchangeRateChange)
class ExchangeRateChangeAdmin(RecordAdmin):
    """Every change of every rate, deleted rates' too."""

    list_display = ["changed_at", "date", "currency", "action", "changed_by", "reason"]
    list_filter = ["action", "currency"]
    search_fields = ["currency", "changed_by__username", "reason"]
    list_select_related = ["changed_by"]
    date_hierarchy = "changed_at"

    def has_module_permission(self, request) -> bool:
        return permissions.may_see_rates(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return permissions.may_see_rates(request.user)


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = ["stripe_refund_id", "donation", "amount", "currency", "status", "updated_at"]
    list_filter = ["status", "currency"]
    search_fields = ["stripe_refund_id", "donation__id"]
    readonly_fields = ["donation", "stripe_refund_id", "amount", "currency", "status", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RenewalNotice)
class RenewalNoticeAdmin(ManagedCampaignsOnly, RecordAdmin):
    """The emails to donors whose monthly renewal needs them (services/renewals.py)."""

    campaign_field = "monthly_gift__campaign"
    list_display = ["created_at", "kind", "status", "monthly_gift", "stripe_invoice_id", "reason"]
    list_filter = ["kind", "status", ("monthly_gift__campaign", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["stripe_invoice_id", "stripe_event_id", "monthly_gift__email"]
    list_select_related = ["monthly_gift"]


@admin.register(StripeEvent)
class StripeEventAdmin(ManagedCampaignsOnly, admin.ModelAdmin):
    campaign_field = "donation__campaign"
    list_display = ["processed_at", "type", "event_id", "donation"]
    list_filter = ["type"]
    search_fields = ["event_id", "donation__id"]
    readonly_fields = ["event_id", "type", "donation", "processed_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        health = path(
            "health/",
            self.admin_site.admin_view(self.payment_health_view),
            name="donations_payment_health",
        )
        return [health, *super().get_urls()]

    def payment_health_view(self, request: HttpRequest) -> TemplateResponse:
        """Is money arriving? Webhooks, checkouts, pending gifts and failing receipts."""
        if not permissions.may_see_payment_health(request.user):
            raise PermissionDenied
        campaigns = permissions.managed_campaigns(request.user)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Payment health"),
            "health": payment_health(now=timezone.now(), campaigns=campaigns),
        }
        return TemplateResponse(request, "admin/donations/payment_health.html", context)


@admin.register(Receipt)
class ReceiptAdmin(ManagedCampaignsOnly, admin.ModelAdmin):
    """Each gift's receipt state. Organizers resend the receipts of their campaigns' gifts
    (permissions.may_resend_receipts, then may_resend_receipt for each)."""

    list_display = [
        "created_at",
        "donation__campaign",
        "donation__email",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "sent_at",
    ]
    campaign_field = "donation__campaign"
    list_filter = ["status", GIFT_CAMPAIGN_FILTER]
    search_fields = ["donation__email", "donation__giver_name", "donation__id"]
    list_select_related = ["donation__campaign"]
    readonly_fields = [
        "donation",
        "status",
        "attempts",
        "next_attempt_at",
        "claimed_at",
        "sent_at",
        "last_error",
        "created_at",
    ]
    actions = ["resend"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return permissions.may_delete_gift_records(request.user)

    def has_resend_permission(self, request) -> bool:
        return permissions.may_resend_receipts(request.user)

    @admin.action(description=_("Resend the selected receipts"), permissions=["resend"])
    def resend(self, request, queryset) -> None:
        requeued = 0
        for receipt in queryset.select_related("donation__campaign"):
            try:
                receipt_resend(receipt=receipt, by=request.user)
            except (ValidationError, PermissionDenied) as error:
                text = " ".join(getattr(error, "messages", [str(error)]))
                self.message_user(request, f"{receipt}: {text}", messages.WARNING)
            else:
                requeued += 1
        self.message_user(
            request,
            ngettext(
                "%(count)d receipt queued to be sent again.",
                "%(count)d receipts queued to be sent again.",
                requeued,
            )
            % {"count": requeued},
        )

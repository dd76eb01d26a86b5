from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from donations.models import Donation, ExchangeRate, StripeEvent

STRIPE_FIELDS = [
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


@admin.register(Donation)
class DonationAdmin(admin.ModelAdmin):
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
    ]
    list_filter = ["campaign", "source", "status", "dispute_status", "currency"]
    search_fields = ["giver_name", "email", "stripe_checkout_session_id", "stripe_charge_id"]
    date_hierarchy = "received_at"
    list_select_related = ["campaign"]
    readonly_fields = [
        "id",
        "source",
        "status",
        "dispute_status",
        *CONVERSION_FIELDS,
        *STRIPE_FIELDS,
        "fee_cover_amount",
        "language",
        "entered_by",
        "voided_at",
        "voided_by",
        "void_reason",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (
            None,
            {"fields": ["id", "campaign", "team_member", "source", "status", "dispute_status"]},
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
                    "name_hidden_by_organizer",
                    "message_hidden_by_organizer",
                    "language",
                ]
            },
        ),
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
        return request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.source == Donation.Source.ONLINE:
            # What Stripe reported is the record: organizers may only moderate.
            editable = {"name_hidden_by_organizer", "message_hidden_by_organizer"}
            return [f.name for f in Donation._meta.fields if f.name not in editable]
        return self.readonly_fields


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ["date", "currency", "per_euro", "source"]
    list_filter = ["currency", "source"]
    search_fields = ["currency"]
    date_hierarchy = "date"


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = ["processed_at", "type", "event_id", "donation"]
    list_filter = ["type"]
    search_fields = ["event_id", "donation__id"]
    readonly_fields = ["event_id", "type", "donation", "processed_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

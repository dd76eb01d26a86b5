from django.contrib import admin
from django.db import models
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, StorySection, TeamMember


class StorySectionInline(admin.StackedInline):
    model = StorySection
    extra = 0
    fields = ["position", "heading", "body", "heading_es", "body_es"]
    ordering = ["position", "id"]


class TeamMemberInline(admin.TabularInline):
    model = TeamMember
    extra = 0
    fields = ["position", "name", "name_es", "slug", "photo"]
    prepopulated_fields = {"slug": ["name"]}
    ordering = ["position", "id"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "organizer_name",
        "status",
        "goal_amount",
        "currency",
        "launched_on",
        "completed_on",
        "donations_link",
    ]
    list_filter = ["status", "currency"]
    search_fields = ["title", "title_es", "slug", "organizer_name"]
    # Django 6 will assume https for a typed address without a scheme; choose it now (and
    # avoid the RemovedInDjango60Warning that the form field raises otherwise).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    prepopulated_fields = {"slug": ["title"]}
    date_hierarchy = "launched_on"
    inlines = [StorySectionInline, TeamMemberInline]
    readonly_fields = ["donations_link", "organize_links", "created_at", "updated_at"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "title",
                    "slug",
                    "status",
                    "language",
                    "summary",
                    "donations_link",
                    "organize_links",
                ]
            },
        ),
        (
            _("Spanish version"),
            {
                "description": _(
                    "Optional. Spanish-speaking visitors see these instead of the original; "
                    "where one is empty they see the original. Story sections and team "
                    "members have their Spanish fields below."
                ),
                "fields": ["title_es", "summary_es", "hero_image_alt_es"],
            },
        ),
        (_("Organizer"), {"fields": ["organizer_name", "organizer_url", "organizer_email"]}),
        (_("Image"), {"fields": ["hero_image", "hero_image_alt"]}),
        (_("Goal and currencies"), {"fields": ["goal_amount", "currency", "accepted_currencies"]}),
        (_("Dates"), {"fields": ["launched_on", "ends_on", "completed_on"]}),
        (_("Receipts"), {"fields": ["receipt_legal_line"]}),
        (
            _("Shares counted before this site"),
            {
                "classes": ["collapse"],
                "fields": [
                    "facebook_share_baseline",
                    "x_share_baseline",
                    "whatsapp_share_baseline",
                    "telegram_share_baseline",
                    "email_share_baseline",
                ],
            },
        ),
        (_("Record"), {"classes": ["collapse"], "fields": ["created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        # Gifts are converted into the campaign currency when recorded and never again, so the
        # currency is fixed once the campaign is public and can have gifts.
        if obj is not None and obj.status != Campaign.Status.DRAFT:
            return [*self.readonly_fields, "currency"]
        return self.readonly_fields

    @admin.display(description=_("Donations"))
    def donations_link(self, campaign: Campaign) -> str:
        if not campaign.pk:
            return "—"
        url = reverse("admin:donations_donation_changelist") + f"?campaign__id__exact={campaign.pk}"
        return format_html('<a href="{}">{}</a>', url, _("See this campaign's donations"))

    @admin.display(description=_("Report and export"))
    def organize_links(self, campaign: Campaign) -> str:
        if not campaign.pk:
            return "—"
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("donations:report", kwargs={"slug": campaign.slug}),
            _("Report"),
            reverse("donations:export-csv", kwargs={"slug": campaign.slug}),
            _("Export every donation (CSV)"),
        )


@admin.register(StorySection)
class StorySectionAdmin(admin.ModelAdmin):
    list_display = ["heading", "campaign", "position"]
    list_filter = ["campaign"]
    search_fields = ["heading", "body", "heading_es", "body_es"]
    ordering = ["campaign", "position"]


@admin.register(TeamMember)
class TeamMemberAdmin(admin.ModelAdmin):
    list_display = ["name", "campaign", "position", "slug"]
    list_filter = ["campaign"]
    search_fields = ["name", "name_es", "slug"]
    prepopulated_fields = {"slug": ["name"]}

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from campaigns.models import (
    SHARE_NETWORKS,
    Campaign,
    ShareNetwork,
    StorySection,
    TeamMember,
    Update,
)
from campaigns.selectors import campaign_shares
from campaigns.services import campaign_content_changed, campaign_update_save
from donations import permissions
from donations.selectors.health import silent_campaigns
from donations.services.access import organizer_assign
from donations.services.monthly import campaign_complete, monthly_gifts_stop_for_campaign

WEBHOOK_SILENT_WARNING = _(
    "%(count)s card payments were started on this campaign since %(since)s, and Stripe has "
    "not sent the site a webhook for more than an hour since: gifts may be paid but not "
    "recorded. Check the webhook endpoint and its signing secret in the Stripe Dashboard, "
    "then run reconcile_stripe."
)


COMPLETED = _("%(title)s is completed (on %(date)s).")
MONTHLY_NOT_STOPPED = _(
    "%(title)s: Stripe did not answer for %(count)s monthly gifts, which keep charging. Run "
    "the action again in a few minutes."
)


class ManagedCampaignsOnly:
    """An organizer sees and picks only the campaigns they are assigned to; superusers all
    (donations/permissions.py decides)."""

    def get_queryset(self, request):
        return permissions.scoped_to_managed(super().get_queryset(request), user=request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "campaign":
            kwargs["queryset"] = permissions.managed_campaigns(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


CAMPAIGN_FILTER = ("campaign", admin.RelatedOnlyFieldListFilter)


class StorySectionInline(admin.StackedInline):
    model = StorySection
    extra = 0
    fields = ["position", "heading", "body", "heading_es", "body_es"]
    ordering = ["position", "id"]


class TeamMemberInline(admin.StackedInline):
    """Stacked, in pairs of fields: a table of five columns would not fit 1280 px."""

    model = TeamMember
    extra = 0
    fields = [("name", "name_es"), ("slug", "position"), "photo"]
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
    actions = ["complete_campaigns"]
    # Django 6 will assume https for a typed address without a scheme; choose it now (and
    # avoid the RemovedInDjango60Warning that the form field raises otherwise).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    prepopulated_fields = {"slug": ["title"]}
    date_hierarchy = "launched_on"
    inlines = [StorySectionInline, TeamMemberInline]
    readonly_fields = [
        "donations_link",
        "organize_links",
        "share_counts",
        "created_at",
        "updated_at",
    ]
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
                "fields": ["title_es", "summary_es", "hero_image_alt_es", "organizer_about_es"],
            },
        ),
        (
            _("Organizer"),
            {
                "fields": [
                    "organizer_name",
                    "organizer_place",
                    "organizer_about",
                    "organizer_logo",
                    "organizer_url",
                    "organizer_email",
                ]
            },
        ),
        (_("Image"), {"fields": ["hero_image", "hero_image_alt"]}),
        (_("Goal and currencies"), {"fields": ["goal_amount", "currency", "accepted_currencies"]}),
        (_("Dates"), {"fields": ["launched_on", "ends_on", "completed_on"]}),
        (_("Receipts"), {"fields": ["receipt_legal_line"]}),
        (
            _("Shares counted before this site"),
            {
                "classes": ["collapse"],
                "fields": [
                    "share_counts",
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

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return permissions.scoped_to_managed(queryset, user=request.user, campaign_field="pk")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET" and str(object_id).isdigit():
            this = self.get_queryset(request).filter(pk=object_id)
            for silent in silent_campaigns(now=timezone.now(), campaigns=this):
                since = timezone.localtime(silent.first_at).strftime("%Y-%m-%d %H:%M")
                messages.warning(
                    request, WEBHOOK_SILENT_WARNING % {"count": silent.checkouts, "since": since}
                )
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        if not change and permissions.assigned_to_what_they_create(request.user):
            organizer_assign(by=request.user, user=request.user, campaign=obj)
        campaign_content_changed(campaign=obj)
        if obj.status == Campaign.Status.COMPLETED:
            # Completed by editing its status: its monthly gifts stop as with the action.
            self._report_monthly(request, obj, monthly_gifts_stop_for_campaign(campaign=obj))

    def _report_monthly(self, request, campaign: Campaign, result) -> None:
        if result.stopped:
            self.message_user(
                request,
                ngettext(
                    "%(title)s: %(count)d monthly gift stops with its paid month; its donor is "
                    "emailed.",
                    "%(title)s: %(count)d monthly gifts stop with their paid month; their donors "
                    "are emailed.",
                    result.stopped,
                )
                % {"title": campaign.title, "count": result.stopped},
            )
        if result.failed:
            self.message_user(request, MONTHLY_NOT_STOPPED % {"title": campaign.title,
                              "count": len(result.failed)}, messages.ERROR)  # fmt: skip

    @admin.action(
        description=_("Mark completed and stop their monthly gifts"), permissions=["change"]
    )
    def complete_campaigns(self, request, queryset) -> None:
        today = timezone.localdate()
        for campaign in queryset:
            try:
                completion = campaign_complete(campaign=campaign, today=today, by=request.user)
            except ValidationError as error:
                self.message_user(
                    request, f"{campaign.title}: {' '.join(error.messages)}", messages.WARNING
                )
                continue
            if completion.completed_now:
                self.message_user(
                    request,
                    COMPLETED % {"title": campaign.title,
                                 "date": completion.campaign.completed_on.isoformat()},
                )  # fmt: skip
            self._report_monthly(request, completion.campaign, completion.monthly)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        campaign_content_changed(campaign=form.instance)

    @admin.display(description=_("Shares by network (before this site + counted here)"))
    def share_counts(self, campaign: Campaign) -> str:
        if not campaign.pk:
            return "—"
        shares = campaign_shares(campaign=campaign).by_network
        labels = dict(ShareNetwork.choices)
        return format_html_join(
            " · ",
            "{}: {} + {}",
            ((labels[network], *shares[network]) for network in SHARE_NETWORKS),
        )

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
class StorySectionAdmin(ManagedCampaignsOnly, admin.ModelAdmin):
    list_display = ["heading", "campaign", "position"]
    list_filter = [CAMPAIGN_FILTER]
    search_fields = ["heading", "body", "heading_es", "body_es"]
    ordering = ["campaign", "position"]


@admin.register(TeamMember)
class TeamMemberAdmin(ManagedCampaignsOnly, admin.ModelAdmin):
    list_display = ["name", "campaign", "position", "slug"]
    list_filter = [CAMPAIGN_FILTER]
    search_fields = ["name", "name_es", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Update)
class UpdateAdmin(ManagedCampaignsOnly, admin.ModelAdmin):
    """Organizers' news on a campaign: drafts stay private until published."""

    list_display = ["title", "campaign", "status", "published_at"]
    list_filter = ["status", CAMPAIGN_FILTER]
    search_fields = ["title", "title_es", "body", "body_es"]
    date_hierarchy = "published_at"
    readonly_fields = ["published_at", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["campaign", "status", "title", "body", "image", "image_alt"]}),
        (_("Spanish version"), {"fields": ["title_es", "body_es", "image_alt_es"]}),
        (_("Record"), {"fields": ["published_at", "created_at", "updated_at"]}),
    ]

    def save_model(self, request, obj: Update, form, change: bool) -> None:
        campaign_update_save(update=obj)

    def delete_model(self, request, obj: Update) -> None:
        campaign = obj.campaign
        super().delete_model(request, obj)
        campaign_content_changed(campaign=campaign)

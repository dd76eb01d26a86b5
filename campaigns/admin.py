import copy

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from campaigns.models import (
    SHARE_NETWORKS,
    Campaign,
    CampaignChange,
    ShareNetwork,
    StorySection,
    TeamMember,
    Update,
)
from campaigns.selectors import campaign_has_gifts, campaign_shares, team_member_has_gifts
from campaigns.services import (
    MEMBER_HAS_GIFTS_ERROR,
    campaign_change_check,
    campaign_content_delete,
    campaign_content_save,
    campaign_contents_delete,
    campaign_delete,
    campaign_save,
    campaign_update_save,
    campaigns_delete,
)
from donations import permissions
from donations.selectors.health import silent_campaigns
from donations.services.access import organizer_assign
from donations.services.members import team_member_gifts_move
from donations.services.monthly import campaign_complete, campaign_completed_by_edit

WEBHOOK_SILENT_WARNING = _(
    "%(count)s card payments were started on this campaign since %(since)s, and Stripe has "
    "not sent the site a webhook for more than an hour since: gifts may be paid but not "
    "recorded. Check the webhook endpoint and its signing secret in the Stripe Dashboard, "
    "then run reconcile_stripe."
)


COMPLETED = _("%(title)s is completed (on %(date)s).")


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


class ContentThroughServices:
    """Sections, team members and updates are saved and deleted through campaigns/services.py,
    one at a time or many at once (a bulk delete): each change stales its campaign's cached
    pages, and a team member with gifts is never deleted."""

    def save_model(self, request, obj, form, change) -> None:
        campaign_content_save(content=obj)

    def delete_model(self, request, obj) -> None:
        campaign_content_delete(content=obj)

    def delete_queryset(self, request, queryset) -> None:
        campaign_contents_delete(contents=queryset)


class TeamMemberFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        """A team member with gifts cannot be deleted: say so, and what to do instead (before
        Django's own unique checks, which would only list the gifts that protect it)."""
        errors = [
            ValidationError(MEMBER_HAS_GIFTS_ERROR, params={"name": form.instance.name})
            for form in self.deleted_forms
            if form.instance.pk and team_member_has_gifts(member=form.instance)
        ]
        if errors:
            raise ValidationError(errors)
        super().clean()


class StorySectionInline(admin.StackedInline):
    model = StorySection
    extra = 0
    fields = ["position", "heading", "body", "heading_es", "body_es"]
    ordering = ["position", "id"]


class TeamMemberInline(admin.StackedInline):
    """Stacked, in pairs of fields: a table of five columns would not fit 1280 px."""

    model = TeamMember
    formset = TeamMemberFormSet
    extra = 0
    fields = [("name", "name_es"), ("slug", "position"), ("photo", "retired")]
    prepopulated_fields = {"slug": ["name"]}
    ordering = ["position", "id"]


class CampaignAdminForm(forms.ModelForm):
    """The campaign, checked against what may no longer change (campaigns/services.py)."""

    # Set per request by CampaignAdmin.get_form: the rules depend on who edits.
    editor = None

    reason = forms.CharField(
        label=_("Why it is reopened"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Only when a superuser reopens a completed campaign; kept in its history."),
    )

    class Meta:
        model = Campaign
        fields = ["status", "currency"]  # the admin's fieldsets name the rest

    def clean(self) -> dict:
        data = super().clean()
        edited = copy.copy(self.instance)
        for field in ("currency", "status"):
            if field in data:
                setattr(edited, field, data[field])
        try:
            campaign_change_check(campaign=edited, by=self.editor, reason=data.get("reason", ""))
        except ValidationError as error:
            for field, field_errors in error.error_dict.items():
                self.add_error(field if field in self.fields else None, field_errors)
        return data


def _change_author(change: CampaignChange) -> str:
    """Who made a campaign change, and why when a reason was given (a reopening's, or the
    command that completed it)."""
    if change.changed_by is None:
        return change.reason or "—"
    if change.reason:
        return f"{change.changed_by} ({change.reason})"
    return str(change.changed_by)


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignAdminForm
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
        "history",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "title",
                    "slug",
                    "status",
                    "reason",
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
        (
            _("Record"),
            {"classes": ["collapse"], "fields": ["created_at", "updated_at", "history"]},
        ),
    ]

    def get_fieldsets(self, request, obj=None):
        """The reason for reopening is asked only of who may reopen a completed campaign."""
        fieldsets = super().get_fieldsets(request, obj)
        completed = obj is not None and obj.status == Campaign.Status.COMPLETED
        if completed and permissions.may_reopen_campaign(request.user):
            return fieldsets
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f != "reason"]})
            for name, options in fieldsets
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.editor = request.user  # a class made for this request by modelform_factory
        return form

    def get_readonly_fields(self, request, obj=None):
        # Gifts are converted into the campaign currency when recorded and never again, so the
        # currency is fixed once the campaign is public and can have gifts, or has some.
        if obj is not None and (
            obj.status != Campaign.Status.DRAFT or campaign_has_gifts(campaign=obj)
        ):
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
        campaign_save(campaign=obj, by=request.user, reason=form.cleaned_data.get("reason", ""))
        if not change and permissions.assigned_to_what_they_create(request.user):
            organizer_assign(by=request.user, user=request.user, campaign=obj)
        if obj.status == Campaign.Status.COMPLETED:
            # Completed by editing its status (campaign_save kept it in the history): its
            # monthly gifts stop, as with the action.
            stopped = campaign_completed_by_edit(campaign=obj, by=request.user)
            self._report_monthly(request, obj, stopped)

    def _report_monthly(self, request, campaign: Campaign, to_stop: int) -> None:
        if to_stop:
            self.message_user(
                request,
                ngettext(
                    "%(title)s: %(count)d monthly gift stops with its paid month; its donor is "
                    "emailed.",
                    "%(title)s: %(count)d monthly gifts stop with their paid month; their donors "
                    "are emailed.",
                    to_stop,
                )
                % {"title": campaign.title, "count": to_stop},
            )

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
            self._report_monthly(request, completion.campaign, completion.monthly_to_stop)

    def save_formset(self, request, form, formset, change) -> None:
        """Inline sections and team members are saved and deleted through the services."""
        for content in formset.save(commit=False):
            campaign_content_save(content=content)
        for content in formset.deleted_objects:
            campaign_content_delete(content=content)
        formset.save_m2m()

    def delete_model(self, request, obj: Campaign) -> None:
        campaign_delete(campaign=obj)

    def delete_queryset(self, request, queryset) -> None:
        campaigns_delete(campaigns=queryset)

    @admin.display(description=_("History"))
    def history(self, campaign: Campaign) -> str:
        """Each completion and reopening: what, who (a person, or the command that did it,
        with the reason given) and when."""
        if not campaign.pk:
            return "—"
        changes = campaign.changes.select_related("changed_by").order_by("changed_at", "pk")
        return format_html_join(
            mark_safe("<br>"),
            "{} · {} · {}",
            (
                (change.get_action_display(), _change_author(change),
                 timezone.localtime(change.changed_at).strftime("%Y-%m-%d %H:%M"))
                for change in changes
            ),
        ) or "—"  # fmt: skip

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
class StorySectionAdmin(ContentThroughServices, ManagedCampaignsOnly, admin.ModelAdmin):
    list_display = ["heading", "campaign", "position"]
    list_filter = [CAMPAIGN_FILTER]
    search_fields = ["heading", "body", "heading_es", "body_es"]
    ordering = ["campaign", "position"]


class MoveGiftsForm(forms.Form):
    to_member = forms.ModelChoiceField(
        label=_("Move them to"),
        queryset=TeamMember.objects.none(),
        required=False,
        empty_label=_("No team member"),
    )
    reason = forms.CharField(label=_("Why"), max_length=1000, widget=forms.Textarea)

    def __init__(self, *args, member: TeamMember, **kwargs):
        super().__init__(*args, **kwargs)
        # Retired members take no more gifts (team_member_gifts_move refuses them too).
        self.fields["to_member"].queryset = TeamMember.objects.filter(
            campaign_id=member.campaign_id, retired=False
        ).exclude(pk=member.pk)


@admin.register(TeamMember)
class TeamMemberAdmin(ContentThroughServices, ManagedCampaignsOnly, admin.ModelAdmin):
    list_display = ["name", "campaign", "position", "slug", "retired"]
    list_filter = ["retired", CAMPAIGN_FILTER]
    search_fields = ["name", "name_es", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["gifts"]

    def get_readonly_fields(self, request, obj=None):
        # A member's gifts were given to its campaign: it stays there (campaign_content_save
        # refuses to move one with gifts; one without is simply made again where needed).
        if obj is not None:
            return [*self.readonly_fields, "campaign"]
        return self.readonly_fields

    @admin.display(description=_("Gifts"))
    def gifts(self, member: TeamMember) -> str:
        if not member.pk:
            return "—"
        url = reverse("admin:campaigns_teammember_move_gifts", args=[member.pk])
        return format_html('<a href="{}">{}</a>', url, _("Move their gifts to another member"))

    def get_urls(self):
        move = path(
            "<path:object_id>/move-gifts/",
            self.admin_site.admin_view(self.move_gifts_view),
            name="campaigns_teammember_move_gifts",
        )
        return [move, *super().get_urls()]

    def move_gifts_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Move every gift and monthly gift of a member to another member, or to none."""
        member = self.get_object(request, unquote(object_id))
        if member is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not permissions.may_move_member_gifts(user=request.user, member=member):
            raise PermissionDenied
        form = MoveGiftsForm(request.POST or None, member=member)
        if request.method == "POST" and form.is_valid():
            try:
                moved = team_member_gifts_move(
                    member=member,
                    to_member=form.cleaned_data["to_member"],
                    by=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self._report_moved(request, member, moved)
                return redirect("admin:campaigns_teammember_change", member.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Move the gifts of %(name)s") % {"name": member.name},
            "opts": self.opts,
            "member": member,
            "form": form,
        }
        return TemplateResponse(request, "admin/campaigns/teammember/move_gifts.html", context)

    def _report_moved(self, request, member: TeamMember, moved) -> None:
        self.message_user(
            request,
            ngettext(
                "%(count)d gift of %(name)s moved, with a line in its history.",
                "%(count)d gifts of %(name)s moved, each with a line in its history.",
                moved.gifts,
            )
            % {"count": moved.gifts, "name": member.name},
        )
        if moved.monthly_gifts:
            self.message_user(
                request,
                ngettext(
                    "%(count)d monthly gift moved too.",
                    "%(count)d monthly gifts moved too.",
                    moved.monthly_gifts,
                )
                % {"count": moved.monthly_gifts},
            )

    def delete_view(self, request, object_id, extra_context=None):
        """A member with gifts is not deleted: say so, and what to do instead."""
        member = self.get_object(request, unquote(object_id))
        if member is not None and team_member_has_gifts(member=member):
            self.message_user(
                request, MEMBER_HAS_GIFTS_ERROR % {"name": member.name}, messages.ERROR
            )
            return redirect("admin:campaigns_teammember_change", member.pk)
        return super().delete_view(request, object_id, extra_context)


@admin.register(Update)
class UpdateAdmin(ContentThroughServices, ManagedCampaignsOnly, admin.ModelAdmin):
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

"""Campaign content: the page, its story sections and its team members.

This app knows nothing of donations; the campaign page view composes the two.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from campaigns.fields import SanitizedImageField
from money import CURRENCY_CHOICES, SUPPORTED_CURRENCIES


class ShareNetwork(models.TextChoices):
    FACEBOOK = "facebook", "Facebook"
    X = "x", "X"
    WHATSAPP = "whatsapp", "WhatsApp"
    TELEGRAM = "telegram", "Telegram"
    EMAIL = "email", _("Email")


SHARE_NETWORKS = tuple(ShareNetwork.values)
# Background and pattern colours for campaigns without a photo; white on each passes AA.
HERO_PALETTES = (
    ("#7a1215", "#a4161a"),
    ("#1d4e89", "#2f6db3"),
    ("#1f5c3a", "#2e7d50"),
    ("#5b2a86", "#7a43ad"),
    ("#7a4a00", "#a0640a"),
    ("#0f5e63", "#1b8087"),
)
# Content organizers write is kept in its original language, with an optional Spanish
# version beside each translatable field (`title_es` beside `title`).
TRANSLATION_LANGUAGE = "es"


class LocalizedText(str):
    """Text for a page in some language, knowing the language it is really written in.

    `fallback` is true when the page's language had no version of its own and the original
    is shown instead; templates then mark the element with `lang` so that screen readers
    pronounce it right.
    """

    lang: str
    fallback: bool

    def __new__(cls, text: str, *, lang: str, fallback: bool) -> LocalizedText:
        value = super().__new__(cls, text)
        value.lang = lang
        value.fallback = fallback
        return value


class TranslatedContent:
    """A model whose fields listed in TRANSLATED have a Spanish twin `<field>_es`."""

    TRANSLATED: tuple[str, ...] = ()

    def content_language(self) -> str:
        raise NotImplementedError

    def localized(self, field: str, language: str) -> LocalizedText:
        """The field in `language` when written in it; else the original, marked as such."""
        if field not in self.TRANSLATED:
            raise ValueError(f"{field} is not a translated field of {type(self).__name__}")
        original_language = self.content_language()
        language = (language or settings.LANGUAGE_CODE).split("-")[0]
        if language != original_language and language == TRANSLATION_LANGUAGE:
            translated = getattr(self, f"{field}_{TRANSLATION_LANGUAGE}")
            if translated.strip():
                return LocalizedText(translated, lang=language, fallback=False)
        original = getattr(self, field)
        return LocalizedText(
            original, lang=original_language, fallback=language != original_language
        )


def validate_currency_list(value: str) -> None:
    unknown = [
        code
        for code in value.split(",")
        if code.strip() and code.strip() not in SUPPORTED_CURRENCIES
    ]
    if unknown:
        raise ValidationError(
            _("Not supported: %(codes)s. Use ISO 4217 codes separated by commas."),
            params={"codes": ", ".join(unknown)},
        )


class CampaignQuerySet(models.QuerySet):
    def public(self) -> CampaignQuerySet:
        return self.exclude(status=Campaign.Status.DRAFT)

    def with_counted_shares(self) -> CampaignQuerySet:
        """Annotate `shares_counted`: every share counted on this site, all networks."""
        counted = (
            ShareCount.objects.filter(campaign=models.OuterRef("pk"))
            .values("campaign")
            .annotate(total=models.Sum("count"))
            .values("total")
        )
        return self.annotate(
            shares_counted=Coalesce(
                models.Subquery(counted), 0, output_field=models.BigIntegerField()
            )
        )

    def for_index(self) -> CampaignQuerySet:
        """Live campaigns (newest first), then every completed one (latest completed first)."""
        return self.public().order_by(
            models.Case(
                models.When(status="live", then=0),
                default=1,
                output_field=models.IntegerField(),
            ),
            models.F("completed_on").desc(nulls_last=True),
            "-launched_on",
            "title",
        )


class Campaign(TranslatedContent, models.Model):
    TRANSLATED = ("title", "summary", "hero_image_alt", "organizer_about")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        LIVE = "live", _("Live")
        COMPLETED = "completed", _("Completed")

    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    language = models.CharField(
        _("language of the content"),
        max_length=8,
        choices=settings.LANGUAGES,
        default="en",
        help_text=_("The language the title, summary and story are written in."),
    )
    title = models.CharField(_("title"), max_length=200)
    title_es = models.CharField(_("title in Spanish"), max_length=200, blank=True)
    organizer_name = models.CharField(_("organizer name"), max_length=200)
    organizer_url = models.URLField(_("organizer link"), blank=True)
    organizer_email = models.EmailField(
        _("organizer contact email"),
        blank=True,
        help_text=_("Shown on the campaign page and on receipts."),
    )
    organizer_place = models.CharField(
        _("organizer's place"), max_length=120, blank=True, help_text=_("E.g. Chicago, IL.")
    )
    organizer_about = models.TextField(
        _("about the organizer"),
        max_length=500,
        blank=True,
        help_text=_("A few sentences: who you are and why people can trust you."),
    )
    organizer_about_es = models.TextField(
        _("about the organizer in Spanish"), max_length=500, blank=True
    )
    organizer_logo = SanitizedImageField(
        _("organizer logo"),
        upload_to="organizers/",
        blank=True,
        help_text=_("Square works best. Without one, the organizer's initials are shown."),
    )
    summary = models.TextField(
        _("summary"), max_length=500, help_text=_("One or two sentences, used in link previews.")
    )
    summary_es = models.TextField(_("summary in Spanish"), max_length=500, blank=True)
    # The stored size lets the page reserve the image's space without opening the file.
    hero_image = SanitizedImageField(
        _("hero image"),
        upload_to="campaigns/",
        blank=True,
        width_field="hero_image_width",
        height_field="hero_image_height",
    )
    hero_image_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    hero_image_height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    hero_image_alt = models.CharField(_("hero image description"), max_length=300, blank=True)
    hero_image_alt_es = models.CharField(
        _("hero image description in Spanish"), max_length=300, blank=True
    )
    goal_amount = models.DecimalField(
        _("goal"), max_digits=12, decimal_places=2, validators=[MinValueValidator(1)]
    )
    currency = models.CharField(
        _("currency"), max_length=3, choices=CURRENCY_CHOICES, default="USD"
    )
    accepted_currencies = models.CharField(
        _("other accepted currencies"),
        max_length=200,
        blank=True,
        validators=[validate_currency_list],
        help_text=_("Comma-separated ISO 4217 codes givers may also use, e.g. EUR,MXN."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    launched_on = models.DateField(_("launched on"))
    completed_on = models.DateField(_("completed on"), null=True, blank=True)
    ends_on = models.DateField(
        _("ends on"),
        null=True,
        blank=True,
        help_text=_("After this date the campaign closes to giving and reads as completed."),
    )
    receipt_legal_line = models.CharField(
        _("receipt legal line"),
        max_length=300,
        blank=True,
        help_text=_("Printed on every receipt, e.g. whether gifts are tax-deductible."),
    )
    facebook_share_baseline = models.PositiveIntegerField(
        _("Facebook shares before import"), default=0
    )
    x_share_baseline = models.PositiveIntegerField(_("X shares before import"), default=0)
    whatsapp_share_baseline = models.PositiveIntegerField(
        _("WhatsApp shares before import"), default=0
    )
    telegram_share_baseline = models.PositiveIntegerField(
        _("Telegram shares before import"), default=0
    )
    email_share_baseline = models.PositiveIntegerField(_("email shares before import"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-launched_on", "title"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["draft", "live", "completed"]), name="campaign_status_valid"
            ),
            models.CheckConstraint(condition=Q(goal_amount__gt=0), name="campaign_goal_positive"),
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(completed_on__isnull=False),
                name="campaign_completed_has_date",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="campaign_currency_iso"
            ),
            models.CheckConstraint(
                condition=Q(language__in=[code for code, _name in settings.LANGUAGES]),
                name="campaign_language_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("campaigns:detail", kwargs={"slug": self.slug})

    def content_language(self) -> str:
        return self.language

    @property
    def donation_currencies(self) -> list[str]:
        """The campaign currency first, then the other accepted ones, without repeats."""
        others = [code.strip() for code in self.accepted_currencies.split(",") if code.strip()]
        return list(dict.fromkeys([self.currency, *others]))

    @property
    def palette(self) -> tuple[str, str]:
        """The colours of the campaign's drawn picture (when it has no photo): a dark
        background on which white text passes AA, and a lighter shade for the pattern,
        chosen from the slug so each campaign keeps its own."""
        index = sum(self.slug.encode()) % len(HERO_PALETTES)
        return HERO_PALETTES[index]

    @property
    def title_initials(self) -> str:
        """The first letter of the title, for the drawn picture (one letter: two can spell
        something unfortunate)."""
        letters = [char for char in self.title if char.isalnum()]
        return letters[0].upper() if letters else ""

    @property
    def organizer_initials(self) -> str:
        """Up to two initials of the organizer's name, for a logo-less organizer block."""
        words = [word for word in self.organizer_name.split() if word[:1].isalnum()]
        return "".join(word[0] for word in words[:2]).upper()

    @property
    def share_baseline_total(self) -> int:
        return sum(getattr(self, f"{network}_share_baseline") for network in SHARE_NETWORKS)

    def closed_on(self, today: datetime.date) -> datetime.date | None:
        """The date giving closed, or None while the campaign is open."""
        if self.status == self.Status.COMPLETED:
            return self.completed_on
        if self.status == self.Status.LIVE and self.ends_on and today > self.ends_on:
            return self.ends_on
        return None

    def is_open_for_giving(self, today: datetime.date) -> bool:
        return self.status == self.Status.LIVE and self.closed_on(today) is None

    def days_left(self, today: datetime.date) -> int | None:
        if not self.ends_on or not self.is_open_for_giving(today):
            return None
        return (self.ends_on - today).days


class StorySection(TranslatedContent, models.Model):
    """A headed part of the campaign story. The body is plain text: paragraphs and links."""

    TRANSLATED = ("heading", "body")

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="sections", verbose_name=_("campaign")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    heading = models.CharField(_("heading"), max_length=200)
    body = models.TextField(
        _("body"),
        help_text=_("Plain text. A blank line starts a new paragraph; web addresses become links."),
    )
    heading_es = models.CharField(_("heading in Spanish"), max_length=200, blank=True)
    body_es = models.TextField(_("body in Spanish"), blank=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("story section")
        verbose_name_plural = _("story sections")

    def __str__(self) -> str:
        return self.heading

    def content_language(self) -> str:
        # Sections are always read with their campaign, so this costs no query.
        return self.campaign.language


class TeamMemberQuerySet(models.QuerySet):
    def on_team(self) -> TeamMemberQuerySet:
        """The members still on the team: the pages and the gift forms list only these."""
        return self.filter(retired=False)


class TeamMember(TranslatedContent, models.Model):
    """A team member gathering gifts for the campaign.

    A member with gifts is never deleted (the gifts protect it): it is retired instead,
    leaving the pages and the gift forms while its gifts still count for the campaign.
    """

    TRANSLATED = ("name",)

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="team_members", verbose_name=_("campaign")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    name = models.CharField(_("name"), max_length=200)
    name_es = models.CharField(_("name in Spanish"), max_length=200, blank=True)
    slug = models.SlugField(_("slug"), max_length=80)
    photo = SanitizedImageField(_("photo"), upload_to="team/", blank=True)
    retired = models.BooleanField(
        _("retired"),
        default=False,
        help_text=_("Hidden from the campaign pages and the gift forms; their gifts still count."),
    )

    objects = TeamMemberQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("team member")
        verbose_name_plural = _("team members")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "slug"], name="team_member_slug_unique")
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse(
            "campaigns:member", kwargs={"slug": self.campaign.slug, "member_slug": self.slug}
        )

    def content_language(self) -> str:
        return self.campaign.language


class CampaignChangeAction(models.TextChoices):
    REOPEN = "reopen", _("Reopened")
    COMPLETE = "complete", _("Campaign completed")


class CampaignChange(models.Model):
    """A change of a campaign's state that matters to its money (completed, reopened with a
    written reason): who made it (a user, or none for a command), when, what and why."""

    Action = CampaignChangeAction

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="changes", verbose_name=_("campaign")
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaign_changes",
    )
    changed_at = models.DateTimeField(_("changed at"), auto_now_add=True)
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    changes = models.JSONField(_("changes"), default=dict)
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = _("campaign change")
        verbose_name_plural = _("campaign changes")
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=CampaignChangeAction.values),
                name="campaign_change_action_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} of {self.campaign_id} ({self.changed_by})"


class ShareCount(models.Model):
    """Shares counted on this site, per campaign and network (on top of the baselines)."""

    Network = ShareNetwork

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="share_counts", verbose_name=_("campaign")
    )
    network = models.CharField(_("network"), max_length=20, choices=ShareNetwork.choices)
    count = models.PositiveBigIntegerField(_("shares counted here"), default=0)

    class Meta:
        ordering = ["campaign", "network"]
        verbose_name = _("share count")
        verbose_name_plural = _("share counts")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "network"], name="share_count_unique"),
            models.CheckConstraint(
                condition=Q(network__in=ShareNetwork.values), name="share_count_network_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.network}: {self.count}"


class UpdateQuerySet(models.QuerySet):
    def published(self) -> UpdateQuerySet:
        return self.filter(status=Update.Status.PUBLISHED).order_by("-published_at", "-id")


class Update(TranslatedContent, models.Model):
    """News from the organizers, dated; drafts are never shown to the public."""

    TRANSLATED = ("title", "body", "image_alt")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="updates", verbose_name=_("campaign")
    )
    title = models.CharField(_("title"), max_length=200)
    title_es = models.CharField(_("title in Spanish"), max_length=200, blank=True)
    body = models.TextField(
        _("text"),
        help_text=_("Plain text. A blank line starts a new paragraph; web addresses become links."),
    )
    body_es = models.TextField(_("text in Spanish"), blank=True)
    image = SanitizedImageField(
        _("image"),
        upload_to="updates/",
        blank=True,
        width_field="image_width",
        height_field="image_height",
    )
    image_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    image_height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    image_alt = models.CharField(_("image description"), max_length=300, blank=True)
    image_alt_es = models.CharField(_("image description in Spanish"), max_length=300, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    published_at = models.DateTimeField(
        _("published at"),
        null=True,
        blank=True,
        help_text=_("Set when the update is first published; shown as its date."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = UpdateQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-id"]
        verbose_name = _("update")
        verbose_name_plural = _("updates")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["draft", "published"]), name="update_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="published") | Q(published_at__isnull=False),
                name="update_published_has_date",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        url = reverse("campaigns:updates", kwargs={"slug": self.campaign.slug})
        return f"{url}#update-{self.pk}"

    def content_language(self) -> str:
        return self.campaign.language

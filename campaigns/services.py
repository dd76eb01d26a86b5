"""Writes of the campaigns app: counting shares, publishing updates, saving content edits.

Every change that alters what a campaign's public pages show calls
`campaign_pages_changed`: once committed, the pages kept at the origin get a new version
(campaigns/pages.py) and the shared cache in front is asked to purge them (config/purge.py).
Share counts are the exception: they may lag by up to a minute at the origin (and
PUBLIC_PAGE_MAX_AGE at the edge), so a viral spike does not keep emptying the caches. The
origin keys pages by slug: a renamed campaign stales its old slug too, and content moved to
another campaign stales both.

What may no longer change is decided here too, whoever saves (the admin, a command): a
campaign's currency once it has gifts (they were converted into it), a draft's status to
completed (it goes live first), a completed campaign's status (only a superuser reopens it,
with a reason kept in its history), a team member with gifts (retired or its gifts moved,
never deleted, and never moved to another campaign).

A campaign's history (CampaignChange: completed, reopened) has one writer,
`campaign_change_record`, whoever completes or reopens it.
"""

from __future__ import annotations

import datetime
import functools
import logging
import re
from collections.abc import Iterable

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import (
    Campaign,
    CampaignChange,
    ShareCount,
    ShareNetwork,
    StorySection,
    TeamMember,
    Update,
)
from campaigns.pages import campaign_tag, page_versions_bump
from campaigns.selectors import campaign_has_gifts, team_member_has_gifts
from config.httpcache import SITE_TAG
from config.purge import purge_soon
from donations import permissions

logger = logging.getLogger(__name__)

CURRENCY_FIXED_ERROR = _(
    "The currency stays %(currency)s: this campaign has gifts, converted into it when they "
    "were recorded."
)
COMPLETED_IS_FINAL_ERROR = _(
    "A completed campaign is final. Only a superuser can reopen it, saying why."
)
REOPEN_REASON_ERROR = _("Say why this completed campaign is reopened.")
CAMPAIGN_NOT_LIVE = _("Only a live campaign can be completed.")
MEMBER_HAS_GIFTS_ERROR = _(
    "%(name)s has gifts, so they cannot be deleted. Retire them instead (they leave the "
    "pages and forms, their gifts keep counting), or move their gifts to another team "
    "member first."
)
MEMBER_CAMPAIGN_FIXED_ERROR = _(
    "%(name)s has gifts, so they stay in this campaign. Move their gifts to another team "
    "member first."
)

# One share per client, campaign and network in this window (the shared cache remembers it).
SHARE_WINDOW_SECONDS = 60 * 60
# Link-preview fetchers, crawlers and HTTP tools: they follow share links but share nothing.
BOT_USER_AGENTS = re.compile(
    r"bot|crawl|spider|slurp|preview|facebookexternalhit|facebot|whatsapp|telegram|slack|"
    r"discord|linkedin|embedly|pinterest|skype|vkshare|curl|wget|python-|go-http|java/|"
    r"okhttp|headless|lighthouse|axios|node-fetch|httpx|scrapy",
    re.IGNORECASE,
)


def is_bot(user_agent: str) -> bool:
    """Whether a User-Agent is a bot or link-preview fetcher (or missing altogether)."""
    return not user_agent.strip() or bool(BOT_USER_AGENTS.search(user_agent))


def share_record(*, campaign: Campaign, network: str, client: str, user_agent: str) -> bool:
    """Count one share of the campaign on a network; True if it was counted.

    Not counted: bots and link-preview fetchers, and the same client sharing the same
    campaign on the same network again within the hour (remembered in the shared cache, so
    the limit holds across app servers; if the cache cannot be reached nothing is counted).
    The count rises with one UPDATE ... SET count = count + 1, never read-modify-write.
    """
    if network not in ShareNetwork.values:
        raise ValueError(f"Unknown network {network!r}")
    if is_bot(user_agent):
        return False
    key = f"share:{campaign.pk}:{network}:{client}"
    try:
        first_in_window = cache.add(key, 1, SHARE_WINDOW_SECONDS)
    except Exception:  # an unreachable cache must not stop the redirect
        logger.warning("Share not counted: the cache did not answer", exc_info=True)
        return False
    if not first_in_window:
        return False
    counter = ShareCount.objects.filter(campaign=campaign, network=network)
    if not counter.update(count=F("count") + 1):
        try:
            with transaction.atomic():
                ShareCount.objects.create(campaign=campaign, network=network, count=1)
        except IntegrityError:  # created meanwhile by another request: count on it
            counter.update(count=F("count") + 1)
    return True


def campaign_pages_changed(
    *, campaign_ids: Iterable[int | None] = (), slugs: Iterable[str] = (), site: bool = False
) -> None:
    """What these campaigns' pages show has changed (with `site`, also the list of
    campaigns). Once the transaction commits (at once outside one), their pages kept at the
    origin get a new version, so the next request renders afresh, and a purge of their tags
    (`campaign-<id>`, `site`) is enqueued, coalesced (config/purge.py). `slugs` adds
    addresses a campaign no longer has (renamed, deleted). Never raises for the caches."""
    ids = sorted({campaign_id for campaign_id in campaign_ids if campaign_id})
    names = sorted({slug for slug in slugs if slug})
    transaction.on_commit(functools.partial(_pages_changed, ids, names, site))


def _pages_changed(campaign_ids: list[int], slugs: list[str], site: bool) -> None:
    # The campaign's last change, which its pages send as Last-Modified: moved here, after
    # the commit, so that a stream of gifts never waits on the campaign's row.
    Campaign.objects.filter(pk__in=campaign_ids).update(updated_at=timezone.now())
    current = Campaign.objects.filter(pk__in=campaign_ids).values_list("slug", flat=True)
    page_versions_bump(slugs={*slugs, *(current if campaign_ids else ())})
    tags = [campaign_tag(campaign_id) for campaign_id in campaign_ids]
    purge_soon(tags=[*tags, SITE_TAG] if site else tags)


def campaign_update_save(*, update: Update) -> Update:
    """Save an organizer's update; the first time it is published it gets its date.

    A published update keeps the date it first went out, also when it is edited later.
    """
    if update.status == Update.Status.PUBLISHED and update.published_at is None:
        update.published_at = timezone.now()
    update.full_clean()
    with transaction.atomic():
        update.save()
        campaign_pages_changed(campaign_ids=[update.campaign_id])
    return update


def campaign_change_check(*, campaign: Campaign, by, reason: str = "") -> None:
    """Raise ValidationError, by field ("currency", "status", "reason"), unless this edit of
    a stored campaign may be saved. Writes nothing; a new campaign passes.

    The currency is fixed once any gift or monthly gift exists, whatever the campaign's
    status. A draft is not completed (it goes live first, as `campaign_complete` asks). A
    completed campaign is final: only a superuser (`may_reopen_campaign`) reopens it, and
    only with a reason.
    """
    if campaign.pk is None:
        return
    stored = Campaign.objects.filter(pk=campaign.pk).values("currency", "status").first()
    if stored is None:
        return
    errors: dict[str, ValidationError] = {}
    if campaign.currency != stored["currency"] and campaign_has_gifts(campaign=campaign):
        errors["currency"] = ValidationError(
            CURRENCY_FIXED_ERROR, code="currency_fixed", params={"currency": stored["currency"]}
        )
    completed = Campaign.Status.COMPLETED
    if stored["status"] == Campaign.Status.DRAFT and campaign.status == completed:
        errors["status"] = ValidationError(CAMPAIGN_NOT_LIVE, code="not_live")
    elif stored["status"] == completed and campaign.status != completed:
        if not permissions.may_reopen_campaign(by):
            errors["status"] = ValidationError(COMPLETED_IS_FINAL_ERROR, code="completed")
        elif not reason.strip():
            errors["reason"] = ValidationError(REOPEN_REASON_ERROR, code="reason")
    if errors:
        raise ValidationError(errors)


def campaign_change_record(
    *,
    campaign: Campaign,
    action: str,
    changes: dict[str, list],
    by: AbstractBaseUser | None,
    reason: str = "",
) -> CampaignChange:
    """Keep a change of a campaign already saved that matters to its money (its completion,
    its reopening): what changed ({field: [old, new]}), who (`by`, a user; None for a
    command, whose name goes in `reason`) and why. The one writer of CampaignChange rows:
    call it inside the transaction that saved the campaign."""
    return CampaignChange.objects.create(
        campaign=campaign, action=action, changes=changes, changed_by=by, reason=reason
    )


def _iso(day: datetime.date | None) -> str | None:
    return day.isoformat() if day else None


def campaign_save(*, campaign: Campaign, by: AbstractBaseUser | None, reason: str = "") -> Campaign:
    """Save a new or edited campaign, under its row lock, if `campaign_change_check` allows.

    A campaign completed or reopened here keeps who did it, when and (for a reopening) why:
    a CampaignChange row. Stopping a completed campaign's monthly gifts is the caller's
    (donations/services/monthly.py). Its cached pages are stale once committed, at its old
    slug too when it was renamed.
    """
    with transaction.atomic():
        stored = None
        if campaign.pk is not None:
            stored = (
                Campaign.objects.select_for_update()
                .filter(pk=campaign.pk)
                .values("slug", "status", "completed_on")
                .first()
            )
        campaign_change_check(campaign=campaign, by=by, reason=reason)
        campaign.full_clean()
        campaign.save()
        completed = Campaign.Status.COMPLETED
        before_status = stored["status"] if stored else None
        if before_status == completed and campaign.status != completed:
            campaign_change_record(
                campaign=campaign,
                action=CampaignChange.Action.REOPEN,
                changes={"status": [before_status, campaign.status]},
                by=by,
                reason=reason.strip(),
            )
        elif before_status != completed and campaign.status == completed:
            campaign_change_record(
                campaign=campaign,
                action=CampaignChange.Action.COMPLETE,
                changes={
                    "status": [before_status, completed.value],
                    "completed_on": [
                        _iso(stored["completed_on"] if stored else None),
                        _iso(campaign.completed_on),
                    ],
                },
                by=by,
                reason=reason.strip(),
            )
        # The home page lists the campaigns: a new one, a status or an order may change it.
        campaign_pages_changed(
            campaign_ids=[campaign.pk], slugs=[stored["slug"] if stored else ""], site=True
        )
    return campaign


def campaign_delete(*, campaign: Campaign) -> None:
    """Delete a campaign (the database refuses one with gifts); its cached pages go stale."""
    campaign_id, slug = campaign.pk, campaign.slug
    with transaction.atomic():
        campaign.delete()
        campaign_pages_changed(campaign_ids=[campaign_id], slugs=[slug], site=True)


CampaignContent = StorySection | TeamMember | Update


def campaign_content_save(*, content: StorySection | TeamMember) -> StorySection | TeamMember:
    """Save a story section or a team member (new or edited). The cached pages of its
    campaign are stale once committed, and those of the campaign it left when it moved.

    A team member with gifts stays in its campaign (ValidationError on "campaign"): its
    gifts were given to that campaign; move them to another member first
    (donations/services/members.py)."""
    content.full_clean()
    with transaction.atomic():
        left = None
        if content.pk is not None:
            left = (
                type(content)
                .objects.filter(pk=content.pk)
                .values_list("campaign_id", flat=True)
                .first()
            )
        moved = left is not None and left != content.campaign_id
        if moved and isinstance(content, TeamMember) and team_member_has_gifts(member=content):
            raise ValidationError(
                {
                    "campaign": ValidationError(
                        MEMBER_CAMPAIGN_FIXED_ERROR,
                        code="member_has_gifts",
                        params={"name": content.name},
                    )
                }
            )
        content.save()
        campaign_pages_changed(campaign_ids=[content.campaign_id, left])
    return content


def campaign_content_delete(*, content: CampaignContent) -> None:
    """Delete a story section, a team member or an update; its campaign's cached pages are
    stale once committed. A team member with gifts is refused (ValidationError): retire
    it, or move its gifts first (donations/services/members.py)."""
    with transaction.atomic():
        if isinstance(content, TeamMember) and team_member_has_gifts(member=content):
            raise ValidationError(
                MEMBER_HAS_GIFTS_ERROR, code="member_has_gifts", params={"name": content.name}
            )
        campaign_id = content.campaign_id
        content.delete()
        campaign_pages_changed(campaign_ids=[campaign_id])


def campaign_contents_delete(*, contents: QuerySet) -> None:
    """Delete many sections, members or updates (a bulk delete) as `campaign_content_delete`
    does each: all of them, or none when one is refused."""
    with transaction.atomic():
        for content in contents:
            campaign_content_delete(content=content)


def campaigns_delete(*, campaigns: QuerySet[Campaign]) -> None:
    """Delete many campaigns as `campaign_delete` does each: all of them, or none."""
    with transaction.atomic():
        for campaign in campaigns:
            campaign_delete(campaign=campaign)

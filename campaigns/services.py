"""Writes of the campaigns app: counting shares, publishing updates, saving content edits.

Every change that alters what a campaign's public pages show bumps the campaign's page
version once committed (campaigns/pagecache.py), except share counts, which may lag the
cached page by up to a minute so that a viral spike does not keep emptying the cache.
"""

from __future__ import annotations

import logging
import re

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from campaigns.models import Campaign, ShareCount, ShareNetwork, Update
from campaigns.pagecache import page_version_bump

logger = logging.getLogger(__name__)

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


def campaign_update_save(*, update: Update) -> Update:
    """Save an organizer's update; the first time it is published it gets its date.

    A published update keeps the date it first went out, also when it is edited later.
    """
    if update.status == Update.Status.PUBLISHED and update.published_at is None:
        update.published_at = timezone.now()
    update.full_clean()
    with transaction.atomic():
        update.save()
        campaign_id = update.campaign_id
        transaction.on_commit(lambda: page_version_bump(campaign_id))
    return update


def campaign_content_changed(*, campaign: Campaign) -> None:
    """The campaign, a section or a team member was edited: its cached pages are stale."""
    campaign_id = campaign.pk
    transaction.on_commit(lambda: page_version_bump(campaign_id))

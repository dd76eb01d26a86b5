"""Versions of each campaign's public pages, kept in the shared cache.

Everything that changes what a campaign's pages show bumps its version once the change is
committed; cached pages are keyed on the version, so the first request after a change
renders afresh. The version lives in the shared cache (Redis in production), so every app
server sees the same one.
"""

from __future__ import annotations

import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)

VERSION_TIMEOUT = 30 * 24 * 60 * 60


def _version_key(campaign_id: int) -> str:
    return f"page-version:{campaign_id}"


def page_version(campaign_id: int) -> int:
    """The campaign's current page version (0 when none was ever set)."""
    return cache.get(_version_key(campaign_id), 0)


def page_version_bump(campaign_id: int) -> None:
    """Make every cached page of the campaign stale. Never raises: a cache that cannot be
    reached has no stale page to serve either."""
    try:
        # A time-based value, not incr(): a version lost from the cache must never come
        # back as an old number that matches pages cached before it was lost.
        cache.set(_version_key(campaign_id), time.time_ns(), VERSION_TIMEOUT)
    except Exception:  # any cache failure: nothing cached can be served then anyway
        logger.exception("Could not bump the page version of campaign %s", campaign_id)

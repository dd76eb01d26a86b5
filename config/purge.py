"""Purging changed pages from the shared cache in front of the site (a CDN, Varnish), by tag.

`purge_soon(tags=...)` runs once a change is committed (campaigns.services.
campaign_pages_changed). It enqueues the `purge_tags` task, coalesced: a tag with a purge
already pending (a short-lived "purge pending" key, set with cache.add) joins that purge
instead of making another, and the task runs CDN_PURGE_DELAY_SECONDS later, so a stream of
gifts makes at most one purge of a campaign's tag per delay. The task clears the pending
keys before it sends, so a change committed after that enqueues a purge of its own.

Backends (CDN_PURGE_BACKEND): `none` sends nothing; `http` sends `PURGE <CDN_PURGE_URL>`
with `Surrogate-Key: <tags>` (Varnish with xkey, nginx); `cloudflare` and `fastly` call
their purge-by-tag APIs. A purge that fails (refused, timed out, an error status) is logged
and enqueued again with a growing delay, CDN_PURGE_ATTEMPTS times in all; a purge that never
succeeds only leaves the pages until they expire (s-maxage, PUBLIC_PAGE_MAX_AGE). A lost
task costs the same, and its pending key expires after PENDING_SECONDS.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import urllib.request
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from config.tasks import enqueue, task

logger = logging.getLogger(__name__)

# A pending mark outlives a busy queue's delay; a lost task holds its tags back this long.
PENDING_SECONDS = 60
# Tags per request: Cloudflare took 30 per purge call (100 since 2025), Fastly takes 256.
CLOUDFLARE_TAGS_PER_REQUEST = 30
FASTLY_KEYS_PER_REQUEST = 256


class PurgeFailedError(Exception):
    """The CDN did not confirm the purge."""


def _pending_key(tag: str) -> str:
    return f"purge-pending:{tag}"


def purge_soon(*, tags: Iterable[str]) -> None:
    """Purge these tags from the shared cache shortly, joining any purge already pending.
    Never raises: a purge not sent only leaves pages until they expire."""
    if settings.CDN_PURGE_BACKEND == "none":
        return
    tags = list(dict.fromkeys(tags))
    try:
        due = [tag for tag in tags if cache.add(_pending_key(tag), 1, PENDING_SECONDS)]
    except Exception:  # without the cache, every change purges on its own
        logger.warning("Cache unavailable; purging %s without coalescing", tags, exc_info=True)
        due = tags
    if due and not _enqueue(due, attempt=1, delay=settings.CDN_PURGE_DELAY_SECONDS):
        # No task will clear them: the next change must be free to enqueue its own purge.
        with contextlib.suppress(Exception):
            cache.delete_many([_pending_key(tag) for tag in due])


def _enqueue(tags: list[str], *, attempt: int, delay: float) -> bool:
    work = purge_tags
    # The immediate backend (tests) cannot defer: it runs the purge at once.
    if delay > 0 and work.get_backend().supports_defer:
        work = work.using(run_after=timezone.now() + datetime.timedelta(seconds=delay))
    return enqueue(work, tags=tags, attempt=attempt)


@task()
def purge_tags(*, tags: list[str], attempt: int = 1) -> None:
    """Purge the pages carrying any of these tags from the shared cache; on failure, log
    and enqueue again later, up to CDN_PURGE_ATTEMPTS attempts in all."""
    if attempt == 1:  # changes from now on need a purge of their own
        with contextlib.suppress(Exception):
            cache.delete_many([_pending_key(tag) for tag in tags])
    try:
        _send(tags)
    except Exception as error:
        if attempt >= settings.CDN_PURGE_ATTEMPTS:
            logger.error(
                "Purge of %s failed %d times (%s); the pages expire by themselves within "
                "PUBLIC_PAGE_MAX_AGE.",
                tags,
                attempt,
                error,
            )
            return
        delay = 2**attempt
        logger.warning(
            "Purge of %s failed (%s); attempt %d in %d s.", tags, error, attempt + 1, delay
        )
        _enqueue(tags, attempt=attempt + 1, delay=delay)
        return
    logger.info("Purged %s (%s).", tags, settings.CDN_PURGE_BACKEND)


def _chunks(tags: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(tags), size):
        yield tags[start : start + size]


def _send(tags: list[str]) -> None:
    backend = settings.CDN_PURGE_BACKEND
    if backend == "http":
        # Varnish (xkey) and nginx purge what a PURGE names in Surrogate-Key; what the
        # request means is up to their configuration (deploy/varnish/).
        _request("PURGE", settings.CDN_PURGE_URL, headers={"Surrogate-Key": " ".join(tags)})
    elif backend == "cloudflare":
        # POST /zones/{zone_id}/purge_cache with {"tags": [...]} and an API token (Bearer):
        # developers.cloudflare.com/api/resources/cache/methods/purge/ and
        # developers.cloudflare.com/cache/how-to/purge-cache/purge-by-tags/ (every plan
        # since April 2025; Free allows 5 purge requests a minute).
        url = f"{settings.CLOUDFLARE_API_URL.rstrip('/')}/zones/{settings.CLOUDFLARE_ZONE_ID}"
        for chunk in _chunks(tags, CLOUDFLARE_TAGS_PER_REQUEST):
            answer = _request(
                "POST",
                f"{url}/purge_cache",
                headers={
                    "Authorization": f"Bearer {settings.CLOUDFLARE_API_TOKEN}",
                    "Content-Type": "application/json",
                },
                body=json.dumps({"tags": chunk}).encode(),
            )
            if not json.loads(answer or b"{}").get("success", False):
                raise PurgeFailedError(f"Cloudflare answered {answer[:200]!r}")
    elif backend == "fastly":
        # POST /service/{service_id}/purge with the keys in a Surrogate-Key header, up to
        # 256, and the API token in Fastly-Key: fastly.com/documentation/reference/api/
        # purging/ ("Purge multiple surrogate key tags").
        url = f"{settings.FASTLY_API_URL.rstrip('/')}/service/{settings.FASTLY_SERVICE_ID}"
        for chunk in _chunks(tags, FASTLY_KEYS_PER_REQUEST):
            _request(
                "POST",
                f"{url}/purge",
                headers={
                    "Fastly-Key": settings.FASTLY_API_TOKEN,
                    "Surrogate-Key": " ".join(chunk),
                    "Accept": "application/json",
                },
            )


def _request(method: str, url: str, *, headers: dict[str, str], body: bytes = b"") -> bytes:
    """Send one request; raise unless the answer is a 2xx (urllib raises HTTPError for the
    others, URLError when nobody answers)."""
    if not url.startswith(("http://", "https://")):  # never file: or another scheme
        raise PurgeFailedError(f"Not an HTTP URL: {url!r}")
    request = urllib.request.Request(url, data=body or None, headers=headers, method=method)  # noqa: S310
    with urllib.request.urlopen(request, timeout=settings.CDN_PURGE_TIMEOUT) as response:  # noqa: S310
        return response.read()

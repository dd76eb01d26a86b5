"""Card-testing defences: how often one client may start a Checkout Session.

With hosted Checkout the card form lives at Stripe, so the only thing a card-testing bot can do
on our side is create Checkout Sessions. That is what we count: per client IP, in fixed windows
(`settings.CHECKOUT_RATE_LIMITS`, e.g. "5/m,20/h"), in Django's default cache, which is Redis
in production, so the limit holds across processes and machines (config/ratelimit.py: one cache
key per window, `add` then `incr`). When the cache does not answer, each process counts on its
own and an error is logged: giving goes on, with the limit held per process.

Why not django-ratelimit: its system checks refuse the local-memory cache (E003) that
development and tests run on, and `add` + `incr` is all the counting we need.

Attempts are also counted per campaign. One attacker must not be able to stop giving for
everyone, so a campaign is never blocked: a surge above `settings.CHECKOUT_SURGE_THRESHOLD`
attempts in ten minutes is logged and kept in the cache for the organizers' report page.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.clients import client_key
from config.ratelimit import count_in_window, window_end, window_start
from donations.durations import RATE_UNITS, DurationError, parse_duration

logger = logging.getLogger("donations.throttle")

RATE_LIMITED = _(
    "Too many attempts to give from your connection in a short time. Nothing was charged. "
    "Please wait a few minutes, then try again."
)

SURGE_WINDOW_SECONDS = 10 * 60
# How long the organizers' report keeps showing the latest surge.
SURGE_SHOWN_SECONDS = 7 * 24 * 60 * 60


@dataclass(frozen=True)
class Rate:
    limit: int
    seconds: int
    text: str


def parse_rates(texts: list[str]) -> list[Rate]:
    """["5/m", "20/h"] → Rates: a count per duration (durations.py, seconds allowed).

    Raises ImproperlyConfigured on anything else.
    """
    rates = []
    for text in texts:
        limit, _slash, window = text.strip().partition("/")
        try:
            if not limit.isdigit() or int(limit) < 1:
                raise DurationError(limit)
            seconds = parse_duration(window, units=RATE_UNITS, number_required=False)
        except DurationError as error:
            raise ImproperlyConfigured(
                f"CHECKOUT_RATE_LIMITS: {text!r} is not <count>/<duration> with unit s, m, h "
                'or d (e.g. "5/m,20/h").'
            ) from error
        rates.append(Rate(int(limit), int(seconds.total_seconds()), text.strip()))
    return rates


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds until the window that refused the attempt ends


def checkout_attempt(*, ip: str, campaign_id: int, now: datetime.datetime) -> Verdict:
    """Count one attempt to start Checkout from `ip` on a campaign; refuse it over a limit.

    Refused attempts count too, so a client hammering the form stays refused until its
    windows end. IPv6 clients count per /64. The campaign's count only ever warns (see
    `campaign_surge`).
    """
    _count_for_campaign(campaign_id, now)
    client = client_key(ip)
    refused = [
        rate
        for rate in parse_rates(settings.CHECKOUT_RATE_LIMITS)
        if count_in_window(key=f"checkout-ip:{client}", seconds=rate.seconds, now=now) > rate.limit
    ]
    if not refused:
        return Verdict(allowed=True)
    retry_after = max(window_end(rate.seconds, now) for rate in refused)
    logger.warning(
        "Checkout refused for IP %s on campaign %s: over %s.",
        ip,
        campaign_id,
        ", ".join(rate.text for rate in refused),
    )
    return Verdict(allowed=False, retry_after=retry_after)


@dataclass(frozen=True)
class Surge:
    """The latest ten minutes in which a campaign saw more checkout attempts than usual."""

    attempts: int
    window_start: datetime.datetime
    window_end: datetime.datetime
    threshold: int


def _surge_key(campaign_id: int) -> str:
    return f"throttle:surge:{campaign_id}"


def _count_for_campaign(campaign_id: int, now: datetime.datetime) -> None:
    attempts = count_in_window(
        key=f"checkout-campaign:{campaign_id}", seconds=SURGE_WINDOW_SECONDS, now=now
    )
    threshold = settings.CHECKOUT_SURGE_THRESHOLD
    if attempts <= threshold:
        return
    start = window_start(SURGE_WINDOW_SECONDS, now)
    record = {"attempts": attempts, "window_start": start, "threshold": threshold}
    try:
        cache.set(_surge_key(campaign_id), record, timeout=SURGE_SHOWN_SECONDS)
    except Exception:  # the log line below is the durable record anyway
        logger.error("Could not keep the checkout surge of campaign %s in the cache.", campaign_id)
    if attempts == threshold + 1:  # once per window, when the threshold is first passed
        logger.warning(
            "Checkout surge on campaign %s: more than %s attempts in the ten minutes from %s.",
            campaign_id,
            threshold,
            datetime.datetime.fromtimestamp(start, tz=datetime.UTC).isoformat(),
        )


def campaign_surge(*, campaign_id: int) -> Surge | None:
    """The campaign's latest surge of checkout attempts, if one happened in the last week.

    None too when the cache does not answer: the report page still renders.
    """
    try:
        record = cache.get(_surge_key(campaign_id))
    except Exception:
        logger.error("Could not read the checkout surge of campaign %s.", campaign_id)
        return None
    if not record:
        return None
    start = datetime.datetime.fromtimestamp(record["window_start"], tz=datetime.UTC)
    return Surge(
        attempts=record["attempts"],
        window_start=timezone.localtime(start),
        window_end=timezone.localtime(start + datetime.timedelta(seconds=SURGE_WINDOW_SECONDS)),
        threshold=record["threshold"],
    )

"""Time the live demo campaign page and its older-givers pages at scale.

Usage (from the project root, on whatever DATABASE_URL points at):

    .venv/bin/python bench/campaign_page.py [--givers 100000] [--requests 50] [--skip-seed]

It runs `migrate` and `seed_demo --givers N` (idempotent: a second run adds nothing), then
requests each page N times through Django's test Client, in process, and prints the median
and 95th percentile in milliseconds with the number of SQL queries per request. The timings
include Django's whole request cycle (middleware, view, template) but no network or WSGI
server. Each page is timed as a cache miss (the cache is cleared before each request,
outside the timing) and as a hit. Use the cache the site uses (CACHE_URL=redis://...) for
hits that include the round trip to Redis.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from campaigns.demo import LIVE_SLUG  # noqa: E402
from campaigns.models import Campaign  # noqa: E402
from donations.models import Donation  # noqa: E402
from donations.selectors.givers import encode_cursor  # noqa: E402


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class QueryTimer:
    """Counts and times every SQL statement (works whatever DEBUG says)."""

    def __init__(self):
        self.statements: list[tuple[float, str]] = []

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.statements.append(((time.perf_counter() - start) * 1000, sql))


def _timed(client: Client, path: str, *, miss: bool) -> float:
    if miss:
        cache.clear()  # outside the timing: every cached page and version is gone
    start = time.perf_counter()
    client.get(path)
    return (time.perf_counter() - start) * 1000


def measure(client: Client, label: str, path: str, requests: int, *, verbose: bool) -> None:
    """A cache miss (the page rendered) and a hit (the cached page served), each `requests`
    times, with the queries of one miss."""
    cache.clear()
    timer = QueryTimer()
    with connection.execute_wrapper(timer):
        response = client.get(path)
    if response.status_code != 200:
        raise SystemExit(f"{path} answered {response.status_code}")
    misses = [_timed(client, path, miss=True) for _ in range(requests)]
    hits = [_timed(client, path, miss=False) for _ in range(requests)]
    print(
        f"{label:<27} miss median {statistics.median(misses):6.1f} ms  "
        f"p95 {percentile(misses, 0.95):6.1f} ms  {len(timer.statements):2d} queries   "
        f"hit median {statistics.median(hits):5.2f} ms  p95 {percentile(hits, 0.95):5.2f} ms"
    )
    if verbose:
        for duration, sql in timer.statements:
            print(f"    {duration:7.1f} ms  {sql[:110]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--givers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--skip-seed", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="Print each query and its time.")
    options = parser.parse_args()

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"Database: {engine} {settings.DATABASES['default']['NAME']}")
    if not options.skip_seed:
        start = time.perf_counter()
        call_command("migrate", verbosity=0)
        call_command("seed_demo", givers=options.givers)
        print(f"migrate + seed_demo --givers {options.givers}: {time.perf_counter() - start:.1f} s")

    campaign = Campaign.objects.get(slug=LIVE_SLUG)
    gifts = Donation.objects.for_campaign(campaign).counted().newest_first()
    total = gifts.count()
    print(f"Counted gifts on {campaign.get_absolute_url()}: {total}")
    host = settings.ALLOWED_HOSTS[0] if settings.ALLOWED_HOSTS else "127.0.0.1"
    client = Client(HTTP_HOST=host)
    givers_url = f"/c/{campaign.slug}/givers/"

    measure(
        client,
        "campaign page",
        campaign.get_absolute_url(),
        options.requests,
        verbose=options.verbose,
    )
    second = encode_cursor(gifts[49])
    measure(
        client,
        "older givers, page 2",
        f"{givers_url}?after={second}",
        options.requests,
        verbose=options.verbose,
    )
    middle = encode_cursor(gifts[total // 2])
    measure(
        client,
        "older givers, middle page",
        f"{givers_url}?after={middle}",
        options.requests,
        verbose=options.verbose,
    )
    last = encode_cursor(gifts[max(total - 2, 0)])
    measure(
        client,
        "older givers, last page",
        f"{givers_url}?after={last}",
        options.requests,
        verbose=options.verbose,
    )
    member = campaign.team_members.first()
    if member is not None:
        measure(
            client,
            "team member page",
            member.get_absolute_url(),
            options.requests,
            verbose=options.verbose,
        )
    measure(client, "index", "/", options.requests, verbose=options.verbose)


if __name__ == "__main__":
    main()

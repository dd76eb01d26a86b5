"""Browser tests: Playwright driving Debian's Chromium against Django's live server.

Without /usr/bin/chromium these tests are skipped, so that `make test` passes on a machine
with only Python; in CI (CI=true) a missing Chromium is a failure instead.

Every test here is transactional (the live server reads through its own connection) and
uses `serialized_rollback`: Django serializes the migrated database once (the Organizers
and Volunteers groups of donations/migrations/0002_roles.py among it) and loads it back at
the start of each such test, after the flush that ends the one before.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.e2e.helpers import DESKTOP_WIDTH, VOLUNTEER_PASSWORD, Site

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make to
# build their data are safe here because nothing else uses the connection concurrently.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_MISSING = (
    f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install chromium); "
    "the browser tests need it."
)
IN_CI = os.environ.get("CI") == "true"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run this folder last, and skip the browser tests where Chromium is missing outside CI.

    Each transactional test ends with a flush that empties the tables, so Django runs such
    tests after the others. pytest-django sorts them so, but pytest then regroups the tests
    by Playwright's session-scoped browser parameter, which can put the browser tests in the
    middle; this hook comes after both. The check that the roles are back runs after them.
    """
    here = Path(__file__).parent

    def position(item: pytest.Item) -> int:
        if not item.path.is_relative_to(here):
            return 0
        return 1 if item.get_closest_marker("e2e") else 2

    items.sort(key=position)
    if CHROMIUM.exists() or IN_CI:
        return
    skip = pytest.mark.skip(reason=CHROMIUM_MISSING + " Skipped (CI is not 'true').")
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Use the system Chromium: `playwright install` cannot download browsers here."""
    if not CHROMIUM.exists():
        pytest.fail(CHROMIUM_MISSING + " CI=true, so this is a failure.", pytrace=False)
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    }


@pytest.fixture(scope="session")
def _connections_before_playwright(django_db_setup) -> dict:
    """Django's database connections as the test database set-up left them."""
    from django.db import connections

    return {alias: connections[alias] for alias in connections}


@pytest.fixture(scope="session")
def playwright(_connections_before_playwright, playwright):
    """Keep Django's connections once Playwright runs its event loop in this thread.

    Django keeps connections in an asgiref Local: per thread while no event loop runs, per
    context once one does, and Playwright's sync API runs one. Without this, code after
    Playwright starts gets fresh connections that lack the serialized database, so
    `serialized_rollback` silently restores nothing (and flushes with post_migrate).
    """
    from django.db import connections

    for alias, connection in _connections_before_playwright.items():
        connections[alias] = connection
    return playwright


@pytest.fixture
def open_page(new_context, live_server):
    """Open a page in a fresh context: a language (by its cookie, which the volunteer's and
    other private pages follow; the public pages take it from their path:
    `site.in_language(language)`), a width, JavaScript on/off.

    `page.goto("/c/...")` works with paths: the context's base URL is the live server.
    """

    def _open(
        *,
        language: str = "en",
        width: int = DESKTOP_WIDTH,
        javascript: bool = True,
    ):
        context = new_context(
            base_url=live_server.url,
            viewport={"width": width, "height": 800},
            java_script_enabled=javascript,
        )
        context.add_cookies(
            [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}]
        )
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    return _open


@pytest.fixture
def site(rates_today, demo_payments) -> Site:
    """A live USD campaign (also taking EUR and MXN), two team members, four givers, demo mode.

    The volunteer comes from the `volunteer_add` command of CONTRACTS.md.
    """
    import datetime

    from django.utils import timezone

    from tests.factories import (
        CampaignFactory,
        DonationFactory,
        OfflineDonationFactory,
        StorySectionFactory,
        TeamMemberFactory,
    )

    campaign = CampaignFactory(
        slug="winter-coats",
        title="Winter coats for new neighbors",
        organizer_name="Southwest Side Mutual Aid",
        summary="Coats, boots and gloves for families who arrived this autumn.",
        goal_amount=Decimal("8000.00"),
        accepted_currencies="EUR,MXN",
        ends_on=timezone.localdate() + datetime.timedelta(days=12),
    )
    StorySectionFactory(
        campaign=campaign,
        heading="Why coats",
        body="Many families have never lived through a Chicago winter.\n\n"
        "A good coat makes the difference between getting to work and staying home.",
    )
    StorySectionFactory(campaign=campaign, heading="Where the money goes")
    member = TeamMemberFactory(campaign=campaign, slug="pantry", name="Pantry volunteers")
    TeamMemberFactory(campaign=campaign, slug="soccer", name="Youth soccer league")
    now = timezone.now()
    DonationFactory(
        campaign=campaign,
        giver_name="María Guadalupe Hernández",
        amount=Decimal("120.00"),
        message="¡Adelante, vecinos!",
        team_member=member,
        received_at=now - datetime.timedelta(days=3),
    )
    DonationFactory(
        campaign=campaign,
        currency="MXN",
        amount=Decimal("500.00"),
        amount_converted=Decimal("24.37"),
        received_at=now - datetime.timedelta(days=2),
    )
    DonationFactory(campaign=campaign, anonymous=True, received_at=now - datetime.timedelta(1))
    OfflineDonationFactory(campaign=campaign, giver_name="Don Ramón", amount=Decimal("40.00"))
    call_command(
        "volunteer_add", "pantry-volunteer", campaign.slug, "--password", VOLUNTEER_PASSWORD
    )
    return Site(campaign=campaign, member=member, volunteer="pantry-volunteer")

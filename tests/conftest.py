import os
import secrets
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from config.tasks import IMMEDIATE_BACKEND

DATA = Path(__file__).parent / "data"
# Every key a test puts in Redis starts with this run's token and the test's own: runs and
# tests sharing one Redis database never see, nor delete, each other's keys.
REDIS_RUN_TOKEN = secrets.token_hex(4)
TEST_CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "solidaria-tests",
    }
}


@pytest.fixture(autouse=True)
def _test_settings(_empty_cache, settings, tmp_path):
    """Plain static storage (no collectstatic in tests), media in a temp dir, locmem mail."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
    settings.SECURE_SSL_REDIRECT = False
    settings.SITE_URL = "http://testserver"
    # Hashing passwords properly takes most of a second per user; tests need no protection.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tasks run as they are enqueued, so a test sees their effect at once; the tests of the
    # inbox and the worker use the database backend (the `task_queue` fixture).
    settings.TASKS = {"default": {"BACKEND": IMMEDIATE_BACKEND}}


@pytest.fixture(autouse=True)
def _signal_handlers_restored():
    """db_worker installs its own SIGTERM/SIGINT handlers; each test gets the runner's back."""
    kept = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
    yield
    for number, handler in kept.items():
        signal.signal(number, handler)


@pytest.fixture
def task_queue(settings):
    """The database task backend, as in production: enqueued tasks wait for a worker
    (`call_command("db_worker", "--batch")` runs them)."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture
def data_dir() -> Path:
    return DATA


@dataclass(frozen=True)
class RedisSpace:
    """Where one test keeps its keys in Redis: the database TEST_REDIS_URL names, under a
    key prefix of its own. Nothing else of that database is read, written or flushed."""

    url: str
    prefix: str

    @property
    def cache_url(self) -> str:
        """CACHE_URL for a process the test starts (config/settings.py reads key_prefix)."""
        return f"{self.url}{'&' if '?' in self.url else '?'}key_prefix={self.prefix}"

    def cache(self, **options):
        """A cache of the site's own backend (config/cache.py) on this space."""
        from config.cache import RedisCache

        return RedisCache(self.url, {"KEY_PREFIX": self.prefix, "OPTIONS": options})

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=5)

    def keys(self) -> list[bytes]:
        """This space's keys (Django's keys are `<KEY_PREFIX>:<version>:<key>`)."""
        return list(self.client().scan_iter(match=f"{self.prefix}:*", count=1000))

    def delete_keys(self) -> None:
        client = self.client()
        for key in self.keys():
            client.delete(key)


def _redis_space(required: bool) -> Iterator[RedisSpace | None]:
    import redis

    url = os.environ.get("TEST_REDIS_URL", "")
    if not url:
        if required:
            pytest.skip(reason="TEST_REDIS_URL is not set: this test needs Redis (.ci/run sets it)")
        yield None
        return
    space = RedisSpace(url=url, prefix=f"solidaria-test-{REDIS_RUN_TOKEN}-{secrets.token_hex(4)}")
    try:
        space.client().ping()
    except redis.RedisError:
        if required:
            pytest.skip(reason=f"No Redis answers at TEST_REDIS_URL={url}")
        raise
    yield space
    space.delete_keys()


@pytest.fixture
def redis_space() -> Iterator[RedisSpace]:
    """This test's keys in the Redis of TEST_REDIS_URL, deleted afterwards (by SCAN, never a
    flush: the database may be shared). Skips the test with a reason without one."""
    yield from _redis_space(required=True)


@pytest.fixture
def redis_space_if_set() -> Iterator[RedisSpace | None]:
    """`redis_space` for a test that also runs without Redis: None when TEST_REDIS_URL is
    unset."""
    yield from _redis_space(required=False)


@pytest.fixture
def stripe_http(settings):
    """Live-payments mode with Stripe's HTTP answered by a recording fake (tests/donations)."""
    from donations import stripe_gateway
    from tests.donations.stripe_fakes import SECRET_KEY, WEBHOOK_SECRET, FakeStripeHTTP

    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    fake = FakeStripeHTTP()
    stripe_gateway.use_http_client(fake)
    yield fake
    stripe_gateway.use_http_client(None)


@pytest.fixture
def demo_payments(settings):
    """Demo mode: no Stripe key, so checkout is the site's own demo page."""
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""


@pytest.fixture
def rates_today(db):
    """ECB reference rates of 2022-07-08 (per EUR), stored as today's."""
    from decimal import Decimal

    from django.utils import timezone

    from donations.models import ExchangeRate

    today = timezone.localdate()
    per_euro = {"USD": "1.0163", "JPY": "138.02", "MXN": "20.9438", "GBP": "0.84755"}
    return [
        ExchangeRate.objects.get_or_create(
            date=today, currency=code, defaults={"per_euro": Decimal(rate), "source": "ECB"}
        )[0]
        for code, rate in per_euro.items()
    ]


@pytest.fixture
def cash_campaign(db):
    """A live USD campaign (also taking EUR, MXN, JPY) launched ten days ago, with a member."""
    from tests.factories import CampaignFactory, TeamMemberFactory

    campaign = CampaignFactory(slug="cash-drive", title="Cash drive")
    TeamMemberFactory(campaign=campaign, slug="little-village", name="Little Village")
    return campaign


@pytest.fixture
def cash_volunteer(cash_campaign):
    """A volunteer (Volunteers group, not staff) assigned to `cash_campaign`."""
    from donations.services.cash import volunteer_assign
    from tests.factories import UserFactory

    user = UserFactory(username="vol-assigned")
    volunteer_assign(by=None, user=user, campaign=cash_campaign)
    return user


@pytest.fixture
def cash_other_volunteer(db):
    """A volunteer in the Volunteers group assigned to no campaign of the tests."""
    from django.contrib.auth.models import Group

    from tests.factories import UserFactory

    user = UserFactory(username="vol-unassigned")
    user.groups.add(Group.objects.get(name="Volunteers"))
    return user


@pytest.fixture
def cash_organizer(cash_campaign):
    """A staff user in the Organizers group (rights from the roles migration), assigned to
    organize `cash_campaign`."""
    from django.contrib.auth.models import Group

    from donations.services.access import organizer_assign
    from tests.factories import UserFactory

    user = UserFactory(username="organizer-cash", is_staff=True)
    user.groups.add(Group.objects.get(name="Organizers"))
    organizer_assign(by=None, user=user, campaign=cash_campaign)
    return user


@pytest.fixture
def cash_superuser(db):
    from tests.factories import UserFactory

    return UserFactory(username="root-cash", is_staff=True, is_superuser=True)


@pytest.fixture(scope="session", autouse=True)
def _cache_of_this_process():
    """The tests' cache is this process's own, whatever CACHE_URL says: `_empty_cache`
    clears it, and clearing a Redis cache flushes its whole database. Tests that need Redis
    take `redis_space`."""
    from django.test import override_settings

    with override_settings(CACHES=TEST_CACHES):
        yield


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: rate-limit counts and cached pages do not leak
    (nor the per-process counts kept while a test's cache was down). Set up before the
    `settings` fixture, so that a test's own CACHES is undone before the cache is cleared."""
    from django.core.cache import cache

    from config.ratelimit import reset_local_state

    cache.clear()
    reset_local_state()
    yield
    cache.clear()
    reset_local_state()


@pytest.fixture(autouse=True)
def _no_language_leaks():
    """A request in Spanish leaves Spanish active in the thread; each test starts in English."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


def _hypothesis_profiles() -> None:
    """`make test` runs a few examples per hostile-input test; CI (HYPOTHESIS_PROFILE=ci,
    set by .ci/run) runs 200 per endpoint. Examples share the test's database and client, so
    Hypothesis's fixture health check does not apply; timing varies with the database."""
    import os

    from hypothesis import HealthCheck, settings

    relaxed = {
        "deadline": None,
        "database": None,
        "suppress_health_check": [
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    }
    settings.register_profile("ci", max_examples=200, **relaxed)
    settings.register_profile("dev", max_examples=20, **relaxed)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


_hypothesis_profiles()

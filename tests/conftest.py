from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
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


@pytest.fixture
def data_dir() -> Path:
    return DATA


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


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: rate-limit counts and cached pages do not leak
    (nor the per-process counts kept while a test's cache was down)."""
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

"""A Redis outage degrades, never breaks: pages render, giving and signing in go on, rate
limits fall back to each process, and /healthz stays 200 while the database answers.

The cache is pointed at a closed port (Redis down: refused at once) or at a listener that
accepts connections and never answers (Redis hung: each call waits out the socket timeout).
"""

import logging
import socket
import threading
import time
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from donations.models import Donation
from tests.donations import stripe_fakes as fakes
from tests.factories import (
    CampaignFactory,
    DonationFactory,
    PendingOnlineDonationFactory,
    TeamMemberFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SOCKET_TIMEOUT = 0.2
# A request may wait out the socket timeout once or twice; far less than this.
SLOW = 1.5


def redis_cache_at(port: int) -> dict:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}",
            "OPTIONS": {"socket_timeout": SOCKET_TIMEOUT, "socket_connect_timeout": SOCKET_TIMEOUT},
        }
    }


@pytest.fixture
def redis_down(settings):
    """Nothing listens on the cache's port: every call is refused at once."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    settings.CACHES = redis_cache_at(port)


@pytest.fixture
def redis_hung(settings):
    """A listener that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    settings.CACHES = redis_cache_at(listener.getsockname()[1])
    yield
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def _gift_form(**overrides) -> dict:
    return {
        "amount": "25.00",
        "currency": "USD",
        "name": "Ana García",
        "email": "ana@example.org",
        "website": "",
    } | overrides


def timed(call):
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


@pytest.mark.parametrize("outage", ["redis_down", "redis_hung"])
def test_healthz_stays_200_and_says_the_cache_is_down(client, outage, request):
    request.getfixturevalue(outage)

    response, seconds = timed(lambda: client.get("/healthz"))

    assert response.status_code == 200
    assert response.json() == {"database": True, "cache": False}
    assert seconds < SLOW


@pytest.mark.parametrize("outage", ["redis_down", "redis_hung"])
def test_giving_goes_on_and_the_fallback_is_logged(
    client, demo_payments, rates_today, outage, request, caplog
):
    request.getfixturevalue(outage)
    CampaignFactory(slug="caravan")

    with caplog.at_level(logging.ERROR, logger="solidaria.ratelimit"):
        response, seconds = timed(lambda: client.post("/c/caravan/donate/", _gift_form()))

    assert response.status_code == 303
    assert Donation.objects.get().giver_name == "Ana García"
    assert seconds < SLOW
    assert any("counted in this process only" in r.getMessage() for r in caplog.records)


def test_the_checkout_limit_still_holds_per_process(client, demo_payments, rates_today, redis_down):
    CampaignFactory(slug="caravan")

    answers = [
        client.post("/c/caravan/donate/", _gift_form(), REMOTE_ADDR="198.51.100.4").status_code
        for _attempt in range(6)
    ]

    assert answers == [303] * 5 + [429]
    assert Donation.objects.count() == 5


@pytest.mark.parametrize("outage", ["redis_down", "redis_hung"])
def test_public_pages_render(client, outage, request):
    request.getfixturevalue(outage)
    campaign = CampaignFactory(slug="caravan", title="Caravan fund")
    TeamMemberFactory(campaign=campaign, slug="ana")
    DonationFactory(campaign=campaign, giver_name="Rosa Díaz", amount=Decimal("30.00"))

    for url in [
        "/",
        "/c/caravan/",
        "/c/caravan/m/ana/",
        "/c/caravan/updates/",
        "/c/caravan/donate/",
    ]:
        response, seconds = timed(lambda url=url: client.get(url))
        assert response.status_code == 200, url
        assert seconds < SLOW, url
    assert "Rosa Díaz" in client.get("/c/caravan/").content.decode()
    share = client.get("/c/caravan/share/whatsapp/")
    assert share.status_code == 302


@pytest.mark.parametrize("outage", ["redis_down", "redis_hung"])
def test_signing_in_and_staying_signed_in_work(client, outage, request):
    request.getfixturevalue(outage)
    UserFactory(username="rosa")

    response = client.post(
        reverse("login"), {"username": "rosa", "password": "correct horse battery staple"}
    )

    assert response.status_code == 302
    assert client.get(reverse("donations:volunteer-home")).status_code == 200


def test_the_organizers_report_renders(client, redis_hung, cash_organizer, cash_campaign):
    from donations.services.access import organizer_assign

    organizer_assign(by=None, user=cash_organizer, campaign=cash_campaign)
    client.force_login(cash_organizer)

    response, seconds = timed(lambda: client.get("/organize/cash-drive/report/"))

    assert response.status_code == 200
    assert seconds < SLOW


def test_password_reset_still_sends_its_email(client, redis_down):
    UserFactory(username="rosa", email="rosa@example.org")

    response = client.post(reverse("password_reset"), {"email": "rosa@example.org"})

    assert response.status_code == 302
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("outage", ["redis_down", "redis_hung"])
def test_the_thank_you_page_still_reads_stripe(client, stripe_http, rates_today, outage, request):
    request.getfixturevalue(outage)
    gift = PendingOnlineDonationFactory(
        campaign=CampaignFactory(slug="caravan"), amount=Decimal("25.00"), currency="USD"
    )
    stripe_http.sessions[gift.stripe_checkout_session_id] = fakes.checkout_session(
        donation=gift,
        amount_total=2500,
        currency="usd",
        payment_intent=fakes.expanded_intent(
            charge_obj=fakes.charge(donation=gift, amount=2500, currency="usd")
        ),
    )

    response, seconds = timed(
        lambda: client.get(f"/donations/thanks/?session_id={gift.stripe_checkout_session_id}")
    )

    assert "Your gift is confirmed" in response.content.decode()
    assert Donation.objects.get().status == Donation.Status.SUCCEEDED
    assert seconds < SLOW

import datetime
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from config.clients import client_ip
from donations import throttle
from donations.models import Donation
from donations.services.access import organizer_assign
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db

SESSIONS = "/v1/checkout/sessions"
PROJECT = Path(__file__).resolve().parents[2]
TEN_AM = datetime.datetime(2026, 11, 28, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.CHECKOUT_RATE_LIMITS = ["5/m", "20/h"]
    settings.CHECKOUT_SURGE_THRESHOLD = 30
    settings.TRUSTED_PROXY_COUNT = 0


@pytest.fixture
def campaign(rates_today):
    return CampaignFactory(slug="caravan", currency="USD")


@pytest.fixture(autouse=True)
def _fresh_minute():
    """Counting uses fixed minutes: the clock (faked, still ticking) starts a burst five
    seconds into a minute, so the burst cannot straddle two minutes."""
    with time_machine.travel(TEN_AM + datetime.timedelta(seconds=5), tick=True):
        yield


def _give(client, **headers):
    form = {"amount": "25.00", "currency": "USD", "name": "Ana", "email": "ana@example.org"}
    return client.post("/c/caravan/donate/", form, **headers)


def _throttle_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "donations.throttle"]


def test_the_sixth_checkout_in_a_minute_gets_429_without_calling_stripe(
    client, stripe_http, campaign, caplog
):
    answers = [_give(client, REMOTE_ADDR="198.51.100.7") for _ in range(6)]

    assert [a.status_code for a in answers] == [303] * 5 + [429]
    refused = answers[-1]
    assert str(throttle.RATE_LIMITED) in refused.content.decode()
    assert 0 < int(refused["Retry-After"]) <= 60
    assert len(stripe_http.posts_to(SESSIONS)) == 5
    assert Donation.objects.count() == 5
    (warning,) = _throttle_warnings(caplog)
    assert "198.51.100.7" in warning
    assert f"campaign {campaign.pk}" in warning
    assert "5/m" in warning


def test_another_client_is_not_held_back_by_one_over_its_limit(client, stripe_http, campaign):
    for _ in range(6):
        _give(client, REMOTE_ADDR="198.51.100.7")

    response = _give(client, REMOTE_ADDR="198.51.100.8")

    assert response.status_code == 303
    assert len(stripe_http.posts_to(SESSIONS)) == 6


def test_demo_checkout_is_limited_too(client, demo_payments, campaign, settings):
    settings.CHECKOUT_RATE_LIMITS = ["2/m"]

    answers = [_give(client).status_code for _ in range(3)]

    assert answers == [303, 303, 429]
    assert Donation.objects.count() == 2


def test_invalid_forms_and_the_page_itself_do_not_count(client, stripe_http, campaign):
    for _ in range(6):
        client.get("/c/caravan/donate/")
        client.post("/c/caravan/donate/", {"amount": "1", "currency": "USD", "name": "Ana"})

    assert _give(client).status_code == 303


def test_minute_and_hour_limits_hold_in_their_fixed_windows():
    def attempt(minute: int, second: int = 0) -> throttle.Verdict:
        now = TEN_AM + datetime.timedelta(minutes=minute, seconds=second)
        return throttle.checkout_attempt(ip="203.0.113.9", campaign_id=1, now=now)

    first_minute = [attempt(0, second).allowed for second in range(6)]
    next_minutes = [attempt(minute, 1).allowed for minute in (1, 2, 3) for _ in range(5)]
    over_the_hour = attempt(4, 30)

    assert first_minute == [True] * 5 + [False]
    # 5 + 15 = 20 allowed this hour; the refused sixth counts too, so minute 3's last is refused.
    assert next_minutes == [True] * 14 + [False]
    assert not over_the_hour.allowed
    assert over_the_hour.retry_after == 55 * 60 + 30
    assert attempt(60).allowed  # a new hour


def test_an_ipv6_client_counts_per_64_and_ipv4_mapped_addresses_as_ipv4(settings):
    settings.CHECKOUT_RATE_LIMITS = ["2/m"]

    def allowed(ip: str) -> bool:
        return throttle.checkout_attempt(ip=ip, campaign_id=1, now=TEN_AM).allowed

    same_64 = [allowed(f"2001:db8:1:2::{n}") for n in range(3)]
    mapped = [allowed("198.51.100.7"), allowed("::ffff:198.51.100.7"), allowed("198.51.100.7")]

    assert same_64 == [True, True, False]
    assert allowed("2001:db8:1:3::1")  # the next /64 is someone else
    assert mapped == [True, True, False]


def test_rates_are_read_from_settings_and_a_bad_one_is_a_configuration_error(settings):
    assert throttle.parse_rates(["5/m", " 20/h ", "100/d"]) == [
        throttle.Rate(5, 60, "5/m"),
        throttle.Rate(20, 3600, "20/h"),
        throttle.Rate(100, 86400, "100/d"),
    ]
    settings.CHECKOUT_RATE_LIMITS = ["5 per minute"]
    with pytest.raises(ImproperlyConfigured, match="CHECKOUT_RATE_LIMITS"):
        throttle.checkout_attempt(ip="203.0.113.9", campaign_id=1, now=TEN_AM)


def test_a_spoofed_forwarded_header_is_ignored_without_trusted_proxies(
    client, stripe_http, campaign
):
    answers = [
        _give(client, REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code
        for n in range(6)
    ]

    assert answers == [303] * 5 + [429]
    assert len(stripe_http.posts_to(SESSIONS)) == 5


def test_with_one_trusted_proxy_the_hop_it_appended_is_the_client(
    client, stripe_http, campaign, settings
):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.FORWARDED_ALLOW_IPS = "10.0.0.2"  # the proxy's own address
    # The leftmost entries are whatever the client sent; only the proxy's own entry counts.
    spoofed = [
        _give(
            client, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.5"
        ).status_code
        for n in range(6)
    ]
    other_client = _give(client, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.6")

    assert spoofed == [303] * 5 + [429]
    assert other_client.status_code == 303


@pytest.mark.parametrize(
    ("trusted", "forwarded", "expected"),
    [
        (0, "203.0.113.5", "10.0.0.2"),
        (1, "192.0.2.1, 203.0.113.5", "203.0.113.5"),
        (2, "192.0.2.1, 203.0.113.5, 10.0.0.3", "203.0.113.5"),
        (3, "203.0.113.5, 10.0.0.3", "203.0.113.5"),  # fewer hops than trusted: the leftmost
        (1, "", "10.0.0.2"),
        (1, "not-an-address", "10.0.0.2"),
        (1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_ip_is_read_the_configured_number_of_hops_from_the_right(
    settings, trusted, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = trusted
    settings.FORWARDED_ALLOW_IPS = "10.0.0.0/8"
    request = RequestFactory().post("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip(request) == expected


def test_a_campaign_surge_is_logged_once_shown_to_organizers_and_never_blocks(
    client, stripe_http, campaign, settings, caplog, cash_organizer
):
    settings.CHECKOUT_SURGE_THRESHOLD = 3

    answers = [_give(client, REMOTE_ADDR=f"198.51.100.{n}").status_code for n in range(6)]

    assert answers == [303] * 6
    (warning,) = _throttle_warnings(caplog)
    assert f"surge on campaign {campaign.pk}" in warning
    surge = throttle.campaign_surge(campaign_id=campaign.pk)
    assert (surge.attempts, surge.threshold) == (6, 3)
    assert surge.window_end - surge.window_start == datetime.timedelta(minutes=10)
    organizer_assign(by=None, user=cash_organizer, campaign=campaign)
    client.force_login(cash_organizer)
    report = client.get("/organize/caravan/report/").content.decode()
    assert "Unusual payment activity" in report
    assert "6 attempts to start a card payment" in report


def test_no_surge_is_shown_below_the_threshold(client, stripe_http, campaign, cash_organizer):
    _give(client)

    client.force_login(cash_organizer)
    report = client.get("/organize/caravan/report/").content.decode()

    assert throttle.campaign_surge(campaign_id=campaign.pk) is None
    assert "Unusual payment activity" not in report


ATTEMPTS_SCRIPT = """
import datetime, json, os
from config.clients import client_ip
from donations import throttle
now = datetime.datetime.fromisoformat(os.environ["THROTTLE_NOW"])
print(json.dumps([
    throttle.checkout_attempt(
        ip=os.environ["THROTTLE_IP"], campaign_id=int(os.environ["THROTTLE_CAMPAIGN"]), now=now
    ).allowed
    for _ in range(int(os.environ["THROTTLE_ATTEMPTS"]))
]))
"""


def _attempts_in_another_process(ip: str, attempts: int, cache_url: str) -> subprocess.Popen:
    env = os.environ | {
        "CACHE_URL": cache_url,
        "CHECKOUT_RATE_LIMITS": "5/m,20/h",
        "THROTTLE_NOW": TEN_AM.isoformat(),
        "THROTTLE_IP": ip,
        "THROTTLE_CAMPAIGN": str(uuid.uuid4().int % 10**9),
        "THROTTLE_ATTEMPTS": str(attempts),
    }
    command = [sys.executable, "manage.py", "shell", "-c", ATTEMPTS_SCRIPT]
    return subprocess.Popen(  # noqa: S603  (our own manage.py with a fixed script)
        command, cwd=PROJECT, env=env, stdout=subprocess.PIPE, text=True
    )


def _allowed(process: subprocess.Popen) -> list[bool]:
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    return json.loads(output.strip().splitlines()[-1])


@pytest.mark.redis
def test_the_limit_holds_across_processes_sharing_redis(redis_space):
    ip = "2001:db8::1"

    first = _allowed(_attempts_in_another_process(ip, 3, redis_space.cache_url))
    second = _allowed(_attempts_in_another_process(ip, 3, redis_space.cache_url))

    assert first == [True, True, True]
    assert second == [True, True, False]
    assert redis_space.keys()  # the counts live under this test's key prefix


@pytest.mark.redis
def test_concurrent_processes_sharing_redis_allow_exactly_the_limit_between_them(redis_space):
    ip = "2001:db8::1"

    processes = [_attempts_in_another_process(ip, 6, redis_space.cache_url) for _ in range(2)]
    allowed = [answer for process in processes for answer in _allowed(process)]

    assert allowed.count(True) == 5

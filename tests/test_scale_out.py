"""Two app servers, one PostgreSQL and one Redis: whichever server a request reaches, the
visitor sees the same site (Performance issue, scale-out check).

Two gunicorn instances on different ports serve the test database. A gift recorded through
one shows on the first page from the other; a rate limit counted on one holds on the other;
a session and a CSRF token from one work on the other.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from donations.services.cash import volunteer_assign
from tests.factories import CampaignFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "a-long-scale-out-password"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def two_servers(static_root: Path, cache_url: str):
    """Two gunicorns (1 worker each) on the test database, sharing one Redis at `cache_url`
    (a key prefix of this test's own, so it starts empty)."""
    database = connection.settings_dict
    url = (
        f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "scale-out-test-secret-key-shared-by-both-servers-0123456789",
        "DATABASE_URL": url,
        "CACHE_URL": cache_url,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": "http://127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "PAYMENTS_DEMO": "true",
        "CHECKOUT_RATE_LIMITS": "2/h",
        "LOG_LEVEL": "WARNING",
        "STATIC_ROOT": str(static_root),
    }
    # With DEBUG off, static files are served from the collected, hashed copies.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    ports = [_free_port(), _free_port()]
    servers = [_gunicorn(port, env) for port in ports]
    try:
        for port in ports:
            _wait_for(f"http://127.0.0.1:{port}/healthz")
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=20)


def _gunicorn(port: int, env: dict) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--workers", "1"]
    command += ["--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
    return subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603 (this project)


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own server)
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


class Browser:
    """One visitor: its cookies go to whichever server it asks (secure cookies over plain
    HTTP too, as ENVIRONMENT.md explains), so both servers see the same session."""

    def __init__(self):
        policy = http.cookiejar.DefaultCookiePolicy(secure_protocols=("https", "wss", "http"))
        self.jar = http.cookiejar.CookieJar(policy)
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect()
        )

    def get(self, url: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(url))  # noqa: S310 (our own servers)

    def post(self, url: str, data: dict, referer: str) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode()
        request = urllib.request.Request(url, data=body, headers={"Referer": referer})  # noqa: S310
        return self._open(request)

    def _open(self, request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=20) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def csrf(self, html: str) -> str:
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def raised(html: str) -> str:
    return re.search(r'<data class="raised" value="([^"]+)"', html).group(1)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="two servers share one PostgreSQL database"
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_app_servers_share_gifts_limits_sessions_and_csrf(rates_today, tmp_path, redis_space):
    campaign = CampaignFactory(slug="shared")
    volunteer = UserFactory(username="vol-shared")
    # The servers hash with the site's own hasher, not the tests' fast one.
    volunteer.password = PBKDF2PasswordHasher().encode(PASSWORD, "scaleoutsalt")
    volunteer.save()
    volunteer_assign(by=None, user=volunteer, campaign=campaign)

    with two_servers(tmp_path / "static", redis_space.cache_url) as (one, other):
        visitor = Browser()
        assert raised(visitor.get(f"{other}/c/shared/")[1]) == "0.00"  # cached on `other`

        # A session and a CSRF token from one server work on the other.
        _status, login = visitor.get(f"{one}/accounts/login/")
        status, _body = visitor.post(
            f"{one}/accounts/login/",
            {"username": "vol-shared", "password": PASSWORD,
             "csrfmiddlewaretoken": visitor.csrf(login)},
            referer=f"{one}/accounts/login/",
        )  # fmt: skip
        assert status == 302
        status, form = visitor.get(f"{other}/volunteer/shared/cash/")
        assert status == 200
        token = re.search(r'name="form_token" value="([^"]+)"', form).group(1)
        status, _body = visitor.post(
            f"{other}/volunteer/shared/cash/",
            {"csrfmiddlewaretoken": visitor.csrf(form), "form_token": token, "name": "Ana",
             "amount": "12.50", "currency": "USD", "received_on": rates_today[0].date.isoformat()},
            referer=f"{other}/volunteer/shared/cash/",
        )  # fmt: skip
        assert status == 302

        # The gift recorded through `other` shows on the first page from `one`, and `other`'s
        # own cached page is stale no more either.
        stranger = Browser()
        assert raised(stranger.get(f"{one}/c/shared/")[1]) == "12.50"
        assert raised(stranger.get(f"{other}/c/shared/")[1]) == "12.50"

        # A rate limit counted on one server holds on the other (2 checkouts an hour).
        giver = Browser()
        answers = []
        for server in (one, other, one):
            _status, donate = giver.get(f"{server}/c/shared/donate/")
            status, _body = giver.post(
                f"{server}/c/shared/donate/",
                {"csrfmiddlewaretoken": giver.csrf(donate), "amount": "25", "currency": "USD",
                 "name": "Bo", "email": "bo@example.org"},
                referer=f"{server}/c/shared/donate/",
            )  # fmt: skip
            answers.append(status)
        assert answers == [303, 303, 429]

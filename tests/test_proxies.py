"""Forwarded headers count only from the proxies in FORWARDED_ALLOW_IPS: in gunicorn (which
decides HTTPS), in Django (SECURE_PROXY_SSL_HEADER) and for the client address."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.test import RequestFactory, override_settings

from config.checks import check_proxy_settings
from config.clients import client_ip

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("remote_addr", "allowed", "expected"),
    [
        ("10.0.0.2", "10.0.0.2", "203.0.113.5"),
        ("10.0.0.2", "10.0.0.0/24", "203.0.113.5"),
        ("10.0.0.2", "*", "203.0.113.5"),
        ("10.0.0.2", "127.0.0.1,::1", "10.0.0.2"),  # not our proxy: the header is a claim
        ("198.51.100.9", "10.0.0.2", "198.51.100.9"),
    ],
)
def test_x_forwarded_for_is_read_only_from_a_listed_proxy(settings, remote_addr, allowed, expected):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.FORWARDED_ALLOW_IPS = allowed
    request = RequestFactory().get(
        "/", REMOTE_ADDR=remote_addr, HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.5"
    )

    assert client_ip(request) == expected


@pytest.mark.django_db
@override_settings(
    SECURE_SSL_REDIRECT=True,
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    TRUSTED_PROXY_COUNT=1,
    FORWARDED_ALLOW_IPS="10.0.0.2",
)
def test_django_believes_x_forwarded_proto_only_from_a_listed_proxy(client):
    from_proxy = client.get(
        "/lang/en/?next=/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_PROTO="https"
    )
    from_client = client.get(
        "/lang/en/?next=/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_PROTO="https"
    )

    assert (from_proxy.status_code, from_proxy["Location"]) == (302, "/")
    assert from_client.status_code == 301
    assert from_client["Location"].startswith("https://")


@pytest.mark.parametrize(
    ("allowed", "requested", "count", "ids"),
    [
        ("127.0.0.1,::1", False, 0, set()),
        ("10.0.0.0/8", True, 1, set()),
        ("*", False, 0, {"solidaria.W001"}),
        ("127.0.0.1", True, 0, {"solidaria.W002"}),
        ("not-an-address", False, 0, {"solidaria.E003"}),
    ],
)
def test_the_proxy_check(allowed, requested, count, ids):
    with override_settings(
        FORWARDED_ALLOW_IPS=allowed,
        SECURE_PROXY_SSL_HEADER_REQUESTED=requested,
        TRUSTED_PROXY_COUNT=count,
    ):
        assert {problem.id for problem in check_proxy_settings()} == ids


def test_the_image_runs_gunicorn_with_its_config_and_never_trusts_every_address():
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert '"--config", "gunicorn.conf.py"' in dockerfile
    assert '"*"' not in dockerfile


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ask(port: int, path: str, headers: dict) -> tuple[int, str]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, response.headers.get("Location", "")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", "")


@pytest.fixture
def gunicorn(tmp_path):
    """Start gunicorn with the project's gunicorn.conf.py and the given FORWARDED_ALLOW_IPS."""
    started = []

    def start(forwarded_allow_ips: str) -> int:
        port = free_port()
        env = {
            "PATH": os.environ["PATH"],
            "DEBUG": "false",
            "SECRET_KEY": "x" * 50,
            "PAYMENTS_DEMO": "true",
            "SITE_URL": "https://give.example.org",
            "ALLOWED_HOSTS": "give.example.org",
            "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "1",
            "FORWARDED_ALLOW_IPS": forwarded_allow_ips,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "config.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(process)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return port
            except OSError:
                time.sleep(0.1)
        raise AssertionError("gunicorn did not start")

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


def test_gunicorn_believes_https_only_from_the_configured_proxies(gunicorn):
    claim = {"Host": "give.example.org", "X-Forwarded-Proto": "https"}
    untrusted = gunicorn("192.0.2.1")  # our requests come from 127.0.0.1: not that proxy
    trusted = gunicorn("127.0.0.1")

    assert ask(untrusted, "/lang/en/?next=/", claim) == (
        301,
        "https://give.example.org/lang/en/?next=/",
    )
    assert ask(trusted, "/lang/en/?next=/", claim) == (302, "/")

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings
from django.urls import reverse

from config.checks import check_production_settings

ROOT = Path(__file__).resolve().parent.parent
REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379",  # read by the checks, never connected to
    }
}
LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def error_ids(errors) -> set[str]:
    return {error.id for error in errors}


@override_settings(DEBUG=False, CACHES=LOCMEM, SITE_URL="https://give.example.org")
def test_check_refuses_a_per_process_cache_with_debug_off():
    errors = check_production_settings()
    assert error_ids(errors) == {"solidaria.E001"}
    assert "LocMemCache" in errors[0].msg


@override_settings(DEBUG=False, CACHES=REDIS, SITE_URL="")
def test_check_refuses_a_missing_site_url_with_debug_off():
    assert error_ids(check_production_settings()) == {"solidaria.E002"}


@override_settings(DEBUG=False, CACHES=REDIS, SITE_URL="https://give.example.org")
def test_check_accepts_a_shared_cache_and_a_site_url():
    assert check_production_settings() == []


@override_settings(DEBUG=True, CACHES=LOCMEM, SITE_URL="")
def test_check_allows_anything_in_development():
    assert check_production_settings() == []


@pytest.mark.django_db
def test_healthz_answers_json_when_database_and_cache_answer(client):
    response = client.get(reverse("healthz"))
    assert reverse("healthz") == "/healthz"
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"database": True, "cache": True}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_is_exempt_from_the_https_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 301


def run_manage(*args: str, **environment: str) -> subprocess.CompletedProcess:
    keep = {"PATH", "HOME", "LANG", "SYSTEMROOT"}
    env = {key: value for key, value in os.environ.items() if key in keep}
    env.update(environment)
    return subprocess.run(  # noqa: S603  (our own manage.py with fixed arguments)
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_start_up_without_secret_key_and_debug_off_fails_clearly():
    result = run_manage("check", DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY is not set. Set it in the environment (DEBUG is off)." in result.stderr


def test_manage_check_with_debug_off_reports_the_cache_and_site_url():
    result = run_manage(
        "check", DEBUG="false", SECRET_KEY="x" * 50, PAYMENTS_DEMO="true", SITE_URL=""
    )
    assert result.returncode != 0
    assert "solidaria.E001" in result.stderr
    assert "solidaria.E002" in result.stderr


def test_manage_check_passes_in_development():
    result = run_manage("check", DEBUG="true")
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_every_public_page_and_the_health_check_answer_head(client):
    """Uptime monitors and crawlers use HEAD: it answers wherever GET does, with no body."""
    from tests.factories import CampaignFactory, TeamMemberFactory

    campaign = CampaignFactory(slug="heads")
    TeamMemberFactory(campaign=campaign, slug="team")
    urls = [
        "/healthz",
        "/",
        "/c/heads/",
        "/c/heads/givers/",
        "/c/heads/m/team/",
        "/c/heads/tally/",
        "/c/heads/donate/",
        "/lang/es/?next=/",
    ]
    for url in urls:
        get, head = client.get(url), client.head(url)
        assert head.status_code == get.status_code, url
        assert head.status_code in (200, 302), url
        assert head.content == b"", url


def test_robots_txt_keeps_crawlers_out_of_the_back_office(client):
    response = client.get("/robots.txt")

    lines = response.content.decode().splitlines()
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "Disallow: /admin/" in lines
    assert "Disallow: /volunteer/" in lines
    assert "Disallow: /es/donations/" in lines  # the thank-you pages in Spanish too
    assert lines[-1] == "Allow: /"

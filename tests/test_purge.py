"""Purging changed pages from the shared cache (config/purge.py), against a local fake CDN.

The fake is an HTTP server on 127.0.0.1 that records every request and answers with the
statuses a test queues (200 when none is left). The purge backends' base URLs are settings,
so Cloudflare's and Fastly's APIs are this server too.
"""

import datetime
import http.server
import json
import logging
import socket
import threading
import uuid
from dataclasses import dataclass
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from campaigns.services import campaign_pages_changed, campaign_save
from config.checks import check_purge_settings
from config.purge import purge_soon
from donations.models import Donation
from donations.services.cash import CashGift, donation_record_cash
from tests.factories import CampaignFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class FakeCDN:
    def __init__(self):
        self.requests: list[Received] = []
        self.statuses: list[int] = []
        self.answer = b""
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _record(self):
                length = int(self.headers.get("Content-Length") or 0)
                fake.requests.append(
                    Received(self.command, self.path, dict(self.headers), self.rfile.read(length))
                )
                status = fake.statuses.pop(0) if fake.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", str(len(fake.answer)))
                self.end_headers()
                self.wfile.write(fake.answer)

            do_PURGE = do_POST = _record

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def cdn(settings):
    fake = FakeCDN()
    settings.CDN_PURGE_BACKEND = "http"
    settings.CDN_PURGE_URL = f"{fake.url}/"
    settings.CDN_PURGE_TIMEOUT = 2
    yield fake
    fake.close()


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def give_cash(campaign, amount="10.00") -> Donation:
    volunteer = UserFactory(is_superuser=True, username=f"su-{uuid.uuid4().hex[:6]}")
    gift = CashGift(amount=Decimal(amount), currency="USD", received_on=timezone.localdate())
    return donation_record_cash(
        campaign=campaign, entered_by=volunteer, gift=gift, form_token=uuid.uuid4()
    )


def work() -> None:
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", stdout=StringIO())


def test_a_gift_sends_purge_with_its_campaigns_tag(cdn):
    campaign = CampaignFactory(slug="coats")
    cdn.requests.clear()

    give_cash(campaign)

    assert [(r.method, r.path, r.headers["Surrogate-Key"]) for r in cdn.requests] == [
        ("PURGE", "/", f"campaign-{campaign.pk}")
    ]


def test_a_campaign_edit_purges_the_site_tag_too(cdn):
    campaign = CampaignFactory(slug="coats")
    campaign.title = "Winter coats"

    campaign_save(campaign=campaign, by=None)

    assert [r.headers["Surrogate-Key"] for r in cdn.requests] == [f"campaign-{campaign.pk} site"]


def test_nothing_is_sent_before_the_change_commits(cdn):
    with transaction.atomic():
        campaign_pages_changed(campaign_ids=[7])
        assert cdn.requests == []

    assert len(cdn.requests) == 1


def test_the_none_backend_sends_nothing(cdn, settings):
    settings.CDN_PURGE_BACKEND = "none"
    campaign = CampaignFactory(slug="coats")

    give_cash(campaign)
    campaign_save(campaign=campaign, by=None)

    assert cdn.requests == []
    assert Donation.objects.count() == 1


def test_cloudflare_purges_by_tag_through_its_api(cdn, settings):
    settings.CDN_PURGE_BACKEND = "cloudflare"
    settings.CLOUDFLARE_API_URL = f"{cdn.url}/client/v4"
    settings.CLOUDFLARE_ZONE_ID = "023e105f4ecef8ad9ca31a8372d0c353"
    settings.CLOUDFLARE_API_TOKEN = "cf-token"
    cdn.answer = b'{"success": true, "errors": [], "messages": [], "result": {"id": "x"}}'

    purge_soon(tags=["campaign-12", "site"])

    (sent,) = cdn.requests
    assert (sent.method, sent.path) == (
        "POST",
        "/client/v4/zones/023e105f4ecef8ad9ca31a8372d0c353/purge_cache",
    )
    assert sent.headers["Authorization"] == "Bearer cf-token"
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.body) == {"tags": ["campaign-12", "site"]}


def test_cloudflare_saying_it_failed_is_retried(cdn, settings, caplog):
    settings.CDN_PURGE_BACKEND = "cloudflare"
    settings.CLOUDFLARE_API_URL = f"{cdn.url}/client/v4"
    settings.CLOUDFLARE_ZONE_ID = "zone"
    settings.CLOUDFLARE_API_TOKEN = "cf-token"
    settings.CDN_PURGE_ATTEMPTS = 2
    cdn.answer = b'{"success": false, "errors": [{"code": 1134, "message": "no"}]}'

    with caplog.at_level(logging.WARNING, logger="config.purge"):
        purge_soon(tags=["campaign-12"])

    assert len(cdn.requests) == 2
    assert any("failed 2 times" in record.getMessage() for record in caplog.records)


def test_fastly_purges_by_surrogate_key_through_its_api(cdn, settings):
    settings.CDN_PURGE_BACKEND = "fastly"
    settings.FASTLY_API_URL = cdn.url
    settings.FASTLY_SERVICE_ID = "SU1Z0isxPaozGVKXdv0eY"
    settings.FASTLY_API_TOKEN = "fastly-token"

    purge_soon(tags=["campaign-12", "site"])

    (sent,) = cdn.requests
    assert (sent.method, sent.path) == ("POST", "/service/SU1Z0isxPaozGVKXdv0eY/purge")
    assert sent.headers["Fastly-Key"] == "fastly-token"
    assert sent.headers["Surrogate-Key"] == "campaign-12 site"
    assert sent.body == b""


def test_a_purge_the_cdn_refuses_is_retried_until_it_succeeds(cdn, caplog):
    cdn.statuses = [503, 500]

    with caplog.at_level(logging.WARNING, logger="config.purge"):
        purge_soon(tags=["campaign-3"])

    assert [r.headers["Surrogate-Key"] for r in cdn.requests] == ["campaign-3"] * 3
    failures = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 2 and all(r.levelno == logging.WARNING for r in failures)


def test_a_cdn_that_is_down_leaves_the_gift_recorded_and_logs_the_purge(
    settings, closed_port, caplog
):
    settings.CDN_PURGE_BACKEND = "http"
    settings.CDN_PURGE_URL = f"http://127.0.0.1:{closed_port}/"
    campaign = CampaignFactory(slug="coats")

    with caplog.at_level(logging.WARNING, logger="config.purge"):
        give_cash(campaign)

    assert Donation.objects.count() == 1
    gave_up = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(gave_up) == 1
    assert f"failed {settings.CDN_PURGE_ATTEMPTS} times" in gave_up[0].getMessage()


def test_a_failed_purge_waits_longer_each_time_in_the_queue(cdn, task_queue):
    cdn.statuses = [503]
    purge_soon(tags=["campaign-3"])
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=2)):
        work()

    retry = DBTaskResult.objects.get(status="READY")
    assert len(cdn.requests) == 1
    assert retry.args_kwargs["kwargs"] == {"tags": ["campaign-3"], "attempt": 2}
    assert retry.run_after > timezone.now() + datetime.timedelta(seconds=1)


def test_a_burst_of_gifts_makes_one_purge_per_campaign(cdn, task_queue):
    coats, soup = CampaignFactory(slug="coats"), CampaignFactory(slug="soup")
    cdn.requests.clear()
    DBTaskResult.objects.all().delete()

    with time_machine.travel(timezone.now(), tick=False):  # a burst within the second
        for _gift in range(25):
            give_cash(coats)
            give_cash(soup)
        assert DBTaskResult.objects.count() == 2  # one purge pending per campaign
        work()
        assert cdn.requests == []  # not yet: the purge waits for the burst to settle
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=2)):
        work()

    assert sorted(r.headers["Surrogate-Key"] for r in cdn.requests) == [
        f"campaign-{coats.pk}",
        f"campaign-{soup.pk}",
    ]


def test_a_change_after_the_purge_was_sent_gets_a_purge_of_its_own(cdn, task_queue):
    coats = CampaignFactory(slug="coats")
    give_cash(coats)
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=2)):
        work()
        give_cash(coats)
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=4)):
        work()

    assert [r.headers["Surrogate-Key"] for r in cdn.requests] == [f"campaign-{coats.pk}"] * 2


@pytest.mark.parametrize(
    ("backend", "missing"),
    [
        ("http", "CDN_PURGE_URL"),
        ("cloudflare", "CLOUDFLARE_ZONE_ID and CLOUDFLARE_API_TOKEN"),
        ("fastly", "FASTLY_SERVICE_ID and FASTLY_API_TOKEN"),
    ],
)
def test_the_check_refuses_a_backend_without_its_settings(settings, backend, missing):
    settings.CDN_PURGE_BACKEND = backend
    settings.CDN_PURGE_URL = ""

    (error,) = check_purge_settings()

    assert error.id == "solidaria.E004"
    assert missing in error.msg


def test_the_check_refuses_an_unknown_backend_and_accepts_a_complete_one(settings):
    settings.CDN_PURGE_BACKEND = "akamai"
    assert [error.id for error in check_purge_settings()] == ["solidaria.E004"]

    settings.CDN_PURGE_BACKEND = "http"
    settings.CDN_PURGE_URL = "http://127.0.0.1:6081/"
    assert check_purge_settings() == []

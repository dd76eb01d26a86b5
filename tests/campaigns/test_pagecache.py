"""Cached campaign pages: cheap to serve, and exact the first time after any change."""

import datetime
import threading
import time
import uuid
from decimal import Decimal
from types import SimpleNamespace

import pytest
import time_machine
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage import default_storage
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import cache
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import resolve, reverse
from django.utils import timezone, translation

from campaigns import pagecache
from campaigns.models import Update
from campaigns.services import campaign_update_save
from donations.donor_links import donor_link_token
from donations.models import Receipt
from donations.selectors.givers import encode_cursor
from donations.services.access import organizer_assign
from donations.services.cash import CashGift, donation_record_cash, donation_void
from tests.factories import CampaignFactory, DonationFactory, TeamMemberFactory, UserFactory
from tests.html import data_value, texts

# Transactional: pages are bumped in transaction.on_commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

NOON = datetime.datetime(2026, 11, 30, 18, 0, 30, tzinfo=datetime.UTC)


class CountingCache:
    """Counts round trips that read the real cache (django's own backend stays in use)."""

    def __init__(self):
        self.reads = 0
        self._get, self._get_many = cache.get, cache.get_many

    def get(self, *args, **kwargs):
        self.reads += 1
        return self._get(*args, **kwargs)

    def get_many(self, *args, **kwargs):
        # One round trip in Redis (MGET); the local-memory backend of the tests reads each
        # key with get(), which must not count again.
        self.reads += 1
        reads = self.reads
        try:
            return self._get_many(*args, **kwargs)
        finally:
            self.reads = reads


@pytest.fixture
def reads(monkeypatch):
    counter = CountingCache()
    monkeypatch.setattr(cache, "get", counter.get)
    monkeypatch.setattr(cache, "get_many", counter.get_many)
    return counter


class CountingWrites:
    """Counts calls that write to the real cache (django's own backend stays in use)."""

    METHODS = ("set", "add", "set_many", "incr", "touch")

    def __init__(self):
        self.writes = 0
        self._methods = {name: getattr(cache, name) for name in self.METHODS}

    def counting(self, name):
        def write(*args, **kwargs):
            self.writes += 1
            return self._methods[name](*args, **kwargs)

        return write


@pytest.fixture
def writes(monkeypatch):
    counter = CountingWrites()
    for name in CountingWrites.METHODS:
        monkeypatch.setattr(cache, name, counter.counting(name))
    return counter


@pytest.fixture
def frozen():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


@pytest.fixture
def campaign(frozen):
    campaign = CampaignFactory(slug="coats", launched_on=datetime.date(2026, 11, 1))
    TeamMemberFactory(campaign=campaign, slug="pilsen")
    DonationFactory(campaign=campaign, amount=Decimal("25.00"))
    return campaign


def raised(client, url="/c/coats/", **headers) -> str:
    response = client.get(url, **headers)
    assert response.status_code == 200
    return data_value(response.content.decode(), "raised")[0]


def give_cash(campaign, amount="10.00"):
    volunteer = UserFactory(is_superuser=True, username=f"su-{uuid.uuid4().hex[:6]}")
    gift = CashGift(amount=Decimal(amount), currency="USD", received_on=timezone.localdate())
    return donation_record_cash(
        campaign=campaign, entered_by=volunteer, gift=gift, form_token=uuid.uuid4()
    )


def test_a_hit_runs_no_query_and_one_cache_round_trip(client, campaign, reads):
    client.get("/c/coats/")  # the miss that stores the page
    reads.reads = 0

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/c/coats/")

    assert response.status_code == 200
    assert len(queries) == 0
    assert reads.reads == 1
    assert data_value(response.content.decode(), "raised")[0] == "25.00"


def test_a_miss_runs_the_same_few_queries_at_any_number_of_gifts(client, campaign):
    with CaptureQueriesContext(connection) as few:
        client.get("/c/coats/")
    for _ in range(40):
        DonationFactory(campaign=campaign)
    cache.clear()
    with CaptureQueriesContext(connection) as many:
        client.get("/c/coats/")

    assert len(few) == len(many) <= 6


def test_a_miss_runs_no_query_per_update_shown(client, campaign):
    with CaptureQueriesContext(connection) as without:
        client.get("/c/coats/")
    for number in range(3):
        campaign_update_save(
            update=Update(
                campaign=campaign, title=f"News {number}", body="Yes.", status="published"
            )
        )
    cache.clear()
    with CaptureQueriesContext(connection) as shown:
        html = client.get("/c/coats/").content.decode()
    with CaptureQueriesContext(connection) as listed:
        assert client.get("/c/coats/updates/").status_code == 200

    assert "News 2" in html
    assert len(shown) == len(without) <= 6
    assert len(listed) <= 3


def test_a_repeat_visitor_gets_304_after_one_cache_read(client, campaign, reads):
    first = client.get("/c/coats/")
    reads.reads = 0

    with CaptureQueriesContext(connection) as queries:
        again = client.get("/c/coats/", HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 304
    assert (len(queries), reads.reads) == (0, 1)
    assert first["Last-Modified"]


@pytest.mark.parametrize("change", ["cash gift", "void", "update published", "campaign edited"])
def test_the_first_get_after_a_commit_shows_the_change(client, campaign, change):
    assert raised(client) == "25.00"
    if change == "cash gift":
        give_cash(campaign)
        expected = "35.00"
    elif change == "void":
        gift = give_cash(campaign)
        assert raised(client) == "35.00"
        donation_void(donation=gift, by=gift.entered_by, reason="counterfeit")
        expected = "25.00"
    elif change == "update published":
        campaign_update_save(
            update=Update(campaign=campaign, title="Big news", body="Yes.", status="published")
        )
        assert "Big news" in client.get("/c/coats/").content.decode()
        return
    else:
        organizer = UserFactory(username="root", is_staff=True, is_superuser=True)
        client.force_login(organizer)
        data = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
        assert data.status_code == 200
        campaign.title = "Renamed coats"
        from django.db import transaction

        from campaigns.services import campaign_content_changed

        with transaction.atomic():
            campaign.save()
            campaign_content_changed(campaign=campaign)
        client.logout()
        client.cookies.clear()
        assert texts(client.get("/c/coats/").content.decode(), "h1") == ["Renamed coats"]
        return

    assert raised(client) == expected
    assert raised(client, "/c/coats/m/pilsen/") is not None


def test_pages_are_cached_per_language_and_ignore_tracking_parameters(client, campaign, reads):
    english = client.get("/c/coats/?utm_source=newsletter&fbclid=abc")
    with CaptureQueriesContext(connection) as queries:
        plain = client.get("/c/coats/")
    spanish = client.get("/es/c/coats/")

    assert len(queries) == 0
    assert english.content == plain.content
    assert b"fbclid" not in plain.content and b"utm_source" not in plain.content
    assert spanish.content != english.content
    assert spanish["Content-Language"] == "es"


def test_a_cached_page_expires_with_the_minute_and_the_day(client, campaign, frozen):
    campaign.ends_on = datetime.date(2026, 11, 30)
    campaign.save()
    cache.clear()
    html = client.get("/c/coats/").content.decode()
    assert "Campaign completed" not in html

    frozen.shift(datetime.timedelta(hours=12))  # past local midnight: the end date is over
    html = client.get("/c/coats/").content.decode()

    assert "Campaign completed on November 30, 2026" in html


def test_signed_in_visitors_get_a_fresh_page_that_is_never_stored(client, campaign):
    client.force_login(UserFactory(username="vol"))
    client.get("/c/coats/")
    client.logout()
    client.cookies.clear()

    with CaptureQueriesContext(connection) as queries:
        client.get("/c/coats/")

    assert len(queries) > 0  # nothing was stored by the signed-in visit


def test_a_flash_message_waits_for_a_private_page_and_never_reaches_a_public_one(client, campaign):
    gift = DonationFactory(campaign=campaign, email="rosa@example.org")
    Receipt.objects.create(donation=gift, status=Receipt.Status.SENT)
    token = donor_link_token(email="rosa@example.org")
    asked = client.post(
        reverse("donations:manage", kwargs={"token": token}),
        {"gift": str(gift.pk), "action": "receipt"},
    )
    assert "messages" in asked.cookies  # the message waits in the donor's browser

    public_page = client.get("/c/coats/").content.decode()
    anybody_page = Client().get("/c/coats/").content.decode()
    donor_page = client.get(asked["Location"]).content.decode()

    assert "Your receipt is on its way again." not in public_page
    assert "Your receipt is on its way again." not in anybody_page
    assert "Your receipt is on its way again." in donor_page


def test_a_public_page_never_shows_a_flash_message_queued_in_the_session(client, campaign):
    request = RequestFactory().get("/c/coats/")
    request.resolver_match = match = resolve("/c/coats/")
    request.user = AnonymousUser()
    request.session = SessionStore()  # messages kept where no cookie of the request shows
    request._messages = default_storage(request)
    messages.info(request, "Just for you.")

    assert b"Just for you." not in match.func(request, slug="coats").content
    assert b"Just for you." not in client.get("/c/coats/").content


def test_a_visitor_with_any_cookie_but_the_language_one_gets_a_page_of_their_own(client, campaign):
    client.cookies["csrftoken"] = "a" * 32
    client.get("/c/coats/")
    client.cookies.clear()

    with CaptureQueriesContext(connection) as queries:
        client.get("/c/coats/")

    assert len(queries) > 0  # nothing was stored by the visit with a cookie


def test_cached_pages_carry_no_cookie_and_no_csrf_token(client, campaign):
    client.get("/c/coats/")
    response = client.get("/c/coats/")

    assert "Set-Cookie" not in response
    assert b"csrfmiddlewaretoken" not in response.content
    assert response["Cache-Control"] == "max-age=0, must-revalidate"


def test_a_draft_preview_is_never_cached(client):
    draft = CampaignFactory(slug="secret", status="draft")
    organizer = UserFactory(username="organizer", is_staff=True)
    organizer_assign(by=None, user=organizer, campaign=draft)
    client.force_login(organizer)

    assert client.get("/c/secret/").status_code == 200
    client.logout()
    client.cookies.clear()

    assert client.get("/c/secret/").status_code == 404


def test_an_older_givers_page_is_its_own_entry(client, campaign):
    for minutes in range(60):
        DonationFactory(
            campaign=campaign,
            giver_name=f"Giver {minutes}",
            received_at=timezone.now() - datetime.timedelta(minutes=minutes + 1),
        )
    cache.clear()
    first = client.get("/c/coats/givers/").content.decode()
    after = texts(first, ".older a")
    assert after

    older = client.get(reverse("campaigns:givers", kwargs={"slug": "coats"}) + "?after=x")

    assert older.status_code == 404


def test_pages_of_campaigns_that_do_not_exist_write_nothing_to_the_cache(client, campaign, writes):
    paths = [f"/c/no-such-{uuid.uuid4().hex * 3}/" for _ in range(20)]
    paths += ["/c/no-such-campaign/givers/", "/c/no-such-campaign/m/pilsen/"]

    answers = [client.get(path).status_code for path in paths]

    assert answers == [404] * len(paths)
    assert writes.writes == 0


def test_a_campaigns_first_visit_still_stores_its_page(client, campaign, writes):
    assert raised(client) == "25.00"
    assert writes.writes > 0

    with CaptureQueriesContext(connection) as queries:
        assert raised(client) == "25.00"

    assert len(queries) == 0


def test_a_member_parameter_never_reaches_the_links_of_a_cached_page(client, campaign):
    asked = client.get("/c/coats/?member=evil-member&after=")
    anybody = client.get("/c/coats/")

    assert asked.status_code == anybody.status_code == 200
    assert b"evil-member" not in asked.content
    assert b"evil-member" not in anybody.content


def test_a_made_up_cursor_of_the_right_form_is_not_found(client, campaign):
    gift = DonationFactory(campaign=campaign, received_at=timezone.now())
    elsewhere = DonationFactory(received_at=gift.received_at)  # another campaign's gift
    made_up = [
        encode_cursor(SimpleNamespace(received_at=gift.received_at, id=uuid.uuid4())),
        encode_cursor(
            SimpleNamespace(
                received_at=gift.received_at - datetime.timedelta(seconds=1), id=gift.id
            )
        ),
        encode_cursor(elsewhere),
    ]

    answers = [client.get(f"/c/coats/givers/?after={cursor}").status_code for cursor in made_up]

    assert answers == [404, 404, 404]
    assert client.get(f"/c/coats/givers/?after={encode_cursor(gift)}").status_code == 200


def _page_key_and_version(path: str) -> tuple[str, str]:
    """The cache key of the English page at `path` and the campaign's current version."""
    request = RequestFactory().get(path)
    request.resolver_match = match = resolve(path)
    with translation.override("en"):
        page_key = pagecache._page_key(request, match.kwargs["slug"], {})
    return page_key, cache.get(pagecache._version_key(match.kwargs["slug"]))


def _claim_render(path: str) -> tuple[str, str]:
    """Claim the render of the English page at `path` at the campaign's current version, as
    a request busy rendering it would. Returns the page's key and that version."""
    page_key, version = _page_key_and_version(path)
    assert cache.add(pagecache._claim_key(page_key, version), 1)
    return page_key, version


def test_a_request_waits_for_the_page_another_request_is_rendering(client, campaign):
    assert raised(client) == "25.00"
    give_cash(campaign)  # the stored page is stale now
    page_key, version = _claim_render("/c/coats/")
    other = threading.Timer(
        0.1,
        lambda: cache.set(
            page_key, (version, b"<p>rendered by another</p>", {"Content-Type": "text/html"})
        ),
    )
    other.start()

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/c/coats/")
    other.join()

    assert response.content == b"<p>rendered by another</p>"
    assert len(queries) == 0
    assert response["ETag"]


def test_a_request_renders_itself_when_the_other_render_never_comes(client, campaign, monkeypatch):
    monkeypatch.setattr(pagecache, "RENDER_WAIT_SECONDS", 0.05)
    assert raised(client) == "25.00"
    give_cash(campaign)
    _claim_render("/c/coats/")

    started = time.monotonic()
    assert raised(client) == "35.00"

    assert time.monotonic() - started >= 0.05


@pytest.mark.parametrize("path", ["/c/coats/givers/?after=not-a-cursor", "/c/no-such-campaign/"])
def test_a_page_that_cannot_be_stored_keeps_nobody_waiting(client, campaign, reads, path):
    assert client.get(path).status_code == 404
    reads.reads = 0

    assert client.get(path).status_code == 404

    assert reads.reads == 1  # no wait for a render that gave up its claim


def test_a_waiting_request_takes_no_page_of_another_version(client, campaign, monkeypatch):
    monkeypatch.setattr(pagecache, "RENDER_WAIT_SECONDS", 0.2)
    assert raised(client) == "25.00"
    give_cash(campaign)
    page_key, _version = _claim_render("/c/coats/")
    # A page stamped with a later time than the campaign's version, but not its version
    # (another host's clock ahead, say): never exact for this request.
    elsewhere = f"{time.time_ns() + 10**12}.000000000000"
    other = threading.Timer(
        0.05, lambda: cache.set(page_key, (elsewhere, b"<p>another version</p>", {}))
    )
    other.start()

    response = client.get("/c/coats/")
    other.join()

    assert data_value(response.content.decode(), "raised")[0] == "35.00"


def test_a_page_replaced_by_a_late_older_render_keeps_nobody_waiting(client, campaign, reads):
    assert raised(client) == "25.00"
    page_key, _version = _page_key_and_version("/c/coats/")
    older = cache.get(page_key)
    give_cash(campaign)
    assert raised(client) == "35.00"  # rendered and stored at the new version
    cache.set(page_key, older)  # a slow render of the older version lands last
    reads.reads = 0

    assert raised(client) == "35.00"

    assert reads.reads == 1  # rendered again at once, no wait on a finished render's claim

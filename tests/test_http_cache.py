"""HTTP caching of the public pages: the headers shared caches read, conditional GETs, and the
origin's own cache (campaigns/pages.py), exact the first time after any change."""

import datetime
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
from django.core.cache import cache, caches
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import resolve, reverse
from django.utils import timezone
from django.utils.http import http_date

from campaigns.models import Update
from campaigns.services import campaign_save, campaign_update_save
from donations.donor_links import donor_link_token
from donations.models import Receipt
from donations.selectors.givers import encode_cursor
from donations.services.access import organizer_assign
from donations.services.cash import CashGift, donation_record_cash, donation_void
from tests.factories import (
    CampaignFactory,
    DonationFactory,
    PendingOnlineDonationFactory,
    TeamMemberFactory,
    UserFactory,
)
from tests.html import attributes, data_value, texts

pytestmark = pytest.mark.django_db

NOON = datetime.datetime(2026, 11, 30, 18, 0, 30, tzinfo=datetime.UTC)
PUBLIC = "public, max-age=0, s-maxage=300, stale-while-revalidate=60"
CAMPAIGN_PAGES = [
    "/c/coats/",
    "/c/coats/m/pilsen/",
    "/c/coats/givers/",
    "/c/coats/updates/",
    "/c/coats/flyer/",
    "/c/coats/m/pilsen/flyer/",
    "/c/coats/tally/",
    "/c/coats/share-picture.png",
]


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


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what services leave for after the commit, as production's commit would."""

    def run(change):
        with django_capture_on_commit_callbacks(execute=True):
            return change()

    return run


def cache_keys() -> list[str]:
    """Every key in the tests' local-memory cache."""
    return sorted(caches["default"]._cache)


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


# Headers for shared caches


@pytest.mark.parametrize("url", CAMPAIGN_PAGES)
def test_every_campaign_page_says_how_shared_caches_keep_it(client, campaign, url):
    response = client.get(url)

    assert response.status_code == 200
    assert response["Cache-Control"] == PUBLIC
    assert response["Surrogate-Key"] == f"campaign-{campaign.pk}"
    assert response["Cache-Tag"] == f"campaign-{campaign.pk}"
    assert response["Last-Modified"] == http_date(NOON.timestamp())
    assert response["ETag"]
    assert not response.cookies


def test_the_home_page_is_tagged_with_the_site_and_every_campaign_it_lists(client, campaign):
    soup = CampaignFactory(slug="soup", launched_on=datetime.date(2026, 11, 2))
    CampaignFactory(slug="secret", status="draft")

    response = client.get("/")

    assert response["Cache-Control"] == PUBLIC
    assert response["Surrogate-Key"] == f"site campaign-{soup.pk} campaign-{campaign.pk}"
    assert response["Cache-Tag"] == f"site,campaign-{soup.pk},campaign-{campaign.pk}"


def test_the_lifetimes_come_from_the_settings(client, campaign, settings):
    settings.PUBLIC_PAGE_MAX_AGE = 30
    settings.PUBLIC_PAGE_STALE_WHILE_REVALIDATE = 5

    response = client.get("/c/coats/tally/")

    assert response["Cache-Control"] == "public, max-age=0, s-maxage=30, stale-while-revalidate=5"


def test_last_modified_is_the_campaigns_last_change(client, campaign, frozen, committed):
    assert client.get("/c/coats/")["Last-Modified"] == http_date(NOON.timestamp())

    frozen.shift(datetime.timedelta(minutes=5))
    committed(lambda: give_cash(campaign))

    for url in ["/c/coats/", "/c/coats/flyer/"]:
        assert client.get(url)["Last-Modified"] == http_date(NOON.timestamp() + 300), url


@pytest.mark.parametrize("url", ["/c/coats/", "/c/coats/updates/", "/"])
def test_a_signed_in_visitor_gets_a_private_page_never_stored(client, campaign, url):
    client.force_login(UserFactory(username="vol"))

    response = client.get(url)

    cache_control = response["Cache-Control"]
    assert "private" in cache_control and "no-store" in cache_control
    assert "public" not in cache_control and "s-maxage" not in cache_control


def test_missing_pages_are_not_public(client, campaign):
    for url in ["/c/no-such-campaign/", "/c/coats/m/nobody/", "/c/coats/givers/?after=x"]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert "public" not in response["Cache-Control"], url


@pytest.fixture
def private_pages(demo_payments, rates_today, campaign):
    pending = PendingOnlineDonationFactory(campaign=campaign, stripe_checkout_session_id="demo_x")
    return [
        "/c/coats/donate/",
        "/c/coats/share/email/",
        "/donations/thanks/?session_id=demo_x",
        f"/donations/demo-checkout/{pending.pk}/",
        "/donations/manage/",
        "/accounts/login/",
    ]


def test_the_giving_donor_and_sign_in_pages_stay_private(client, private_pages):
    for url in private_pages:
        response = client.get(url)
        assert response.status_code in (200, 302), url
        cache_control = response["Cache-Control"]
        assert "private" in cache_control and "no-store" in cache_control, url
        assert "public" not in cache_control, url
        assert "Surrogate-Key" not in response, url


def test_the_volunteer_organizer_and_admin_pages_stay_private(client, cash_organizer):
    client.force_login(cash_organizer)

    for url in ["/volunteer/", "/organize/cash-drive/report/", reverse("admin:index")]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url
        assert "public" not in response["Cache-Control"], url


# Conditional GET (ConditionalGetMiddleware)


def test_a_weak_etag_answers_304(client, campaign):
    etag = client.get("/c/coats/")["ETag"]

    response = client.get("/c/coats/", HTTP_IF_NONE_MATCH=f"W/{etag}")

    assert response.status_code == 304
    assert response.content == b""
    assert response["Cache-Control"] == PUBLIC


def test_an_etag_in_a_list_answers_304(client, campaign):
    etag = client.get("/c/coats/givers/")["ETag"]

    response = client.get("/c/coats/givers/", HTTP_IF_NONE_MATCH=f'"elsewhere", {etag}')

    assert response.status_code == 304


def test_if_modified_since_answers_304_until_the_campaign_changes(
    client, campaign, frozen, committed
):
    since = client.get("/c/coats/")["Last-Modified"]
    assert client.get("/c/coats/", HTTP_IF_MODIFIED_SINCE=since).status_code == 304

    frozen.shift(datetime.timedelta(seconds=5))
    committed(lambda: give_cash(campaign))

    assert raised(client, HTTP_IF_MODIFIED_SINCE=since) == "35.00"


def test_an_old_etag_gets_the_new_page_after_a_gift(client, campaign, committed):
    etag = client.get("/c/coats/")["ETag"]

    committed(lambda: give_cash(campaign))

    assert raised(client, HTTP_IF_NONE_MATCH=etag) == "35.00"


# The origin's cache


@pytest.mark.parametrize("change", ["cash gift", "void", "update published", "campaign edited"])
def test_the_first_get_after_a_commit_shows_the_change(client, campaign, committed, change):
    assert raised(client) == "25.00"
    assert raised(client, "/c/coats/m/pilsen/") == "25.00"
    if change == "cash gift":
        committed(lambda: give_cash(campaign))
        assert raised(client) == "35.00"
    elif change == "void":
        gift = committed(lambda: give_cash(campaign))
        assert raised(client) == "35.00"
        committed(lambda: donation_void(donation=gift, by=gift.entered_by, reason="counterfeit"))
        assert raised(client) == "25.00"
    elif change == "update published":
        update = Update(campaign=campaign, title="Big news", body="Yes.", status="published")
        committed(lambda: campaign_update_save(update=update))
        assert "Big news" in client.get("/c/coats/").content.decode()
    else:
        campaign.title = "Renamed coats"
        committed(lambda: campaign_save(campaign=campaign, by=None))
        assert texts(client.get("/c/coats/").content.decode(), "h1") == ["Renamed coats"]


def test_a_hit_runs_no_query(client, campaign):
    client.get("/c/coats/")  # the miss that stores the page

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/c/coats/")

    assert response.status_code == 200
    assert len(queries) == 0
    assert data_value(response.content.decode(), "raised")[0] == "25.00"
    assert response["Surrogate-Key"] == f"campaign-{campaign.pk}"


def test_a_miss_runs_the_same_few_queries_at_any_number_of_gifts(client, campaign):
    with CaptureQueriesContext(connection) as few:
        client.get("/c/coats/")
    for _ in range(40):
        DonationFactory(campaign=campaign)
    cache.clear()
    with CaptureQueriesContext(connection) as many:
        client.get("/c/coats/")

    assert len(few) == len(many) <= 6


def test_a_lost_version_is_a_new_one(client, campaign):
    first = client.get("/c/coats/")
    cache.delete("origin-version:coats")
    DonationFactory(campaign=campaign, amount=Decimal("5.00"))  # no bump: only the loss

    again = client.get("/c/coats/")

    assert data_value(again.content.decode(), "raised")[0] == "30.00"
    assert again["ETag"] != first["ETag"]


def test_pages_are_kept_per_language_and_ignore_tracking_parameters(client, campaign):
    english = client.get("/c/coats/?utm_source=newsletter&fbclid=abc")
    with CaptureQueriesContext(connection) as queries:
        plain = client.get("/c/coats/")
    spanish = client.get("/es/c/coats/")

    assert len(queries) == 0
    assert english.content == plain.content
    assert b"fbclid" not in plain.content and b"utm_source" not in plain.content
    assert spanish.content != english.content
    assert spanish["Content-Language"] == "es"


def test_a_kept_page_expires_with_the_minute_and_the_day(client, campaign, frozen):
    campaign.ends_on = datetime.date(2026, 11, 30)
    campaign.save()
    assert "Campaign completed" not in client.get("/c/coats/").content.decode()

    frozen.shift(datetime.timedelta(hours=12))  # past local midnight: the end date is over

    assert "Campaign completed on November 30, 2026" in client.get("/c/coats/").content.decode()


def test_a_signed_in_visit_is_never_kept(client, campaign):
    client.force_login(UserFactory(username="vol"))
    client.get("/c/coats/")

    assert cache_keys() == []


def test_a_request_with_a_session_cookie_is_rendered_afresh(client, campaign):
    client.get("/c/coats/")
    client.cookies["sessionid"] = "not-a-session"

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/c/coats/")

    assert response.status_code == 200
    assert len(queries) > 0


def test_a_flash_message_meant_for_one_visitor_is_never_shown_to_another(client, campaign):
    gift = DonationFactory(campaign=campaign, email="rosa@example.org")
    Receipt.objects.create(donation=gift, status=Receipt.Status.SENT)
    token = donor_link_token(email="rosa@example.org")
    asked = client.post(
        reverse("donations:manage", kwargs={"token": token}),
        {"gift": str(gift.pk), "action": "receipt"},
    )
    assert "messages" in asked.cookies  # the message waits in the donor's browser

    donor_page = client.get("/c/coats/")
    anybody_page = Client().get("/c/coats/")
    manage_page = client.get(reverse("donations:manage", kwargs={"token": token}))

    # Public pages show no flash message (they are the same for everyone); the donor's own
    # page, which is private, shows it.
    assert "Your receipt is on its way again." not in donor_page.content.decode()
    assert "Your receipt is on its way again." not in anybody_page.content.decode()
    assert donor_page.content == anybody_page.content
    assert "Your receipt is on its way again." in manage_page.content.decode()
    assert "no-store" in manage_page["Cache-Control"]


def test_a_page_that_showed_a_flash_message_is_never_kept(client, campaign):
    request = RequestFactory().get("/c/coats/")
    request.resolver_match = match = resolve("/c/coats/")
    request.user = AnonymousUser()
    request.session = SessionStore()  # messages kept where no cookie of the request shows
    request._messages = default_storage(request)
    messages.info(request, "Just for you.")

    shown = match.func(request, slug="coats")

    assert b"Just for you." not in shown.content  # public pages show no flash message
    assert "Cache-Control" not in shown  # and one that queued one is not made public
    assert b"Just for you." not in client.get("/c/coats/").content


def test_a_draft_preview_is_never_kept(client):
    draft = CampaignFactory(slug="secret", status="draft")
    organizer = UserFactory(username="organizer", is_staff=True)
    organizer_assign(by=None, user=organizer, campaign=draft)
    client.force_login(organizer)
    assert client.get("/c/secret/").status_code == 200
    client.logout()
    client.cookies.clear()

    assert client.get("/c/secret/").status_code == 404


def test_a_member_parameter_never_reaches_the_links_of_a_kept_page(client, campaign):
    asked = client.get("/c/coats/?member=evil-member&after=")
    anybody = client.get("/c/coats/")

    assert asked.status_code == anybody.status_code == 200
    assert b"evil-member" not in asked.content
    assert b"evil-member" not in anybody.content


def test_an_older_givers_page_is_its_own_entry(client, campaign):
    for minutes in range(60):
        DonationFactory(
            campaign=campaign,
            giver_name=f"Giver {minutes}",
            received_at=timezone.now() - datetime.timedelta(minutes=minutes + 1),
        )
    first = client.get("/c/coats/givers/").content.decode()
    (older_link,) = attributes(first, ".older a")

    older = client.get(older_link["href"]).content.decode()

    assert "Giver 0" in first and "Giver 0" not in older
    assert "Giver 59" in older


# Nothing is written for what does not exist


def test_missing_campaigns_write_nothing_to_the_cache(client, campaign):
    paths = [f"/c/no-such-{uuid.uuid4().hex * 3}/" for _ in range(20)]
    paths += ["/c/no-such-campaign/givers/", "/c/no-such-campaign/m/pilsen/"]
    paths += ["/c/no-such-campaign/flyer/", "/c/no-such-campaign/share-picture.png"]

    answers = [client.get(path).status_code for path in paths]

    assert answers == [404] * len(paths)
    assert cache_keys() == []


def test_a_member_that_is_not_one_writes_nothing_to_the_cache(client, campaign):
    answers = [
        client.get("/c/coats/m/nobody/").status_code,
        client.get("/c/coats/m/nobody/flyer/").status_code,
        client.get("/c/coats/share/email/?member=nobody").status_code,
    ]

    assert answers == [404, 404, 404]
    assert cache_keys() == []


def test_a_cursor_that_points_at_no_gift_writes_nothing_to_the_cache(client, campaign):
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
        "not-a-cursor",
    ]

    answers = [client.get(f"/c/coats/givers/?after={cursor}").status_code for cursor in made_up]

    assert answers == [404, 404, 404, 404]
    assert cache_keys() == []
    assert client.get(f"/c/coats/givers/?after={encode_cursor(gift)}").status_code == 200
    assert len(cache_keys()) == 2  # the campaign's version and that page


def test_a_campaigns_first_visit_keeps_its_version_and_page(client, campaign):
    assert raised(client) == "25.00"

    kinds = sorted(key.split(":")[2] for key in cache_keys())  # ":1:origin-version:coats"
    assert kinds == ["origin-page", "origin-version"]


def test_threads_that_miss_the_same_page_at_once_share_one_render(campaign):
    """Under a stream of gifts each gift makes the page stale for every reader at once: the
    threads of one process render it once and are all handed that page."""
    import threading

    from django.http import HttpResponse

    from campaigns.pages import campaign_page

    renders = []
    release = threading.Event()

    @campaign_page(stored=True)
    def slow_page(request, slug):
        renders.append(slug)
        release.wait(5)  # the other readers arrive while this render runs
        return HttpResponse(f"page {len(renders)}")

    cache.set("origin-version:coats", "1700000000000000000.abc", 60)
    responses = []

    def read():
        request = RequestFactory().get("/c/coats/")
        request.user = AnonymousUser()
        responses.append(slow_page(request, slug="coats"))

    readers = [threading.Thread(target=read) for _ in range(6)]
    for reader in readers:
        reader.start()
    time.sleep(0.3)
    release.set()
    for reader in readers:
        reader.join(5)

    assert renders == ["coats"]
    assert [response.content for response in responses] == [b"page 1"] * 6
    assert any("origin-page:coats:" in key for key in cache_keys())  # kept for the next


def test_last_modified_stays_the_campaigns_last_change_when_the_origin_forgets(
    client, campaign, frozen
):
    """The date comes from the campaign, not from when the origin first saw it: a visit days
    later, or after the cache was emptied, still says the campaign last changed at noon."""
    frozen.shift(datetime.timedelta(days=3))
    cache.clear()

    for url in ["/c/coats/", "/c/coats/givers/", "/es/c/coats/", "/"]:
        assert client.get(url)["Last-Modified"] == http_date(NOON.timestamp()), url


@pytest.mark.parametrize("cookie", ["not-a-session", "expired-session-key"])
def test_a_visitor_with_any_session_cookie_never_gets_a_public_page(client, campaign, cookie):
    """A giver keeps an anonymous session after the donate form, and an expired session is
    cleared with a Set-Cookie: neither response may be marked public."""
    client.cookies["sessionid"] = cookie

    for url in ["/", "/c/coats/", "/es/c/coats/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "public" not in response["Cache-Control"], url
        assert "no-store" in response["Cache-Control"], url

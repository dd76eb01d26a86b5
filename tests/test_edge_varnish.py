"""The shipped edge: Varnish with deploy/varnish/solidaria.vcl in front of the origin.

Two parts, both run with SOLIDARIA_EDGE=1 where varnishd is installed (.ci/run sets it and
installs Debian's varnish and varnish-modules):

- the VCL's rules, one by one, in front of a small stand-in origin (a thread of this process
  that answers with the headers our public and private pages send, and records what reached
  it): what is kept, what passes, the cache key, purging by tag and who may purge, the
  forwarded headers, s-maxage and stale-while-revalidate;
- the real thing on PostgreSQL: gunicorn (DEBUG off, demo payments), a `db_worker` that sends
  purges to Varnish (CDN_PURGE_BACKEND=http) and Varnish in front. 10,000 requests for the
  campaign page reach the origin at most 3 times while a gift is made through the site (the
  demo donate flow, over HTTP through Varnish), and the page served by Varnish shows it
  within 10 s; English and Spanish are cached apart; a signed-in organizer always reaches the
  origin; the donate POST is never cached.
"""

# The test starts gunicorn, db_worker and varnishd with arguments it builds itself.
# ruff: noqa: S603

from __future__ import annotations

import http.client
import http.cookies
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client

from bench import measure, varnish
from donations.models import Donation
from donations.services.access import organizer_assign
from tests.factories import CampaignFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("SOLIDARIA_EDGE") != "1",
        reason="the Varnish edge tests run with SOLIDARIA_EDGE=1 (.ci/run sets it)",
    ),
    pytest.mark.skipif(varnish.missing() is not None, reason=varnish.missing() or ""),
]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def cache(self) -> str:
        return self.headers.get("x-cache", "")


def _request(
    port: int,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    connection_: http.client.HTTPConnection | None = None,
) -> Answer:
    conn = connection_ or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        if connection_ is None:
            conn.close()


def _from_address(port: int, address: str, path: str, *, method="GET", headers=None) -> Answer:
    """A request to Varnish's PROXY-protocol listener, as if from `address`."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(f"PROXY TCP4 {address} 127.0.0.1 40000 80\r\n".encode())
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.sock = sock
    return _request(port, path, method=method, headers=headers, connection_=conn)


# --- The VCL's rules, in front of a stand-in origin -------------------------------------


PUBLIC = "public, max-age=0, s-maxage=300, stale-while-revalidate=60"


@dataclass
class Origin:
    """What reached the stand-in origin: (method, path, headers) per request."""

    port: int = 0
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def requests(self, path: str, method: str = "GET") -> list[dict[str, str]]:
        with self.lock:
            return [h for m, p, h in self.seen if p == path and m == method]


def _origin_answer(path: str) -> tuple[str | None, dict[str, str]]:
    """Cache-Control and other headers by path prefix, as the app's pages send them."""
    if path.startswith("/public/"):
        return PUBLIC, {"Surrogate-Key": "campaign-1 site"}
    if path.startswith("/other/"):
        return PUBLIC, {"Surrogate-Key": "campaign-2"}
    if path.startswith("/short/"):  # one second, no grace
        return "public, max-age=0, s-maxage=1, stale-while-revalidate=0", {}
    if path.startswith("/grace/"):  # one second, then 30 s of stale-while-revalidate
        return "public, max-age=0, s-maxage=1, stale-while-revalidate=30", {}
    if path.startswith("/private/"):
        return "private, no-store", {}
    if path.startswith("/cookie/"):
        return PUBLIC, {"Set-Cookie": "csrftoken=abc; Path=/"}
    return None, {}  # /bare/: no Cache-Control at all


def _origin_handler(origin: Origin):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            with origin.lock:
                origin.seen.append((self.command, self.path, dict(self.headers.items())))
                number = len([1 for _m, p, _h in origin.seen if p == self.path])
            control, extra = _origin_answer(self.path)
            body = (f"<p>{self.command} {self.path} answer {number}</p>\n" * 50).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            if control:
                self.send_header("Cache-Control", control)
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_HEAD = _answer

        def log_message(self, format, *args):
            pass

    return Handler


@pytest.fixture(scope="module")
def origin():
    seen = Origin()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _origin_handler(seen))
    seen.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield seen
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def edge(origin, tmp_path_factory):
    log = tmp_path_factory.mktemp("varnish") / "varnishd.log"
    running = varnish.start(
        backend_port=origin.port, proxy_port=varnish.free_port(), log=log, memory="16m"
    )
    yield running
    running.stop()


def _unique(prefix: str) -> str:
    return f"/{prefix}/{uuid.uuid4().hex[:12]}/"


def test_a_public_page_reaches_the_origin_once_and_then_comes_from_the_cache(edge, origin):
    path = _unique("public")

    answers = [_request(edge.port, path) for _ in range(5)]

    assert [a.cache for a in answers] == ["MISS", "HIT", "HIT", "HIT", "HIT"]
    assert {a.body for a in answers} == {answers[0].body}
    assert len(origin.requests(path)) == 1
    assert "xkey" not in answers[0].headers
    assert answers[0].headers["cache-control"] == PUBLIC  # readers' browsers still revalidate


def test_tracking_parameters_share_the_page_entry_and_never_reach_the_origin(edge, origin):
    path = _unique("public")

    first = _request(edge.port, path)
    tracked = _request(edge.port, f"{path}?utm_source=news&utm_medium=social&fbclid=Iw4R")
    paged = _request(edge.port, f"{path}?utm_campaign=x&page=2&gclid=abc&mc_cid=1&mc_eid=2")
    paged_again = _request(edge.port, f"{path}?page=2&UTM_Content=y")

    assert (first.cache, tracked.cache) == ("MISS", "HIT")
    assert (paged.cache, paged_again.cache) == ("MISS", "HIT")
    reached = [p for m, p, _h in origin.seen if p.startswith(path)]
    assert reached == [path, f"{path}?page=2"]


def test_cookies_other_than_the_session_are_forwarded_on_a_miss_and_the_page_still_cached(
    edge, origin
):
    path = _unique("public")

    first = _request(edge.port, path, headers={"Cookie": "solidaria_language=es; csrftoken=t1"})
    second = _request(edge.port, path, headers={"Cookie": "_ga=GA1.2.3; csrftoken=t2"})

    assert (first.cache, second.cache) == ("MISS", "HIT")
    [reached] = origin.requests(path)
    assert reached["Cookie"] == "solidaria_language=es; csrftoken=t1"


@pytest.mark.parametrize(
    "headers",
    [
        {"Cookie": "sessionid=abc123"},
        {"Cookie": "csrftoken=t; sessionid=abc123; _ga=1"},
        {"Authorization": "Basic b3JnYW5pemVyOnNlY3JldA=="},
    ],
    ids=["session", "session-among-others", "authorization"],
)
def test_a_signed_in_request_always_reaches_the_origin(edge, origin, headers):
    path = _unique("public")
    _request(edge.port, path)  # the public copy is in the cache

    answers = [_request(edge.port, path, headers=headers) for _ in range(3)]

    assert [a.cache for a in answers] == ["MISS"] * 3
    reached = origin.requests(path)
    assert len(reached) == 4
    assert all(reached[i].get(name) == value for i in (1, 2, 3) for name, value in headers.items())


def test_a_post_is_never_cached_even_when_the_origin_calls_it_public(edge, origin):
    path = _unique("public")
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    posts = [
        _request(edge.port, path, method="POST", body=b"amount=25", headers=form) for _ in range(3)
    ]
    get = _request(edge.port, path)

    assert [a.cache for a in posts] == ["MISS"] * 3
    assert len({a.body for a in posts}) == 3  # each one answered by the origin
    assert len(origin.requests(path, "POST")) == 3
    assert get.cache == "MISS"  # no POST answer was kept for the GET


@pytest.mark.parametrize("kind", ["private", "bare", "cookie"])
def test_only_what_the_origin_marks_shareable_is_kept(edge, origin, kind):
    path = _unique(kind)

    answers = [_request(edge.port, path) for _ in range(3)]

    assert [a.cache for a in answers] == ["MISS"] * 3
    assert len(origin.requests(path)) == 3


def test_purge_by_tag_drops_the_tagged_pages_and_only_those(edge, origin):
    tagged, other = _unique("public"), _unique("other")
    for path in (tagged, other):
        _request(edge.port, path)
    before = _request(edge.port, tagged).body

    missing_tag = _request(edge.purge_port, "/", method="PURGE")
    purged = _request(edge.purge_port, "/", method="PURGE", headers={"Surrogate-Key": "campaign-1"})

    assert missing_tag.status == 400
    assert purged.status == 200
    assert int(purged.headers["x-purged"]) >= 1
    assert _request(edge.port, other).cache == "HIT"
    assert len(origin.requests(other)) == 1
    # The very next reader gets a fresh page, never the purged copy.
    after = _request(edge.port, tagged)
    assert (after.cache, after.body != before) == ("MISS", True)
    assert len(origin.requests(tagged)) == 2


def test_purge_from_any_other_address_is_refused(edge, origin):
    path = _unique("public")
    _request(edge.port, path)

    refused = _from_address(
        edge.proxy_port, "203.0.113.9", "/", method="PURGE", headers={"Surrogate-Key": "site"}
    )

    assert refused.status == 405


def test_purge_on_the_public_listener_is_refused_even_from_this_machine(edge, origin):
    """A TLS proxy on this machine hands every visitor's request to Varnish from 127.0.0.1:
    only the listener named `purge` takes purges."""
    path = _unique("public")
    _request(edge.port, path)

    refused = _request(edge.port, "/", method="PURGE", headers={"Surrogate-Key": "campaign-1"})

    assert refused.status == 405
    assert _request(edge.port, path).cache == "HIT"
    assert _request(edge.port, path).cache == "HIT"
    assert len(origin.requests(path)) == 1


def test_forwarded_headers_name_the_client_and_believe_https_only_from_this_machine(edge, origin):
    outside, local = _unique("private"), _unique("private")
    claims = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.1"}

    _from_address(edge.proxy_port, "203.0.113.9", outside, headers=claims)
    _request(edge.port, local, headers={"X-Forwarded-Proto": "https"})

    [from_outside] = origin.requests(outside)
    assert from_outside["X-Forwarded-Proto"] == "http"
    assert from_outside["X-Forwarded-For"] == "192.0.2.1, 203.0.113.9"
    [from_terminator] = origin.requests(local)
    assert from_terminator["X-Forwarded-Proto"] == "https"
    assert from_terminator["X-Forwarded-For"] == "127.0.0.1"


def test_http_and_https_requests_never_share_an_entry(edge, origin):
    path = _unique("public")

    plain = [_request(edge.port, path) for _ in range(2)]
    secure = [_request(edge.port, path, headers={"X-Forwarded-Proto": "https"}) for _ in range(2)]

    assert [a.cache for a in plain + secure] == ["MISS", "HIT", "MISS", "HIT"]
    assert [h["X-Forwarded-Proto"] for h in origin.requests(path)] == ["http", "https"]


def test_s_maxage_is_the_lifetime_and_stale_while_revalidate_the_grace(edge, origin):
    short, graced = _unique("short"), _unique("grace")
    first_short, first_graced = _request(edge.port, short), _request(edge.port, graced)

    time.sleep(1.5)  # both past their s-maxage of 1 s (max-age=0 did not stop the caching)
    again_short = _request(edge.port, short)
    again_graced = _request(edge.port, graced)

    assert (again_short.cache, again_short.body != first_short.body) == ("MISS", True)
    # Within stale-while-revalidate: the old copy answers at once, a new one is fetched.
    assert (again_graced.cache, again_graced.body) == ("HIT", first_graced.body)
    # The fresh copy replaces it once the background fetch is stored (the origin seeing
    # the request is not yet the copy being stored: poll the edge itself).
    deadline = time.monotonic() + 5
    latest = _request(edge.port, graced)
    while latest.body == first_graced.body and time.monotonic() < deadline:
        time.sleep(0.05)
        latest = _request(edge.port, graced)
    assert latest.body != first_graced.body
    assert len(origin.requests(graced)) == 2  # one background fetch, not one per reader


def test_text_is_compressed_once_for_readers_who_ask(edge, origin):
    path = _unique("public")

    zipped = _request(edge.port, path, headers={"Accept-Encoding": "gzip"})
    plain = _request(edge.port, path)

    assert zipped.headers.get("content-encoding") == "gzip"
    assert "content-encoding" not in plain.headers
    assert plain.body.startswith(b"<p>GET ")
    assert len(origin.requests(path)) == 1


# --- The real thing: gunicorn, the task worker and Varnish on PostgreSQL ----------------


def _wait_for(port: int, path: str, *, what: str, process: subprocess.Popen, log: Path) -> None:
    for _ in range(240):
        if process.poll() is not None:
            pytest.fail(f"{what} exited: {log.read_text()[-2000:]}")
        try:
            if _request(port, path).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.25)
    pytest.fail(f"{what} did not answer {path} within a minute: {log.read_text()[-2000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@dataclass
class Site:
    """The running stack: Varnish on `port` in front of gunicorn on `origin_port`."""

    port: int
    origin_port: int
    edge: varnish.Varnish
    access_log: Path

    def origin_requests(self, path: str) -> int:
        """GETs for exactly `path` in gunicorn's access log (which gunicorn writes just after
        answering: read until two readings 0.2 s apart agree)."""
        line = f'"GET {path} HTTP/1.1"'
        count = self.access_log.read_text().count(line)
        for _ in range(25):
            time.sleep(0.2)
            again = self.access_log.read_text().count(line)
            if again == count:
                break
            count = again
        return count


@pytest.fixture(scope="module")
def static_root(tmp_path_factory) -> Path:
    """With DEBUG off, static files are served from the collected, hashed copies."""
    root = tmp_path_factory.mktemp("static")
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": "collectstatic-" + uuid.uuid4().hex,
           "PAYMENTS_DEMO": "true", "STATIC_ROOT": str(root)}  # fmt: skip
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT, env=env, check=True, timeout=300,
    )  # fmt: skip
    return root


@pytest.fixture
def site(transactional_db, redis_space_if_set, static_root, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("the edge test runs the app on PostgreSQL (DATABASE_URL)")
    if redis_space_if_set is None:
        pytest.skip("the edge test needs TEST_REDIS_URL: its web and task processes share a cache")
    edge_port, purge_port, origin_port = (varnish.free_port() for _ in range(3))
    db = connection.settings_dict
    env = {
        **os.environ,
        "DEBUG": "false",
        # The test process signs the organizer's session: the same key as the site's.
        "SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": f"http://127.0.0.1:{edge_port}",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "CONN_MAX_AGE": "60",
        "CACHE_URL": redis_space_if_set.cache_url,
        "PAYMENTS_DEMO": "true",
        "STATIC_ROOT": str(static_root),
        "CDN_PURGE_BACKEND": "http",
        "CDN_PURGE_URL": f"http://127.0.0.1:{purge_port}/",
        "TRUSTED_PROXY_COUNT": "1",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_BIND": f"127.0.0.1:{origin_port}",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "TASKS_BACKEND"):
        env.pop(name, None)  # demo payments (below); tasks in the database
    access_log = tmp_path / "gunicorn.log"
    with access_log.open("w") as output:
        web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi:application",
             "--config", str(ROOT / "gunicorn.conf.py")],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    worker_log = tmp_path / "worker.log"
    with worker_log.open("w") as output:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay",
             "--threads", "2", "--interval", "0.05"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    edge = None
    try:
        _wait_for(origin_port, "/healthz", what="gunicorn", process=web, log=access_log)
        edge = varnish.start(
            backend_port=origin_port, port=edge_port, purge_port=purge_port, log=tmp_path / "v.log"
        )
        if worker.poll() is not None:
            pytest.fail(f"db_worker exited: {worker_log.read_text()[-2000:]}")
        yield Site(edge_port, origin_port, edge, access_log)
    finally:
        if edge is not None:
            edge.stop()
        for process in (worker, web):
            _stop(process)


class Visitor:
    """A browser of one: keeps its cookies (the site's are Secure; this is plain HTTP, so
    they are sent back by hand) and follows nothing by itself."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def send(self, method: str, path: str, form: dict | None = None) -> Answer:
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            for value in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in http.cookies.SimpleCookie(value).items():
                    self.cookies[name] = morsel.value
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        finally:
            conn.close()


CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


def _give_through_the_site(port: int, slug: str, amount: str) -> tuple[Answer, Answer]:
    """The demo donate flow through Varnish: the form, its POST, the demo checkout's Pay.
    Returns the POST's answer and Pay's."""
    giver = Visitor(port)
    page = giver.send("GET", f"/c/{slug}/donate/")
    assert page.status == 200, page.body[:500]
    token = CSRF.search(page.body)[1].decode()
    posted = giver.send(
        "POST",
        f"/c/{slug}/donate/",
        {"csrfmiddlewaretoken": token, "amount": amount, "currency": "USD",
         "frequency": "once", "name": "Edge Giver", "email": "edge@example.org"},
    )  # fmt: skip
    assert posted.status == 303, posted.body[:2000]
    checkout_path = urllib.parse.urlsplit(posted.headers["location"]).path
    checkout = giver.send("GET", checkout_path)
    token = CSRF.search(checkout.body)[1].decode()
    paid = giver.send("POST", checkout_path, {"csrfmiddlewaretoken": token, "action": "pay"})
    assert paid.status == 302, paid.body[:2000]
    return posted, paid


def _hammer(port: int, path: str, *, requests: int, threads: int) -> list[int]:
    """`requests` GETs of `path` from `threads` keep-alive connections; their statuses."""

    def run(count: int) -> list[int]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        statuses = []
        try:
            for _ in range(count):
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                statuses.append(response.status)
        finally:
            conn.close()
        return statuses

    shares = [requests // threads + (i < requests % threads) for i in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        return [status for part in pool.map(run, shares) for status in part]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_ten_thousand_readers_cost_the_origin_three_renders_and_a_gift_shows_within_10_s(
    site, rates_today
):
    campaign = CampaignFactory(slug="edge")
    page = "/c/edge/"
    first = _request(site.port, page)
    assert first.status == 200
    before = measure.raised_in(first.body)
    assert before is not None

    statuses: list[int] = []
    readers = threading.Thread(
        target=lambda: statuses.extend(_hammer(site.port, page, requests=10_000, threads=8))
    )
    readers.start()
    time.sleep(0.5)
    _give_through_the_site(site.port, campaign.slug, "25")
    given = time.monotonic()
    shown = None
    while time.monotonic() - given < 10:
        if measure.raised_in(_request(site.port, page).body) == before + Decimal(25):
            shown = time.monotonic() - given
            break
        time.sleep(0.1)
    readers.join()

    assert statuses == [200] * 10_000
    assert shown is not None, "the gift did not appear on the page Varnish serves within 10 s"
    assert Donation.objects.filter(campaign=campaign, status=Donation.Status.SUCCEEDED).count() == 1
    renders = site.origin_requests(page)
    assert 1 <= renders <= 3, f"the origin rendered the page {renders} times"
    counters = site.edge.counters()
    assert counters["MAIN.cache_hit"] >= 10_000


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_languages_signed_in_organizers_and_the_donate_post_at_the_edge(site, rates_today):
    campaign = CampaignFactory(slug="edge-lang", title="Edge fund")
    organizer = UserFactory(username="edge-organizer", is_staff=True)
    organizer.groups.add(Group.objects.get(name="Organizers"))
    organizer_assign(by=None, user=organizer, campaign=campaign)

    # English and Spanish: two URLs, two entries, each in its own language.
    english = [_request(site.port, "/c/edge-lang/") for _ in range(2)]
    spanish = [_request(site.port, "/es/c/edge-lang/") for _ in range(2)]
    assert [a.cache for a in english + spanish] == ["MISS", "HIT", "MISS", "HIT"]
    assert b'<html lang="en"' in english[1].body
    assert b'<html lang="es"' in spanish[1].body
    assert (site.origin_requests("/c/edge-lang/"), site.origin_requests("/es/c/edge-lang/")) == (
        1,
        1,
    )

    # A signed-in organizer (a session cookie) always reaches the origin, public page or not,
    # and their own pages are private and never stored.
    browser = Client()
    browser.force_login(organizer)
    session = {"Cookie": f"sessionid={browser.cookies['sessionid'].value}"}
    report = f"/organize/{campaign.slug}/report/"
    rendered = site.origin_requests("/c/edge-lang/")
    theirs = [_request(site.port, report, headers=session) for _ in range(3)]
    public = [_request(site.port, "/c/edge-lang/", headers=session) for _ in range(2)]
    assert [a.status for a in theirs] == [200] * 3
    assert [a.cache for a in theirs + public] == ["MISS"] * 5
    assert {"private", "no-store"} <= set(re.split(r",\s*", theirs[0].headers["cache-control"]))
    assert site.origin_requests(report) == 3
    assert site.origin_requests("/c/edge-lang/") == rendered + 2

    # The donate POST is never cached: two identical POSTs both reach the origin, each
    # starting a gift.
    giver = Visitor(site.port)
    form_page = giver.send("GET", "/c/edge-lang/donate/")
    token = CSRF.search(form_page.body)[1].decode()
    form = {"csrfmiddlewaretoken": token, "amount": "10", "currency": "USD", "frequency": "once",
            "name": "Edge Giver", "email": "edge@example.org"}  # fmt: skip
    posts = [giver.send("POST", "/c/edge-lang/donate/", form) for _ in range(2)]
    assert [(a.status, a.cache) for a in posts] == [(303, "MISS")] * 2
    assert posts[0].headers["location"] != posts[1].headers["location"]
    assert Donation.objects.filter(campaign=campaign).count() == 2

"""Hostile input, property-based: every form and endpoint, fed random and oversized text,
control characters and NUL, invalid UTF-8, absurd amounts, unknown currencies, missing and
repeated fields and wrong methods, answers with a 2xx, 3xx or a clear 4xx, never a 5xx, and
never leaves a partial row. The test client re-raises any exception a view lets escape, so a
would-be 500 fails the example with its traceback.

`make test` runs 20 examples per endpoint; .ci/run sets HYPOTHESIS_PROFILE=ci for 200.
"""

import base64
import json
import urllib.parse
import uuid

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from donations.models import Donation, StripeEvent
from tests.donations import stripe_fakes as fakes
from tests.factories import (
    CampaignFactory,
    DonationFactory,
    PendingOnlineDonationFactory,
    TeamMemberFactory,
    UserFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.hostile]

NASTY_AMOUNTS = [
    "NaN", "nan", "-NaN", "Infinity", "-Infinity", "inf", "1e400", "1E-400", "1e5", "-25",
    "0", "0.000001", "99999999999999999999999", "25,00", "2.5.0", " 25 ",
    "\u0662\u0665", "\uff12\uff15", "\U0001d7d0\U0001d7d3",  # 25 in Arabic, wide, bold digits
    "0x19", "25$", "$25", "1_000", "+25", "25.", ".5", "", "\x00", "25\x00", "1" * 400,
]  # fmt: skip
CURRENCIES = ["USD", "EUR", "MXN", "JPY", "XXX", "usd", "", "US", "USDT", "\x00", "ÜSD"]
text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=1200),
    st.sampled_from(["\x00", "a\x00b", "\r\n", "\u202e", "<script>alert(1)</script>", "=1+1"]),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=20),  # control characters
)
amount = st.one_of(st.sampled_from(NASTY_AMOUNTS), text, st.decimals(allow_nan=True).map(str))
values = st.one_of(text, amount, st.sampled_from(CURRENCIES), st.booleans().map(str))


def form_data(fields: dict[str, st.SearchStrategy]) -> st.SearchStrategy:
    """Each field missing, once, or repeated, with hostile values."""
    return st.fixed_dictionaries(
        {},
        optional={
            name: st.lists(strategy, min_size=1, max_size=3) for name, strategy in fields.items()
        },
    )


def _flat(data: dict[str, list[str]]) -> dict:
    return {name: values if len(values) > 1 else values[0] for name, values in data.items()}


def _on_site(location: str) -> bool:
    """A redirect target a browser resolves on this site (it reads a backslash as a slash and
    ignores tabs and newlines)."""
    cleaned = location.replace("\\", "/").translate({9: None, 10: None, 13: None}).strip()
    parts = urllib.parse.urlsplit(cleaned)
    return parts.scheme in ("", "http") and parts.netloc in ("", "testserver")


def _answer_is_clear(response) -> None:
    assert response.status_code < 500
    if response.status_code >= 400:
        assert response.status_code in (400, 403, 404, 405, 413, 429)


@pytest.fixture
def campaign(rates_today):
    campaign = CampaignFactory(slug="walk", accepted_currencies="EUR,MXN,JPY")
    TeamMemberFactory(campaign=campaign, slug="ana")
    DonationFactory(campaign=campaign, giver_name="Rosa")
    return campaign


DONATE_FIELDS = {
    "amount": amount, "amount_other": amount, "currency": st.sampled_from(CURRENCIES),
    "name": text, "email": st.one_of(text, st.emails().map(str)), "message": text,
    "team_member": st.one_of(text, st.just("ana")), "anonymous": values,
    "hide_amount": values, "cover_fees": values, "frequency": values, "website": st.just(""),
}  # fmt: skip


@given(data=form_data(DONATE_FIELDS), method=st.sampled_from(["post", "post", "put", "patch"]))
def test_the_donate_form_never_fails_on_hostile_input(client, stripe_http, campaign, data, method):
    before = Donation.objects.count()

    response = getattr(client, method)("/c/walk/donate/", _flat(data))

    _answer_is_clear(response)
    created = Donation.objects.count() - before
    if response.status_code == 303:
        gift = Donation.objects.order_by("created_at").last()
        assert created == 1 and gift.amount > 0 and gift.status in ("pending", "failed")
    else:
        assert created == 0
    if response.status_code == 200 and method == "post" and data:
        assert response.context["form"].errors  # the form says what to fix


CASH_FIELDS = {
    "name": text, "anonymous": values, "amount": amount,
    "currency": st.sampled_from(CURRENCIES), "received_on": st.one_of(text, st.dates().map(str)),
    "team_member": st.one_of(text, st.just("little-village")), "message": text, "note": text,
    "location": text, "another_gift": values,
    "form_token": st.one_of(st.uuids().map(str), text),
}  # fmt: skip


@given(data=form_data(CASH_FIELDS))
def test_the_cash_form_never_fails_on_hostile_input(client, cash_campaign, cash_volunteer, data):
    client.force_login(cash_volunteer)
    before = Donation.objects.count()

    response = client.post(reverse("donations:cash-new", args=["cash-drive"]), _flat(data))

    _answer_is_clear(response)
    assert Donation.objects.count() - before == (1 if response.status_code == 302 else 0) or (
        response.status_code == 302 and Donation.objects.count() == before  # a token reused
    )


ROW = st.fixed_dictionaries(
    {}, optional={name: CASH_FIELDS[name] for name in ("name", "amount", "currency", "received_on")}
)


@given(
    rows=st.lists(ROW, max_size=4),
    management=form_data({"form-TOTAL_FORMS": st.one_of(text, st.sampled_from(["30", "31", "-1",
                          "1000000"])), "batch_token": st.one_of(st.uuids().map(str), text)}),
)  # fmt: skip
def test_the_tally_sheet_never_fails_and_saves_every_row_or_none(
    client, cash_campaign, cash_volunteer, rows, management
):
    client.force_login(cash_volunteer)
    data = {"form-TOTAL_FORMS": "30", "form-INITIAL_FORMS": "0", "batch_token": str(uuid.uuid4())}
    for index, row in enumerate(rows):
        data.update({f"form-{index}-{name}": value for name, value in row.items()})
    data.update(_flat(management))
    before = Donation.objects.count()

    response = client.post(reverse("donations:cash-batch", args=["cash-drive"]), data)

    _answer_is_clear(response)
    created = Donation.objects.count() - before
    if response.status_code != 302:
        assert created == 0


@given(
    network=text, member=st.one_of(text, st.just("ana")), method=st.sampled_from(["get", "post"])
)
def test_share_links_never_fail_and_never_leave_for_an_unknown_place(
    client, campaign, network, member, method
):
    response = getattr(client, method)(f"/c/walk/share/{network}/", {"member": member})

    _answer_is_clear(response)
    if response.status_code == 302:
        assert response["Location"].startswith(
            ("https://www.facebook.com/", "https://x.com/", "https://twitter.com/",
             "https://wa.me/", "https://api.whatsapp.com/", "https://t.me/", "mailto:")
        )  # fmt: skip


EVENT_TYPES = [
    "checkout.session.completed", "checkout.session.expired", "charge.refunded",
    "charge.updated", "charge.dispute.created", "charge.dispute.closed", "refund.updated",
    "checkout.session.async_payment_failed", "plan.created",
]  # fmt: skip
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=8,
)


def stripe_objects(gift_session: str) -> st.SearchStrategy:
    ids = st.one_of(text, st.sampled_from([gift_session, "ch_fake_1", "pi_fake_1", "cs_x"]))
    fields = {
        "object": st.sampled_from(["checkout.session", "charge", "dispute", "refund", "x"]),
        "id": ids, "currency": st.sampled_from(CURRENCIES), "amount": json_values,
        "amount_total": st.one_of(st.integers(-10, 10**15), json_values),
        "amount_refunded": st.one_of(st.integers(-10, 10**9), json_values),
        "status": st.one_of(st.sampled_from(["complete", "expired", "open", "lost", "won"]), text),
        "payment_status": st.sampled_from(["paid", "unpaid", "no_payment_required"]),
        "charge": ids, "payment_intent": st.one_of(ids, json_values), "metadata": json_values,
        "client_reference_id": st.one_of(st.uuids().map(str), text),
        "balance_transaction": json_values, "refunded": json_values,
    }  # fmt: skip
    return st.one_of(st.fixed_dictionaries({}, optional=fields), json_values)


@st.composite
def webhook_bodies(draw, gift_session: str):
    kind = draw(st.sampled_from(["event", "event", "json", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300)), draw(st.booleans())
    if kind == "json":
        return json.dumps(draw(json_values)).encode(), draw(st.booleans())
    event = fakes.example("event")
    event.update(
        id=draw(st.one_of(st.just(f"evt_{uuid.uuid4().hex}"), text)),
        type=draw(st.one_of(st.sampled_from(EVENT_TYPES), text)),
        data=draw(st.one_of(st.fixed_dictionaries({"object": stripe_objects(gift_session)}),
                            json_values)),
    )  # fmt: skip
    return json.dumps(event).encode(), draw(st.booleans())


@pytest.fixture
def paid_gift(stripe_http, campaign):
    gift = PendingOnlineDonationFactory(campaign=campaign)
    charge = fakes.charge(donation=gift, amount=2500, currency="usd")
    stripe_http.charges["ch_fake_1"] = charge
    stripe_http.sessions[gift.stripe_checkout_session_id] = fakes.checkout_session(
        donation=gift, amount_total=2500, currency="usd",
        payment_intent=fakes.expanded_intent(charge_obj=charge),
    )  # fmt: skip
    return gift


@given(data=st.data())
def test_the_webhook_answers_200_or_400_to_anything_and_a_400_writes_nothing(
    client, stripe_http, paid_gift, data
):
    body, sign = data.draw(webhook_bodies(paid_gift.stripe_checkout_session_id))
    header = fakes.signed_header(body.decode("utf-8", "replace")) if sign else "t=1,v1=00"
    events_before = StripeEvent.objects.count()

    response = client.post(
        "/stripe/webhook/", data=body, content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header,
    )  # fmt: skip

    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert StripeEvent.objects.count() == events_before


def test_a_webhook_body_over_the_size_limit_is_refused(client, stripe_http, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = json.dumps({"id": "evt_big", "padding": "x" * 5000}).encode()

    response = client.post(
        "/stripe/webhook/", data=body, content_type="application/json",
        HTTP_STRIPE_SIGNATURE=fakes.signed_header(body.decode()),
    )  # fmt: skip

    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0


@given(code=text, next_url=st.one_of(text, st.sampled_from([
    "//evil.example", "https://evil.example/", "/\\evil.example", "\\\\evil.example",
    "http:evil.example", "/\t/evil.example", "javascript:alert(1)", "/c/walk/", " //evil.example",
])))  # fmt: skip
def test_the_language_switch_never_fails_and_never_redirects_off_site(client, code, next_url):
    response = client.get(f"/lang/{code}/", {"next": next_url})

    _answer_is_clear(response)
    if response.status_code == 302:
        assert _on_site(response["Location"])


@given(cursor=st.one_of(
    text,
    st.binary(max_size=80).map(lambda raw: base64.urlsafe_b64encode(raw).decode()),
    st.tuples(text, st.one_of(st.uuids().map(str), text)).map(
        lambda pair: base64.urlsafe_b64encode(f"{pair[0]}|{pair[1]}".encode()).decode()),
    st.tuples(st.datetimes(timezones=st.timezones()), st.uuids()).map(
        lambda pair: base64.urlsafe_b64encode(f"{pair[0].isoformat()}|{pair[1]}".encode())
        .decode().rstrip("=")),
), path=st.sampled_from(["/c/walk/", "/c/walk/givers/", "/c/walk/m/ana/"]))  # fmt: skip
def test_giver_cursors_never_fail(client, campaign, cursor, path):
    response = client.get(path, {"after": cursor})

    assert response.status_code in (200, 400, 404)


@given(
    session_id=st.one_of(text, st.just("cs_test_pending0"), st.text(alphabet="abc_-", max_size=300))
)
def test_the_thank_you_page_never_fails(client, stripe_http, campaign, session_id):
    response = client.get("/donations/thanks/", {"session_id": session_id})

    assert response.status_code in (200, 400, 404)


@given(
    query=form_data({"after": text, "format": text, "page": amount, "q": text}),
    slug=st.one_of(st.just("walk"), st.from_regex(r"[a-z0-9-]{1,60}", fullmatch=True)),
)
def test_the_export_never_fails(client, cash_organizer, campaign, query, slug):
    client.force_login(cash_organizer)

    response = client.get(f"/organize/{slug}/export.csv", _flat(query))

    _answer_is_clear(response)
    if response.status_code == 200:
        body = b"".join(response.streaming_content).decode()
        assert body.splitlines()[0]


@given(data=form_data({"username": text, "password": text, "next": text}))
def test_login_never_fails_and_never_redirects_off_site(client, data):
    UserFactory(username="rosa")

    response = client.post("/accounts/login/", _flat(data))

    _answer_is_clear(response)
    if response.status_code == 302:
        assert _on_site(response["Location"])

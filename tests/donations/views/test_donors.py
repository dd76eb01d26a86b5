"""Donor self-service: a signed, expiring link to one's own gifts, and what it allows."""

import datetime
import re
from decimal import Decimal

import pytest
import time_machine
from django.core import mail, signing
from django.urls import reverse
from django.utils import timezone

from donations.donor_links import LINK_SALT, donor_link_token
from donations.models import Donation, DonationChange, Receipt
from tests.factories import CampaignFactory, DonationFactory
from tests.html import attributes, texts

pytestmark = pytest.mark.django_db


@pytest.fixture
def gifts():
    campaign = CampaignFactory(slug="coats", title="Winter coats")
    mine = DonationFactory(
        campaign=campaign, email="Rosa@Example.org", giver_name="Rosa", amount=Decimal("30.00")
    )
    Receipt.objects.create(donation=mine, status=Receipt.Status.SENT)
    other = DonationFactory(campaign=campaign, email="sam@example.org", giver_name="Sam")
    return mine, other


def manage_url(email="rosa@example.org") -> str:
    return reverse("donations:manage", kwargs={"token": donor_link_token(email=email)})


def test_asking_for_a_link_answers_the_same_whether_or_not_the_address_gave(client, gifts):
    known = client.post(reverse("donations:manage-request"), {"email": "rosa@example.org"})
    unknown = client.post(reverse("donations:manage-request"), {"email": "nobody@example.org"})

    assert known.status_code == unknown.status_code == 200
    assert texts(known.content.decode(), "main") == texts(unknown.content.decode(), "main")
    assert [message.to for message in mail.outbox] == [["rosa@example.org"]]
    link = re.search(r"http://testserver(/donations/manage/\S+/)", mail.outbox[0].body).group(1)
    assert client.get(link).status_code == 200


def test_link_requests_are_limited_per_address(client, gifts):
    for _attempt in range(5):
        client.post(reverse("donations:manage-request"), {"email": "rosa@example.org"})

    assert len(mail.outbox) == 3


def test_the_page_lists_only_the_links_own_gifts(client, gifts):
    html = client.get(manage_url()).content.decode()

    today = timezone.localdate()
    assert texts(html, ".donor-gift h3") == [f"$30.00 · {today:%B} {today.day}, {today.year}"]
    assert "Sam" not in html


def test_a_donor_hides_their_name_and_the_campaign_page_shows_it_at_once(
    client, gifts, django_capture_on_commit_callbacks
):
    mine, _other = gifts
    page = client.get(mine.campaign.get_absolute_url()).content.decode()
    assert "Rosa" in texts(page, ".giver-name")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            manage_url(),
            {
                "gift": str(mine.pk),
                "action": "save",
                f"{mine.pk}-giver_name": "Rosa M.",
                f"{mine.pk}-anonymous": "on",
                f"{mine.pk}-message": "¡Adelante!",
            },
        )

    assert response.status_code == 302
    mine.refresh_from_db()
    assert (mine.giver_name, mine.anonymous, mine.message) == ("Rosa M.", True, "¡Adelante!")
    change = mine.changes.get(action=DonationChange.Action.DONOR_EDIT)
    assert change.changes["anonymous"] == [False, True]
    page = client.get(mine.campaign.get_absolute_url()).content.decode()
    assert "Rosa" not in " ".join(texts(page, ".giver-name"))
    assert "¡Adelante!" in texts(page, ".giver-message")


def test_a_link_cannot_change_somebody_elses_gift(client, gifts):
    _mine, other = gifts

    response = client.post(
        manage_url(), {"gift": str(other.pk), "action": "save", f"{other.pk}-giver_name": "X"}
    )

    assert response.status_code == 404
    other.refresh_from_db()
    assert other.giver_name == "Sam"


def test_a_donor_gets_their_receipt_again(client, gifts):
    mine, _other = gifts

    client.post(manage_url(), {"gift": str(mine.pk), "action": "receipt"})

    mine.receipt.refresh_from_db()
    assert mine.receipt.status == Receipt.Status.QUEUED


@pytest.mark.parametrize("broken", ["tampered", "expired", "garbage"])
def test_an_old_or_tampered_link_says_so_and_offers_a_fresh_one(client, gifts, broken):
    token = donor_link_token(email="rosa@example.org")
    if broken == "tampered":
        token = (
            donor_link_token(email="sam@example.org").split(":")[0] + ":" + token.split(":", 1)[1]
        )
    elif broken == "garbage":
        token = "not-a-token"
    travel = datetime.timedelta(days=31 if broken == "expired" else 0)

    with time_machine.travel(timezone.now() + travel, tick=False):
        response = client.get(reverse("donations:manage", kwargs={"token": token}))

    html = response.content.decode()
    assert response.status_code == 403
    heading = texts(html, "h1")[0]
    assert heading == (
        "This link has expired" if broken == "expired" else "This link does not work"
    )
    assert [form["action"] for form in attributes(html, "form")] == ["/donations/manage/"]
    assert "Rosa" not in html


def test_the_yearly_statement_lists_the_years_gifts_with_totals(client, gifts):
    mine, _other = gifts
    DonationFactory(
        campaign=mine.campaign,
        email="rosa@example.org",
        amount=Decimal("20.00"),
        amount_refunded=Decimal("5.00"),
        amount_refunded_converted=Decimal("5.00"),
    )
    DonationFactory(campaign=mine.campaign, email="rosa@example.org", status="failed")
    year = timezone.localdate().year

    html = client.get(
        reverse(
            "donations:manage-statement",
            kwargs={"token": manage_url().split("/")[-2], "year": year},
        )
    ).content.decode()

    assert len(texts(html, "tbody tr")) == 2
    assert texts(html, "main ul li") == ["$45.00"]


SIGNED_BUT_UNREADABLE = {
    "JSON nested past the recursion limit": signing.b64_encode(
        b'{"email": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    ).decode(),
    "not JSON": signing.b64_encode(b"rosa@example.org").decode(),
    "not compressed data": "." + signing.b64_encode(b"not zlib").decode(),
}


@pytest.mark.parametrize("payload", SIGNED_BUT_UNREADABLE)
def test_a_signed_link_we_cannot_read_does_not_work(client, gifts, payload):
    token = signing.TimestampSigner(salt=LINK_SALT).sign(SIGNED_BUT_UNREADABLE[payload])

    response = client.get(reverse("donations:manage", kwargs={"token": token}))

    assert response.status_code == 403
    assert texts(response.content.decode(), "h1") == ["This link does not work"]


def statement_status(client, year) -> int:
    token = manage_url().split("/")[-2]
    url = reverse("donations:manage-statement", kwargs={"token": token, "year": 2000})
    return client.get(url.replace("/2000/", f"/{year}/")).status_code


@pytest.mark.parametrize("year", ["0", "9999", "10000", "9" * 20])
def test_a_statement_for_a_year_no_date_can_hold_is_not_found(client, gifts, year):
    assert statement_status(client, year) == 404


def test_statements_exist_from_the_year_of_the_first_gift_to_this_year(client, gifts):
    this_year = timezone.localdate().year
    first_year = this_year - 3
    DonationFactory(
        email="rosa@example.org",
        received_at=timezone.make_aware(datetime.datetime(first_year, 6, 1, 12)),
    )

    assert statement_status(client, first_year - 1) == 404
    assert statement_status(client, first_year) == 200
    assert statement_status(client, first_year + 1) == 200  # no gift that year: an empty one
    assert statement_status(client, this_year) == 200
    assert statement_status(client, this_year + 1) == 404


def test_receipts_carry_the_donors_link(gifts):
    from donations.services.receipts import receipt_render

    mine, _other = gifts
    message = receipt_render(donation=mine)

    link = re.search(r"http://testserver/donations/manage/(\S+)/", message.body).group(1)
    assert link.count(":") == 2  # signed and timed
    assert Donation.objects.get(pk=mine.pk).email == "Rosa@Example.org"

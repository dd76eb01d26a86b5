"""Donor self-service: a signed, expiring link to one's own gifts, and what it allows."""

import datetime
import re
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core import mail, signing
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from donations.donor_links import LINK_SALT, donor_link_token
from donations.models import Donation, DonationChange, DonorLinkEmail, Receipt
from tests.donations.mail_backends import FlakyEmailBackend
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


def ask_for_a_link(client, email):
    return client.post(reverse("donations:manage-request"), {"email": email})


def run_the_worker(now=None):
    """One pass of the receipts worker, which sends the queued link emails too."""
    with time_machine.travel(now or timezone.now(), tick=False):
        call_command("send_receipts", stdout=StringIO(), stderr=StringIO())


def test_asking_for_a_link_answers_the_same_whether_or_not_the_address_gave(client, gifts):
    known = ask_for_a_link(client, "rosa@example.org")
    unknown = ask_for_a_link(client, "nobody@example.org")
    run_the_worker()

    assert known.status_code == unknown.status_code == 200
    assert texts(known.content.decode(), "main") == texts(unknown.content.decode(), "main")
    assert [message.to for message in mail.outbox] == [["Rosa@Example.org"]]
    link = re.search(r"http://testserver(/donations/manage/\S+/)", mail.outbox[0].body).group(1)
    assert client.get(link).status_code == 200


@pytest.fixture
def flaky_mail(settings):
    settings.EMAIL_BACKEND = "tests.donations.mail_backends.FlakyEmailBackend"
    yield FlakyEmailBackend
    FlakyEmailBackend.failures = 0


@pytest.fixture
def mail_server_down(flaky_mail):
    flaky_mail.failures = 2


def test_while_the_mail_server_is_down_a_donor_sees_the_same_page_as_a_stranger(
    client, gifts, mail_server_down
):
    known = ask_for_a_link(client, "rosa@example.org")
    unknown = ask_for_a_link(client, "nobody@example.org")

    assert known.status_code == unknown.status_code == 200
    assert texts(known.content.decode(), "main") == texts(unknown.content.decode(), "main")


def test_a_link_asked_for_while_the_mail_server_is_down_goes_out_when_it_is_back(
    client, gifts, mail_server_down
):
    ask_for_a_link(client, "rosa@example.org")
    start = timezone.now()

    run_the_worker(start)
    run_the_worker(start + datetime.timedelta(minutes=2))
    assert mail.outbox == []  # two refusals: the next try is 5 minutes later
    run_the_worker(start + datetime.timedelta(minutes=8))

    assert [message.to for message in mail.outbox] == [["Rosa@Example.org"]]
    assert "/donations/manage/" in mail.outbox[0].body
    assert not DonorLinkEmail.objects.exists()  # sent, and no address kept


def test_a_link_that_fails_every_try_is_given_up_after_the_last_one(client, gifts, flaky_mail):
    flaky_mail.failures = 100
    ask_for_a_link(client, "rosa@example.org")
    start = timezone.now()

    for day in range(5):
        run_the_worker(start + datetime.timedelta(days=day))
    assert DonorLinkEmail.objects.get().attempts == 5
    run_the_worker(start + datetime.timedelta(days=5))

    assert not DonorLinkEmail.objects.exists()  # six tries, then the donor may ask again
    assert mail.outbox == []


def test_a_link_goes_to_the_address_stored_on_the_gifts_not_to_the_one_typed(client, gifts):
    ask_for_a_link(client, " ROSA@example.ORG ")
    run_the_worker()

    assert [message.to for message in mail.outbox] == [["Rosa@Example.org"]]


# Addresses that Unicode case folding (Python's lower(), PostgreSQL's UPPER) takes for
# another one: (the address that gave, a lookalike someone else may own).
LOOKALIKES = {
    "dotless i": ("alice@example.com", "al\u0131ce@example.com"),
    "dotted capital I": ("alice@example.com", "al\u0130ce@example.com"),
    "long s": ("sam@example.org", "\u017fam@example.org"),
    "Kelvin sign": ("kim@example.org", "\u212aim@example.org"),
    "fullwidth letters": ("kim@example.org", "kim@\uff45xample.org"),
}


@pytest.mark.parametrize("case", list(LOOKALIKES))
def test_a_lookalike_address_is_mailed_no_link_to_anothers_gifts(client, case):
    given, lookalike = LOOKALIKES[case]
    DonationFactory(email=given, giver_name="The real donor")

    response = ask_for_a_link(client, lookalike)
    run_the_worker()

    assert response.status_code == 200
    assert "Check your email" in response.content.decode()
    recipients = [message.to for message in mail.outbox]
    assert recipients in ([], [[given]])  # if at all, only to the address that gave
    assert recipients == []  # and as only ASCII letters are folded, not at all


@pytest.mark.parametrize("case", list(LOOKALIKES))
def test_a_link_for_a_lookalike_address_reaches_none_of_anothers_gifts(client, case):
    """Someone who gave with the lookalike holds a link for it: it lists their gift alone."""
    given, lookalike = LOOKALIKES[case]
    real = DonationFactory(email=given, giver_name="The real donor")
    DonationFactory(campaign=real.campaign, email=lookalike, giver_name="The lookalike")
    Receipt.objects.create(donation=real, status=Receipt.Status.SENT)
    url = manage_url(email=lookalike)
    year = timezone.localdate().year

    page = client.get(url).content.decode()
    statement = client.get(f"{url}statement/{year}/").content.decode()
    edit = client.post(url, {"gift": str(real.pk), "action": "save", f"{real.pk}-giver_name": "X"})
    resend = client.post(url, {"gift": str(real.pk), "action": "receipt"})

    assert "The lookalike" in page
    assert "The real donor" not in page
    assert len(texts(statement, "tbody tr")) == 1
    assert edit.status_code == resend.status_code == 404
    real.refresh_from_db()
    real.receipt.refresh_from_db()
    assert (real.giver_name, real.receipt.status) == ("The real donor", Receipt.Status.SENT)


def test_link_requests_are_limited_per_address(client, gifts):
    for _attempt in range(5):
        ask_for_a_link(client, "rosa@example.org")
    run_the_worker()

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

"""Script in anything people type (giver names and messages, member names, campaign, update
and section text) renders as text on every page, in receipts and in the admin; CSV cells
stay formula-safe; no `next` or share target leads off the site."""

import csv
import io

import pytest
from django.core import mail
from django.utils import timezone

from campaigns.models import Update
from donations.models import Donation, Receipt
from donations.services.receipts import receipt_render
from tests.factories import (
    DonationFactory,
    OfflineDonationFactory,
    StorySectionFactory,
    UserFactory,
)
from tests.html import soup

pytestmark = pytest.mark.django_db

MARK = "xssmark"
PAYLOADS = [
    f'<script>alert("{MARK}")</script>',
    f'"><img src=x onerror=alert("{MARK}")>',
    f"'><svg onload=alert('{MARK}')>",
    f'javascript:alert("{MARK}")',
    f'</title><script>alert("{MARK}")</script>',
]
EVIL = " ".join(PAYLOADS)


def assert_inert(html: bytes | str) -> None:
    """No element or attribute the payload could have made: only text carries the mark."""
    page = soup(html if isinstance(html, str) else html.decode())
    for tag in page.find_all(True):
        # Our own pictures may name the campaign in alt or aria-label (escaped text); an
        # injected one would carry the mark in its content or in another attribute.
        own_text = {"alt", "aria-label", "title"}
        carried = [value for name, value in tag.attrs.items() if name not in own_text]
        assert not (
            tag.name in ("script", "svg", "img")
            and (MARK in tag.decode_contents() or MARK in str(carried))
        ), tag
        for name, value in tag.attrs.items():
            text = " ".join(value) if isinstance(value, list) else str(value)
            assert not (name.startswith("on") and MARK in text), tag
            assert not (name in ("href", "src", "action") and text.startswith("javascript:")), tag
    assert "<script>alert" not in str(html)


@pytest.fixture
def evil_campaign(rates_today, cash_volunteer, cash_campaign):
    campaign = cash_campaign
    campaign.title = f"Drive {PAYLOADS[0]}"[:200]
    campaign.summary = EVIL[:500]
    campaign.organizer_name = PAYLOADS[1][:200]
    campaign.receipt_legal_line = PAYLOADS[2]
    campaign.save()
    member = campaign.team_members.get()
    member.name = PAYLOADS[1]
    member.save()
    StorySectionFactory(campaign=campaign, heading=PAYLOADS[4][:200], body=EVIL)
    Update.objects.create(
        campaign=campaign, title=PAYLOADS[0], body=EVIL,
        status=Update.Status.PUBLISHED, published_at=timezone.now(),
    )  # fmt: skip
    DonationFactory(campaign=campaign, team_member=member, giver_name=PAYLOADS[1],
                    message=EVIL[:500], email="rosa@example.org")  # fmt: skip
    OfflineDonationFactory(campaign=campaign, giver_name=PAYLOADS[0], message=PAYLOADS[2],
                           note=PAYLOADS[3], location=PAYLOADS[4][:200],
                           entered_by=cash_volunteer)  # fmt: skip
    return campaign


PUBLIC_PAGES = [
    "/", "/c/cash-drive/", "/c/cash-drive/givers/", "/c/cash-drive/m/little-village/",
    "/c/cash-drive/updates/", "/c/cash-drive/flyer/", "/c/cash-drive/tally/",
    "/c/cash-drive/donate/",
]  # fmt: skip


def test_payloads_render_as_text_on_every_public_page(client, evil_campaign):
    for path in PUBLIC_PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_inert(response.content)
    detail = soup(client.get("/c/cash-drive/").content.decode())
    assert PAYLOADS[0] in detail.get_text()  # shown, as text


def test_payloads_render_as_text_for_volunteers_and_organizers(
    client, evil_campaign, cash_volunteer, cash_organizer
):
    client.force_login(cash_volunteer)
    for path in ("/volunteer/", "/volunteer/cash-drive/cash/", "/volunteer/cash-drive/cash/batch/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_inert(response.content)
    client.force_login(cash_organizer)
    response = client.get("/organize/cash-drive/report/")
    assert response.status_code == 200
    assert_inert(response.content)


def test_payloads_render_as_text_in_the_admin(client, evil_campaign):
    client.force_login(UserFactory(username="root-xss", is_staff=True, is_superuser=True))
    pages = ["/admin/donations/donation/", "/admin/campaigns/campaign/",
             f"/admin/campaigns/campaign/{evil_campaign.pk}/change/"]  # fmt: skip
    pages += [f"/admin/donations/donation/{gift.pk}/change/" for gift in Donation.objects.all()]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_inert(response.content)


def test_payloads_render_as_text_in_receipts(evil_campaign):
    gift = Donation.objects.get(source=Donation.Source.ONLINE)
    message = receipt_render(donation=gift)
    html = next(body for body, kind in message.alternatives if kind == "text/html")

    assert_inert(html)
    assert mail.outbox == []
    assert not Receipt.objects.exists()


def test_csv_cells_stay_formula_safe(client, evil_campaign, cash_organizer):
    DonationFactory(campaign=evil_campaign, giver_name='=HYPERLINK("http://evil","x")',
                    message="+SUM(1)", email="@evil")  # fmt: skip
    client.force_login(cash_organizer)

    response = client.get("/organize/cash-drive/export.csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))

    cells = [cell for row in rows[1:] for cell in row]
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells if cell)
    assert '\'=HYPERLINK("http://evil","x")' in cells


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil.example"])
def test_no_next_or_share_target_leads_off_the_site(client, evil_campaign, target):
    assert client.get("/lang/es/", {"next": target})["Location"] == "/es/"
    share = client.get("/c/cash-drive/share/facebook/", {"member": target})
    assert share.status_code in (302, 404)
    if share.status_code == 302:
        assert "evil.example" not in share["Location"].split("?")[0]
    login = client.post("/accounts/login/?next=" + target, {"username": "x", "password": "y"})
    assert login.status_code == 200

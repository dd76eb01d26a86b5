"""Printable flyers: the campaign's facts and a QR code that leads to the right page."""

import pytest
import segno
from django.urls import reverse

from campaigns.qr import QR_BORDER, QR_ERROR
from tests.factories import CampaignFactory, DonationFactory, TeamMemberFactory
from tests.html import attributes, texts

pytestmark = pytest.mark.django_db


def fresh_qr(url: str) -> str:
    """What segno draws for `url`, encoded afresh here with the flyer's settings."""
    return segno.make(url, error=QR_ERROR, micro=False).svg_data_uri(
        scale=1, border=QR_BORDER, omitsize=True, dark="#000", light="#fff"
    )


def test_the_flyer_prints_the_facts_and_a_qr_code_of_the_campaign_url(client):
    campaign = CampaignFactory(slug="coats", title="Winter coats", summary="Warm neighbors.")
    DonationFactory(campaign=campaign)

    response = client.get(reverse("campaigns:flyer", kwargs={"slug": "coats"}))

    html = response.content.decode()
    assert response.status_code == 200
    assert texts(html, ".flyer-title") == ["Winter coats"]
    assert texts(html, ".flyer-url") == ["http://testserver/c/coats/"]
    assert "$25.00 raised of a $1,000.00 goal" in texts(html, ".flyer-progress")[0]
    qr = attributes(html, "img.flyer-qr")
    assert len(qr) == 1
    assert qr[0]["src"] == fresh_qr("http://testserver/c/coats/")
    assert qr[0]["src"] != fresh_qr("http://testserver/c/coats/m/other/")


def test_a_members_flyer_leads_to_the_members_view(client):
    campaign = CampaignFactory(slug="coats")
    TeamMemberFactory(campaign=campaign, slug="pilsen", name="Pilsen")

    html = client.get(
        reverse("campaigns:member-flyer", kwargs={"slug": "coats", "member_slug": "pilsen"})
    ).content.decode()

    assert texts(html, ".flyer-url") == ["http://testserver/c/coats/m/pilsen/"]
    assert attributes(html, "img.flyer-qr")[0]["src"] == fresh_qr(
        "http://testserver/c/coats/m/pilsen/"
    )


def test_the_spanish_flyer_is_in_spanish_and_leads_to_the_spanish_page(client):
    CampaignFactory(slug="coats", title="Winter coats", title_es="Abrigos de invierno")

    html = client.get("/es/c/coats/flyer/").content.decode()

    assert texts(html, ".flyer-title") == ["Abrigos de invierno"]
    assert texts(html, ".flyer-url") == ["http://testserver/es/c/coats/"]
    assert attributes(html, "img.flyer-qr")[0]["src"] == fresh_qr("http://testserver/es/c/coats/")

"""One URL, one page: the language of a public page is in its path (CONTRACTS.md, "Languages").

English keeps the unprefixed paths and Spanish lives under /es/. A public page is the same for
everyone at its URL (no cookie set, no `Vary` on Cookie or Accept-Language), whatever the
visitor's cookie or browser asks, and links its twin in the other language. Every other page
follows the language cookie, then Accept-Language, then English.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.conf import settings
from django.contrib.messages import constants
from django.contrib.messages.storage.cookie import CookieStorage
from django.core import mail
from django.http import HttpRequest
from django.urls import reverse
from django.utils import translation

from donations.models import Donation
from donations.selectors.givers import giver_page
from donations.services.receipts import receipt_render
from tests.factories import CampaignFactory, DonationFactory, TeamMemberFactory, UserFactory
from tests.html import attributes, texts

pytestmark = pytest.mark.django_db

SITE = "http://testserver"  # SITE_URL in the tests


@pytest.fixture
def coats():
    campaign = CampaignFactory(slug="coats", title="Winter coats", title_es="Abrigos de invierno")
    TeamMemberFactory(campaign=campaign, slug="pilsen", name="Pilsen")
    DonationFactory(campaign=campaign, giver_name="Rosa")
    DonationFactory(campaign=campaign, giver_name="Ana")
    return campaign


def public_paths(campaign) -> dict[str, str]:
    """Every public page of one campaign (and the home page), at its English path."""
    cursor = giver_page(campaign=campaign, size=1).next_cursor
    assert cursor  # a cursor that points at a gift: the page exists
    return {
        "home": "/",
        "campaign": "/c/coats/",
        "member": "/c/coats/m/pilsen/",
        "givers": "/c/coats/givers/",
        "givers-after": f"/c/coats/givers/?after={quote(cursor)}",
        "updates": "/c/coats/updates/",
        "flyer": "/c/coats/flyer/",
        "member-flyer": "/c/coats/m/pilsen/flyer/",
        "tally": "/c/coats/tally/",
        "share-picture": "/c/coats/share-picture.png",
    }


def vary_of(response) -> set[str]:
    return {part.strip().lower() for part in response.get("Vary", "").split(",") if part.strip()}


def assert_one_page_for_everyone(response) -> None:
    assert response.status_code == 200
    assert not response.cookies, f"Set-Cookie: {list(response.cookies)}"
    assert not vary_of(response) & {"cookie", "accept-language"}, response.get("Vary")


@pytest.mark.parametrize("visitor", ["plain", "asks-for-the-other-language"])
@pytest.mark.parametrize("language", ["en", "es"])
def test_every_public_page_is_one_page_per_url_in_both_languages(client, coats, language, visitor):
    other = "es" if language == "en" else "en"
    if visitor != "plain":  # neither the cookie nor the browser changes a public page
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = other
    headers = {"HTTP_ACCEPT_LANGUAGE": other} if visitor != "plain" else {}

    for name, english_path in public_paths(coats).items():
        paths = {"en": english_path, "es": f"/es{english_path}"}
        response = client.get(paths[language], **headers)

        assert_one_page_for_everyone(response)
        assert response["Content-Language"] == language, name
        if name == "share-picture":
            continue
        html = response.content.decode()
        assert attributes(html, "html")[0]["lang"] == language, name
        alternates = {
            link["hreflang"]: link["href"]
            for link in attributes(html, 'link[rel="alternate"][hreflang]')
        }
        assert alternates == {
            "en": SITE + paths["en"],
            "es": SITE + paths["es"],
            "x-default": SITE + paths["en"],
        }, name
        switch = attributes(html, "nav.languages a")
        assert [(link["hreflang"], link["href"]) for link in switch] == [(other, paths[other])], (
            name
        )


def test_a_spanish_cookie_and_browser_still_get_the_english_page_at_its_english_url(client, coats):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"

    response = client.get("/c/coats/", HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9")

    assert texts(response.content.decode(), "h1") == ["Winter coats"]
    assert "Vary" not in response


def test_the_campaign_page_ignores_accept_language_and_sends_no_vary(client, coats):
    response = client.get("/c/coats/", HTTP_ACCEPT_LANGUAGE="es")

    assert attributes(response.content.decode(), "html")[0]["lang"] == "en"
    assert "Vary" not in response


def test_a_signed_in_volunteer_page_follows_accept_language(client):
    client.force_login(UserFactory())

    response = client.get("/volunteer/", HTTP_ACCEPT_LANGUAGE="es")

    assert response.status_code == 200
    assert attributes(response.content.decode(), "html")[0]["lang"] == "es"
    assert "accept-language" in vary_of(response)


def test_private_pages_follow_the_cookie_before_accept_language(client):
    client.force_login(UserFactory())
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    english = client.get("/volunteer/", HTTP_ACCEPT_LANGUAGE="es")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    spanish = client.get("/volunteer/")

    assert attributes(english.content.decode(), "html")[0]["lang"] == "en"
    assert attributes(spanish.content.decode(), "html")[0]["lang"] == "es"


def test_private_pages_have_no_spanish_path_and_link_to_spanish_public_pages(client, coats):
    client.force_login(UserFactory())
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"

    assert client.get("/es/volunteer/").status_code == 404
    html = client.get("/volunteer/").content.decode()

    assert '<a class="site-name" href="/es/">' in html
    with translation.override("es"):
        assert reverse("donations:volunteer-home") == "/volunteer/"
        assert reverse("campaigns:detail", kwargs={"slug": "coats"}) == "/es/c/coats/"


def test_a_missing_private_page_is_in_the_visitors_language(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert texts(response.content.decode(), "h1") == ["No encontramos esa página"]


# /lang/<code>/?next=


@pytest.mark.parametrize(
    ("switch", "location"),
    [
        ("/lang/es/?next=/c/coats/", "/es/c/coats/"),
        ("/lang/en/?next=/es/c/coats/", "/c/coats/"),
        ("/lang/es/?next=/es/c/coats/", "/es/c/coats/"),
        ("/lang/es/?next=/", "/es/"),
        ("/lang/en/?next=/es/", "/"),
        ("/lang/es/?next=/c/coats/m/pilsen/", "/es/c/coats/m/pilsen/"),
        ("/lang/es/?next=%2Fc%2Fcoats%2Fgivers%2F%3Fafter%3Dabc", "/es/c/coats/givers/?after=abc"),
        ("/lang/es/?next=http://testserver/c/coats/", "http://testserver/es/c/coats/"),
        ("/lang/es/?next=/c/coats/donate/", "/es/c/coats/donate/"),
        ("/lang/es/?next=/volunteer/", "/volunteer/"),
        ("/lang/es/?next=/c/no-such-campaign/", "/es/c/no-such-campaign/"),
        ("/lang/es/?next=/no-such-page/", "/no-such-page/"),
        ("/lang/es/?next=https://evil.example/c/coats/", "/es/"),
    ],
)
def test_the_language_switch_leads_to_the_page_in_that_language(client, coats, switch, location):
    response = client.get(switch)

    assert response.status_code == 302
    assert response["Location"] == location
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == switch[6:8]


def test_private_pages_switch_language_through_the_cookie(client):
    client.force_login(UserFactory())
    html = client.get("/volunteer/").content.decode()
    switch = attributes(html, "nav.languages a")
    assert [link["href"] for link in switch] == ["/lang/es/?next=/volunteer/"]

    client.get(switch[0]["href"])

    assert attributes(client.get("/volunteer/").content.decode(), "html")[0]["lang"] == "es"


# Flash messages and sessions stay off public pages


def test_a_public_page_reads_no_session_and_shows_no_flash_message(client, coats):
    request = HttpRequest()
    storage = CookieStorage(request)
    storage.add(constants.INFO, "Just for you.")
    response_with_cookie = client.get("/volunteer/")  # any response to carry the cookie out
    storage.update(response_with_cookie)
    client.cookies[storage.cookie_name] = response_with_cookie.cookies[storage.cookie_name].value

    for path in ("/c/coats/", "/es/c/coats/", "/", "/c/coats/givers/"):
        response = client.get(path)
        assert response.status_code == 200
        assert "Just for you." not in response.content.decode()
        assert not vary_of(response) & {"cookie", "accept-language"}, path

    assert "Just for you." in client.get("/accounts/login/").content.decode()


def test_an_organizer_signed_in_still_sees_a_draft_privately(client, cash_campaign, cash_organizer):
    cash_campaign.status = cash_campaign.Status.DRAFT
    cash_campaign.save()
    assert client.get("/c/cash-drive/").status_code == 404

    client.force_login(cash_organizer)
    response = client.get("/es/c/cash-drive/")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


# The donate flow


def donate_form(**overrides) -> dict:
    return {"amount": "25.00", "currency": "USD", "name": "Ana", "email": "ana@example.org"} | (
        overrides
    )


def test_the_spanish_page_leads_to_the_spanish_donate_form_which_is_private(client, coats):
    html = client.get("/es/c/coats/").content.decode()
    give = {link["href"] for link in attributes(html, "a[href*='/donate/']")}
    assert give and all(href.startswith("/es/c/coats/donate/") for href in give), give

    response = client.get("/es/c/coats/donate/")

    assert response.status_code == 200
    assert attributes(response.content.decode(), "html")[0]["lang"] == "es"
    assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    assert texts(response.content.decode(), "h1") == ["Haz una donación"]


def test_the_demo_checkout_and_thank_you_page_stay_in_the_givers_language(
    client, coats, demo_payments, rates_today
):
    started = client.post("/es/c/coats/donate/", donate_form())
    gift = Donation.objects.get(email="ana@example.org")
    assert started["Location"] == f"/es/donations/demo-checkout/{gift.pk}/"
    checkout = client.get(started["Location"])
    assert attributes(checkout.content.decode(), "html")[0]["lang"] == "es"
    assert "no-store" in checkout["Cache-Control"]

    paid = client.post(started["Location"], {"action": "pay"})
    assert paid["Location"].startswith("/es/donations/thanks/?session_id=")
    thanks = client.get(paid["Location"])

    assert attributes(thanks.content.decode(), "html")[0]["lang"] == "es"
    assert "no-store" in thanks["Cache-Control"]


def test_a_declined_demo_gift_returns_to_the_donate_form_in_spanish_with_its_message(
    client, coats, demo_payments, rates_today
):
    started = client.post("/es/c/coats/donate/", donate_form())

    declined = client.post(started["Location"], {"action": "decline"})

    assert declined["Location"] == "/es/c/coats/donate/?resume=1"
    html = client.get(declined["Location"]).content.decode()
    assert texts(html, ".messages li")  # the flash message waits for a private page
    assert attributes(html, "html")[0]["lang"] == "es"


def test_the_english_donate_form_is_english_whatever_the_cookie_says(client, coats):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"

    response = client.get("/c/coats/donate/", HTTP_ACCEPT_LANGUAGE="es")

    assert texts(response.content.decode(), "h1") == ["Make a gift"]


# Sharing


def test_a_spanish_page_shares_its_spanish_address(client, coats):
    html = client.get("/es/c/coats/").content.decode()
    shares = [link["href"] for link in attributes(html, "a[href*='/share/']")]
    assert "/es/c/coats/share/whatsapp/" in shares

    response = client.get("/es/c/coats/share/whatsapp/")

    assert response.status_code == 302
    assert quote(f"{SITE}/es/c/coats/", safe="") in response["Location"]
    assert "Abrigos" in response["Location"]


def test_an_english_page_shares_its_english_address(client, coats):
    response = client.get("/c/coats/share/facebook/")

    assert response["Location"] == (
        f"https://www.facebook.com/sharer/sharer.php?u={quote(SITE + '/c/coats/', safe='')}"
    )


def test_a_spanish_member_view_shares_the_spanish_member_address(client, coats):
    response = client.get("/es/c/coats/share/facebook/?member=pilsen")

    assert response["Location"].endswith(quote(f"{SITE}/es/c/coats/m/pilsen/", safe=""))


# Emails


def test_a_spanish_receipt_links_the_spanish_campaign_page(coats):
    gift = DonationFactory(campaign=coats, language="es", email="ana@example.org")

    message = receipt_render(donation=gift)

    assert f"{SITE}/es/c/coats/" in message.body
    assert f"{SITE}/c/coats/" not in message.body
    assert mail.outbox == []


def test_an_english_receipt_links_the_english_campaign_page(coats):
    gift = DonationFactory(campaign=coats, language="en", email="ana@example.org")

    assert f"({SITE}/c/coats/)" in receipt_render(donation=gift).body

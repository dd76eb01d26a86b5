"""Share links: counted once per client, campaign and network an hour, then redirected."""

from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.urls import reverse

from campaigns.models import ShareCount
from campaigns.selectors import campaign_shares
from tests.factories import CampaignFactory, TeamMemberFactory
from tests.html import attributes, data_value

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 Chrome/126 Mobile"


@pytest.fixture
def campaign():
    return CampaignFactory(
        slug="coats",
        title="Winter coats",
        summary="Coats for new neighbors.",
        facebook_share_baseline=100,
        whatsapp_share_baseline=5,
    )


def share(client, network, *, ip="198.51.100.7", agent=BROWSER, **query):
    url = reverse("campaigns:share", kwargs={"slug": "coats", "network": network})
    return client.get(url, query, REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)


def counted(campaign) -> dict[str, int]:
    return dict(ShareCount.objects.filter(campaign=campaign).values_list("network", "count"))


@pytest.mark.parametrize(
    ("network", "host", "parameter"),
    [
        ("facebook", "www.facebook.com", "u"),
        ("x", "x.com", "url"),
        ("telegram", "t.me", "url"),
    ],
)
def test_each_network_redirects_to_its_share_page_with_the_campaign_url(
    client, campaign, network, host, parameter
):
    response = share(client, network)

    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert (target.scheme, target.netloc) == ("https", host)
    assert parse_qs(target.query)[parameter] == ["http://testserver/c/coats/"]
    assert counted(campaign) == {network: 1}


def test_whatsapp_and_email_carry_the_link_in_their_text(client, campaign):
    whatsapp = urlsplit(share(client, "whatsapp")["Location"])
    email = share(client, "email")["Location"]

    assert whatsapp.netloc == "wa.me"
    assert parse_qs(whatsapp.query)["text"] == ["Winter coats http://testserver/c/coats/"]
    assert email.startswith("mailto:?subject=Winter%20coats&body=")
    assert (
        unquote(email.split("body=")[1]) == "Coats for new neighbors.\n\nhttp://testserver/c/coats/"
    )


def test_one_client_counts_once_an_hour_per_network(client, campaign):
    for _attempt in range(3):
        share(client, "facebook")
    share(client, "x")
    share(client, "facebook", ip="203.0.113.9")

    assert counted(campaign) == {"facebook": 2, "x": 1}


@pytest.mark.parametrize(
    "agent",
    [
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Twitterbot/1.0",
        "WhatsApp/2.23.20.0",
        "TelegramBot (like TwitterBot)",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "curl/8.5.0",
        "",
    ],
)
def test_bots_and_link_previews_are_redirected_but_not_counted(client, campaign, agent):
    response = share(client, "facebook", agent=agent)

    assert response.status_code == 302
    assert counted(campaign) == {}


def test_an_unknown_network_is_not_found_and_never_redirects(client, campaign):
    response = share(client, "evil.example")

    assert response.status_code == 404
    assert counted(campaign) == {}


def test_a_member_view_share_points_at_the_member_view(client, campaign):
    TeamMemberFactory(campaign=campaign, slug="pilsen")

    response = share(client, "facebook", member="pilsen")

    assert parse_qs(urlsplit(response["Location"]).query)["u"] == [
        "http://testserver/c/coats/m/pilsen/"
    ]
    assert share(client, "x", member="nobody").status_code == 404


def test_head_requests_redirect_without_counting(client, campaign):
    url = reverse("campaigns:share", kwargs={"slug": "coats", "network": "x"})

    response = client.head(url, HTTP_USER_AGENT=BROWSER)

    assert response.status_code == 302
    assert counted(campaign) == {}


def test_a_draft_campaign_cannot_be_shared(client):
    CampaignFactory(slug="coats", status="draft")

    assert share(client, "x").status_code == 404


def test_the_page_shows_baselines_plus_counted_shares_and_counted_links(client, campaign):
    share(client, "facebook")
    share(client, "email", ip="203.0.113.9")

    html = client.get(campaign.get_absolute_url()).content.decode()

    assert data_value(html, "share-count") == ("107", "107")
    links = attributes(html, "a.share-link")
    assert {link["href"] for link in links} == {
        f"/c/coats/share/{network}/"
        for network in ("facebook", "x", "whatsapp", "telegram", "email")
    }
    assert all(link["rel"] == ["nofollow"] for link in links)
    assert campaign_shares(campaign=campaign).by_network["facebook"] == (100, 1)


def test_the_counter_rises_in_the_database_not_in_python(client, campaign):
    """Two requests that both read 0 would write 1 with read-modify-write; F() gives 2."""
    ShareCount.objects.create(campaign=campaign, network="x", count=41)

    share(client, "x", ip="192.0.2.1")
    share(client, "x", ip="192.0.2.2")

    assert counted(campaign) == {"x": 43}


def test_link_previews_get_absolute_open_graph_and_twitter_tags(client, campaign):
    html = client.get(campaign.get_absolute_url()).content.decode()
    meta = {
        tag.get("property") or tag.get("name"): tag.get("content")
        for tag in attributes(html, "meta[property], meta[name]")
    }

    assert meta["og:title"] == "Winter coats"
    assert meta["og:description"] == "Coats for new neighbors."
    assert meta["og:url"] == "http://testserver/c/coats/"
    assert meta["og:image"] == "http://testserver/c/coats/share-picture.png"
    assert meta["og:locale"] == "en_US"
    assert meta["twitter:card"] == "summary_large_image"
    assert attributes(html, 'link[rel="canonical"]')[0]["href"] == "http://testserver/c/coats/"
    alternates = [t["content"] for t in attributes(html, 'meta[property="og:locale:alternate"]')]
    assert alternates == ["es_US"]
    picture = client.get("/c/coats/share-picture.png")
    assert (picture.status_code, picture["Content-Type"]) == (200, "image/png")
    assert picture.content.startswith(b"\x89PNG")


def test_a_member_view_previews_the_member_view_in_spanish(client, campaign):
    TeamMemberFactory(campaign=campaign, slug="pilsen")

    html = client.get("/es/c/coats/m/pilsen/").content.decode()

    og = {t["property"]: t["content"] for t in attributes(html, "meta[property]")}
    assert og["og:url"] == "http://testserver/es/c/coats/m/pilsen/"
    assert og["og:locale"] == "es_US"
    assert attributes(html, 'link[rel="canonical"]')[0]["href"] == og["og:url"]
    # The picture is the same in both languages: one address.
    assert og["og:image"] == "http://testserver/c/coats/share-picture.png"

import datetime
import io
import re
from decimal import Decimal

import factory
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from campaigns.models import Campaign
from donations.models import Donation
from donations.services.access import organizer_assign
from tests.factories import (
    CampaignFactory,
    DonationFactory,
    OfflineDonationFactory,
    StorySectionFactory,
    TeamMemberFactory,
    UserFactory,
    donations_bulk_create,
)
from tests.html import attributes, data_value, data_values, parse, texts

pytestmark = pytest.mark.django_db


def detail_url(campaign) -> str:
    return reverse("campaigns:detail", kwargs={"slug": campaign.slug})


def get_page(client, campaign, **kwargs) -> str:
    response = client.get(detail_url(campaign), **kwargs)
    assert response.status_code == 200
    return response.content.decode()


def jpeg_upload(name="hero.jpg", size=(64, 48)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def older_link(html: str) -> str | None:
    match = re.search(r'<a href="([^"]+)" rel="next">', html)
    return match.group(1).replace("&amp;", "&") if match else None


# The campaign header


def test_campaign_page_shows_raised_total_in_data_markup(client):
    campaign = CampaignFactory()
    DonationFactory.create_batch(3, campaign=campaign)
    response = client.get(reverse("campaigns:detail", kwargs={"slug": campaign.slug}))
    assert response.status_code == 200
    assert data_value(response.content.decode(), "raised") == ("75.00", "$75.00")


def test_campaign_page_shows_title_summary_and_linked_organizer(client):
    campaign = CampaignFactory(
        title="Rent relief for Pilsen",
        summary="Two months of rent for six families.",
        organizer_name="Pilsen Tenants",
        organizer_url="https://tenants.example.org/",
    )
    html = get_page(client, campaign)
    assert texts(html, "h1") == ["Rent relief for Pilsen"]
    assert "Two months of rent for six families." in texts(html, ".summary")
    assert texts(html, ".byline") == ["By Pilsen Tenants"]
    website = attributes(html, '.organizer-block a[href="https://tenants.example.org/"]')
    assert [link["rel"] for link in website] == [["noopener"]]
    assert "Organized by Pilsen Tenants" in texts(html, ".organizer-block h2")


def test_organizer_without_link_is_plain_text(client):
    campaign = CampaignFactory(organizer_name="Block Club", organizer_url="")
    html = get_page(client, campaign)
    assert texts(html, ".organizer") == ["By Block Club"]
    assert attributes(html, ".organizer a") == []
    assert attributes(html, ".organizer-block a[rel]") == []


def test_campaign_page_shows_the_hero_image_with_its_description(client):
    campaign = CampaignFactory(hero_image=jpeg_upload(), hero_image_alt="Volunteers at the pantry")
    html = get_page(client, campaign)
    hero = [
        attrs for tag, attrs in parse(html).tags if tag == "img" and attrs.get("class") == "hero"
    ]
    assert len(hero) == 1
    assert hero[0]["src"].startswith("/media/campaigns/hero")
    assert hero[0]["src"].endswith(".jpg")
    assert hero[0]["alt"] == "Volunteers at the pantry"
    assert (hero[0]["width"], hero[0]["height"]) == ("64", "48")


def test_completed_campaign_says_when_it_completed_and_offers_no_giving(client):
    campaign = CampaignFactory(
        status=Campaign.Status.COMPLETED, completed_on=datetime.date(2018, 12, 10)
    )
    html = get_page(client, campaign)
    assert "Campaign completed on December 10, 2018" in html
    assert "Online giving opens soon" not in html
    assert f"/c/{campaign.slug}/donate/" not in html
    assert "days left" not in html


def test_live_campaign_past_its_end_date_reads_as_completed_on_that_date(client):
    ends_on = timezone.localdate() - datetime.timedelta(days=2)
    campaign = CampaignFactory(status=Campaign.Status.LIVE, ends_on=ends_on)
    html = get_page(client, campaign)
    assert f"Campaign completed on {ends_on:%B} {ends_on.day}, {ends_on.year}" in html
    assert "Online giving opens soon" not in html
    assert f"/c/{campaign.slug}/donate/" not in html


def test_live_campaign_shows_days_left(client):
    campaign = CampaignFactory(ends_on=timezone.localdate() + datetime.timedelta(days=5))
    html = get_page(client, campaign)
    assert "5 days left" in texts(html, ".campaign-state")
    assert "Campaign completed" not in html


def test_live_campaign_without_end_date_says_since_when_it_runs(client):
    launched_on = datetime.date(2026, 3, 1)
    campaign = CampaignFactory(launched_on=launched_on, ends_on=None)
    html = get_page(client, campaign)
    assert "Running since March 1, 2026" in html


# Totals and their markup


def test_totals_use_thousands_separators_and_the_contract_data_markup(client):
    campaign = CampaignFactory(goal_amount=Decimal("25000.00"), facebook_share_baseline=12000)
    campaign.x_share_baseline = 345
    campaign.save()
    DonationFactory(campaign=campaign, amount=Decimal("1234.50"))
    html = get_page(client, campaign)
    assert data_value(html, "raised") == ("1234.50", "$1,234.50")
    assert "$1,234.50 raised of a $25,000.00 goal" in texts(html, ".raised-line")
    assert data_value(html, "goal") == ("25000.00", "$25,000.00")
    assert data_value(html, "percent-funded") == ("4", "4%")
    assert data_value(html, "donor-count") == ("1", "1")
    assert data_value(html, "share-count") == ("12345", "12,345")
    progress = [attrs for tag, attrs in parse(html).tags if tag == "progress"]
    assert progress == [
        {
            "class": "goal-progress",
            "max": "25000.00",
            "value": "1234.50",
            "aria-label": "Progress toward the goal",
            "aria-describedby": "raised-line",
        }
    ]
    assert 'id="raised-line"' in html


def test_donor_count_has_thousands_separator(client):
    campaign = CampaignFactory()
    donations_bulk_create(
        DonationFactory.build_batch(1200, campaign=campaign, amount=Decimal("1.00"))
    )
    html = get_page(client, campaign)
    assert data_value(html, "donor-count") == ("1200", "1,200")
    assert data_value(html, "raised") == ("1200.00", "$1,200.00")


def test_uncounted_gifts_are_neither_listed_nor_counted(client):
    campaign = CampaignFactory()
    DonationFactory(campaign=campaign, giver_name="Counted Carla", amount=Decimal("40.00"))
    OfflineDonationFactory(campaign=campaign, giver_name="Cash Carlos", amount=Decimal("10.00"))
    for status in ("pending", "failed", "expired", "refunded"):
        DonationFactory(campaign=campaign, status=status, giver_name=f"Not {status}")
    OfflineDonationFactory(
        campaign=campaign, status="voided", voided_at=timezone.now(), giver_name="Not voided"
    )
    DonationFactory(campaign=campaign, dispute_status="lost", giver_name="Not lost dispute")
    DonationFactory(campaign=campaign, dispute_status="won", giver_name="Won Wanda")
    html = get_page(client, campaign)
    assert parse(html).giver_names == ["Won Wanda", "Cash Carlos", "Counted Carla"]
    assert "Not " not in html
    assert data_value(html, "raised") == ("75.00", "$75.00")
    assert data_value(html, "donor-count") == ("3", "3")


def test_partial_refund_is_subtracted_from_the_gift_and_the_total(client):
    campaign = CampaignFactory()
    DonationFactory(
        campaign=campaign,
        amount=Decimal("100.00"),
        amount_refunded=Decimal("30.00"),
        amount_refunded_converted=Decimal("30.00"),
    )
    DonationFactory(campaign=campaign, amount=Decimal("5.00"))
    html = get_page(client, campaign)
    assert data_value(html, "raised") == ("75.00", "$75.00")
    assert texts(html, ".giver-amount") == ["$5.00", "$70.00"]
    assert "$100.00" not in html


def test_fee_cover_surcharge_is_not_raised(client):
    campaign = CampaignFactory()
    DonationFactory(campaign=campaign, amount=Decimal("50.00"), fee_cover_amount=Decimal("1.75"))
    html = get_page(client, campaign)
    assert data_value(html, "raised") == ("50.00", "$50.00")


# The story


def test_story_sections_are_h2_headings_in_their_order(client):
    campaign = CampaignFactory()
    StorySectionFactory(campaign=campaign, position=2, heading="Third")
    StorySectionFactory(campaign=campaign, position=0, heading="First")
    StorySectionFactory(
        campaign=campaign, position=1, heading="Second", body="One.\n\nSee https://example.org/a"
    )
    html = get_page(client, campaign)
    headings = parse(html).h2_texts
    story = [text for text in headings if text in ("First", "Second", "Third")]
    assert story == ["First", "Second", "Third"]
    assert "One." in texts(html, ".story p")
    links = attributes(html, '.story a[href="https://example.org/a"]')
    assert [link["rel"] for link in links] == [["nofollow"]]


def test_story_body_html_is_escaped(client):
    campaign = CampaignFactory()
    StorySectionFactory(campaign=campaign, body="<script>alert(1)</script> <b>bold</b>")
    html = get_page(client, campaign)
    assert "<b>bold</b>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


# The giver list


def test_givers_are_listed_newest_first_with_name_or_anonymous(client):
    campaign = CampaignFactory()
    now = timezone.now()
    DonationFactory(
        campaign=campaign, giver_name="Oldest Olga", received_at=now - datetime.timedelta(days=9)
    )
    DonationFactory(
        campaign=campaign,
        giver_name="Secret Sam",
        anonymous=True,
        received_at=now - datetime.timedelta(days=5),
    )
    DonationFactory(
        campaign=campaign,
        giver_name="Hidden Hana",
        name_hidden_by_organizer=True,
        received_at=now - datetime.timedelta(days=4),
    )
    DonationFactory(
        campaign=campaign, giver_name="Newest Noah", received_at=now - datetime.timedelta(hours=1)
    )
    html = get_page(client, campaign)
    assert parse(html).giver_names == ["Newest Noah", "Anonymous", "Anonymous", "Oldest Olga"]
    assert "Secret Sam" not in html
    assert "Hidden Hana" not in html


def test_giver_time_reads_three_days_ago_with_exact_datetime(client):
    campaign = CampaignFactory()
    received_at = timezone.now() - datetime.timedelta(days=3)
    DonationFactory(campaign=campaign, received_at=received_at)
    html = get_page(client, campaign)
    local = timezone.localtime(received_at).replace(microsecond=0)
    times = attributes(html, ".giver time")
    assert [time["datetime"] for time in times] == [local.isoformat()]
    assert texts(html, ".giver time") == ["3 days ago"]


def test_gift_in_another_currency_shows_the_converted_and_the_original_amount(client):
    campaign = CampaignFactory(currency="USD")
    DonationFactory(
        campaign=campaign,
        amount=Decimal("50.00"),
        currency="EUR",
        amount_converted=Decimal("50.82"),
        conversion_rate=Decimal("1.0163"),
        rate_source=Donation.RateSource.ECB,
    )
    DonationFactory(campaign=campaign, amount=Decimal("20.00"))
    html = get_page(client, campaign)
    amounts = [meta.split(" · ")[0] for meta in texts(html, ".giver-meta")]
    assert amounts == ["$20.00", "$50.82 (€50.00)"]
    assert texts(html, ".giver-original") == ["(€50.00)"]


def test_hidden_amount_is_not_shown_but_still_counted(client):
    campaign = CampaignFactory()
    DonationFactory(
        campaign=campaign, giver_name="Quiet Quinn", amount=Decimal("77.77"), hide_amount=True
    )
    DonationFactory(campaign=campaign, amount=Decimal("10.00"))
    html = get_page(client, campaign)
    assert "Quiet Quinn" in html
    assert "$77.77" not in html
    assert texts(html, ".giver-amount") == ["$10.00"]
    assert data_value(html, "raised") == ("87.77", "$87.77")


def test_public_message_is_shown_escaped_and_organizer_hidden_message_is_not(client):
    campaign = CampaignFactory()
    DonationFactory(campaign=campaign, message="¡Adelante! <b>fuerza</b>")
    DonationFactory(campaign=campaign, message="Rude words", message_hidden_by_organizer=True)
    html = get_page(client, campaign)
    assert texts(html, ".giver-message") == ["¡Adelante! <b>fuerza</b>"]
    assert "&lt;b&gt;fuerza&lt;/b&gt;" in html
    assert "Rude words" not in html


def test_offline_gift_is_labelled_offline_donation(client):
    campaign = CampaignFactory()
    OfflineDonationFactory(campaign=campaign, giver_name="Cash Carmen")
    DonationFactory(campaign=campaign, giver_name="Card Carl")
    html = get_page(client, campaign)
    assert html.count("Offline donation") == 1
    offline = [text for text in texts(html, ".giver") if "Offline donation" in text]
    assert len(offline) == 1
    assert "Cash Carmen" in offline[0]


def test_a_campaign_without_gifts_invites_the_first(client):
    html = get_page(client, CampaignFactory())
    assert "No gifts yet. Be the first to give." in html
    assert data_value(html, "raised") == ("0.00", "$0.00")


# Pagination


def test_the_page_lists_the_ten_latest_givers_and_older_ones_fifty_at_a_time(client):
    campaign = CampaignFactory()
    now = timezone.now()
    for minutes in range(61):
        DonationFactory(
            campaign=campaign,
            giver_name=f"Giver at {minutes:02d}",
            received_at=now - datetime.timedelta(minutes=minutes),
        )
    html = get_page(client, campaign)
    names = parse(html).giver_names
    assert names == [f"Giver at {minutes:02d}" for minutes in range(10)]
    link = older_link(html)
    assert link.startswith(reverse("campaigns:givers", kwargs={"slug": campaign.slug}) + "?after=")
    older = client.get(link)
    assert older.status_code == 200
    names = parse(older.content.decode()).giver_names
    assert names == [f"Giver at {minutes:02d}" for minutes in range(10, 60)]
    last = client.get(older_link(older.content.decode())).content.decode()
    assert parse(last).giver_names == ["Giver at 60"]
    assert older_link(last) is None


def test_keyset_pages_have_no_duplicates_or_gaps_even_when_times_tie(client):
    campaign = CampaignFactory()
    base = timezone.now() - datetime.timedelta(days=1)
    # Seven gifts share each timestamp, so page boundaries fall inside ties.
    gifts = DonationFactory.create_batch(
        133,
        campaign=campaign,
        received_at=factory.Sequence(lambda n: base - datetime.timedelta(minutes=n // 7)),
    )
    expected = [
        gift.giver_name
        for gift in sorted(gifts, key=lambda gift: (gift.received_at, gift.id), reverse=True)
    ]
    seen: list[str] = []
    html = get_page(client, campaign)
    pages = 1
    seen += parse(html).giver_names
    while link := older_link(html):
        response = client.get(link)
        assert response.status_code == 200
        html = response.content.decode()
        seen += parse(html).giver_names
        pages += 1
    assert pages == 4  # the 10 latest, then 50, 50 and 23
    assert seen == expected
    assert len(set(seen)) == 133


@pytest.mark.parametrize("cursor", ["not-a-cursor", "MjAyNi0wMS0wMXxub3Bl", "%%%"])
def test_invalid_cursor_is_not_found(client, cursor):
    campaign = CampaignFactory()
    DonationFactory(campaign=campaign)
    url = reverse("campaigns:givers", kwargs={"slug": campaign.slug})
    assert client.get(url, {"after": cursor}).status_code == 404


def test_givers_page_without_cursor_lists_the_newest(client):
    campaign = CampaignFactory(title="Coats")
    DonationFactory(campaign=campaign, giver_name="Only One")
    response = client.get(reverse("campaigns:givers", kwargs={"slug": campaign.slug}))
    assert response.status_code == 200
    assert parse(response.content.decode()).giver_names == ["Only One"]


# Team members


def test_team_members_are_listed_with_their_totals(client):
    campaign = CampaignFactory()
    village = TeamMemberFactory(
        campaign=campaign, name="Little Village", slug="little-village", position=0
    )
    pilsen = TeamMemberFactory(campaign=campaign, name="Pilsen", slug="pilsen", position=1)
    DonationFactory(campaign=campaign, team_member=village, amount=Decimal("1500.00"))
    DonationFactory(campaign=campaign, team_member=village, amount=Decimal("20.25"))
    DonationFactory(
        campaign=campaign, team_member=village, status="refunded", amount=Decimal("99.00")
    )
    DonationFactory(campaign=campaign, amount=Decimal("5.00"))
    html = get_page(client, campaign)
    assert "Team members" in texts(html, "h2")
    assert data_values(html, "member-raised") == [("1520.25", "$1,520.25"), ("0.00", "$0.00")]
    assert html.index("Little Village") < html.index(">Pilsen<")
    assert f'href="{village.get_absolute_url()}"' in html
    assert f'href="{pilsen.get_absolute_url()}"' in html


def test_member_view_lists_only_that_members_givers(client):
    campaign = CampaignFactory()
    village = TeamMemberFactory(campaign=campaign, name="Little Village", slug="little-village")
    DonationFactory(campaign=campaign, team_member=village, giver_name="Village Vera")
    DonationFactory(campaign=campaign, giver_name="Elsewhere Eli")
    url = reverse(
        "campaigns:member", kwargs={"slug": campaign.slug, "member_slug": "little-village"}
    )
    assert url == f"/c/{campaign.slug}/m/little-village/"
    response = client.get(url)
    html = response.content.decode()
    assert response.status_code == 200
    assert parse(html).giver_names == ["Village Vera"]
    assert "Words of support for Little Village" in texts(html, "h2")
    assert "team-member-current" in html
    assert data_value(html, "raised") == ("50.00", "$50.00")


def test_unknown_member_is_not_found(client):
    campaign = CampaignFactory()
    other = TeamMemberFactory(slug="elsewhere")
    url = reverse("campaigns:member", kwargs={"slug": campaign.slug, "member_slug": other.slug})
    assert client.get(url).status_code == 404


# The index


def test_index_lists_live_then_every_completed_campaign_with_raised(client):
    today = timezone.localdate()
    live = CampaignFactory(title="Live fund", goal_amount=Decimal("2000.00"))
    DonationFactory(campaign=live, amount=Decimal("1250.00"))
    recent = CampaignFactory(
        title="Recent fund", status="completed", completed_on=today - datetime.timedelta(days=30)
    )
    CampaignFactory(
        title="Old fund", status="completed", completed_on=today - datetime.timedelta(days=400)
    )
    CampaignFactory(title="Draft fund", status="draft")
    response = client.get(reverse("campaigns:index"))
    html = response.content.decode()
    assert response.status_code == 200
    assert texts(html, ".campaign-card h2") == ["Live fund", "Recent fund", "Old fund"]
    links = [a["href"] for a in attributes(html, ".campaign-card h2 a")]
    assert links[:2] == [live.get_absolute_url(), recent.get_absolute_url()]
    assert "$1,250.00 raised of $2,000.00" in texts(html, ".card-raised")
    assert "Draft fund" not in html


def test_the_index_pages_through_completed_campaigns(client):
    for number in range(14):
        CampaignFactory(
            title=f"Done {number:02d}",
            status="completed",
            completed_on=datetime.date(2020, 1, 1) + datetime.timedelta(days=number),
        )
    first = client.get(reverse("campaigns:index")).content.decode()
    second = client.get(reverse("campaigns:index"), {"page": 2}).content.decode()

    assert len(texts(first, ".campaign-card h2")) == 12
    assert texts(second, ".campaign-card h2") == ["Done 01", "Done 00"]
    assert texts(first, ".campaign-card h2")[0] == "Done 13"


# Drafts


def test_draft_campaign_is_not_found_for_anonymous_visitors(client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    assert client.get(detail_url(campaign)).status_code == 404
    givers = reverse("campaigns:givers", kwargs={"slug": campaign.slug})
    assert client.get(givers).status_code == 404


def test_draft_campaign_is_not_found_for_signed_in_non_staff(client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    client.force_login(UserFactory())
    assert client.get(detail_url(campaign)).status_code == 404


def test_draft_campaign_shows_a_draft_banner_to_its_organizer(client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT, title="Secret plan")
    organizer = UserFactory(is_staff=True)
    organizer_assign(by=None, user=organizer, campaign=campaign)
    client.force_login(organizer)
    html = get_page(client, campaign)
    assert "Secret plan" in html
    assert (
        '<p class="banner banner-draft" role="note">'
        "Draft: only its organizers can see this page.</p>" in html
    )


def test_draft_campaign_is_not_found_for_another_campaigns_organizer(client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT, title="Secret plan")
    organizer = UserFactory(is_staff=True)
    organizer_assign(by=None, user=organizer, campaign=CampaignFactory())
    client.force_login(organizer)

    assert client.get(detail_url(campaign)).status_code == 404


def test_live_campaign_has_no_draft_banner(client):
    html = get_page(client, CampaignFactory())
    assert "banner-draft" not in html


# Query count


def render_counting_queries(client, campaign) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(detail_url(campaign))
    assert response.status_code == 200
    return len(queries)


def campaign_with_gifts(count: int):
    campaign = CampaignFactory()
    members = TeamMemberFactory.create_batch(3, campaign=campaign)
    StorySectionFactory.create_batch(4, campaign=campaign)
    gifts = DonationFactory.build_batch(count, campaign=campaign)
    for index, gift in enumerate(gifts):
        gift.team_member = members[index % 3] if index % 2 else None
        gift.source = "offline" if index % 5 == 0 else "online"
    donations_bulk_create(gifts)
    return campaign


def test_campaign_page_runs_the_same_number_of_queries_for_5_and_500_gifts(client):
    few = render_counting_queries(client, campaign_with_gifts(5))
    many = render_counting_queries(client, campaign_with_gifts(500))
    assert few == many
    assert few <= 6


def test_member_page_runs_the_same_number_of_queries_for_5_and_500_gifts(client):
    counts = []
    for count in (5, 500):
        campaign = campaign_with_gifts(count)
        member = campaign.team_members.first()
        with CaptureQueriesContext(connection) as queries:
            client.get(member.get_absolute_url())
        counts.append(len(queries))
    assert counts[0] == counts[1]


# Languages


def spanish_page_campaign():
    campaign = CampaignFactory(goal_amount=Decimal("10000.00"))
    OfflineDonationFactory(campaign=campaign, amount=Decimal("1234.50"))
    DonationFactory(
        campaign=campaign,
        amount=Decimal("500.00"),
        currency="MXN",
        amount_converted=Decimal("24.37"),
        rate_source=Donation.RateSource.ECB,
    )
    return campaign


def test_spanish_at_the_es_path(client):
    campaign = spanish_page_campaign()
    html = client.get(f"/es{detail_url(campaign)}").content.decode()
    assert '<html lang="es">' in html
    assert "Donación en efectivo" in html
    assert "Offline donation" not in html
    assert '<data class="raised" value="1258.87">$1,258.87</data>' in html
    assert "(MXN500.00)" in html


def test_english_without_cookie_or_accept_language(client):
    html = get_page(client, spanish_page_campaign())
    assert '<html lang="en">' in html
    assert "Offline donation" in html
    assert "(MX$500.00)" in html


def test_the_english_page_stays_english_for_a_spanish_cookie_and_accept_language(client):
    campaign = spanish_page_campaign()
    client.cookies["solidaria_language"] = "es"
    html = get_page(client, campaign, HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9")
    assert '<html lang="en">' in html
    assert "Offline donation" in html


def test_language_switcher_sets_the_cookie_and_goes_to_the_page_in_that_language(client):
    campaign = OfflineDonationFactory().campaign
    response = client.get(
        reverse("set-language", kwargs={"code": "es"}), {"next": detail_url(campaign)}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/es{detail_url(campaign)}"
    assert response.cookies["solidaria_language"].value == "es"
    assert response.cookies["solidaria_language"]["httponly"] is True
    assert "Donación en efectivo" in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/path", "http://evil.example"]
)
def test_language_switcher_refuses_an_off_site_next(client, next_url):
    response = client.get(reverse("set-language", kwargs={"code": "es"}), {"next": next_url})
    assert response.status_code == 302
    assert response["Location"] == "/es/"  # the home page, in the language asked for
    assert response.cookies["solidaria_language"].value == "es"


def test_language_switcher_ignores_an_unknown_language(client):
    response = client.get(reverse("set-language", kwargs={"code": "xx"}), {"next": "/"})
    assert response.status_code == 302
    assert "solidaria_language" not in response.cookies


def test_page_links_straight_to_the_other_language(client):
    campaign = CampaignFactory()
    html = get_page(client, campaign)
    switch = [
        attrs["href"]
        for tag, attrs in parse(html).tags
        if tag == "a" and attrs.get("hreflang") == "es"
    ]
    assert switch == [f"/es{detail_url(campaign)}"]


# Content Security Policy


def full_campaign():
    campaign = CampaignFactory(hero_image=jpeg_upload(), organizer_url="https://example.org")
    StorySectionFactory.create_batch(2, campaign=campaign)
    member = TeamMemberFactory(campaign=campaign)
    DonationFactory(campaign=campaign, team_member=member, message="Hi")
    OfflineDonationFactory(campaign=campaign)
    return campaign


@pytest.mark.parametrize("target", ["detail", "givers", "index", "tally", "member"])
def test_pages_have_no_inline_script_style_or_event_handlers(client, target):
    campaign = full_campaign()
    urls = {
        "detail": detail_url(campaign),
        "givers": reverse("campaigns:givers", kwargs={"slug": campaign.slug}),
        "index": reverse("campaigns:index"),
        "tally": reverse("campaigns:tally", kwargs={"slug": campaign.slug}),
        "member": campaign.team_members.get().get_absolute_url(),
    }
    response = client.get(urls[target])
    assert response.status_code == 200
    tags = parse(response.content.decode()).tags
    assert [attrs for tag, attrs in tags if tag == "script" and "src" not in attrs] == []
    assert [tag for tag, _attrs in tags if tag == "style"] == []
    assert [(tag, attrs) for tag, attrs in tags if "style" in attrs] == []
    handlers = [(tag, name) for tag, attrs in tags for name in attrs if name.startswith("on")]
    assert handlers == []


def test_campaign_page_carries_a_strict_content_security_policy(client):
    response = client.get(detail_url(CampaignFactory()))
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in policy


# The tally sheet


def test_tally_sheet_has_blank_lines_and_thirty_rows_in_cash_form_order(client):
    campaign = CampaignFactory(title="Coats", currency="USD", accepted_currencies="EUR,MXN")
    TeamMemberFactory(campaign=campaign, name="Pantry volunteers")
    response = client.get(reverse("campaigns:tally", kwargs={"slug": campaign.slug}))
    assert response.status_code == 200
    html = response.content.decode()
    parser = parse(html)
    columns = [attrs["data-field"] for tag, attrs in parser.tags if "data-field" in attrs]
    assert columns == [
        "name",
        "anonymous",
        "amount",
        "currency",
        "received_on",
        "team_member",
        "message",
        "note",
        "location",
    ]
    rows = [
        attrs for tag, attrs in parser.tags if tag == "tr" and attrs.get("class") == "tally-row"
    ]
    assert len(rows) == 30
    assert html.count("☐") == 30
    assert '<th scope="row">30</th>' in html
    assert "Cash tally sheet: Coats" in html
    for label in ("Date", "Location", "Volunteer"):
        assert f"<dt>{label}</dt>" in html
    assert html.count('class="blank-line"') == 3
    assert "USD, EUR, MXN" in html
    assert "Pantry volunteers" in html
    assert "css/print.css" in html


def test_tally_sheet_is_at_its_contract_url(client):
    assert reverse("campaigns:tally", kwargs={"slug": "coats"}) == "/c/coats/tally/"


def test_tally_sheet_of_a_draft_is_not_found_for_visitors(client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    assert client.get(reverse("campaigns:tally", kwargs={"slug": campaign.slug})).status_code == 404


def test_campaign_pages_refuse_post(client):
    campaign = CampaignFactory()
    assert client.post(detail_url(campaign)).status_code == 405


def test_member_view_links_to_that_members_older_givers(client):
    campaign = CampaignFactory()
    member = TeamMemberFactory(campaign=campaign, slug="village")
    now = timezone.now()
    for minutes in range(52):
        DonationFactory(
            campaign=campaign,
            team_member=member,
            giver_name=f"Village {minutes:02d}",
            received_at=now - datetime.timedelta(minutes=minutes),
        )
    DonationFactory(
        campaign=campaign, giver_name="Elsewhere", received_at=now - datetime.timedelta(days=9)
    )
    html = client.get(member.get_absolute_url()).content.decode()
    assert len(parse(html).giver_names) == 10
    link = older_link(html)
    assert link.startswith(member.get_absolute_url() + "?after=")
    older = client.get(link).content.decode()
    names = [f"Village {minutes:02d}" for minutes in range(10, 52)]
    assert parse(older).giver_names == names
    assert older_link(older) is None


def test_every_page_offers_volunteers_a_way_to_sign_in(client):
    html = client.get(reverse("campaigns:index")).content.decode()
    volunteer_home = reverse("donations:volunteer-home")
    assert f'href="{volunteer_home}"' in html  # the same link for everyone: one URL, one page
    response = client.get(volunteer_home)
    assert response["Location"] == f"{reverse('login')}?next={volunteer_home}"


def test_a_signed_in_volunteer_finds_their_campaigns_from_any_page(client):
    client.force_login(UserFactory())
    html = client.get(reverse("campaigns:index")).content.decode()
    assert f'href="{reverse("donations:volunteer-home")}"' in html

"""Organizers' updates: drafts never public, published ones dated, escaped and linked."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Update
from campaigns.services import campaign_update_save
from tests.factories import CampaignFactory
from tests.html import attributes, texts

pytestmark = pytest.mark.django_db


def publish(campaign, title, *, days_ago=0, status="published", body="News.", **fields):
    update = Update(campaign=campaign, title=title, body=body, status=status, **fields)
    campaign_update_save(update=update)
    if days_ago:
        update.published_at = timezone.now() - datetime.timedelta(days=days_ago)
        update.save()
    return update


def test_the_campaign_page_shows_the_latest_three_newest_first_with_anchors(client):
    campaign = CampaignFactory(slug="coats")
    updates = [publish(campaign, f"Update {n}", days_ago=10 - n) for n in range(5)]
    publish(campaign, "Secret plan", status="draft")

    html = client.get(campaign.get_absolute_url()).content.decode()

    assert texts(html, ".update h3") == ["Update 4", "Update 3", "Update 2"]
    assert [a["id"] for a in attributes(html, "article.update")] == [
        f"update-{update.pk}" for update in reversed(updates[2:])
    ]
    assert "Secret plan" not in html
    assert "5" in texts(html, ".updates-count")[0]


def test_the_updates_page_lists_every_published_update(client):
    campaign = CampaignFactory(slug="coats")
    for n in range(5):
        publish(campaign, f"Update {n}", days_ago=10 - n)
    publish(campaign, "Secret plan", status="draft")

    response = client.get(reverse("campaigns:updates", kwargs={"slug": "coats"}))

    html = response.content.decode()
    assert response.status_code == 200
    assert texts(html, ".update h3") == [f"Update {n}" for n in (4, 3, 2, 1, 0)]
    assert "Secret plan" not in html


def test_update_text_is_escaped_and_links_become_clickable(client):
    campaign = CampaignFactory(slug="coats")
    publish(
        campaign, "<b>Bold</b> news", body="<script>alert(1)</script>\n\nSee https://example.org/x"
    )

    html = client.get(reverse("campaigns:updates", kwargs={"slug": "coats"})).content.decode()

    assert "<script>alert(1)" not in html and "<b>Bold" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert [a["href"] for a in attributes(html, ".update-body a")] == ["https://example.org/x"]


def test_publishing_dates_an_update_once_and_editing_keeps_the_date():
    campaign = CampaignFactory()
    draft = publish(campaign, "Soon", status="draft")
    assert draft.published_at is None

    draft.status = Update.Status.PUBLISHED
    campaign_update_save(update=draft)
    first_date = draft.published_at
    draft.body = "Edited"
    campaign_update_save(update=draft)

    draft.refresh_from_db()
    assert first_date is not None
    assert draft.published_at == first_date


def test_a_spanish_visitor_sees_the_spanish_update_or_the_marked_original(client):
    campaign = CampaignFactory(slug="coats")
    publish(campaign, "Coats arrived", title_es="Llegaron los abrigos", days_ago=2)
    publish(campaign, "Only English", days_ago=1)

    html = client.get("/es/c/coats/updates/").content.decode()

    headings = attributes(html, ".update h3")
    assert texts(html, ".update h3") == ["Only English", "Llegaron los abrigos"]
    assert [heading.get("lang") for heading in headings] == ["en", None]


def test_organizers_publish_updates_in_the_admin(client, cash_organizer):
    from donations.services.access import organizer_assign

    campaign = CampaignFactory(slug="coats")
    organizer_assign(by=None, user=cash_organizer, campaign=campaign)
    client.force_login(cash_organizer)

    response = client.post(
        reverse("admin:campaigns_update_add"),
        {"campaign": campaign.pk, "status": "published", "title": "Thank you", "body": "Done."},
    )

    assert response.status_code == 302
    update = Update.objects.get()
    assert update.published_at is not None
    assert "Thank you" in client.get(campaign.get_absolute_url()).content.decode()

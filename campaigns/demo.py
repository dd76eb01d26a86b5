"""Demo content: the seed campaign retold in our own words, and a live campaign to try giving.

Titles, the organizer and the section headings are the seed page's names; every paragraph
here is written for Solidaria.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import transaction

from campaigns.models import Campaign, StorySection, TeamMember

SEED_SLUG = "solidarity-with-the-migrant-caravan"
LIVE_SLUG = "winter-coats-for-new-neighbors"

SEED_CAMPAIGN = {
    "title": "Solidarity with the migrant caravan!",
    "organizer_name": "Little Village Solidarity Network",
    "summary": (
        "Money for food, medicine and rides for the families walking north with the caravan, "
        "sent straight to our contacts who travel with them."
    ),
    "goal_amount": Decimal("5000.00"),
    "currency": "USD",
    "accepted_currencies": "EUR,MXN",
    "status": Campaign.Status.COMPLETED,
    "launched_on": datetime.date(2018, 10, 29),
    "completed_on": datetime.date(2018, 12, 10),
    "facebook_share_baseline": 1804,
    "x_share_baseline": 212,
    "receipt_legal_line": "Little Village Solidarity Network is an unincorporated mutual-aid "
    "group: gifts are not tax-deductible.",
}

SEED_SECTIONS = [
    (
        "The migrant caravan",
        "Several thousand people from Central America, whole families among them, are "
        "crossing Mexico on foot and by whatever ride they can find. They set out from "
        "Honduras about a month ago and have covered thousands of miles since.\n\n"
        "If the pace holds, the first of them could reach the US border by the end of "
        "November.",
    ),
    (
        "Challenges and needs",
        "The people in the caravan face soldiers sent to the border, armed vigilante groups "
        "and a flood of threats. Appeals for safe passage and for aid have gone unanswered, "
        "and fundraisers for the caravan have been taken down on social media.\n\n"
        "What they need is simple and constant: food, clothes, medicine and transport. "
        "Because the caravan keeps moving, help has to move with it, and that is what a small, "
        "self-organized effort like ours can do.",
    ),
    (
        "Help us provide essential resources",
        "We work with Jessie Sandoval, a friend who is travelling with the caravan in Mexico "
        "and tells us each day where it is and what is missing.\n\n"
        "Every gift goes to buying food, supplies and transport on the spot. Because our "
        "contacts walk with the people they help, they can spend each dollar on what is "
        "needed that very day.",
    ),
    (
        "Want to get involved with LVSN?",
        "Write to us, or follow us on Facebook and Twitter, to hear about our campaign against "
        "the detention of migrant children in Chicago and our mutual-aid work with workers and "
        "tenants: https://www.facebook.com/LVSolidarity",
    ),
]

SEED_MEMBERS = [("Little Village", "little-village")]

LIVE_CAMPAIGN = {
    "title": "Winter coats for new neighbors",
    "organizer_name": "Southwest Side Mutual Aid (demo)",
    "summary": (
        "A demo campaign: try giving here. Coats, boots and gloves for families who arrived "
        "this autumn, bought in bulk from a local store."
    ),
    "goal_amount": Decimal("8000.00"),
    "currency": "USD",
    "accepted_currencies": "EUR,MXN,CAD",
    "status": Campaign.Status.LIVE,
    "facebook_share_baseline": 96,
    "whatsapp_share_baseline": 41,
    "receipt_legal_line": "This is a demo campaign: no money moves and no gift is real.",
}

LIVE_SECTIONS = [
    (
        "Why coats",
        "Many of the families who came to the neighborhood this year have never lived through "
        "a Chicago winter. A good coat, boots and gloves make the difference between getting "
        "to work and school or staying home.",
    ),
    (
        "Where the money goes",
        "We buy in bulk from a store on 26th Street, and volunteers hand everything out at "
        "the Sunday food pantry. Cash gifts collected at the pantry appear here as offline "
        "donations, entered by our volunteers.",
    ),
]

LIVE_MEMBERS = [("Pantry volunteers", "pantry-volunteers"), ("Youth soccer league", "soccer")]


def _content_upsert(
    *, slug: str, fields: dict, sections: list, members: list
) -> tuple[Campaign, bool]:
    campaign, created = Campaign.objects.get_or_create(slug=slug, defaults=fields)
    if created:
        StorySection.objects.bulk_create(
            StorySection(campaign=campaign, position=index, heading=heading, body=body)
            for index, (heading, body) in enumerate(sections)
        )
        TeamMember.objects.bulk_create(
            TeamMember(campaign=campaign, position=index, name=name, slug=member_slug)
            for index, (name, member_slug) in enumerate(members)
        )
    return campaign, created


def demo_campaigns_load(*, today: datetime.date) -> tuple[Campaign, Campaign]:
    """Create the two demo campaigns if missing; an existing one is left as organizers left it."""
    with transaction.atomic():
        seed, _ = _content_upsert(
            slug=SEED_SLUG, fields=SEED_CAMPAIGN, sections=SEED_SECTIONS, members=SEED_MEMBERS
        )
        live_fields = {**LIVE_CAMPAIGN, "launched_on": today - datetime.timedelta(days=20)}
        live, _ = _content_upsert(
            slug=LIVE_SLUG, fields=live_fields, sections=LIVE_SECTIONS, members=LIVE_MEMBERS
        )
    return seed, live

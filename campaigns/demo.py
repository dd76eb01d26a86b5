"""Demo content: the seed campaign retold in our own words, and a live campaign to try giving.

Titles, the organizer and the section headings are the seed page's names; every paragraph
here is written for Solidaria.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import transaction

from campaigns.demo_pictures import road_north_jpeg, winter_coats_jpeg
from campaigns.models import Campaign, StorySection, TeamMember, Update
from campaigns.services import campaign_update_save

SEED_SLUG = "solidarity-with-the-migrant-caravan"
LIVE_SLUG = "winter-coats-for-new-neighbors"

SEED_CAMPAIGN = {
    "title": "Solidarity with the migrant caravan!",
    "title_es": "¡Solidaridad con la caravana migrante!",
    "organizer_name": "Little Village Solidarity Network",
    "organizer_place": "Chicago, IL",
    "organizer_about": (
        "A volunteer collective from Little Village, on Chicago's Southwest Side. We organize "
        "mutual aid with workers, tenants and migrant families, and we publish where every "
        "dollar goes."
    ),
    "organizer_about_es": (
        "Un colectivo de voluntarios de La Villita, en el suroeste de Chicago. Organizamos "
        "apoyo mutuo con trabajadores, inquilinos y familias migrantes, y publicamos en qué "
        "se usa cada dólar."
    ),
    "hero_image_alt": "A drawing of people walking north on a long road at dawn, mountains behind.",
    "hero_image_alt_es": (
        "Un dibujo de personas que caminan hacia el norte por un camino largo al amanecer, "
        "con montañas al fondo."
    ),
    "summary": (
        "Money for food, medicine and rides for the families walking north with the caravan, "
        "sent straight to our contacts who travel with them."
    ),
    "summary_es": (
        "Dinero para comida, medicinas y transporte para las familias que caminan hacia el "
        "norte con la caravana, enviado directamente a nuestros contactos que viajan con ellas."
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

# (heading, body, Spanish heading, Spanish body)
SEED_SECTIONS = [
    (
        "The migrant caravan",
        "Several thousand people from Central America, whole families among them, are "
        "crossing Mexico on foot and by whatever ride they can find. They set out from "
        "Honduras about a month ago and have covered thousands of miles since.\n\n"
        "If the pace holds, the first of them could reach the US border by the end of "
        "November.",
        "La caravana migrante",
        "Varios miles de personas de Centroamérica, entre ellas familias enteras, cruzan "
        "México a pie y en cualquier aventón que encuentran. Salieron de Honduras hace cerca "
        "de un mes y desde entonces han recorrido miles de kilómetros.\n\n"
        "Si siguen a este ritmo, las primeras podrían llegar a la frontera con Estados Unidos "
        "a finales de noviembre.",
    ),
    (
        "Challenges and needs",
        "The people in the caravan face soldiers sent to the border, armed vigilante groups "
        "and a flood of threats. Appeals for safe passage and for aid have gone unanswered, "
        "and fundraisers for the caravan have been taken down on social media.\n\n"
        "What they need is simple and constant: food, clothes, medicine and transport. "
        "Because the caravan keeps moving, help has to move with it, and that is what a small, "
        "self-organized effort like ours can do.",
        "Retos y necesidades",
        "Quienes viajan en la caravana enfrentan a soldados enviados a la frontera, a grupos "
        "armados de \u201cvigilantes\u201d y una ola de amenazas. Nadie ha respondido a los "
        "llamados para un paso seguro y para ayuda, y en las redes sociales han borrado "
        "colectas para la caravana.\n\n"
        "Lo que necesitan es sencillo y no para: comida, ropa, medicinas y transporte. Como la "
        "caravana no se detiene, la ayuda tiene que moverse con ella, y eso es lo que puede "
        "hacer un esfuerzo pequeño y autoorganizado como el nuestro.",
    ),
    (
        "Help us provide essential resources",
        "We work with Jessie Sandoval, a friend who is travelling with the caravan in Mexico "
        "and tells us each day where it is and what is missing.\n\n"
        "Every gift goes to buying food, supplies and transport on the spot. Because our "
        "contacts walk with the people they help, they can spend each dollar on what is "
        "needed that very day.",
        "Ayúdanos a llevar lo indispensable",
        "Trabajamos con Jessie Sandoval, una amiga que viaja con la caravana en México y nos "
        "cuenta cada día dónde están y qué les hace falta.\n\n"
        "Cada donación se usa para comprar ahí mismo comida, insumos y transporte. Como "
        "nuestros contactos caminan junto a las personas que apoyan, cada dólar se gasta en "
        "lo que se necesita ese mismo día.",
    ),
    (
        "Want to get involved with LVSN?",
        "Write to us, or follow us on Facebook and Twitter, to hear about our campaign against "
        "the detention of migrant children in Chicago and our mutual-aid work with workers and "
        "tenants: https://www.facebook.com/LVSolidarity",
        "¿Quieres sumarte a LVSN?",
        "Escríbenos o síguenos en Facebook y Twitter para saber de nuestra campaña contra la "
        "detención de niñas y niños migrantes en Chicago y de nuestro trabajo de apoyo mutuo "
        "con trabajadores e inquilinos: https://www.facebook.com/LVSolidarity",
    ),
]

# (name, slug, Spanish name)
SEED_MEMBERS = [("Little Village", "little-village", "La Villita")]

LIVE_CAMPAIGN = {
    "title": "Winter coats for new neighbors",
    "title_es": "Abrigos de invierno para los nuevos vecinos",
    "organizer_name": "Southwest Side Mutual Aid (demo)",
    "organizer_place": "Chicago, IL",
    "organizer_about": (
        "Neighbors who run a Sunday food pantry and a coat drive each winter. This is a demo "
        "organizer: try giving, and see the gift appear."
    ),
    "organizer_about_es": (
        "Vecinas y vecinos que mantienen una despensa los domingos y una colecta de abrigos "
        "cada invierno. Es un equipo de demostración: prueba a donar y mira cómo aparece."
    ),
    "hero_image_alt": "A drawing of a rack of warm coats in many colours, in the snow.",
    "hero_image_alt_es": "Un dibujo de un perchero con abrigos de muchos colores, bajo la nieve.",
    "summary": (
        "A demo campaign: try giving here. Coats, boots and gloves for families who arrived "
        "this autumn, bought in bulk from a local store."
    ),
    "summary_es": (
        "Una campaña de demostración: prueba a donar aquí. Abrigos, botas y guantes para las "
        "familias que llegaron este otoño, comprados al mayoreo en una tienda del barrio."
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
        "Por qué abrigos",
        "Muchas de las familias que llegaron al barrio este año nunca han pasado un invierno en "
        "Chicago. Un buen abrigo, botas y guantes hacen la diferencia entre poder ir al "
        "trabajo y a la escuela o quedarse en casa.",
    ),
    (
        "Where the money goes",
        "We buy in bulk from a store on 26th Street, and volunteers hand everything out at "
        "the Sunday food pantry. Cash gifts collected at the pantry appear here as offline "
        "donations, entered by our volunteers.",
        "A dónde va el dinero",
        "Compramos al mayoreo en una tienda de la calle 26, y el voluntariado lo reparte todo "
        "en la despensa de los domingos. Las donaciones en efectivo que se reúnen en la "
        "despensa aparecen aquí, registradas por nuestras voluntarias y voluntarios.",
    ),
]

LIVE_MEMBERS = [
    ("Pantry volunteers", "pantry-volunteers", "Voluntariado de la despensa"),
    ("Youth soccer league", "soccer", "Liga juvenil de fútbol"),
]


# The live campaign's news: (days before today, title, text, Spanish title, Spanish text).
LIVE_UPDATES = [
    (
        12,
        "The first forty coats are out",
        "On Sunday the pantry volunteers handed out 40 coats and 60 pairs of gloves. Small "
        "children's sizes went first, so most of the next order is for kids.\n\nThank you "
        "to everyone who gave, and to the soccer league for carrying boxes all morning.",
        "Ya repartimos los primeros cuarenta abrigos",
        "El domingo, el voluntariado de la despensa repartió 40 abrigos y 60 pares de "
        "guantes. Las tallas para niñas y niños pequeños se acabaron primero, así que casi "
        "todo el próximo pedido es para ellos.\n\nGracias a todas las personas que donaron, y "
        "a la liga de fútbol por cargar cajas toda la mañana.",
    ),
    (
        3,
        "Boots are next",
        "The store on 26th Street offered us its wholesale price on winter boots. Gifts from "
        "this week on buy boots, and we will post the count after the next pantry day.",
        "Ahora siguen las botas",
        "La tienda de la calle 26 nos ofreció su precio de mayoreo en botas de invierno. Las "
        "donaciones de esta semana en adelante se usan para botas; publicaremos cuántas "
        "compramos después del próximo día de despensa.",
    ),
]


def _updates_add(*, campaign: Campaign, updates: list, today: datetime.date) -> None:
    for days_ago, title, body, title_es, body_es in updates:
        published = datetime.datetime.combine(
            today - datetime.timedelta(days=days_ago), datetime.time(17, 0), tzinfo=datetime.UTC
        )
        campaign_update_save(
            update=Update(
                campaign=campaign,
                title=title,
                body=body,
                title_es=title_es,
                body_es=body_es,
                status=Update.Status.PUBLISHED,
                published_at=published,
            )
        )


def _content_upsert(
    *, slug: str, fields: dict, sections: list, members: list, picture
) -> tuple[Campaign, bool]:
    campaign, created = Campaign.objects.get_or_create(slug=slug, defaults=fields)
    if created:
        campaign.hero_image.save(f"{slug}.jpg", ContentFile(picture()), save=True)
        StorySection.objects.bulk_create(
            StorySection(
                campaign=campaign,
                position=index,
                heading=heading,
                body=body,
                heading_es=heading_es,
                body_es=body_es,
            )
            for index, (heading, body, heading_es, body_es) in enumerate(sections)
        )
        TeamMember.objects.bulk_create(
            TeamMember(campaign=campaign, position=index, name=name, slug=slug, name_es=name_es)
            for index, (name, slug, name_es) in enumerate(members)
        )
    return campaign, created


def demo_campaigns_load(*, today: datetime.date) -> tuple[Campaign, Campaign]:
    """Create the two demo campaigns if missing; an existing one is left as organizers left it."""
    with transaction.atomic():
        seed, _ = _content_upsert(
            slug=SEED_SLUG,
            fields=SEED_CAMPAIGN,
            sections=SEED_SECTIONS,
            members=SEED_MEMBERS,
            picture=road_north_jpeg,
        )
        live_fields = {**LIVE_CAMPAIGN, "launched_on": today - datetime.timedelta(days=20)}
        live, created = _content_upsert(
            slug=LIVE_SLUG,
            fields=live_fields,
            sections=LIVE_SECTIONS,
            members=LIVE_MEMBERS,
            picture=winter_coats_jpeg,
        )
        if created:
            _updates_add(campaign=live, updates=LIVE_UPDATES, today=today)
    return seed, live

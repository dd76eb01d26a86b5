"""A volunteer signs in through the login form and records cash, in Spanish."""

from decimal import Decimal

import pytest

from donations.models import Donation
from tests.e2e.helpers import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_volunteer_records_cash_in_spanish_and_it_shows_as_donacion_en_efectivo(open_page, site):
    page = open_page(language="es", width=360)
    sign_in(page, site.volunteer)
    page.locator(f"a[href='{site.cash_url}']").click()

    page.fill("#id_name", "Doña Carmen")
    page.fill("#id_amount", "15")
    page.select_option("#id_team_member", site.member.slug)
    page.fill("#id_message", "Para los abrigos")
    page.locator("form.cash-form button[type=submit]").click()

    page.wait_for_url(f"**{site.cash_url}?saved=*")
    assert page.locator(".saved-entry").is_visible()
    entry = Donation.objects.get(giver_name="Doña Carmen")
    assert (entry.source, entry.status, entry.amount, entry.entered_by.username) == (
        "offline",
        "succeeded",
        Decimal("15.00"),
        site.volunteer,
    )
    assert entry.team_member == site.member

    spanish = site.in_language("es")  # the volunteer's Spanish page links the Spanish page
    page.locator(f".saved-entry a[href='{spanish.campaign_url}']").click()
    page.wait_for_url(f"**{spanish.campaign_url}")
    assert page.locator("html").get_attribute("lang") == "es"
    giver = page.locator(".giver", has=page.get_by_text("Doña Carmen", exact=True))
    assert giver.locator(".giver-offline-label").inner_text() == "Donación en efectivo"
    assert giver.locator(".giver-amount").inner_text() == "$15.00"
    assert giver.locator(".giver-message").inner_text() == "Para los abrigos"

"""A person gives monthly in demo mode, a month passes (`demo_next_month`), and the campaign
page counts two charges and lists one entry; then the donor stops it from their own link."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from donations.donor_links import donor_link_token
from donations.models import Donation, MonthlyGift

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

NAME = "Rosa Monthly-Giver"
EMAIL = "rosa.monthly@example.org"


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_monthly_demo_gift_is_charged_again_and_listed_once_then_stopped(
    open_page, site, javascript
):
    page = open_page(javascript=javascript)
    page.goto(site.donate_url)
    page.locator("label.amount-preset", has=page.locator("input[value='monthly']")).click()
    page.locator("label.amount-preset", has=page.locator("input[value='50']")).click()
    page.fill("#id_name", NAME)
    page.fill("#id_email", EMAIL)
    page.locator("form.donate-form button[type=submit]").click()

    page.wait_for_url("**/donations/demo-checkout/**")
    assert "Total to pay each month" in page.locator(".checkout-summary").inner_text()
    page.locator("button[value=pay]").click()
    page.wait_for_url("**/donations/thanks/?session_id=*")
    assert "every month" in page.locator(".thanks-amount").inner_text()

    call_command("demo_next_month")  # a month passes: Stripe's renewal, played by the demo

    page.goto(site.campaign_url)
    assert page.locator("data.donor-count").get_attribute("value") == "6"  # 4 before, 2 months
    assert page.locator("data.raised").get_attribute("value") == "309.37"  # 209.37 + 2 months
    assert page.locator("data.monthly-count").get_attribute("value") == "1"
    entries = page.locator(".giver", has_text=NAME)
    assert entries.count() == 1
    assert entries.first.locator(".giver-amount").inner_text() == "$100.00"
    assert entries.first.locator(".giver-monthly-label").inner_text() == "Monthly · 2 months so far"
    gift = MonthlyGift.objects.get(email=EMAIL)
    assert Donation.objects.filter(monthly_gift=gift, status="succeeded").count() == 2

    page.goto(reverse("donations:manage", kwargs={"token": donor_link_token(email=EMAIL)}))
    page.locator(".donor-monthly button[value=stop]").click()
    page.wait_for_selector(".messages")
    assert "Your monthly gift is stopped" in page.locator(".messages").inner_text()
    assert page.locator(".donor-monthly button[value=stop]").count() == 0

    page.goto(site.campaign_url)
    assert page.locator("data.monthly-count").get_attribute("value") == "0"
    assert page.locator("data.donor-count").get_attribute("value") == "6"
    gift.refresh_from_db()
    assert (gift.status, gift.end_reason) == ("canceled", "donor")

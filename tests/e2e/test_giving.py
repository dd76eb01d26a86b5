"""A person gives in demo mode, from the campaign page to the thank-you page and the giver list.

At a phone's width (360 px) and a desktop's, in each language, with JavaScript on and off.
"""

from decimal import Decimal

import pytest

from donations.models import Donation
from tests.e2e.helpers import DESKTOP_WIDTH, LANGUAGES

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("width", [360, DESKTOP_WIDTH])
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_demo_gift_goes_from_the_campaign_page_to_thanks_and_the_giver_list(
    open_page, site, language, width, javascript
):
    name = f"Giver {language} {width} {'js' if javascript else 'no-js'}"
    page = open_page(language=language, width=width, javascript=javascript)
    site = site.in_language(language)
    page.goto(site.campaign_url)
    page.locator("a.button-give").click()

    page.wait_for_url(f"**{site.donate_url}")
    assert page.locator(".banner-demo").is_visible()
    page.locator("label.amount-preset", has=page.locator("input[value='50']")).click()
    page.fill("#id_name", name)
    page.fill("#id_email", "giver@example.org")
    page.locator("form.donate-form button[type=submit]").click()

    page.wait_for_url("**/donations/demo-checkout/**")
    page.locator("button[value=pay]").click()

    page.wait_for_url("**/donations/thanks/?session_id=*")
    assert page.locator("article.thanks-paid h1").is_visible()
    assert "$50.00" in page.locator(".thanks-amount").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    gift = Donation.objects.get(giver_name=name)
    assert (gift.status, gift.amount, gift.currency, gift.language) == (
        "succeeded",
        Decimal("50.00"),
        "USD",
        language,
    )

    page.locator(f"article.thanks a[href='{site.campaign_url}']").click()
    page.wait_for_url(f"**{site.campaign_url}")
    newest = page.locator(".giver").first
    assert newest.locator(".giver-name").inner_text() == name
    assert newest.locator(".giver-amount").inner_text() == "$50.00"
    assert page.locator("data.donor-count").get_attribute("value") == "5"

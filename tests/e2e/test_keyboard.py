"""Keyboard alone: the skip link, a donation, a cash entry, and error summaries that take focus.

These tests press keys only (Tab, Shift+Tab, arrows, Space, Enter, and typing); they never click.
Each element reached with Tab must show where the focus is.
"""

from decimal import Decimal

import pytest

from donations.models import Donation
from tests.e2e.helpers import VOLUNTEER_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

FOCUSED = """() => {
  const element = document.activeElement;
  const style = getComputedStyle(element);
  return {
    id: element.id,
    tag: element.tagName.toLowerCase(),
    outline: style.outlineStyle === "none" ? 0 : parseFloat(style.outlineWidth),
  };
}"""


def tab_to(page, selector: str, *, limit: int = 60) -> None:
    """Press Tab until `selector` has the focus; every stop on the way must show its focus.

    A field with `autofocus` may have it already. Past the last stop the focus leaves the
    page for the browser's own controls (the body is then the active element).
    """
    for _press in range(limit):
        if page.evaluate("(selector) => document.activeElement.matches(selector)", selector):
            return
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        assert focused["tag"] == "body" or focused["outline"] >= 2, f"focus not shown: {focused}"
    raise AssertionError(f"{selector} was not reached with {limit} presses of Tab")


def test_the_skip_link_is_the_first_stop_and_moves_focus_to_the_main_content(open_page, site):
    page = open_page(width=360)
    page.goto(site.campaign_url)

    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    box = skip.bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0 and box["height"] >= 24
    page.keyboard.press("Enter")

    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")


def test_a_donation_can_be_completed_with_the_keyboard_alone(open_page, site):
    page = open_page(width=360)
    page.goto(site.campaign_url)

    tab_to(page, "a.button-give")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{site.donate_url}")
    tab_to(page, "input[name=amount]:checked")  # a radio group is one stop: "Other"
    page.keyboard.press("ArrowLeft")  # the preset before "Other": 250
    tab_to(page, "#id_name")
    page.keyboard.type("Keyboard Kim")
    tab_to(page, "#id_email")
    page.keyboard.type("kim@example.org")
    tab_to(page, "#id_anonymous")
    page.keyboard.press("Space")
    tab_to(page, "form.donate-form button[type=submit]")
    page.keyboard.press("Enter")

    page.wait_for_url("**/donations/demo-checkout/**")
    tab_to(page, "button[value=pay]")
    page.keyboard.press("Space")
    page.wait_for_url("**/donations/thanks/**")
    gift = Donation.objects.get(giver_name="Keyboard Kim")
    assert (gift.status, gift.amount, gift.anonymous) == ("succeeded", Decimal("250.00"), True)


def test_a_cash_entry_can_be_completed_with_the_keyboard_alone(open_page, site):
    page = open_page(language="es", width=360)
    page.goto("/accounts/login/")
    tab_to(page, "#id_username")
    page.keyboard.type(site.volunteer)
    tab_to(page, "#id_password")
    page.keyboard.type(VOLUNTEER_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/volunteer/")

    tab_to(page, f"a[href='{site.cash_url}']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{site.cash_url}")
    tab_to(page, "#id_name")
    page.keyboard.type("Teclado Tomás")
    tab_to(page, "#id_anonymous")
    page.keyboard.press("Space")
    tab_to(page, "#id_amount")
    page.keyboard.type("12.50")
    tab_to(page, "#id_team_member")
    page.keyboard.press("ArrowDown")  # from "None" to the first team member
    tab_to(page, "form.cash-form button[type=submit]")
    page.keyboard.press("Enter")

    page.wait_for_url(f"**{site.cash_url}?saved=*")
    entry = Donation.objects.get(giver_name="Teclado Tomás")
    assert (entry.source, entry.amount, entry.anonymous) == ("offline", Decimal("12.50"), True)
    assert entry.team_member == site.member


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_failed_donation_focuses_the_error_summary_whose_links_reach_the_fields(
    open_page, site, javascript
):
    page = open_page(width=360, javascript=javascript)
    gifts_before = Donation.objects.count()
    page.goto(site.donate_url)
    page.fill("#id_email", "not an email")
    page.locator("form.donate-form button[type=submit]").click()

    page.wait_for_selector(".error-summary")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    summary_top = page.locator(".error-summary").bounding_box()["y"]
    assert summary_top < page.locator("fieldset.field-amount").bounding_box()["y"]
    links = page.locator(".error-summary a")
    assert [links.nth(n).get_attribute("href") for n in range(links.count())] == [
        "#id_amount",
        "#id_name",
        "#id_email",
    ]
    assert page.get_attribute("#id_email", "aria-describedby") == "id_email_helptext id_email_error"
    assert page.get_attribute("#id_email", "aria-invalid") == "true"
    assert page.locator("#id_email_error").inner_text() == "Enter a valid email address."
    assert page.get_attribute("fieldset.field-amount", "aria-describedby") == "id_amount_error"
    assert page.locator("#id_amount_error").is_visible()

    page.keyboard.press("Tab")  # from the summary to its first link
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # "Your name: This field is required."
    assert page.evaluate("document.activeElement.id") == "id_name"
    assert Donation.objects.count() == gifts_before


def test_a_failed_cash_entry_focuses_the_error_summary(open_page, site):
    page = open_page(language="es", width=360, javascript=False)
    page.goto("/accounts/login/")
    page.fill("#id_username", site.volunteer)
    page.fill("#id_password", VOLUNTEER_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/volunteer/")
    page.goto(site.cash_url)
    page.fill("#id_amount", "-3")
    page.locator("form.cash-form button[type=submit]").click()

    page.wait_for_selector(".error-summary")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert page.locator(".error-summary a").get_attribute("href") == "#id_amount"
    assert "id_amount_error" in page.get_attribute("#id_amount", "aria-describedby")
    assert page.locator("#id_amount_error").is_visible()
    assert not Donation.objects.filter(entered_by__username=site.volunteer).exists()

"""Every page, in each language, at a phone's width and a desktop's: axe-core finds no WCAG 2.2
A/AA or best-practice violation, and nothing scrolls sideways on the phone.

Full-page screenshots of each go to test-output/screenshots/ for people to look at.
"""

import pytest
from playwright.sync_api import expect

from tests.e2e.a11y import axe_violations
from tests.e2e.helpers import DESKTOP_WIDTH, LANGUAGES, PHONE_WIDTH, SCREENSHOTS
from tests.e2e.pages import PAGES

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", PAGES)
def test_page_passes_axe_at_phone_and_desktop_width(open_page, site, name, language):
    page = open_page(language=language, width=DESKTOP_WIDTH)
    PAGES[name](page, site.in_language(language))
    assert page.locator("html").get_attribute("lang") == language
    found = {}
    for width in (DESKTOP_WIDTH, PHONE_WIDTH):
        page.set_viewport_size({"width": width, "height": 800})
        page.screenshot(path=SCREENSHOTS / f"{name}-{language}-{width}.png", full_page=True)
        found[width] = axe_violations(page)
    assert found == {DESKTOP_WIDTH: [], PHONE_WIDTH: []}
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH


def test_axe_would_report_a_violation(open_page, site):
    """Proves the check can fail: an image without a text alternative breaks `image-alt`."""
    page = open_page()
    page.goto(site.campaign_url)
    page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', '<img src=x>')")
    assert any(line.startswith("image-alt ") for line in axe_violations(page))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_progress_bar_is_exposed_with_its_value_and_a_text_equivalent(
    open_page, site, language
):
    page = open_page(language=language)
    page.goto(site.in_language(language).campaign_url)
    bar = page.get_by_role("progressbar")
    expect(bar).to_have_count(1)
    expect(bar).to_have_accessible_name(page.locator("progress").get_attribute("aria-label"))
    # $209.37 raised of the $8,000.00 goal: the sentence shown above the bar describes it.
    expect(bar).to_have_accessible_description(page.locator("#raised-line").inner_text())
    assert "$209.37" in page.locator("#raised-line").inner_text()
    assert page.locator("progress").get_attribute("value") == "209.37"
    assert page.locator("progress").get_attribute("max") == "8000.00"

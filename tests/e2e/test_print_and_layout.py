"""Printed pages fit one sheet; pictures never shift the layout as they arrive."""

import io

import pytest
from pypdf import PdfReader

from tests.e2e.helpers import DESKTOP_WIDTH, PHONE_WIDTH

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Collects the layout shifts of the page, as Chrome's web-vitals do, until read.
CLS_OBSERVER = """
window.__cls = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (!entry.hadRecentInput) { window.__cls += entry.value; }
  }
}).observe({type: "layout-shift", buffered: true});
"""


@pytest.mark.parametrize("paper", ["A4", "Letter"])
@pytest.mark.parametrize("printed", ["flyer", "tally"])
def test_the_flyer_and_the_tally_sheet_print_on_exactly_one_page(open_page, site, printed, paper):
    page = open_page()
    page.goto(f"{site.campaign_url}{printed}/")
    page.emulate_media(media="print")

    pdf = page.pdf(format=paper, print_background=True, prefer_css_page_size=True)

    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1


@pytest.mark.parametrize("width", [PHONE_WIDTH, DESKTOP_WIDTH])
def test_the_campaign_page_does_not_shift_as_it_loads(open_page, site, width):
    page = open_page(width=width)
    page.add_init_script(CLS_OBSERVER)
    page.goto(site.campaign_url)
    page.wait_for_load_state("networkidle")
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_timeout(300)

    assert page.evaluate("window.__cls") < 0.05


def test_the_admin_campaign_page_fits_1280_pixels(open_page, site):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("root", "root@example.org", "a-long-test-password")
    page = open_page(width=1280)
    page.goto("/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "a-long-test-password")
    page.locator("input[type=submit]").click()
    page.goto(f"/admin/campaigns/campaign/{site.campaign.pk}/change/")

    assert page.locator("h1").inner_text() == "Change campaign"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280

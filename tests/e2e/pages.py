"""Every public, donor and volunteer page, and how a person reaches each one in the browser.

Each entry opens its page in the state to check: the error variants submit a form with
mistakes, the demo checkout and thank-you pages are reached by giving.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.e2e.helpers import Site, sign_in

DONOR_NAME = "Rosa Test-Giver"


def give(page, site: Site, *, amount: str = "25", name: str = DONOR_NAME) -> None:
    """Fill the donate form with a typed amount and send it (to the demo checkout)."""
    page.goto(site.donate_url)
    page.fill("#id_amount_other", amount)
    page.fill("#id_name", name)
    page.fill("#id_email", "rosa@example.org")
    page.locator("form.donate-form button[type=submit]").click()
    page.wait_for_url("**/donations/demo-checkout/**")


def _donate_with_errors(page, site: Site) -> None:
    page.goto(site.donate_url)
    page.locator("form.donate-form button[type=submit]").click()
    page.wait_for_selector(".error-summary")


def _thanks(page, site: Site) -> None:
    give(page, site)
    page.locator("button[value=pay]").click()
    page.wait_for_url("**/donations/thanks/**")


def _signed_in(path: Callable[[Site], str]) -> Callable:
    def visit(page, site: Site) -> None:
        sign_in(page, site.volunteer)
        page.goto(path(site))

    return visit


def _cash_with_errors(page, site: Site) -> None:
    sign_in(page, site.volunteer)
    page.goto(site.cash_url)
    page.fill("#id_amount", "0")
    page.fill("#id_received_on", "")
    page.locator("form.cash-form button[type=submit]").click()
    page.wait_for_selector(".error-summary")


PAGES: dict[str, Callable] = {
    "index": lambda page, site: page.goto(site.home_url),
    "campaign": lambda page, site: page.goto(site.campaign_url),
    "member": lambda page, site: page.goto(site.member_url),
    "givers": lambda page, site: page.goto(site.givers_url),
    "donate": lambda page, site: page.goto(site.donate_url),
    "donate-errors": _donate_with_errors,
    "demo-checkout": give,
    "thanks": _thanks,
    "sign-in": lambda page, site: page.goto("/accounts/login/"),
    "password-reset": lambda page, site: page.goto("/accounts/password_reset/"),
    "volunteer-home": _signed_in(lambda site: "/volunteer/"),
    "cash": _signed_in(lambda site: site.cash_url),
    "cash-errors": _cash_with_errors,
    "batch": _signed_in(lambda site: site.batch_url),
    "tally": lambda page, site: page.goto(site.tally_url),
    "updates": lambda page, site: page.goto(f"{site.campaign_url}updates/"),
    "flyer": lambda page, site: page.goto(f"{site.campaign_url}flyer/"),
    "not-found": lambda page, site: page.goto(f"{site.prefix}/c/no-such-campaign/"),
}

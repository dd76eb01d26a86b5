"""What the browser tests share: the site they visit, its sizes and languages, signing in."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

LANGUAGES = ("en", "es")
PHONE_WIDTH = 390
DESKTOP_WIDTH = 1280

# Screenshots for people to look at; the folder is ignored by git.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"

VOLUNTEER_PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Site:
    """What the browser tests visit: a live campaign with a team, givers and a volunteer.

    The public pages and the donate flow are at their paths in `language` (Spanish under
    /es/); the volunteer's pages have one path and follow the language cookie."""

    campaign: object
    member: object
    volunteer: str
    language: str = "en"

    def in_language(self, language: str) -> Site:
        return replace(self, language=language)

    @property
    def prefix(self) -> str:
        return "" if self.language == "en" else f"/{self.language}"

    @property
    def home_url(self) -> str:
        return f"{self.prefix}/"

    @property
    def campaign_url(self) -> str:
        return f"{self.prefix}/c/{self.campaign.slug}/"

    @property
    def member_url(self) -> str:
        return f"{self.prefix}/c/{self.campaign.slug}/m/{self.member.slug}/"

    @property
    def givers_url(self) -> str:
        return f"{self.prefix}/c/{self.campaign.slug}/givers/"

    @property
    def donate_url(self) -> str:
        return f"{self.prefix}/c/{self.campaign.slug}/donate/"

    @property
    def tally_url(self) -> str:
        return f"{self.prefix}/c/{self.campaign.slug}/tally/"

    @property
    def cash_url(self) -> str:
        return f"/volunteer/{self.campaign.slug}/cash/"

    @property
    def batch_url(self) -> str:
        return f"/volunteer/{self.campaign.slug}/cash/batch/"


def sign_in(page, username: str, password: str = VOLUNTEER_PASSWORD) -> None:
    """Sign in through the real login form (no shortcut a login throttle would refuse)."""
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.locator("form.auth-form button[type=submit]").click()
    page.wait_for_url("**/volunteer/")

"""Browser tests: Playwright driving Debian's Chromium against Django's live server."""

import os

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make to
# build their data are safe here because nothing else uses the connection concurrently.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Use the system Chromium: `playwright install` cannot download browsers here."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    }

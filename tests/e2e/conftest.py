"""Browser tests: Playwright driving Debian's Chromium against Django's live server."""

import importlib
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


@pytest.fixture(scope="module", autouse=True)
def _roles_restored_after_flush(django_db_blocker):
    """Put back the Organizers and Volunteers groups once this module's tests are done.

    Browser tests need transactional tests (the live server reads through its own
    connection), and each one ends with a flush that also empties the rows the roles data
    migration made; tests that run later still expect those groups.
    """
    yield
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    roles = importlib.import_module("donations.migrations.0002_roles")
    with django_db_blocker.unblock():
        state = MigrationExecutor(connection).loader.project_state()
        roles.create_roles(state.apps, None)

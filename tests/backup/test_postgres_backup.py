"""Backup and restore of PostgreSQL, as docs/operations.md tells an operator to do it:
pg_dump in the custom format, pg_restore into an empty database. The restored site must
show the same totals and giver list."""

import os
import re
import shutil
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from donations.selectors.givers import RECENT_GIVERS
from tests.factories import CampaignFactory, DonationFactory, OfflineDonationFactory

ROOT = Path(__file__).resolve().parent.parent.parent

RENDER = """
import django
django.setup()
from django.test import Client
print(Client().get("/c/backup/").content.decode())
"""


def facts(html: str) -> tuple:
    """What the campaign page says: raised, number of gifts, the givers' names in order."""
    raised = re.search(r'<data class="raised" value="([^"]+)"', html).group(1)
    donors = re.search(r'<data class="donor-count" value="([^"]+)"', html).group(1)
    names = re.findall(r'class="giver-name">([^<]+)<', html)
    return raised, donors, names


def pg(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=True)  # noqa: S603


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="backs up PostgreSQL with pg_dump; set DATABASE_URL to a PostgreSQL server",
)
@pytest.mark.skipif(
    not (shutil.which("pg_dump") and shutil.which("pg_restore") and shutil.which("psql")),
    reason="needs the PostgreSQL client tools (pg_dump, pg_restore, psql)",
)
# The dump is taken by another process, so the rows must be committed; serialized_rollback
# keeps the roles' groups that a data migration created for the tests after this one.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_dump_restored_into_a_scratch_database_shows_the_same_page(client, tmp_path):
    campaign = CampaignFactory(slug="backup", title="Backed up")
    for index in range(12):
        DonationFactory(campaign=campaign, giver_name=f"Giver {index:02d}", amount=Decimal("7.50"))
    OfflineDonationFactory(campaign=campaign, giver_name="Cash giver", amount=Decimal("20"))
    before = facts(client.get("/c/backup/").content.decode())

    database = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": database.get("PASSWORD") or ""}
    where = ["-h", database["HOST"] or "127.0.0.1", "-p", str(database["PORT"] or 5432)]
    where += ["-U", database["USER"] or "postgres"]
    dump = tmp_path / "solidaria.dump"
    scratch = f"{database['NAME']}_restore_{uuid.uuid4().hex[:6]}"
    pg(
        "pg_dump",
        *where,
        "--format=custom",
        "--no-owner",
        f"--file={dump}",
        database["NAME"],
        env=env,
    )
    pg("psql", *where, "-d", "postgres", "-qc", f'CREATE DATABASE "{scratch}"', env=env)
    try:
        pg(
            "pg_restore",
            *where,
            "--no-owner",
            "--exit-on-error",
            f"--dbname={scratch}",
            str(dump),
            env=env,
        )
        url = f"postgres://{where[5]}@{where[1]}:{where[3]}/{scratch}"
        restored = subprocess.run(  # noqa: S603  (our own settings, a fixed script)
            [sys.executable, "-c", RENDER],
            cwd=ROOT,
            env={
                "PATH": os.environ["PATH"],
                "PGPASSWORD": env["PGPASSWORD"],
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "DEBUG": "true",
                "ALLOWED_HOSTS": "testserver",
                "DATABASE_URL": url,
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    finally:
        pg("psql", *where, "-d", "postgres", "-qc", f'DROP DATABASE IF EXISTS "{scratch}"', env=env)

    after = facts(restored.stdout)
    assert before == after
    assert before[0] == "110.00" and before[1] == "13"
    # The campaign page lists the most recent givers; the cash gift is the newest.
    assert len(after[2]) == RECENT_GIVERS and after[2][0] == "Cash giver"

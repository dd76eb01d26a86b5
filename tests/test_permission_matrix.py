"""The permission matrix: every role against every URL of CONTRACTS.md and every admin page
and action, each cell checked by what happened (a status, a row written or not).

Roles (columns, in this order):
  A  anonymous
  V  volunteer assigned to the campaign ("here")
  v  volunteer assigned to another campaign only
  O  organizer assigned to the campaign
  o  organizer assigned to another campaign only
  S  superuser

Each row names what is tried and its expected outcome per role: Y allowed (it worked),
N refused (a redirect to sign in, 403, 404, a form error, or nothing changed). Every cell
runs in its own savepoint, rolled back afterwards, with a fresh sign-in and an empty cache.
"""

from __future__ import annotations

import datetime
import importlib
import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import transaction
from django.test import Client, TestCase
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from campaigns.models import Update
from config.ratelimit import reset_local_state
from donations.donor_links import donor_link_token
from donations.models import (
    Donation,
    MonthlyGift,
    OrganizerAssignment,
    Receipt,
    VolunteerAssignment,
)
from donations.services.access import organizer_assign
from donations.services.cash import volunteer_assign
from tests.factories import (
    CampaignFactory,
    DonationFactory,
    MonthlyGiftFactory,
    OfflineDonationFactory,
    PendingOnlineDonationFactory,
    TeamMemberFactory,
    UserFactory,
    months_of,
)

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "volunteer", "volunteer-elsewhere", "organizer", "organizer-elsewhere",
         "superuser")  # fmt: skip


ROLE_MIGRATIONS = (
    ("donations.migrations.0002_roles", "create_roles"),
    ("campaigns.migrations.0006_organizers_manage_updates", "grant"),
    ("donations.migrations.0016_organizers_see_monthly_gifts", "grant"),
)


class World:
    """Two campaigns and one person per role, with the objects the rows act on."""

    def __init__(self) -> None:
        # The roles exactly as the data migrations make them, even when a transactional test
        # run earlier flushed them and put back only part (tests/e2e restores 0002 alone).
        for module, function in ROLE_MIGRATIONS:
            getattr(importlib.import_module(module), function)(apps, None)
        self.here = CampaignFactory(slug="here", title="Here")
        TeamMemberFactory(campaign=self.here, slug="team")
        self.elsewhere = CampaignFactory(slug="elsewhere", title="Elsewhere")
        organizers = Group.objects.get(name="Organizers")
        self.users = {"anonymous": None}
        for role, campaign in (("volunteer", self.here), ("volunteer-elsewhere", self.elsewhere)):
            self.users[role] = UserFactory(username=role)
            volunteer_assign(by=None, user=self.users[role], campaign=campaign)
        for role, campaign in (("organizer", self.here), ("organizer-elsewhere", self.elsewhere)):
            user = UserFactory(username=role, is_staff=True)
            user.groups.add(organizers)
            organizer_assign(by=None, user=user, campaign=campaign)
            self.users[role] = user
        self.users["superuser"] = UserFactory(username="root", is_staff=True, is_superuser=True)
        # A draft is seen by its own organizers and superusers only.
        self.draft = CampaignFactory(slug="draft-here", title="Draft here", status="draft")
        organizer_assign(by=None, user=self.users["organizer"], campaign=self.draft)
        self.gift = DonationFactory(campaign=self.here, email="giver@example.org")
        token = donor_link_token(email="giver@example.org")
        self.donor_page = reverse("donations:manage", kwargs={"token": token})
        self.receipt = Receipt.objects.create(
            donation=self.gift, status=Receipt.Status.FAILED, attempts=6, last_error="refused"
        )
        self.cash = OfflineDonationFactory(campaign=self.here, entered_by=self.users["volunteer"])
        self.pending = PendingOnlineDonationFactory(
            campaign=self.here, stripe_checkout_session_id="demo_matrix", email="giver@example.org"
        )
        self.update = Update.objects.create(campaign=self.here, title="News", body=".")
        self.monthly = MonthlyGiftFactory(
            campaign=self.here, email="giver@example.org", stripe_subscription_id="demo_sub_matrix"
        )
        months_of(self.monthly, 1)
        self.newcomer = UserFactory(username="newcomer", is_staff=True)

    def fresh(self, model_object):
        return type(model_object).objects.get(pk=model_object.pk)


Probe = Callable[[Client, World], bool]


def get(url: str, status: int = 200) -> Probe:
    """Allowed when GET answers `status` (a refusal redirects to sign in, or is 403/404)."""
    return lambda client, world: client.get(url.format(w=world)).status_code == status


def admin_get(url: str) -> Probe:
    """An admin page: allowed when it renders (refusals redirect or answer 403)."""
    return get(url)


def admin_action(action: str, target: str, check: Callable[[World], bool], **extra) -> Probe:
    def probe(client: Client, world: World) -> bool:
        obj = getattr(world, target)
        model = type(obj)._meta
        data = {"action": action, "_selected_action": [str(obj.pk)], "index": "0", **extra}
        response = client.post(f"/admin/{model.app_label}/{model.model_name}/", data)
        return response.status_code in (200, 302) and check(world)

    return probe


def post(url: str, data: Callable[[World], dict], check: Callable[[Client, World, object], bool]):
    def probe(client: Client, world: World) -> bool:
        response = client.post(url.format(w=world), data(world))
        return check(client, world, response)

    return probe


def cash_form(world: World) -> dict:
    return {
        "name": "Matrix giver",
        "amount": "12.00",
        "currency": "USD",
        "received_on": timezone.localdate().isoformat(),
        "team_member": "",
        "message": "",
        "note": "",
        "location": "",
        "form_token": str(uuid.uuid4()),
    }


def gift_form(world: World) -> dict:
    return {"amount": "25", "currency": "USD", "name": "Ana", "email": "ana@example.org"}


def thanks_shows_the_email(client: Client, world: World) -> bool:
    html = client.get("/donations/thanks/?session_id=demo_matrix").content.decode()
    return "g•••@e•••.org" in html or "giver@example.org" in html


def donor_page(world: World) -> str:
    """A donor's own page: reached through the signed link in their receipt, by anyone who
    holds it (the link is the permission; nothing of a role changes it)."""
    return world.donor_page


def stop_monthly(client: Client, world: World) -> bool:
    """The donor's link stops their monthly gift (a demo one: no Stripe to ask)."""
    client.post(world.donor_page, {"monthly": str(world.monthly.pk), "action": "stop"})
    return world.fresh(world.monthly).status == MonthlyGift.Status.CANCELED


def stop_monthly_with_another_link(client: Client, world: World) -> bool:
    other = reverse("donations:manage", kwargs={"token": donor_link_token(email="x@example.org")})
    client.post(other, {"monthly": str(world.monthly.pk), "action": "stop"})
    return world.fresh(world.monthly).status == MonthlyGift.Status.CANCELED


def complete_campaign(client: Client, world: World) -> bool:
    """The admin action: the campaign completed, its monthly gift ending (the worker's task,
    run here as the transaction commits)."""
    data = {"action": "complete_campaigns", "_selected_action": [str(world.here.pk)], "index": "0"}
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post("/admin/campaigns/campaign/", data)
    return (
        response.status_code in (200, 302)
        and world.fresh(world.here).status == "completed"
        and world.fresh(world.monthly).status == MonthlyGift.Status.ENDING
    )


def campaign_add(world: World) -> dict:
    today = timezone.localdate().isoformat()
    data = {
        "title": "Brand new",
        "slug": "brand-new",
        "status": "draft",
        "language": "en",
        "summary": "New.",
        "organizer_name": "Us",
        "goal_amount": "100",
        "currency": "USD",
        "launched_on": today,
        "sections-TOTAL_FORMS": "0",
        "sections-INITIAL_FORMS": "0",
        "team_members-TOTAL_FORMS": "0",
        "team_members-INITIAL_FORMS": "0",
    }
    for network in ("facebook", "x", "whatsapp", "telegram", "email"):
        data[f"{network}_share_baseline"] = "0"
    return data


def view_draft_on_site(client: Client, world: World) -> bool:
    """The admin's "View on site" link for the draft: it redirects to the draft's page."""
    content_type = ContentType.objects.get_for_model(world.draft)
    response = client.get(f"/admin/r/{content_type.pk}/{world.draft.pk}/")
    return response.status_code == 302 and response["Location"].endswith("/c/draft-here/")


CL = "/admin/{app}/{model}/"
ROWS: dict[str, tuple[str, str, Probe]] = {
    # row: (URL name it covers, expected A V v O o S, probe)
    "GET /": ("campaigns:index", "YYYYYY", get("/")),
    "GET campaign page": ("campaigns:detail", "YYYYYY", get("/c/here/")),
    "GET a draft campaign page": ("campaigns:detail", "NNNYNY", get("/c/draft-here/")),
    "GET a draft's updates": ("campaigns:updates", "NNNYNY", get("/c/draft-here/updates/")),
    "GET older givers": ("campaigns:givers", "YYYYYY", get("/c/here/givers/")),
    "GET member view": ("campaigns:member", "YYYYYY", get("/c/here/m/team/")),
    "GET flyer": ("campaigns:flyer", "YYYYYY", get("/c/here/flyer/")),
    "GET member flyer": ("campaigns:member-flyer", "YYYYYY", get("/c/here/m/team/flyer/")),
    "GET updates": ("campaigns:updates", "YYYYYY", get("/c/here/updates/")),
    "GET tally sheet": ("campaigns:tally", "YYYYYY", get("/c/here/tally/")),
    "GET share link": ("campaigns:share", "YYYYYY", get("/c/here/share/whatsapp/", 302)),
    "GET share picture": ("campaigns:share-picture", "YYYYYY", get("/c/here/share-picture.png")),
    "GET robots.txt": ("robots-txt", "YYYYYY", get("/robots.txt")),
    "GET manage-my-gifts form": ("donations:manage-request", "YYYYYY", get("/donations/manage/")),
    "GET a donor's page by their link": (
        "donations:manage",
        "YYYYYY",
        lambda client, world: "Your gifts" in client.get(donor_page(world)).content.decode(),
    ),
    "GET a donor's page without a link": (
        "donations:manage",
        "NNNNNN",
        lambda client, world: client.get("/donations/manage/forged:link:x/").status_code == 200,
    ),
    "GET a donor's yearly statement": (
        "donations:manage-statement",
        "YYYYYY",
        get(f"{{w.donor_page}}statement/{datetime.date.today().year}/"),
    ),
    "POST stop a monthly gift by its donor's link": ("donations:manage", "YYYYYY", stop_monthly),
    "POST stop a monthly gift by another's link": (
        "donations:manage",
        "NNNNNN",
        stop_monthly_with_another_link,
    ),
    "GET donate form": ("donations:donate", "YYYYYY", get("/c/here/donate/")),
    "GET a draft's donate form": ("donations:donate", "NNNYNY", get("/c/draft-here/donate/")),
    "POST donate (starts checkout)": (
        "donations:donate",
        "YYYYYY",
        post("/c/here/donate/", gift_form, lambda c, w, r: r.status_code == 303),
    ),
    "GET thank-you page": (
        "donations:thanks",
        "YYYYYY",
        get("/donations/thanks/?session_id=demo_matrix"),
    ),
    "thank-you page shows another's email": ("donations:thanks", "NNNNNN", thanks_shows_the_email),
    "GET demo checkout": (
        "donations:demo-checkout",
        "YYYYYY",
        get("/donations/demo-checkout/{w.pending.pk}/"),
    ),
    "POST unsigned webhook accepted": (
        "donations:stripe-webhook",
        "NNNNNN",
        post("/stripe/webhook/", lambda w: {}, lambda c, w, r: r.status_code == 200),
    ),
    "GET volunteer home": ("donations:volunteer-home", "NYYYYY", get("/volunteer/")),
    "GET cash form": ("donations:cash-new", "NYNNNY", get("/volunteer/here/cash/")),
    "POST cash entry": (
        "donations:cash-new",
        "NYNNNY",
        post(
            "/volunteer/here/cash/",
            cash_form,
            lambda c, w, r: Donation.objects.filter(giver_name="Matrix giver").exists(),
        ),
    ),
    "GET tally entry": ("donations:cash-batch", "NYNNNY", get("/volunteer/here/cash/batch/")),
    "POST void own cash entry": (
        "donations:cash-void",
        "NYNNNN",
        post(
            "/volunteer/entries/{w.cash.pk}/void/",
            lambda w: {"reason": "typo"},
            lambda c, w, r: w.fresh(w.cash).status == Donation.Status.VOIDED,
        ),
    ),
    "GET report": ("donations:report", "NNNYNY", get("/organize/here/report/")),
    "GET CSV export": ("donations:export-csv", "NNNYNY", get("/organize/here/export.csv")),
    "GET sign-in": ("login", "YYYYYY", get("/accounts/login/")),
    "POST sign-out": (
        "logout",
        "YYYYYY",
        post(
            "/accounts/logout/",
            lambda w: {},
            lambda c, w, r: r.status_code == 302 and c.get("/volunteer/").status_code == 302,
        ),
    ),
    "GET password reset": ("password_reset", "YYYYYY", get("/accounts/password_reset/")),
    "GET password reset sent": (
        "password_reset_done",
        "YYYYYY",
        get("/accounts/password_reset/done/"),
    ),
    "GET password reset link": (
        "password_reset_confirm",
        "YYYYYY",
        get("/accounts/reset/MQ/bad-token/"),
    ),
    "GET password reset done": ("password_reset_complete", "YYYYYY", get("/accounts/reset/done/")),
    "GET password change": ("password_change", "NYYYYY", get("/accounts/password_change/")),
    "GET password changed": (
        "password_change_done",
        "NYYYYY",
        get("/accounts/password_change/done/"),
    ),
    "GET two-factor page": ("two-factor", "NYYYYY", get("/accounts/two-factor/")),
    "GET language switch": ("set-language", "YYYYYY", get("/lang/es/?next=/", 302)),
    "GET health check": ("healthz", "YYYYYY", get("/healthz")),
    # The admin: pages
    "admin index": ("admin", "NNNYYY", admin_get("/admin/")),
    "admin payment health": ("admin", "NNNYYY", admin_get("/admin/donations/stripeevent/health/")),
    "admin campaigns": ("admin", "NNNYYY", admin_get("/admin/campaigns/campaign/")),
    "admin campaign here": (
        "admin",
        "NNNYNY",
        admin_get("/admin/campaigns/campaign/{w.here.pk}/change/"),
    ),
    "admin add campaign": (
        "admin",
        "NNNYYY",
        post(
            "/admin/campaigns/campaign/add/",
            campaign_add,
            lambda c, w, r: (
                r.status_code == 302
                and c.get("/admin/campaigns/campaign/").status_code == 200
                and "Brand new" in c.get("/admin/campaigns/campaign/").content.decode()
            ),
        ),
    ),
    "admin view on site of a draft": ("admin", "NNNYNY", view_draft_on_site),
    "admin story sections": ("admin", "NNNYYY", admin_get("/admin/campaigns/storysection/")),
    "admin team members": ("admin", "NNNYYY", admin_get("/admin/campaigns/teammember/")),
    "admin updates": ("admin", "NNNYYY", admin_get("/admin/campaigns/update/")),
    "admin update here": (
        "admin",
        "NNNYNY",
        admin_get("/admin/campaigns/update/{w.update.pk}/change/"),
    ),
    "admin donations": ("admin", "NNNYYY", admin_get("/admin/donations/donation/")),
    "admin donation here": (
        "admin",
        "NNNYNY",
        admin_get("/admin/donations/donation/{w.gift.pk}/change/"),
    ),
    "admin delete donation": (
        "admin",
        "NNNNNY",
        post(
            "/admin/donations/donation/{w.cash.pk}/delete/",
            lambda w: {"post": "yes"},
            lambda c, w, r: not Donation.objects.filter(pk=w.cash.pk).exists(),
        ),
    ),
    "admin monthly gifts": ("admin", "NNNYYY", admin_get("/admin/donations/monthlygift/")),
    "admin monthly gift here": (
        "admin",
        "NNNYNY",
        admin_get("/admin/donations/monthlygift/{w.monthly.pk}/change/"),
    ),
    "admin receipts": ("admin", "NNNYYY", admin_get("/admin/donations/receipt/")),
    "admin donation changes": ("admin", "NNNYYY", admin_get("/admin/donations/donationchange/")),
    "admin export log": ("admin", "NNNYYY", admin_get("/admin/donations/exportlog/")),
    "admin Stripe events": ("admin", "NNNYYY", admin_get("/admin/donations/stripeevent/")),
    "admin exchange rates": ("admin", "NNNYYY", admin_get("/admin/donations/exchangerate/")),
    "admin volunteer assignments": (
        "admin",
        "NNNYYY",
        admin_get("/admin/donations/volunteerassignment/"),
    ),
    "admin assign a volunteer here": (
        "admin",
        "NNNYNY",
        post(
            "/admin/donations/volunteerassignment/add/",
            lambda w: {"user": w.newcomer.pk, "campaign": w.here.pk},
            lambda c, w, r: VolunteerAssignment.objects.filter(user=w.newcomer).exists(),
        ),
    ),
    "admin organizer assignments": (
        "admin",
        "NNNNNY",
        admin_get("/admin/donations/organizerassignment/"),
    ),
    "admin assign an organizer": (
        "admin",
        "NNNNNY",
        post(
            "/admin/donations/organizerassignment/add/",
            lambda w: {"user": w.newcomer.pk, "campaign": w.here.pk},
            lambda c, w, r: OrganizerAssignment.objects.filter(user=w.newcomer).exists(),
        ),
    ),
    "admin user accounts": ("admin", "NNNNNY", admin_get("/admin/auth/user/")),
    "admin sign-in attempts": ("admin", "NNNNNY", admin_get("/admin/axes/accessattempt/")),
    "admin authenticator devices": ("admin", "NNNNNY", admin_get("/admin/otp_totp/totpdevice/")),
    # The admin: actions, on an object of the campaign "here"
    "action: mark cash deposited": (
        "admin",
        "NNNYNY",
        admin_action(
            "mark_deposited",
            "cash",
            lambda w: w.fresh(w.cash).deposited_on is not None,
            deposited_on="2026-01-05",
        ),
    ),
    "action: void cash entries": (
        "admin",
        "NNNYNY",
        admin_action(
            "void_entries",
            "cash",
            lambda w: w.fresh(w.cash).status == Donation.Status.VOIDED,
            reason="counted twice",
        ),
    ),
    "action: export the campaign": (
        "admin",
        "NNNYNY",
        lambda client, world: (
            client.post(
                "/admin/donations/donation/",
                {
                    "action": "export_campaign",
                    "_selected_action": [str(world.gift.pk)],
                    "index": "0",
                },
            ).get("Location", "")
            == "/organize/here/export.csv"
        ),
    ),
    "action: complete the campaign": ("admin", "NNNYNY", complete_campaign),
    "action: resend receipts": (
        "admin",
        "NNNYNY",
        admin_action("resend", "receipt", lambda w: w.fresh(w.receipt).status == "queued"),
    ),
    "action: delete selected donations": (
        "admin",
        "NNNNNY",
        admin_action(
            "delete_selected",
            "cash",
            lambda w: not Donation.objects.filter(pk=w.cash.pk).exists(),
            post="yes",
        ),
    ),
}


class _Rollback(Exception):
    def __init__(self, allowed: bool) -> None:
        self.allowed = allowed


def run_cell(world: World, role: str, probe: Probe) -> bool:
    """One cell, signed in afresh as `role`, in a savepoint rolled back afterwards."""
    cache.clear()
    reset_local_state()
    client = Client()
    try:
        with transaction.atomic():
            user = world.users[role]
            if user is not None:
                client.force_login(user)
            raise _Rollback(probe(client, world))
    except _Rollback as outcome:
        return outcome.allowed


@pytest.fixture
def world(demo_payments, rates_today, settings):
    settings.DONATION_MIN_USD = Decimal(1)
    return World()


@pytest.mark.parametrize("role", ROLES)
def test_every_cell_of_the_matrix(world, role):
    column = ROLES.index(role)
    wrong = {}
    for row, (_name, expected, probe) in ROWS.items():
        allowed = run_cell(world, role, probe)
        if allowed != (expected[column] == "Y"):
            wrong[row] = f"expected {expected[column]}, got {'Y' if allowed else 'N'}"
    assert wrong == {}, f"{role}: {wrong}"


def url_names(patterns, namespace: str = "") -> set[str]:
    names = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.app_name == "admin":
                continue
            inner = f"{pattern.namespace}:" if pattern.namespace else namespace
            names |= url_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(f"{namespace}{pattern.name}")
    return names


def test_the_matrix_covers_every_url_of_the_site():
    covered = {name for name, _expected, _probe in ROWS.values()}

    assert url_names(get_resolver().url_patterns) - covered == set()
    assert all(len(expected) == len(ROLES) for _name, expected, _probe in ROWS.values())

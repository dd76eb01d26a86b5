"""Imports point one way (docs/architecture.md). These tests fail when one points back.

views → forms, selectors, services → models → money.py and the gateway. A selector never
imports a service; a page (campaigns/views.py) imports no service; config/ imports no
donations internals; campaigns' models know nothing of donations; only the gateway imports
stripe.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (including imports inside functions)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def python_files(*parts: str) -> list[Path]:
    base = ROOT.joinpath(*parts)
    files = [base] if base.suffix == ".py" else sorted(base.rglob("*.py"))
    return [path for path in files if "migrations" not in path.parts]


def offenders(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{path.name} imports {module}"
        for path in files
        for module in imported_modules(path)
        if (module == "stripe" and "stripe" in forbidden)
        or any(module.startswith(prefix) for prefix in forbidden if prefix != "stripe")
    )


RULES = {
    "selectors import no service, view or form": (
        ("donations", "selectors"),
        ("donations.services", "donations.views", "donations.forms"),
    ),
    "services import no view or form": (
        ("donations", "services"),
        ("donations.views", "donations.forms"),
    ),
    "forms import no view": (("donations", "forms"), ("donations.views",)),
    "models import no higher layer": (
        ("donations", "models.py"),
        ("donations.services", "donations.selectors", "donations.views", "donations.forms"),
    ),
    "permissions import no higher layer": (
        ("donations", "permissions.py"),
        ("donations.services", "donations.selectors", "donations.views", "donations.forms"),
    ),
    "the gateway imports nothing of ours": (("donations", "stripe_gateway.py"), ("donations",)),
    "the campaign pages import no donations service": (
        ("campaigns", "views.py"),
        ("donations.services",),
    ),
    "config imports no donations internals": (("config",), ("donations",)),
    "campaign content knows nothing of donations": (("campaigns", "models.py"), ("donations",)),
    "money.py imports no app": (("money.py",), ("donations", "campaigns", "config")),
    "only the gateway imports stripe": (("donations",), ("stripe",)),
}


@pytest.mark.parametrize("rule", list(RULES))
def test_imports_point_one_way(rule):
    parts, forbidden = RULES[rule]
    files = python_files(*parts)
    if rule == "only the gateway imports stripe":
        files = [path for path in files if path.name != "stripe_gateway.py"]
    assert files, f"no files found for {parts}"
    assert offenders(files, forbidden) == []


def test_the_checker_sees_a_backwards_import(tmp_path):
    """The rules above would catch a selector that imports a service (they can fail)."""
    selector = tmp_path / "selector.py"
    selector.write_text("def f():\n    from donations.services.cash import donation_void\n")
    assert offenders([selector], ("donations.services",)) != []


def test_each_layer_of_donations_uses_the_service_sub_domain_names():
    """views/, forms/ and selectors/ hold no module whose name is not a services sub-domain."""
    services = {path.stem for path in python_files("donations", "services")}
    extra_names = {"givers"}  # the giver list and totals: reads with no service of their own
    for layer in ("views", "forms", "selectors"):
        names = {path.stem for path in python_files("donations", layer)} - {"__init__"}
        assert names - services - extra_names == set(), layer


# Who may do what is decided in donations/permissions.py alone; config/twofactor.py is the one
# exception (config imports no app, and it asks whether two-factor is required of superusers).
PERMISSION_WORDS = {"is_superuser", "is_staff", "has_perm"}
PERMISSIONS_MODULES = {
    ROOT / "donations" / "permissions.py",
    ROOT / "config" / "twofactor.py",
}


def permission_checks(path: Path) -> list[str]:
    """Each `x.is_superuser`, `x.is_staff`, `x.has_perm(...)` and `filter(is_staff=...)`
    (or `user__is_staff=...`) in a file, with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Attribute) and node.attr in PERMISSION_WORDS:
            found.append(f"{path.name}:{node.lineno} .{node.attr}")
        elif (
            isinstance(node, ast.keyword)
            and node.arg
            and PERMISSION_WORDS & set(node.arg.split("__"))
        ):
            found.append(f"{path.name}:{node.value.lineno} {node.arg}=")
    return found


def test_permission_decisions_live_in_donations_permissions_only():
    files = [
        path
        for part in ("campaigns", "donations", "config", "money.py")
        for path in python_files(part)
        if path not in PERMISSIONS_MODULES
    ]
    assert [check for path in files for check in permission_checks(path)] == []


def test_the_permission_checker_sees_a_check(tmp_path):
    view = tmp_path / "view.py"
    view.write_text(
        "def f(request, User):\n"
        "    if request.user.is_superuser or request.user.has_perm('x'):\n"
        "        return User.objects.filter(user__is_staff=True)\n"
    )
    assert permission_checks(view) == [
        "view.py:2 .is_superuser",
        "view.py:2 .has_perm",
        "view.py:3 user__is_staff=",
    ]


# A campaign's history (CampaignChange) has one writer: campaigns.services.campaign_change_record.
HISTORY_WRITES = {"create", "bulk_create", "get_or_create", "update_or_create"}


def _writes_campaign_history(call: ast.Call) -> bool:
    called = ast.unparse(call.func)
    if called == "CampaignChange":
        return True
    return (
        isinstance(call.func, ast.Attribute)
        and call.func.attr in HISTORY_WRITES
        and ast.unparse(call.func.value).endswith(("CampaignChange.objects", ".changes"))
    )


def campaign_history_writers(path: Path) -> list[str]:
    """Where a file writes CampaignChange rows (`CampaignChange(...)`, a write through
    `CampaignChange.objects` or a campaign's `.changes`): its path and function, once each."""
    found = []
    for function in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        calls = (node for node in ast.walk(function) if isinstance(node, ast.Call))
        if any(_writes_campaign_history(call) for call in calls):
            found.append(f"{path.parent.name}/{path.name} {function.name}")
    return found


def test_a_campaigns_history_has_one_writer():
    files = [path for part in ("campaigns", "donations", "config") for path in python_files(part)]
    writers = [writer for path in files for writer in campaign_history_writers(path)]
    assert writers == ["campaigns/services.py campaign_change_record"]


def test_the_history_checker_sees_a_write(tmp_path):
    service = tmp_path / "service.py"
    service.write_text(
        "def complete(campaign, CampaignChange):\n"
        "    CampaignChange.objects.create(campaign=campaign)\n"
        "def reopen(campaign):\n"
        "    campaign.changes.create(action='reopen')\n"
        "def read(campaign):\n"
        "    return campaign.changes.all()\n"
    )
    assert [w.split(" ")[1] for w in campaign_history_writers(service)] == ["complete", "reopen"]


# The gate (docs/architecture.md): only services/history.py writes a gift's or monthly
# gift's history, and only it (through services/totals.py, its arithmetic) moves the tallies.
GATE = ROOT / "donations" / "services" / "history.py"
TALLY_ARITHMETIC = ROOT / "donations" / "services" / "totals.py"
HISTORY_MODELS = {"DonationChange", "MonthlyGiftChange"}
TALLY_MOVES = {"totals_apply", "totals_add", "monthly_totals_apply"}
WRITES = {"create", "bulk_create", "update", "get_or_create", "update_or_create", "save",
          "delete", "bulk_update"}  # fmt: skip


def gate_bypasses(path: Path) -> list[str]:
    """Writes of history rows, and tally moves, in a file other than the gate."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            chain = []
            target = node.func
            while isinstance(target, (ast.Attribute, ast.Call)):
                if isinstance(target, ast.Call):
                    target = target.func
                    continue
                chain.append(target.attr)
                target = target.value
            if isinstance(target, ast.Name):
                chain.append(target.id)
            names = set(chain)
            if names & HISTORY_MODELS and chain and chain[0] in WRITES:
                found.append(f"{path.name}:{node.lineno} writes {'.'.join(reversed(chain))}")
            if "GiftTally" in names and chain and chain[0] in WRITES:
                found.append(f"{path.name}:{node.lineno} moves GiftTally")
            if chain and chain[0] in TALLY_MOVES:
                found.append(f"{path.name}:{node.lineno} calls {chain[0]}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in HISTORY_MODELS
        ):
            found.append(f"{path.name}:{node.lineno} builds a {node.func.id} row")
    return found


def test_only_the_gate_writes_gift_history_and_moves_tallies():
    files = [
        path
        for path in python_files("donations") + python_files("campaigns")
        if path not in (GATE, TALLY_ARITHMETIC)
    ]

    assert [finding for path in files for finding in gate_bypasses(path)] == []


def test_the_gate_checker_sees_a_bypass(tmp_path):
    bypass = tmp_path / "bypass.py"
    bypass.write_text(
        "DonationChange.objects.create(donation=d)\n"
        "GiftTally.objects.filter(pk=1).update(raised=0)\n"
        "totals_add({})\n"
        "rows = [MonthlyGiftChange(monthly_gift=g)]\n"
    )

    assert len(gate_bypasses(bypass)) == 4

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

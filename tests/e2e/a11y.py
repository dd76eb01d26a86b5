"""axe-core in the browser tests: the copy bundled by axe-playwright-python, run offline.

The site's CSP allows no inline script, so axe is not added as a <script> tag: Playwright
evaluates its text in the page (through the DevTools protocol, which the CSP does not
govern), then `axe.run` checks the page as it stands.
"""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe

# WCAG 2.0, 2.1 and 2.2 at levels A and AA, plus Deque's best practices.
AXE_TAGS = [
    "wcag2a",
    "wcag2aa",
    "wcag21a",
    "wcag21aa",
    "wcag22a",
    "wcag22aa",
    "best-practice",
]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}

_axe = Axe()


def axe_violations(page) -> list[str]:
    """One line per violated rule: its id, impact, help text and the elements that fail it."""
    results = _axe.run(page, options=AXE_OPTIONS)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} -> "
        + "; ".join(" ".join(node["target"]) for node in violation["nodes"])
        for violation in results.response["violations"]
    ]

"""Lighthouse scores of the home, campaign and donate pages, in English and Spanish.

Usage (from the project root):

    .venv/bin/python bench/lighthouse.py [--port 18380] [--min-score 0.95]

It installs lighthouse@12.2.3 into bench/node_modules with npm if it is missing, builds a
scratch site in a temporary folder (SQLite database and file cache; `migrate`,
`collectstatic`, `seed_demo`), serves it with gunicorn on 127.0.0.1 with DEBUG off and demo
payments, and runs Lighthouse against Debian's Chromium (CHROME_PATH=/usr/bin/chromium) with
the mobile form factor and its default simulated throttling. The language is chosen by the
language cookie, sent as an extra header. It prints accessibility, best-practices, SEO and
performance for each page, lists the audits that lost points, and exits 1 when any score is
below --min-score. The JSON reports go to test-output/lighthouse/. The server is stopped at
the end, whatever happens.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
LIGHTHOUSE_VERSION = "12.2.3"
LIGHTHOUSE = BENCH / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = "/usr/bin/chromium"
CHROME_FLAGS = "--headless --no-sandbox --disable-gpu --disable-background-networking"
REPORTS = ROOT / "test-output" / "lighthouse"
CATEGORIES = ("accessibility", "best-practices", "seo", "performance")
LANGUAGE_COOKIE = "solidaria_language"  # settings.LANGUAGE_COOKIE_NAME
LIVE_CAMPAIGN = "/c/winter-coats-for-new-neighbors/"  # campaigns/demo.py LIVE_SLUG
PAGES = {
    "home": "/",
    "campaign": LIVE_CAMPAIGN,
    "donate": f"{LIVE_CAMPAIGN}donate/",
}
LANGUAGES = ("en", "es")


def lighthouse_ensure() -> Path:
    """Install the pinned Lighthouse into bench/node_modules unless it is there already."""
    if not LIGHTHOUSE.exists():
        print(f"Installing lighthouse@{LIGHTHOUSE_VERSION} into {BENCH / 'node_modules'}")
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("npm is missing (Debian: apt-get install npm)")
        subprocess.run(  # noqa: S603  (npm with fixed arguments)
            [
                npm,
                "install",
                "--prefix",
                str(BENCH),
                "--no-save",
                "--no-audit",
                "--no-fund",
                f"lighthouse@{LIGHTHOUSE_VERSION}",
            ],
            check=True,
        )
    return LIGHTHOUSE


def site_environment(scratch: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PAYMENTS_DEMO": "true",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "DATABASE_URL": f"sqlite:///{scratch / 'db.sqlite3'}",
        # A file cache is shared by gunicorn's workers, as the production checks demand.
        "CACHE_URL": f"filecache://{scratch / 'cache'}",
        "LOG_LEVEL": "WARNING",
        "MEDIA_ROOT": str(scratch / "media"),
        "STATIC_ROOT": str(scratch / "static"),
        "ROOT_URLCONF": "bench.urls",  # serves the uploaded pictures, as a proxy would
    }


def manage(env: dict[str, str], *args: str) -> None:
    command = [sys.executable, "manage.py", *args]
    subprocess.run(command, cwd=ROOT, env=env, check=True)  # noqa: S603  (our own manage.py)


def wait_until_up(base_url: str, server: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.3)
    raise SystemExit(f"{base_url} did not answer within {timeout:.0f} s")


def run_lighthouse(lighthouse: Path, url: str, language: str, report: Path) -> dict:
    """One Lighthouse run; tried up to three times, as its trace recording sometimes fails
    (NO_NAVSTART) on a busy machine."""
    command = [
        str(lighthouse),
        url,
        "--quiet",
        "--output=json",
        f"--output-path={report}",
        f"--only-categories={','.join(CATEGORIES)}",
        "--form-factor=mobile",
        f"--chrome-flags={CHROME_FLAGS}",
        f"--extra-headers={json.dumps({'Cookie': f'{LANGUAGE_COOKIE}={language}'})}",
    ]
    for attempt in range(1, 4):
        finished = subprocess.run(  # noqa: S603  (the pinned Lighthouse on our own server)
            command, env={**os.environ, "CHROME_PATH": CHROMIUM}, check=False
        )
        if finished.returncode == 0:
            return json.loads(report.read_text())
        print(f"Lighthouse failed on {url} ({language}), attempt {attempt} of 3")
    raise SystemExit(f"Lighthouse failed three times on {url} ({language})")


def lost_points(result: dict, category: str) -> list[str]:
    """The audits of a category that scored below 1, with their weight."""
    audits = result["audits"]
    lines = []
    for ref in result["categories"][category]["auditRefs"]:
        audit = audits[ref["id"]]
        if ref["weight"] and audit["score"] is not None and audit["score"] < 1:
            value = f" ({audit['displayValue']})" if audit.get("displayValue") else ""
            lines.append(f"{audit['id']}: {audit['score']:.2f}{value}, weight {ref['weight']}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=18380)
    parser.add_argument("--min-score", type=float, default=0.95)
    options = parser.parse_args()

    if not Path(CHROMIUM).exists():
        raise SystemExit(f"Chromium is missing at {CHROMIUM} (Debian: apt-get install chromium)")
    lighthouse = lighthouse_ensure()
    REPORTS.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="solidaria-lighthouse-"))
    base_url = f"http://127.0.0.1:{options.port}"
    env = site_environment(scratch, options.port)
    server = None
    try:
        manage(env, "migrate", "--noinput", "--verbosity=0")
        manage(env, "collectstatic", "--noinput", "--verbosity=0")
        manage(env, "seed_demo")
        server = subprocess.Popen(  # noqa: S603  (gunicorn serving this project)
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                f"--bind=127.0.0.1:{options.port}",
                "--workers=2",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,  # its own process group, stopped as one below
        )
        wait_until_up(base_url, server)

        rows = []
        for name, path in PAGES.items():
            for language in LANGUAGES:
                report = REPORTS / f"{name}-{language}.json"
                result = run_lighthouse(lighthouse, base_url + path, language, report)
                scores = {c: result["categories"][c]["score"] for c in CATEGORIES}
                rows.append((name, language, scores, result))
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        shutil.rmtree(scratch, ignore_errors=True)

    print()
    print(f"{'page':<10}{'lang':<6}" + "".join(f"{c:>16}" for c in CATEGORIES))
    failed = False
    for name, language, scores, _result in rows:
        cells = []
        for category in CATEGORIES:
            score = scores[category]
            low = score is None or score < options.min_score
            failed = failed or low
            cells.append(f"{'n/a' if score is None else f'{score:.2f}'}{' <' if low else '  '}")
        print(f"{name:<10}{language:<6}" + "".join(f"{cell:>16}" for cell in cells))
    print()
    for name, language, _scores, result in rows:
        for category in CATEGORIES:
            for line in lost_points(result, category):
                print(f"{name} {language} {category}: {line}")
    print(f"\nReports: {REPORTS}")
    if failed:
        print(f"Some score is below {options.min_score}.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

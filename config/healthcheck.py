"""Container health check: GET /healthz on the local server, with the public Host header.

Run as `python -m config.healthcheck`; exits 0 when the app answers 200. Used by the
Dockerfile's HEALTHCHECK, because slim images have no curl.
"""

import os
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit


def main() -> int:
    host = urlsplit(os.environ.get("SITE_URL", "http://localhost")).netloc or "localhost"
    request = urllib.request.Request("http://127.0.0.1:8000/healthz", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError):
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""gunicorn's settings, from the environment (the Dockerfile runs `gunicorn -c gunicorn.conf.py`).

FORWARDED_ALLOW_IPS lists the proxies whose X-Forwarded-Proto gunicorn believes (making a
request HTTPS for Django); the default trusts only a proxy on this machine. Django reads the
same variable (config/settings.py) before it believes X-Forwarded-For, together with
TRUSTED_PROXY_COUNT. Never "*": any client could then claim HTTPS.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
# Threads per worker: a webhook waits on Stripe (re-reading the session) for 100-300 ms, and
# threads let the others work meanwhile (docs/performance.md). Each thread holds its own
# database connection: workers x threads must fit PostgreSQL's max_connections (README).
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread" if threads > 1 else "sync"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = "-"
errorlog = "-"
# A worker silent for this long is killed and replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "90"))
graceful_timeout = 30

# syntax=docker/dockerfile:1
# Multi-stage build: dependencies are built in one stage and copied into a slim runtime.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN python -m venv /venv
COPY pyproject.toml README.md ./
RUN /venv/bin/pip install --upgrade pip && /venv/bin/pip install .
COPY . .
# Static files and message catalogues are built here, never at start-up.
RUN DEBUG=false SECRET_KEY=build-only PAYMENTS_DEMO=true SITE_URL=https://build.invalid \
    /venv/bin/python manage.py collectstatic --noinput \
 && /venv/bin/pybabel compile --domain django --directory locale --use-fuzzy

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH="/venv/bin:$PATH"
RUN groupadd --system app && useradd --system --gid app --home /app app
WORKDIR /app
COPY --from=build /venv /venv
COPY --from=build --chown=app:app /app /app
RUN mkdir -p /app/media && chown app:app /app/media
USER app
EXPOSE 8000
# Forwarded headers are believed only from these proxy addresses (gunicorn.conf.py, and
# config/clients.py for X-Forwarded-For with TRUSTED_PROXY_COUNT). Set it to your proxy's
# address, e.g. `docker run -e FORWARDED_ALLOW_IPS=172.18.0.2 -e TRUSTED_PROXY_COUNT=1 ...`.
ENV FORWARDED_ALLOW_IPS="127.0.0.1,::1"
# slim images have no curl: the health check is a few lines of Python against /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-m", "config.healthcheck"]
CMD ["gunicorn", "--config", "gunicorn.conf.py", "config.wsgi:application"]

# Solidaria: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format messages messages-check check clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

.env:
	cp .env.example .env

messages: $(STAMP)
	$(BIN)/pybabel compile --domain django --directory locale --use-fuzzy --statistics

# The task worker runs beside the development server (Stripe events, receipts, emails), so a
# gift's receipt appears in this terminal (console email) a second or two after giving;
# Ctrl-C stops both.
RUN_ADDR ?= 127.0.0.1:8000
run: $(STAMP) .env messages
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py db_worker --no-reload --no-startup-delay & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/python manage.py runserver $(RUN_ADDR)

# The Spanish catalogue check re-extracts strings with GNU gettext, which running the site
# never needs, so `make test` runs it only where xgettext is installed.
test: $(STAMP) .env messages
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	@if command -v xgettext >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory messages-check; \
	else \
		echo "Spanish catalogue check skipped: GNU gettext (xgettext) is not installed."; \
	fi

messages-check: $(STAMP) .env
	$(BIN)/python manage.py messages_check

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Load benchmark: gunicorn against PostgreSQL and Redis, measured with wrk (docs/performance.md).
# BENCH_GIVERS=N sets the campaign's extra givers (default 100000); BENCH_QUICK=1 runs short.
bench: $(STAMP) messages
	$(BIN)/python bench/run.py

check: $(STAMP) .env
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles

# Two commands: `make demo` runs Kontor, `make test` runs the whole suite. Both set themselves up.
# `make serve` runs Kontor as in production.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo serve test lint bench bench-crm bench-hotpath bench-access bench-events bench-fleet bench-backups bench-billing bench-integrations bench-processes install lock clean chromium dovecot gettext translations messages

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -r requirements.lock
	@touch $(STAMP)

install: $(STAMP) translations

# The translation catalogues are compiled at build time (locale/*/LC_MESSAGES/*.mo are never committed).
MO_FILES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/*.po))

gettext:
	@command -v msgfmt >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = "0" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext; \
	  else echo "gettext is missing: run 'sudo apt-get install -y gettext'"; exit 1; fi; }

%.mo: %.po
	msgfmt --check-format --output-file=$@ $<

translations: gettext $(MO_FILES)

# After adding or changing texts: extract them into the catalogues, then translate the new entries (ru, fr).
messages: $(STAMP) gettext
	$(PY) manage.py makemessages -l ru -l fr --add-location file --ignore='.venv/*' --ignore='.data/*' --ignore='tests/*' --ignore='bench/*'

# Chromium for the browser tests comes from Debian, never from a browser download.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = "0" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "Chromium is missing: run 'sudo apt-get install -y chromium' (browser tests will be skipped)"; fi; }

# Dovecot for the mailbox tests (a real IMAP server, started by tests/fakes/dovecot.py) comes from Debian too.
dovecot:
	@test -x /usr/sbin/dovecot || { \
	  if [ "$$(id -u)" = "0" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd; \
	  else echo "Dovecot is missing: run 'sudo apt-get install -y dovecot-imapd' (mailbox tests will be skipped)"; fi; }

demo: install
	$(PY) -m platform_core.embedded demo

# Kontor as in production (see README "Running in production"): DATABASE_URL / REDIS_URL when set, no demo data.
serve: install
	$(PY) -m platform_core.embedded serve

test: install chromium dovecot
	$(PY) -m platform_core.embedded run -- $(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy platform_core tenants crm infra billing integrations bench
	$(VENV)/bin/lint-imports --no-logo

bench: $(STAMP)
	$(PY) -m platform_core.embedded run -- $(PY) bench/provisioning.py

bench-crm: $(STAMP)
	$(PY) -m platform_core.embedded run -- $(PY) bench/crm.py $(BENCH_ARGS)

bench-access: $(STAMP)
	$(PY) -m platform_core.embedded run -- $(PY) bench/access.py $(BENCH_ARGS)

bench-events: $(STAMP)
	$(PY) -m platform_core.embedded run -- $(PY) bench/events.py $(BENCH_ARGS)

# e.g. make bench-fleet BENCH_ARGS="--tenants 10000" (default 2,000 workspaces; see bench/fleet.py)
bench-fleet: $(STAMP)
	$(PY) -m platform_core.embedded run -- $(PY) bench/fleet.py $(BENCH_ARGS)

# The hot path through the production server beside a bare psycopg WSGI floor (see bench/hotpath.py),
# e.g. make bench-hotpath BENCH_ARGS="--scale 0.01" for a quick run, "--reuse" to keep the seeded data.
bench-hotpath: $(STAMP)
	$(PY) -m platform_core.embedded run -- $(PY) bench/hotpath.py $(BENCH_ARGS)

# Backup and restore of bench/crm.py's full-size workspace beside plain pg_dump / pg_restore (bench/backups.py).
bench-backups: $(STAMP)
	$(PY) -m platform_core.embedded run -- $(PY) bench/backups.py $(BENCH_ARGS)

# 1,000 seat changes over 100 workspaces against the fake Stripe (200 ms, 5% errors), exactly once (bench/billing.py).
bench-billing: $(STAMP)
	$(PY) -m platform_core.embedded run -- $(PY) bench/billing.py $(BENCH_ARGS)

# Website forms, telephony, the 1C exchange and webhook deliveries, each beside its baseline (bench/integrations.py).
bench-integrations: $(STAMP)
	$(PY) -m platform_core.embedded run -- $(PY) bench/integrations.py $(BENCH_ARGS)

# 10,000 instances' timers fired by a real worker beside Celery's eta, update throughput with 20 active
# definitions vs none, memory vs waiting instances (bench/processes.py); BENCH_ARGS="--quick" for a smoke test.
bench-processes: $(STAMP)
	$(PY) -m platform_core.embedded run -- $(PY) bench/processes.py $(BENCH_ARGS)

lock:
	$(PY) -m piptools compile --quiet --extra dev --strip-extras --output-file requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) .data

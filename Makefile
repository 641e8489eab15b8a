# `make run` serves the appliance on its embedded default (SQLite, no other service);
# `make test` installs what the tests need and runs them. Both work on a fresh machine.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed

# Debian packages the tests drive, as "command:package" pairs.
TEST_TOOLS := dig:dnsutils named:bind9 ngircd:ngircd chromium:chromium chromedriver:chromium-driver \
	dnsperf:dnsperf unbound:unbound redis-server:redis-server pg_ctlcluster:postgresql \
	taskset:util-linux dnssec-verify:bind9-utils delv:bind9-dnsutils
# Dynamic updates: nsupdate, and the ACME round trip (pebble, certbot and its RFC 2136 plugin,
# which has no command of its own and is checked by package below).
TEST_TOOLS += nsupdate:dnsutils pebble:pebble certbot:certbot
# Secondary zones and catalog zones are checked against Knot as well as BIND.
TEST_TOOLS += knotd:knot kdig:knot-dnsutils

.PHONY: run test lint format bench clean

run: $(STAMP)
	$(PY) -m appliance.env .env
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(PY) manage.py collectstatic --noinput --verbosity 0
	DEBUG=$${DEBUG:-1} $(PY) manage.py ensureadmin
	DEBUG=$${DEBUG:-1} $(PY) manage.py serve

# The suite runs twice: on the embedded default (SQLite, in-memory channel layer), then
# against real PostgreSQL and Redis servers started for the run (tests/services.py).
test: $(STAMP) test-tools
	$(PY) -m pytest $(PYTEST_ARGS)
	$(PY) tests/services.py -- $(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Debian splits venv out of python3: install it when the interpreter cannot make one.
$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || { \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		echo "Installing python3-venv"; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq python3-venv && \
		$(PYTHON) -m venv --clear $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

.PHONY: test-tools
test-tools:
	@missing=""; for pair in $(TEST_TOOLS); do \
		cmd=$${pair%%:*}; pkg=$${pair##*:}; \
		PATH="$$PATH:/usr/sbin:/sbin" command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	dpkg -s python3-certbot-dns-rfc2136 >/dev/null 2>&1 || missing="$$missing python3-certbot-dns-rfc2136"; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# Every benchmark, each printing its figures against its target; not part of `make test`
# (they take minutes and measure the machine as much as the code).
bench: $(STAMP) test-tools
	$(PY) bench/authoritative/run.py
	$(PY) bench/authoritative/build_zone.py
	$(PY) bench/cache/run.py
	$(PY) bench/workers/run.py
	$(PY) bench/workers/idle.py
	$(PY) bench/loading/run.py
	$(PY) bench/logs/run.py
	$(PY) bench/logwrite/run.py
	$(PY) bench/zonepage/run.py
	$(PY) bench/updates/run.py
	$(PY) bench/signing/run.py
	$(PY) bench/mix/run.py
	$(PY) bench/cache/misses.py
	$(PY) bench/storm/run.py
	$(PY) bench/rrl/run.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts

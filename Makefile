# Set-up and everyday commands. A fresh machine needs only Python 3.11, git and make.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# The venv is rebuilt from the lock file when the lock (or the project metadata) changes.
STAMP := $(VENV)/.installed

.PHONY: demo test lint format lock clean browser

demo: $(STAMP) .env
	$(PY) manage.py demo

test: $(STAMP) .env browser
	$(PY) -m pytest $(PYTEST_ARGS)

# The browser tests drive Debian's chromium through Playwright (no browser download): chromium is
# installed once from the system's package registry when missing (as root, or through sudo).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null || { \
		echo "Installing chromium (apt) for the browser tests"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	touch $(STAMP)

# Development settings: DEBUG on, everything else on its embedded default.
.env:
	cp .env.example .env

# Re-pin after editing pyproject.toml (needs network access to the package index). Existing pins
# stay unless pyproject.toml excludes them (pip-compile without --upgrade).
# requirements.lock: what development, the tests and the demo install (dev + sandbox extras).
# requirements-prod.lock: production's `dependencies` only, at the versions requirements.lock
# pins (constrained by it), so both install the same release of every shared package.
PIP_COMPILE = $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links
lock: $(STAMP)
	$(PIP_COMPILE) --extra dev --extra sandbox -o requirements.lock pyproject.toml
	$(PIP_COMPILE) -c requirements.lock -o requirements-prod.lock pyproject.toml

clean:
	rm -rf $(VENV) var/staticfiles .pytest_cache

# Crier: two commands on a fresh machine — `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Parallel test processes (pytest-xdist); 2 suits a 2-core machine.
TEST_WORKERS ?= 2

.PHONY: run test lint bench bench-quick install emulators worker web clean prod-smoke messages

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

.env:
	$(PY) scripts/make_env.py > .env

## Install, migrate, seed the demo, start web + worker + emulators (Ctrl-C stops all).
run: $(STAMP) .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py run_stack

## Run the whole test suite (SQLite, ORM broker unless DATABASE_URL/REDIS_URL say otherwise).
test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

## ruff, import-linter's contracts (apps import one way; see docs/architecture.md), hadolint, shellcheck.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/hadolint Dockerfile
	$(VENV)/bin/shellcheck scripts/*.sh

## Production smoke test: DEBUG=0, PostgreSQL, Redis (db 14); web and worker started as the
## image's entrypoint starts them (scripts/entrypoint.sh), outside a container.
prod-smoke: $(STAMP)
	$(PY) scripts/prod_smoke.py

## Languages (README, "Languages"): refresh locale/*/django.po and djangojs.po from the source,
## then compile the .mo files (Debian's gettext). Both are committed: the build stays offline.
MESSAGE_IGNORE := --ignore=.venv --ignore=bench --ignore=tests --ignore=scripts --ignore=var
messages: $(STAMP)
	DEBUG=1 CRIER_ENV_FILE= $(PY) manage.py makemessages --all --no-obsolete $(MESSAGE_IGNORE)
	DEBUG=1 CRIER_ENV_FILE= $(PY) manage.py makemessages --all --no-obsolete -d djangojs $(MESSAGE_IGNORE)
	DEBUG=1 CRIER_ENV_FILE= $(PY) manage.py compilemessages --ignore=.venv

bench: $(STAMP)
	$(PY) -m bench

bench-quick: $(STAMP)
	$(PY) -m bench --quick

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* var .pytest_cache

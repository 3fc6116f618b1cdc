# The OFR assistant. `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
MODEL := models/ofr.tar.gz
# The model every start loads (ofr_tools/published_model.py): the one published last
# (the console or make publish wrote models/published.json), never retrained over;
# else $(MODEL), trained first when missing or stale. make train ends a publication.
PUBLISHED := models/published.json
START_MODEL := $(if $(wildcard $(PUBLISHED)),$(PUBLISHED),$(MODEL))
MODEL_INPUTS := config.yml domain.yml $(wildcard bot/nlu/*.py bot/nlu/*.yml) \
	$(shell find data -name '*.yml' ! -name events.yml 2>/dev/null)

# Quieter TensorFlow and no telemetry.
export TF_CPP_MIN_LOG_LEVEL ?= 2
export RASA_TELEMETRY_ENABLED ?= false
export PYTHONHASHSEED ?= 0
export SQLALCHEMY_SILENCE_UBER_WARNING ?= 1

.DEFAULT_GOAL := help
.PHONY: help install install-dev train run shell publish unanswered tickets feedback staff-user read-question purge migrate-ids share-links validate evaluate run-cluster bench-load test test-unit test-fast test-nlu \
	test-stories lint format bench screenshots clean telegram-polling

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml node_modules/.installed
	@scripts/install.sh requirements.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js 18 or newer (apt-get install nodejs npm), then run make again." >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Debian's Chromium for the browser test of the web chat (root installs it).
/usr/bin/chromium:
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji; \
	else echo "Chromium is missing: run 'sudo apt-get install chromium', then make test again." >&2; exit 1; fi

# nginx for make run-cluster and the cluster test (root installs it).
/usr/sbin/nginx:
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light; \
	else echo "nginx is missing: run 'sudo apt-get install nginx-light', then make run-cluster again." >&2; exit 1; fi

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	@scripts/install.sh requirements-dev.txt
	@touch $@

install: $(VENV)/.installed ## Create .venv (Python 3.10) and install the pinned requirements

install-dev: $(VENV)/.installed-dev ## Also install test, lint and benchmark tools

$(MODEL): $(MODEL_INPUTS) | $(VENV)/.installed
	$(RASA) train --fixed-model-name ofr --out models
	@touch $@

train: $(VENV)/.installed ## Train models/ofr.tar.gz (Rasa skips unchanged parts); starts load it from now on, not a published model
	$(RASA) train --fixed-model-name ofr --out models
	@touch $(MODEL)
	@$(PY) -m ofr_tools.published_model forget

run: $(START_MODEL) | $(VENV)/.installed ## Start the action server (5055) and the Rasa server (5005) on the model published last
	@scripts/run.sh

run-cluster: $(START_MODEL) /usr/sbin/nginx | $(VENV)/.installed ## Start 2 Rasa servers behind nginx (5000) on PostgreSQL and Redis
	@scripts/run-cluster.sh

shell: $(START_MODEL) | $(VENV)/.installed ## Chat with the bot in the terminal (starts the action server)
	@scripts/run.sh --shell

DAYS ?= $(or $(OFR_RETENTION_DAYS),90)
ARGS ?=

BOT ?=
share-links: $(VENV)/.installed ## Telegram deep links with QR codes for flyers in var/share-links (BOT=<bot username>)
	@$(PY) -m ofr_tools.share_links --bot "$(BOT)" $(ARGS)

Q ?=
read-question: $(VENV)/.installed ## Show how an event question is read (Q="webinars in bavaria?")
	@$(PY) -m ofr_tools.read_question $(ARGS) "$(Q)"

unanswered: $(VENV)/.installed ## List questions the bot could not answer (ARGS="--since 7 --format csv")
	@$(PY) -m ofr_tools.unanswered $(ARGS)

tickets: $(VENV)/.installed ## List the questions handed over to IOM staff (ARGS="--status open")
	@$(PY) -m ofr_tools.tickets $(ARGS)

feedback: $(VENV)/.installed ## How helpful answers were, per intent (ARGS="--since 7 --format csv")
	@$(PY) -m ofr_tools.feedback $(ARGS)

staff-user: $(VENV)/.installed ## Create or change a staff console account (NAME=... ROLE=editor|publisher [PASSWORD_FILE=...])
	@if [ -z "$(NAME)" ] || [ -z "$(ROLE)" ]; then echo "Give NAME and ROLE, e.g. make staff-user NAME=anna ROLE=editor (or ROLE=publisher)." >&2; exit 2; fi
	@$(PY) -m console.staff_user "$(NAME)" "$(ROLE)" $(if $(PASSWORD_FILE),--password-file "$(PASSWORD_FILE)")

purge: $(VENV)/.installed ## Delete conversations idle for more than DAYS days now (default OFR_RETENTION_DAYS or 90; the bot also does it daily; ARGS=--dry-run)
	@$(PY) -m ofr_tools.purge --days $(DAYS) $(ARGS)

migrate-ids: $(VENV)/.installed ## Once, bot stopped: move conversations stored before 2026-11-29 to <channel>:<id> (ARGS=--dry-run)
	@$(PY) -m ofr_tools.migrate_ids $(ARGS)

publish: $(VENV)/.installed ## Switch the running bot to models/ofr.tar.gz without a restart; later starts load it too
	$(PY) -m ofr_tools.publish $(MODEL)

validate: $(VENV)/.installed ## Check training data, domain, stories and the events file
	$(PY) -m ofr_tools.check_project
	$(RASA) data validate --fail-on-warnings

evaluate: $(VENV)/.installed-dev $(MODEL) ## Write reports/evaluation.md: NLU per language and intent, errors, confusion matrices, story tests
	$(PY) -m ofr_tools.evaluate --model $(MODEL)

lint: $(VENV)/.installed-dev ## ruff lint and format check, mypy, the import contracts (import-linter)
	$(VENV)/bin/ruff check bot actions ofr ofr_tools console tests bench
	$(VENV)/bin/ruff format --check bot actions ofr ofr_tools console tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache --no-logo

format: $(VENV)/.installed-dev ## Format the code with ruff
	$(VENV)/bin/ruff format bot actions ofr ofr_tools console tests bench

test: $(VENV)/.installed-dev $(MODEL) /usr/bin/chromium /usr/sbin/nginx ## Everything: lint, validate, pytest, held-out NLU, story tests
	$(MAKE) lint validate
	$(MAKE) test-unit
	$(MAKE) test-stories

test-unit: $(VENV)/.installed-dev $(MODEL) ## pytest: components, actions, held-out NLU accuracy, REST
	$(PY) -m pytest -q

test-fast: $(VENV)/.installed-dev ## pytest without servers, the trained model or slow checks (about a minute)
	$(PY) -m pytest -q -m "not server and not model and not slow"

test-stories: $(VENV)/.installed-dev $(MODEL) ## Rasa test stories; any prediction error fails
	$(RASA) test core --stories tests/stories --model $(MODEL) \
		--fail-on-prediction-errors --out reports/stories

bench: $(VENV)/.installed-dev $(MODEL) ## OFR vs a plain `rasa init` bot: latency, req/s, memory, start-up, training; the alert burst on Telegram; the console's train-publish loop and conversation pages on 10,000 conversations (~30 min; never fails on timing)
	$(PY) bench/nlu.py
	$(PY) bench/alerts.py
	$(PY) bench/console_loop.py
	$(PY) bench/console_pages.py
	$(PY) bench/compare.py $(ARGS)

screenshots: $(VENV)/.installed-dev /usr/bin/chromium ## The screenshots of the weekly review in docs/staff.md (docs/images/review-*.png), in headless Chromium
	$(PY) -m tests.staff_screenshots

BENCH_URL ?= http://127.0.0.1:5005
bench-load: $(VENV)/.installed ## Load test the running bot over REST (BENCH_URL, BENCH_ARGS)
	$(PY) bench/load.py --url $(BENCH_URL) $(BENCH_ARGS)

clean: ## Remove models, reports and caches (keeps .venv)
	rm -rf models reports results .rasa .pytest_cache .ruff_cache tests/artifacts

telegram-polling: $(VENV)/.installed ## Poll Telegram and feed the bot started by `make run`
	$(PY) -m bot.channels.telegram.polling

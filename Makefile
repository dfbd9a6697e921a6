# The NPS conversation bot. Two commands set up everything on a fresh clone:
#   make run    the bot (REST + web chat), the action server and the dashboard
#   make test   every test
# `make help` lists the rest.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Named explicitly: .python-version makes plain `python3` 3.10 inside the
# repo too, but a Makefile should not depend on that.
PYTHON := python3.10
BOT_PY := .venv/bin/python
RASA := .venv/bin/rasa
BOT_STAMP := .venv/.installed
MODEL := models/nps-bot.tar.gz

# Every default lives in nps/settings.py: ask it for the values in force (an
# operator's environment wins there too). endpoints.yml reads the first two.
# One call, one value a line (so no value may contain a space).
SETTINGS := $(shell $(PYTHON) -m nps.settings NPS_DB_URL NPS_ACTIONS_URL NPS_HOST \
	NPS_DASHBOARD_PORT NPS_WEBCHAT_PORT)
export NPS_DB_URL := $(word 1,$(SETTINGS))
export NPS_ACTIONS_URL := $(word 2,$(SETTINGS))
NPS_HOST := $(word 3,$(SETTINGS))
DASHBOARD_PORT := $(word 4,$(SETTINGS))
WEBCHAT_PORT := $(word 5,$(SETTINGS))
ifneq ($(words $(SETTINGS)),5)
$(error nps/settings.py did not answer (is $(PYTHON) installed, every NPS_* variable valid, and no space in a value?))
endif
export NPS_LOCK_STORE_URL ?=
export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2

TRAINING_DATA := config.yml data/rules.yml \
	$(shell find domain data/nlu data/stories -name '*.yml')
BOT_REQUIREMENTS := requirements/bot.txt requirements/bot-test.txt

include mk/analytics.mk
include mk/channels.mk
include mk/cluster.mk
include mk/trainers.mk

.PHONY: help env run shell train validate lint format secrets test test-bot test-stories eval \
	eval-dev bench bench-train bench-start bench-epochs services lock clean erase retention migrate-ids

help:
	@echo "make run           set up, train if needed, start bot + actions + dashboard"
	@echo "make test          every test (lint, validation, deployment, unit, stories, integration, analytics, channels)"
	@echo "make lint          ruff: lint and format check (make format rewrites)"
	@echo "make secrets       scan every file for secrets (allow-list: .secrets.baseline)"
	@echo "make train         train the model when data, domain or config changed"
	@echo "make shell         talk to the bot in the terminal"
	@echo "make validate      check the training data and the trainers' YAML files"
	@echo "make eval          drivers on data/eval/ (never trained on), cross-validation, score parsing"
	@echo "make inbox         what the bot did not understand since the last export -> data/inbox/<date>.yml"
	@echo "make eval-dev      drivers on data/eval/dev_comments.yml (to tune on; make eval stays the test)"
	@echo "make bench         REST load benchmark against a bare Rasa baseline"
	@echo "make bench-train   training time from scratch and after one NLU change"
	@echo "make bench-start   seconds to load the model and to start the whole bot"
	@echo "make bench-epochs  held-out NLU scores every 5 DIET epochs (the stopping point)"
	@echo "make dashboard     the analytics dashboard alone ($(NPS_HOST):$(DASHBOARD_PORT))"
	@echo "make report        the analytics report of the local database"
	@echo "make demo-data     write generated conversations into the local database"
	@echo "make bench-analytics  projection and report timings on generated data"
	@echo "make cluster       3 Rasa + 2 action servers behind nginx on 127.0.0.1:$(NPS_CLUSTER_PORT) (CLUSTER_RASA=, CLUSTER_ACTIONS=)"
	@echo "make cluster-stop  stop the cluster (make cluster-status: one line per process)"
	@echo "make loadtest      faults under load on one process and on the cluster (LOADTEST_ARGS=...)"
	@echo "make test-deploy   nginx -t and the Kubernetes manifests, offline"
	@echo "make webchat       the embeddable chat page alone ($(NPS_HOST):$(WEBCHAT_PORT))"
	@echo "make test-bot | test-stories | test-analytics | test-channels   one part of make test"
	@echo "make lock          refresh requirements/*.lock after a deliberate upgrade"
	@echo "make erase PERSON=<phone or id>   delete a person from the tracker store and analytics"
	@echo "make retention     delete conversations older than NPS_RETENTION_DAYS (also hourly in the action server)"
	@echo "make migrate-ids   rename conversations stored before channel prefixes (DRY_RUN=1 counts)"
	@echo "make clean         remove models, results and local databases"

# --- environment -------------------------------------------------------------

env: $(BOT_STAMP)

# The project itself is installed editable (pyproject.toml), so every module
# imports by its package name from any directory.
$(BOT_STAMP): $(BOT_REQUIREMENTS) requirements/bot.lock pyproject.toml
	test -x $(BOT_PY) || $(PYTHON) -m venv .venv
	$(BOT_PY) -m pip install --quiet --upgrade "pip<25"
	$(BOT_PY) -m pip install --quiet $(addprefix -r ,$(BOT_REQUIREMENTS)) \
		-c requirements/bot.lock
	$(BOT_PY) -m pip install --quiet --no-deps -e .
	# The Polish lemma index, built once into the environment (~1 min).
	$(BOT_PY) -c "from nps import lemmas; lemmas.warm()"
	touch $@

# Refresh both lock files after a deliberate upgrade of a requirements file.
# Test tools are left out: their own file pins them.
LOCK_SKIP := '^\(pytest\|iniconfig\|pluggy\|ruff\|selenium\|trio\|detect-secrets\|nps-conversation-bot\)=='
lock: $(BOT_STAMP) $(ANALYTICS_STAMP)
	{ head -4 requirements/bot.lock; \
	  $(BOT_PY) -m pip freeze --exclude-editable | grep -v $(LOCK_SKIP); } > requirements/bot.lock.new
	mv requirements/bot.lock.new requirements/bot.lock
	{ head -4 requirements/analytics.lock; \
	  $(PY_ANALYTICS) -m pip freeze --exclude-editable | grep -v $(LOCK_SKIP); } > requirements/analytics.lock.new
	mv requirements/analytics.lock.new requirements/analytics.lock

# Local databases, logs, keys and the generated token (ignored by git),
# readable by the service user only.
var:
	mkdir -p var && chmod 700 var

# --- the model -----------------------------------------------------------------

train: $(MODEL)

# Make retrains only when a training file changed (the environment is an
# order-only prerequisite: upgrading a package does not retrain); Rasa's own cache then
# retrains only the parts that depend on what changed. The model is dated
# when training started, so a file edited during training is still newer.
$(MODEL): $(TRAINING_DATA) | $(BOT_STAMP)
	mkdir -p models && touch models/.training-started
	$(RASA) train --config config.yml --domain domain \
		--data data/nlu data/stories data/rules.yml \
		--out models --fixed-model-name nps-bot
	touch -r models/.training-started $@

validate: $(BOT_STAMP)
	$(RASA) data validate --config config.yml --domain domain \
		--data data/nlu data/stories data/rules.yml --fail-on-warning
	$(BOT_PY) -m nps.check

# --- running -------------------------------------------------------------------

run: $(BOT_STAMP) $(ANALYTICS_STAMP) $(MODEL) | var
	scripts/run.sh

shell: $(BOT_STAMP) $(MODEL) | var
	scripts/run.sh --shell

# --- tests -----------------------------------------------------------------------

services:
	scripts/services.sh

# Lint first: it takes seconds and fails fast.
test: lint secrets services validate test-deploy test-bot test-stories test-analytics test-channels

lint: $(BOT_STAMP)
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

# No secret in any tracked or new file (detect-secrets, offline; the
# allow-list of known test values is .secrets.baseline).
secrets: $(BOT_STAMP)
	$(BOT_PY) scripts/check_secrets.py

format: $(BOT_STAMP)
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

# The analytics environment too: tests/test_inbox.py runs the export with it.
test-bot: $(BOT_STAMP) $(ANALYTICS_STAMP) $(MODEL) | var
	$(BOT_PY) -m pytest tests --ignore=tests/channels -q

test-stories: $(BOT_STAMP) $(MODEL)
	$(RASA) test core --model $(MODEL) --stories tests/stories \
		--fail-on-prediction-errors --out results/stories

# --- measuring ----------------------------------------------------------------------

# Scores on data/eval/ (never trained on), then cross-validation beside them.
eval: $(BOT_STAMP) $(MODEL)
	$(BOT_PY) -m bench.score_accuracy
	$(BOT_PY) -m bench.driver_eval --model $(MODEL)
	$(BOT_PY) -m bench.nlu_eval

# The same scores on the development file: the one to tune thresholds and the lexicon on.
eval-dev: $(BOT_STAMP) $(MODEL)
	$(BOT_PY) -m bench.driver_eval --model $(MODEL) --file data/eval/dev_comments.yml

bench: $(BOT_STAMP) $(MODEL) | var
	$(BOT_PY) -m bench.rest_load

bench-train: $(BOT_STAMP)
	$(BOT_PY) -m bench.train_time

# Seconds to load the model (our DIET loader against Rasa's) and to start the whole bot.
bench-start: $(BOT_STAMP) $(MODEL)
	$(BOT_PY) -m bench.start_time

# Held-out scores every few DIET epochs in one training: where config.yml's epochs come from.
bench-epochs: $(BOT_STAMP)
	$(BOT_PY) -m bench.epoch_curve

# --- personal data (docs/privacy.md) -------------------------------------------------

erase: $(BOT_STAMP) | var
	@test -n "$(PERSON)" || { echo "usage: make erase PERSON=<phone number or conversation id>" >&2; exit 2; }
	$(BOT_PY) -m storage.erasure "$(PERSON)"

retention: $(BOT_STAMP) | var
	$(BOT_PY) -m storage.retention

# Conversations stored before ids were keyed by channel (whatsapp:+48…, …)
# get their new ids, then the projection is rebuilt. Run with the bot stopped.
migrate-ids: $(BOT_STAMP) $(ANALYTICS_STAMP) | var
	$(BOT_PY) -m storage.migrate_ids --db "$(NPS_DB_URL)" $(if $(DRY_RUN),--dry-run)
	$(if $(DRY_RUN),,$(PY_ANALYTICS) -m analytics project --db "$(NPS_DB_URL)" --rebuild)

clean:
	rm -rf models results .rasa var/*.db

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

export PYTHONPATH := $(CURDIR)
export NPS_DB_URL ?= sqlite:///$(CURDIR)/var/tracker.db
export NPS_ACTIONS_URL ?= http://127.0.0.1:5055/webhook
export NPS_LOCK_STORE_URL ?=
export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2

TRAINING_DATA := config.yml domain.yml data/rules.yml \
	$(shell find data/nlu data/stories -name '*.yml' 2>/dev/null)
BOT_REQUIREMENTS := requirements/rasa.txt requirements/bot-test.txt \
	$(wildcard requirements/channels-test.txt)

include mk/analytics.mk
-include mk/channels.mk

.PHONY: help env run shell train validate test test-bot test-stories eval bench \
	bench-train services lock clean

help:
	@echo "make run           set up, train if needed, start bot + actions + dashboard"
	@echo "make test          every test (validation, unit, stories, integration, analytics, channels)"
	@echo "make train         train the model when data, domain or config changed"
	@echo "make shell         talk to the bot in the terminal"
	@echo "make validate      check the training data and the trainers' YAML files"
	@echo "make eval          NLU cross-validation per driver, and score-parsing accuracy"
	@echo "make bench         REST load benchmark against a bare Rasa baseline"
	@echo "make bench-train   training time from scratch and after one NLU change"
	@echo "make dashboard     the analytics dashboard alone (127.0.0.1:8501)"
	@echo "make report        the analytics report of the local database"
	@echo "make demo-data     write generated conversations into the local database"

# --- environment -------------------------------------------------------------

env: $(BOT_STAMP)

$(BOT_STAMP): $(BOT_REQUIREMENTS) requirements/rasa-constraints.txt
	test -x $(BOT_PY) || $(PYTHON) -m venv .venv
	$(BOT_PY) -m pip install --quiet --upgrade "pip<25"
	$(BOT_PY) -m pip install --quiet $(addprefix -r ,$(BOT_REQUIREMENTS)) \
		-c requirements/rasa-constraints.txt
	touch $@

# Refresh the constraints after a deliberate upgrade of requirements/rasa.txt.
lock: $(BOT_STAMP)
	{ head -4 requirements/rasa-constraints.txt; \
	  $(BOT_PY) -m pip freeze --exclude-editable | grep -v '^\(pytest\|iniconfig\|pluggy\)=='; \
	} > requirements/rasa-constraints.txt.new
	mv requirements/rasa-constraints.txt.new requirements/rasa-constraints.txt

# Local databases, logs and the generated token (ignored by git).
var:
	mkdir -p var

# --- the model -----------------------------------------------------------------

train: $(MODEL)

# Make retrains only when a training file changed (the environment is an
# order-only prerequisite: upgrading a package does not retrain); Rasa's own cache then
# retrains only the parts that depend on what changed.
$(MODEL): $(TRAINING_DATA) | $(BOT_STAMP)
	$(RASA) train --config config.yml --domain domain.yml \
		--data data/nlu data/stories data/rules.yml \
		--out models --fixed-model-name nps-bot
	touch $@

validate: $(BOT_STAMP)
	$(RASA) data validate --config config.yml --domain domain.yml \
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

test: services validate test-bot test-stories test-analytics $(if $(wildcard mk/channels.mk),test-channels)

test-bot: $(BOT_STAMP) $(MODEL) | var
	$(BOT_PY) -m pytest tests --ignore=tests/channels -q

test-stories: $(BOT_STAMP) $(MODEL)
	$(RASA) test core --model $(MODEL) --stories tests/stories \
		--fail-on-prediction-errors --out results/stories

# --- measuring ----------------------------------------------------------------------

eval: $(BOT_STAMP)
	$(BOT_PY) bench/score_accuracy.py
	$(BOT_PY) bench/nlu_eval.py

bench: $(BOT_STAMP) $(MODEL) | var
	$(BOT_PY) bench/rest_load.py

bench-train: $(BOT_STAMP)
	$(BOT_PY) bench/train_time.py

clean:
	rm -rf models results .rasa var/*.db

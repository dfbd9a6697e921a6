# Analytics: projection, statistics, report CLI, Streamlit dashboard.
# Included by the top Makefile, which sets NPS_DB_URL (from nps/settings.py).
# Analytics has its own environment because Rasa pins SQLAlchemy 1.4 and an
# old numpy, while analytics needs SQLAlchemy 2 and pandas 2.

PY_ANALYTICS := .venv-analytics/bin/python
ANALYTICS_STAMP := .venv-analytics/.installed
DEMO_CONVERSATIONS ?= 2000
DEMO_SEED ?= 7
REPORT_FORMAT ?= md

.PHONY: analytics-env dashboard report demo-data bench-analytics test-analytics

analytics-env: $(ANALYTICS_STAMP)

# A stamp file, so the environment is built once and rebuilt only when the
# requirements change.
$(ANALYTICS_STAMP): requirements/analytics.txt requirements/analytics-test.txt \
		requirements/analytics.lock pyproject.toml
	test -x $(PY_ANALYTICS) || $(PYTHON) -m venv .venv-analytics
	$(PY_ANALYTICS) -m pip install --quiet --upgrade "pip<25"
	$(PY_ANALYTICS) -m pip install --quiet -r requirements/analytics.txt \
		-r requirements/analytics-test.txt -c requirements/analytics.lock
	$(PY_ANALYTICS) -m pip install --quiet --no-deps -e .
	touch $@

# var/ (private to the service user) is the top Makefile's `var` target.
dashboard: $(ANALYTICS_STAMP) | var
	$(PY_ANALYTICS) -m analytics.dashboard.auth check --address $(NPS_HOST)
	$(PY_ANALYTICS) -m streamlit run analytics/dashboard/app.py \
		--server.address $(NPS_HOST) --server.port $(DASHBOARD_PORT)

report: $(ANALYTICS_STAMP) | var
	$(PY_ANALYTICS) -m analytics report --db "$(NPS_DB_URL)" --format $(REPORT_FORMAT)

demo-data: $(ANALYTICS_STAMP) | var
	$(PY_ANALYTICS) -m analytics generate --db "$(NPS_DB_URL)" \
		--conversations $(DEMO_CONVERSATIONS) --seed $(DEMO_SEED)

bench-analytics: $(ANALYTICS_STAMP) | var
	$(PY_ANALYTICS) -m bench.analytics_bench

test-analytics: $(ANALYTICS_STAMP)
	$(PY_ANALYTICS) -m pytest analytics/tests -q

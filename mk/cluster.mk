# Several Rasa processes behind nginx (make cluster), the load test with
# faults (make loadtest). Included by the top Makefile. See docs/deployment.md.
#
#   make cluster [CLUSTER_RASA=3] [CLUSTER_ACTIONS=2] [NPS_CLUSTER_PORT=8000]
#   make cluster-status | cluster-stop
#   make loadtest [LOADTEST_ARGS=...]
#   make test-deploy      nginx's generated configuration and deploy/k8s, offline

CLUSTER_RASA ?= 3
CLUSTER_ACTIONS ?= 2
NPS_CLUSTER_PORT ?= 8000
CLUSTER_DB_URL ?= postgresql://postgres@127.0.0.1:5432/nps_cluster
CLUSTER_CREDENTIALS ?= credentials.yml
LOADTEST_ARGS ?=
NGINX := /usr/sbin/nginx
# Passed to scripts/cluster.sh; everything else (channel secrets and URLs)
# comes from the caller's environment unchanged.
CLUSTER_ENV := CLUSTER_RASA=$(CLUSTER_RASA) CLUSTER_ACTIONS=$(CLUSTER_ACTIONS) \
	NPS_CLUSTER_PORT=$(NPS_CLUSTER_PORT) CLUSTER_DB_URL=$(CLUSTER_DB_URL) \
	CLUSTER_CREDENTIALS=$(CLUSTER_CREDENTIALS) NGINX_BIN=$(NGINX)

.PHONY: nginx cluster cluster-stop cluster-status loadtest test-deploy

# Debian's nginx, installed only when missing. The cluster never uses the
# system's nginx service (which the package may start on port 80) nor its
# configuration: it runs its own nginx as the invoking user, with everything
# under var/cluster/. RUNLEVEL=1 asks invoke-rc.d not to start the service.
nginx:
	@if [ -x $(NGINX) ]; then \
		echo "nginx present"; \
	else \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq nginx; \
	fi

# Returns once every process answers its health check (bounded:
# CLUSTER_START_TIMEOUT, 600 s) and prints the addresses.
cluster: $(BOT_STAMP) $(MODEL) nginx services | var
	$(CLUSTER_ENV) scripts/cluster.sh start

cluster-stop:
	scripts/cluster.sh stop

cluster-status:
	scripts/cluster.sh status

# The load test starts and stops the cluster itself (scripts/cluster.sh).
loadtest: $(BOT_STAMP) $(MODEL) nginx services | var
	$(CLUSTER_ENV) $(BOT_PY) -m bench.loadtest $(LOADTEST_ARGS)

# Offline: kubernetes-validate's bundled schemas (analytics environment, so
# Rasa's pins do not constrain it) and `nginx -t` on the generated
# configuration (skipped with the reason when nginx is not installed).
test-deploy: $(ANALYTICS_STAMP) nginx
	$(PY_ANALYTICS) -m pytest deploy/tests -q

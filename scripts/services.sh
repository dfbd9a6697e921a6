#!/usr/bin/env bash
# Make sure the services the tests use are running on loopback: PostgreSQL
# (tracker store in production) and Redis (lock store). Starts what is
# installed but stopped; says so plainly when a service is not installed, and
# the tests that need it then skip with that reason.
set -u

if command -v pg_isready >/dev/null 2>&1; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    echo "PostgreSQL is not running; starting it"
    if [ -d /etc/postgresql ]; then
      version="$(ls /etc/postgresql | sort -V | tail -n 1)"
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    fi
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  pg_isready -h 127.0.0.1 -p 5432 || echo "PostgreSQL could not be started: its tests will skip"
else
  echo "PostgreSQL is not installed here: its tests will skip"
fi

if command -v redis-server >/dev/null 2>&1; then
  if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
    echo "Redis is not running; starting it"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    sleep 1
  fi
  redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && echo "Redis: up" || echo "Redis could not be started: its tests will skip"
else
  echo "Redis is not installed here: its tests will skip"
fi
exit 0

#!/usr/bin/env bash
# Serves the demo: the web app on 127.0.0.1:8000 and, beside it, the worker that sends messages to
# citizens from the outbox (procrastinate, queue in PostgreSQL). Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var
.venv/bin/python manage.py procrastinate worker >var/worker.log 2>&1 &
worker=$!
trap 'kill $worker 2>/dev/null || true' EXIT INT TERM
echo "[open137] outbox worker running (log: var/worker.log)"
.venv/bin/python manage.py runserver 127.0.0.1:${OPEN137_PORT:-8000} --noreload

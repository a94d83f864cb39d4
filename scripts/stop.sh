#!/usr/bin/env bash
# Stops the project-local PostgreSQL cluster (data stays in var/pgdata).
set -euo pipefail
cd "$(dirname "$0")/.."
datadir=var/pgdata
[ -f "$datadir/PG_VERSION" ] || { echo "[open137] no local cluster in var/pgdata"; exit 0; }
run_pg=()
[ "$(id -u)" = 0 ] && run_pg=(runuser -u postgres --)
"${run_pg[@]}" /usr/lib/postgresql/15/bin/pg_ctl -D "$(readlink -f "$datadir")" status >/dev/null 2>&1 \
  && "${run_pg[@]}" /usr/lib/postgresql/15/bin/pg_ctl -D "$(readlink -f "$datadir")" -m fast -w stop >/dev/null
echo "[open137] local PostgreSQL stopped"

#!/usr/bin/env bash
# Sets up everything `make demo`, `make test` and `make bench` need, and only what is missing:
# Debian packages, the Python virtualenv, the npm front-end packages, a project-local PostGIS
# cluster (unless DATABASE_URL names an existing one), the database and its migrations.
# Idempotent: a second run only checks and takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-python3}
PGPORT=${OPEN137_PGPORT:-54137}
PGBIN=/usr/lib/postgresql/15/bin
say() { printf '\033[1;34m[open137]\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- 1. Debian packages ---------------------------------------------------------------------------
# PostGIS for PostgreSQL 15 and the GDAL/GEOS/PROJ libraries that GeoDjango loads; gdal-bin gives
# ogr2ogr, which the tests use to write Shapefiles and GeoPackages.
pkgs=(postgresql-15 postgresql-15-postgis-3 postgresql-client-15 libgdal32 libgeos-c1v5 libproj25 gdal-bin
      python3-venv python3-dev gettext chromium wrk)
command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- 2. Python virtualenv ------------------------------------------------------------------------
stamp=".venv/.installed-$(cat pyproject.toml requirements.lock | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  say "installing Python dependencies into .venv"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip >.venv/pip.log 2>&1 || { cat .venv/pip.log; exit 1; }
  .venv/bin/python - <<'PY' > .venv/requirements.txt
import tomllib
p = tomllib.load(open("pyproject.toml", "rb"))["project"]
print("\n".join(p["dependencies"] + p["optional-dependencies"]["dev"]))
PY
  .venv/bin/python -m pip install -q -r .venv/requirements.txt -c requirements.lock >>.venv/pip.log 2>&1 || { cat .venv/pip.log; exit 1; }
  rm -f .venv/.installed-* && touch "$stamp"
fi

# --- 3. Front-end packages (npm, exact versions from the lock file; served by the app) -------------
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing front-end packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

# --- 4. Database -------------------------------------------------------------------------------
if [ -n "${DATABASE_URL:-}" ]; then
  say "using DATABASE_URL (an existing PostGIS); no local cluster"
else
  mkdir -p var
  run_pg=()
  datadir="$ROOT/var/pgdata"
  if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root: the cluster runs as the postgres user. If that user cannot
    # reach the work tree (a checkout under /root, say), the data lives under /var/lib/open137 and
    # var/pgdata points to it.
    run_pg=(runuser -u postgres --)
    if ! runuser -u postgres -- test -w "$ROOT/var" 2>/dev/null; then
      if [ -L var/pgdata ]; then datadir=$(readlink var/pgdata)
      elif ! runuser -u postgres -- test -x "$ROOT/var" 2>/dev/null; then
        datadir="/var/lib/open137/$(printf %s "$ROOT" | sha1sum | cut -c1-12)/pgdata"
        ln -sfn "$datadir" var/pgdata
      fi
    fi
    mkdir -p "$datadir" && chown postgres:postgres "$datadir" "$(dirname "$datadir")" && chmod 700 "$datadir"
  fi
  if [ ! -f "$datadir/PG_VERSION" ]; then
    say "creating the local PostgreSQL cluster in var/pgdata (port $PGPORT)"
    "${run_pg[@]}" "$PGBIN/initdb" -D "$datadir" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! "${run_pg[@]}" "$PGBIN/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
    say "starting PostgreSQL on 127.0.0.1:$PGPORT"
    if ! "${run_pg[@]}" "$PGBIN/pg_ctl" -D "$datadir" -l "$datadir/server.log" -w -t 60 \
      -o "-p $PGPORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" start >/dev/null; then
      say "PostgreSQL did not start; the end of var/pgdata/server.log:"
      tail -n 5 "$datadir/server.log" >&2
      say "If another server holds port $PGPORT, stop it or choose another: OPEN137_PGPORT=N make ..."
      exit 1
    fi
  fi
  psql=(env PGOPTIONS=--client-min-messages=warning psql -h 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -qtA)
  if [ -z "$("${psql[@]}" -d postgres -c "select 1 from pg_database where datname='open137'")" ]; then
    "${psql[@]}" -d postgres -c "create database open137" >/dev/null
  fi
  "${psql[@]}" -d open137 -c "create extension if not exists postgis" >/dev/null
fi

# --- 5. Schema and static files ----------------------------------------------------------------------
.venv/bin/python manage.py migrate --noinput -v 0
[ -d locale ] && .venv/bin/python manage.py compilemessages -v 0 --ignore ".venv" --ignore "node_modules" >/dev/null
.venv/bin/python manage.py collectstatic --noinput -v 0
say "set-up done"

"""`make stress`: load without loss. Citizens' reports keep arriving while app workers die and the
database restarts; afterwards every report a client was told was filed is stored exactly once, with
exactly one `created` event, and a reporter who left a phone has exactly one SMS queued (one outbox
row, one job).

What it does, bounded in time and on 127.0.0.1 only:
1. A PostgreSQL cluster of its own (var/stress-pgdata, a free port, recreated every run): restarting
   the project's shared cluster would cut every other session on it (a demo, someone's tests). The
   cluster runs as the postgres user when this runs as root, as scripts/setup.sh does. Without
   PostgreSQL 15's server programs, the `<db>_stress` database next to DATABASE_URL's (or the
   project's default) is used instead and the restart is skipped, which the output says.
2. Migrates it and files to a small city: two square regions near Qazvin, a roads department with a
   unit per region and a central one (the test city's shapes).
3. gunicorn with 3 sync workers on 127.0.0.1 (what docs/operations.md recommends on 2 cores).
4. 32 client threads POST /api/reports/ (JSON, a new connection per request), each submission with
   its own Idempotency-Key; every third leaves a phone. A connection error, a timeout, a 5xx or a 429
   is retried with the same key (Retry-After honoured), up to a bounded number of attempts.
5. Meanwhile a chaos thread SIGKILLs one gunicorn worker every STRESS_KILL_EVERY seconds (the master
   starts another at once: gunicorn runs with --preload, so a new worker is a fork, not a fresh
   Django) and restarts PostgreSQL once (`pg_ctl restart -m fast`) when 40 % are answered.
6. Counts from the database what the clients were told, prints a detail line, and last the line a
   script reads:
   `stress: <N> submitted, <N> stored, <N> lost, <N> doubled, <N> 5xx, <N> kills, <N> db restarts`
   and exits 1 if anything was lost or doubled, any 5xx was answered, a submission got no answer
   or a 4xx, or the run missed its number or its kills and restart.

`5xx` counts the server's failures: every answer of 500 or more except a 503 carrying Retry-After,
which is the API's documented answer while the database is away (open137/api.py) and which the
client retries; those are reported on the detail line (`503 retry-after`).

Settings (environment): STRESS_N (default 20000), STRESS_CLIENTS (32), STRESS_WORKERS (3),
STRESS_KILL_EVERY (seconds, 2.5), STRESS_SECONDS (the load phase's limit, 240).
"""

from __future__ import annotations

import fcntl
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from bench.db import _default_url, _libpq_url
from bench.server import _stop, _wait_ready

ROOT = Path(__file__).resolve().parent.parent
PGBIN = Path("/usr/lib/postgresql/15/bin")
STRESS_DB = "open137_stress"
DEPARTMENT = "stress-roads"
CATEGORY = "stress-pothole"
# The regions' box (the test city's R1 and R2): lon 50.00-50.04, lat 36.26-36.28.
BOX = (50.001, 36.261, 50.039, 36.279)
RESTART_AT = 0.4  # the share of submissions answered (or of the time limit) when PostgreSQL restarts
MAX_ATTEMPTS = 40
ATTEMPT_TIMEOUT_S = 20.0
SUBMISSION_BUDGET_S = 90.0  # one submission's retries, all told
HARD_LIMIT_S = 300.0  # the load phase, whatever STRESS_SECONDS says

_print_lock = threading.Lock()


def say(text: str) -> None:
    with _print_lock:
        print(f"[stress] {text}", file=sys.stderr, flush=True)


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


# --- The database ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """The run's own PostgreSQL (or None of it: see `external`)."""

    url: str  # postgis:// of the stress database
    datadir: Path | None = None
    run_as: tuple[str, ...] = ()
    note: str = ""

    @property
    def external(self) -> bool:
        return self.datadir is None

    def pg_ctl(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        assert self.datadir is not None
        return subprocess.run(
            [*self.run_as, str(PGBIN / "pg_ctl"), "-D", str(self.datadir), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def restart(self) -> float:
        """Restart PostgreSQL (fast: sessions are cut, the shutdown is clean); returns the seconds it
        took, or raises."""
        assert self.datadir is not None
        started = time.monotonic()
        done = self.pg_ctl("restart", "-m", "fast", "-w", "-t", "60", "-l", str(self.datadir / "server.log"))
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl restart failed: {done.stderr or done.stdout}")
        return time.monotonic() - started

    def stop(self) -> None:
        if self.datadir is not None and (self.datadir / "postmaster.pid").exists():
            self.pg_ctl("stop", "-m", "fast", "-w", "-t", "60")


def _stress_datadir(run_as: tuple[str, ...]) -> Path:
    """var/stress-pgdata, or when the postgres user cannot reach the work tree (a checkout under /root)
    a folder under /var/lib/open137, as scripts/setup.sh does for the project's cluster."""
    var = ROOT / "var"
    var.mkdir(exist_ok=True)
    if not run_as:
        return var / "stress-pgdata"
    reach = subprocess.run([*run_as, "test", "-w", str(var)], check=False, capture_output=True)
    if reach.returncode == 0:
        return var / "stress-pgdata"
    digest = hashlib.sha1(str(ROOT).encode(), usedforsecurity=False).hexdigest()[:12]
    return Path("/var/lib/open137") / digest / "stress-pgdata"


def cluster_start() -> Cluster:
    if not (PGBIN / "initdb").exists():
        base = os.environ.get("DATABASE_URL") or _default_url()
        parts = urlsplit(base)
        url = parts._replace(path="/" + (parts.path.lstrip("/") or "open137") + "_stress").geturl()
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit(f"stress: only a database on 127.0.0.1 is used, not {parts.hostname}")
        _database_create(url)
        return Cluster(url=url, note=f"no PostgreSQL 15 server programs in {PGBIN}: restart skipped")
    run_as: tuple[str, ...] = ("runuser", "-u", "postgres", "--") if os.geteuid() == 0 else ()
    datadir = _stress_datadir(run_as)
    old = Cluster(url="", datadir=datadir, run_as=run_as)
    if (datadir / "postmaster.pid").exists():
        old.pg_ctl("stop", "-m", "immediate", "-w", "-t", "30")  # a run that was killed: its server
    if datadir.exists():
        shutil.rmtree(datadir)
    datadir.mkdir(parents=True)
    if run_as:
        shutil.chown(datadir, "postgres", "postgres")
        shutil.chown(datadir.parent, "postgres", "postgres")
    datadir.chmod(0o700)
    subprocess.run(
        [*run_as, str(PGBIN / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust",
         "--encoding=UTF8", "--locale=C.UTF-8"],
        check=True, capture_output=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    port = _free_port()
    cluster = Cluster(
        url=f"postgis://postgres@127.0.0.1:{port}/{STRESS_DB}",
        datadir=datadir,
        run_as=run_as,
        note=f"own cluster in {datadir} on 127.0.0.1:{port}",
    )
    done = cluster.pg_ctl(
        "start", "-w", "-t", "60", "-l", str(datadir / "server.log"),
        "-o", f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''",
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"stress: PostgreSQL did not start: {done.stderr or done.stdout}")
    _database_create(cluster.url)
    return cluster


def _database_create(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(_libpq_url(url, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(_libpq_url(url), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def city_create() -> str:
    """Migrate and file the small city; returns the roads category's code. Runs Django in this process
    (the connection is closed afterwards: the restart would cut it)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "open137.settings")
    django.setup()
    from django.contrib.gis.geos import MultiPolygon, Polygon
    from django.core.management import call_command
    from django.db import connections

    from districts.services import (
        boundary_set_activate,
        boundary_set_create,
        department_create,
        district_create,
        service_area_create,
    )
    from issues.models import Category, MessageKind

    call_command("migrate", interactive=False, verbosity=0)

    def region(x0: float, x1: float) -> MultiPolygon:
        ring = ((x0, 36.26), (x1, 36.26), (x1, 36.28), (x0, 36.28), (x0, 36.26))
        return MultiPolygon(Polygon(ring, srid=4326), srid=4326)

    boundary_set = boundary_set_create(name="stress city")
    for code, x0, x1 in (("R1", 50.00, 50.02), ("R2", 50.02, 50.04)):
        district_create(
            boundary_set=boundary_set, code=code, name_fa=f"منطقه {code}", name_en=f"Region {code}",
            boundary=region(x0, x1), level=1,
        )  # fmt: skip
    boundary_set_activate(boundary_set=boundary_set)
    roads = department_create(code=DEPARTMENT, name_fa="معاونت فنی و عمرانی", name_en="Roads")
    for suffix, district_code, default in (("r1", "R1", False), ("r2", "R2", False), ("central", "", True)):
        service_area_create(
            department=roads, code=f"{DEPARTMENT}-{suffix}", unit_name_fa=f"واحد راه {suffix}",
            unit_name_en=f"Roads unit {suffix}", district_code=district_code, is_default=default,
        )  # fmt: skip
    category = Category.objects.create(
        code=CATEGORY, name_fa="چاله و خرابی آسفالت", name_en="Pothole", department=roads,
        kind=MessageKind.SERVICE_REQUEST, location_required=True,
    )  # fmt: skip
    connections.close_all()
    return category.code


# --- The server ------------------------------------------------------------------------------------


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def workers(self) -> list[int]:
        """The master's children: its workers (read from /proc, by the master's id)."""
        pid = self.process.pid
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
            return [int(x) for x in text.split()]
        except OSError:
            found = []
            for stat in Path("/proc").glob("[0-9]*/stat"):
                with suppress(OSError, ValueError, IndexError):
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                    if int(fields[1]) == pid:
                        found.append(int(stat.parent.name))
            return found


@contextmanager
def gunicorn(url: str, *, workers: int, media_root: Path) -> Iterator[Server]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="open137.settings",
        OPEN137_DEBUG="0",
        OPEN137_MEDIA_ROOT=str(media_root),
        OPEN137_SMS_BACKEND="log",
        OPEN137_SMS_LOG_FILE=str(media_root / "sms.log"),
    )
    for limit in ("REPORTS", "SUPPORT", "UPDATES", "OPEN311"):
        env[f"OPEN137_RATE_{limit}"] = ""  # the write limits off: 32 clients on one address
    log_path = media_root / "gunicorn.log"
    command = [
        sys.executable, "-m", "gunicorn", "open137.wsgi:application", "--bind", "127.0.0.1:0",
        "--workers", str(workers), "--preload", "--timeout", "60", "--graceful-timeout", "5",
        "--log-level", "info", "--error-logfile", str(log_path),
    ]  # fmt: skip
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True,
        )  # fmt: skip
    try:
        base = _wait_ready(process, log_path, "/api/categories/")
        if not base.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"not a loopback address: {base}")
        yield Server(base=base, process=process, log_path=log_path)
    finally:
        _stop(process)


# --- The clients -------------------------------------------------------------------------------------


@dataclass
class Outcome:
    key: str
    phone: bool
    status: int = 0  # the final answer's status, 0 when none came
    code: str = ""  # the tracking code a 2xx gave
    attempts: int = 0
    replayed: bool = False


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: int = 0  # 5xx but a 503 with Retry-After
    unavailable: int = 0  # 503 with Retry-After
    connection_errors: int = 0
    timeouts: int = 0
    answered: int = 0
    errors_seen: list[str] = field(default_factory=list)

    def note(self, status: int, retry_after: bool) -> None:
        with self.lock:
            self.statuses[status] += 1
            if status == 503 and retry_after:
                self.unavailable += 1
            elif status >= 500:
                self.server_errors += 1


def _post(base: str, body: bytes, key: str) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=ATTEMPT_TIMEOUT_S)
    try:
        conn.request(
            "POST",
            "/api/reports/",
            body=body,
            headers={"Content-Type": "application/json", "Idempotency-Key": key, "Connection": "close"},
        )
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()


def submit(base: str, index: int, run: str, category: str, tally: Tally, rng: random.Random) -> Outcome:
    key = f"stress-{run}-{uuid.uuid4()}"
    phone = index % 3 == 0
    payload = {
        "category": category,
        "lon": round(rng.uniform(BOX[0], BOX[2]), 6),
        "lat": round(rng.uniform(BOX[1], BOX[3]), 6),
        "description": f"آزمون بار {index}: چاله در سواره‌رو",
    }
    if phone:
        payload["phone"] = f"0912{index % 10_000_000:07d}"
    body = json.dumps(payload, ensure_ascii=False).encode()
    outcome = Outcome(key=key, phone=phone)
    started = time.monotonic()
    while outcome.attempts < MAX_ATTEMPTS and time.monotonic() - started < SUBMISSION_BUDGET_S:
        outcome.attempts += 1
        wait = min(2.0, 0.05 * 2 ** min(outcome.attempts, 6)) * (0.5 + rng.random())
        try:
            status, headers, data = _post(base, body, key)
        except TimeoutError:
            with tally.lock:
                tally.timeouts += 1
            time.sleep(wait)
            continue
        except (OSError, http.client.HTTPException):
            # Refused, reset, or closed before the answer: a worker was killed mid-request.
            with tally.lock:
                tally.connection_errors += 1
            time.sleep(wait)
            continue
        tally.note(status, "retry-after" in headers)
        if status >= 500 or status == 429:
            if "retry-after" in headers:
                with suppress(ValueError):
                    wait = min(float(headers["retry-after"]), 5.0) * (0.5 + rng.random())
            elif status >= 500:
                with tally.lock:
                    if len(tally.errors_seen) < 5:
                        tally.errors_seen.append(f"{status}: {data[:200]!r}")
            time.sleep(wait)
            continue
        outcome.status = status
        if 200 <= status < 300:
            outcome.code = json.loads(data)["code"]
            outcome.replayed = headers.get("idempotent-replayed") == "true"
        else:
            with tally.lock:
                if len(tally.errors_seen) < 5:
                    tally.errors_seen.append(f"{status}: {data[:200]!r}")
        break
    with tally.lock:
        tally.answered += 1
    return outcome


# --- Chaos -------------------------------------------------------------------------------------------


@dataclass
class Chaos:
    kills: int = 0
    restarts: int = 0
    restart_seconds: float = 0.0
    restart_note: str = ""
    failures: list[str] = field(default_factory=list)


def chaos_run(
    server: Server, cluster: Cluster, chaos: Chaos, *, stop: threading.Event, progress: threading.Event,
    kill_every: float, rng: random.Random,
) -> None:  # fmt: skip
    """Kill a worker every `kill_every` seconds until `stop`; restart PostgreSQL once `progress` is set."""
    next_kill = time.monotonic() + kill_every
    while not stop.is_set():
        if progress.is_set() and not chaos.restarts and not chaos.restart_note:
            if cluster.external:
                chaos.restart_note = cluster.note
            else:
                try:
                    chaos.restart_seconds = cluster.restart()
                    chaos.restarts += 1
                    say(f"PostgreSQL restarted (pg_ctl restart -m fast) in {chaos.restart_seconds:.1f} s")
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    chaos.restart_note = f"restart failed: {exc}"
                    chaos.failures.append(chaos.restart_note)
        if time.monotonic() >= next_kill:
            next_kill = time.monotonic() + kill_every
            workers = server.workers()
            if workers:
                victim = rng.choice(workers)
                with suppress(ProcessLookupError):
                    os.kill(victim, signal.SIGKILL)
                    chaos.kills += 1
        stop.wait(0.1)


# --- Checking what was stored ----------------------------------------------------------------------


@dataclass
class Verdict:
    submitted: int
    stored: int
    lost: int
    doubled: int
    details: dict[str, int]


def verify(url: str, run: str, outcomes: list[Outcome]) -> Verdict:
    from issues.tasks import OUTBOX_SEND_TASK

    by_key = {o.key: o for o in outcomes}
    prefix = f"api:stress-{run}-"
    with psycopg.connect(_libpq_url(url)) as conn:
        reports = conn.execute(
            "SELECT id, idempotency_key, tracking_code, reporter_phone FROM issues_report "
            "WHERE idempotency_key LIKE %s",
            [prefix + "%"],
        ).fetchall()
        ids = [r[0] for r in reports]
        events: dict[int, int] = dict(
            conn.execute(
                "SELECT report_id, count(*) FROM issues_reportevent WHERE report_id = ANY(%s) GROUP BY 1",
                [ids],
            ).fetchall()
        )
        created: dict[int, int] = dict(
            conn.execute(
                "SELECT report_id, count(*) FROM issues_reportevent WHERE report_id = ANY(%s) "
                "AND kind = 'created' GROUP BY 1",
                [ids],
            ).fetchall()
        )
        messages = conn.execute(
            "SELECT id, report_id FROM issues_outboxmessage WHERE report_id = ANY(%s)", [ids]
        ).fetchall()
        jobs = Counter(
            int(mid)
            for (mid,) in conn.execute(
                "SELECT args->>'message_id' FROM procrastinate_jobs WHERE task_name = %s", [OUTBOX_SEND_TASK]
            ).fetchall()
            if mid is not None
        )
    per_key: dict[str, list[tuple[int, str, str]]] = {}
    for report_id, key, code, phone in reports:
        per_key.setdefault(key.removeprefix("api:"), []).append((report_id, code, phone))
    messages_of: dict[int, list[int]] = {}
    for message_id, report_id in messages:
        messages_of.setdefault(report_id, []).append(message_id)

    d: Counter[str] = Counter()
    for key, rows in per_key.items():
        if key not in by_key:
            d["stray reports"] += len(rows)  # a key no client sent
        d["doubled reports"] += len(rows) - 1
    stored = sum(1 for key in by_key if key in per_key)
    for key, outcome in by_key.items():
        rows = per_key.get(key, [])
        if 200 <= outcome.status < 300:
            if not rows:
                d["lost reports"] += 1
            elif all(code != outcome.code for _id, code, _phone in rows):
                d["lost reports"] += 1  # stored, but not as the report the client was told of
        for report_id, _code, _phone in rows:
            n_created = created.get(report_id, 0)
            d["missing created events"] += n_created == 0
            d["doubled created events"] += max(0, n_created - 1)
            d["other events"] += events.get(report_id, 0) - n_created
            mine = messages_of.get(report_id, [])
            want = 1 if outcome.phone else 0
            d["missing messages"] += max(0, want - len(mine))
            d["doubled messages"] += max(0, len(mine) - want)
            for message_id in mine:
                d["missing jobs"] += jobs[message_id] == 0
                d["doubled jobs"] += max(0, jobs[message_id] - 1)
    lost = d["lost reports"] + d["missing created events"] + d["missing messages"] + d["missing jobs"]
    doubled = (
        d["doubled reports"] + d["stray reports"] + d["doubled created events"] + d["other events"]
        + d["doubled messages"] + d["doubled jobs"]
    )  # fmt: skip
    return Verdict(submitted=len(by_key), stored=stored, lost=lost, doubled=doubled, details=dict(d))


# --- The run -------------------------------------------------------------------------------------------


def main() -> int:
    n = _env_int("STRESS_N", 20_000)
    clients = _env_int("STRESS_CLIENTS", 32)
    workers = _env_int("STRESS_WORKERS", 3)
    kill_every = _env_float("STRESS_KILL_EVERY", 2.5)
    limit_s = min(_env_float("STRESS_SECONDS", 240.0), HARD_LIMIT_S)
    run = uuid.uuid4().hex[:8]
    rng = random.Random(137)
    began = time.monotonic()

    lock_path = ROOT / "var" / "stress.lock"
    lock_path.parent.mkdir(exist_ok=True)
    lock_file = open(lock_path, "w")  # noqa: SIM115 - held for the whole run
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("stress: another `make stress` is running", file=sys.stderr)
        return 2

    cluster = cluster_start()
    say(f"database: {cluster.note}")
    try:
        os.environ["DATABASE_URL"] = cluster.url
        category = city_create()
        say(f"migrated and filed the city in {time.monotonic() - began:.1f} s")
        with (
            tempfile.TemporaryDirectory(prefix="open137-stress-") as tmp,
            gunicorn(cluster.url, workers=workers, media_root=Path(tmp)) as server,
        ):
            outcomes, tally, chaos, load_s, deadline_hit = load(
                server, cluster, category=category, n=n, clients=clients, kill_every=kill_every,
                limit_s=limit_s, run=run, rng=rng,
            )  # fmt: skip
            died = _log_count(server.log_path, "was sent SIGKILL")
        verdict = verify(cluster.url, run, outcomes)
    finally:
        cluster.stop()

    answered_2xx = sum(1 for o in outcomes if 200 <= o.status < 300)
    refused = sum(1 for o in outcomes if 400 <= o.status < 500)
    unanswered = sum(1 for o in outcomes if o.status == 0)
    replays = sum(1 for o in outcomes if o.replayed)
    retried = sum(1 for o in outcomes if o.attempts > 1)
    problems = [f"{k} {v}" for k, v in sorted(verdict.details.items()) if v]
    say(
        f"load: {len(outcomes)} submissions in {load_s:.1f} s ({len(outcomes) / max(load_s, 0.001):.0f}/s) by "
        f"{clients} clients on {workers} workers; {answered_2xx} 2xx ({replays} replays), {retried} retried, "
        f"{refused} 4xx, {unanswered} gave up; answers {dict(sorted(tally.statuses.items()))}; "
        f"503 retry-after {tally.unavailable}, connection errors {tally.connection_errors}, "
        f"timeouts {tally.timeouts}; gunicorn saw {died} workers killed"
    )
    if chaos.restart_note:
        say(f"db restart: {chaos.restart_note}")
    for text in tally.errors_seen:
        say(f"error answer: {text}")
    if problems:
        say("problems: " + ", ".join(problems))

    failed = bool(verdict.lost or verdict.doubled or tally.server_errors or refused or unanswered)
    if len(outcomes) < n:
        say(f"only {len(outcomes)} of {n} submitted before the {limit_s:g} s limit")
        failed = True
    if chaos.kills == 0 or (not cluster.external and chaos.restarts == 0) or chaos.failures:
        say("the chaos did not happen as planned: " + ("; ".join(chaos.failures) or "no kill or restart"))
        failed = True
    say(f"done in {time.monotonic() - began:.1f} s" + (" (deadline reached)" if deadline_hit else ""))
    print(
        f"stress: {verdict.submitted} submitted, {verdict.stored} stored, {verdict.lost} lost, "
        f"{verdict.doubled} doubled, {tally.server_errors} 5xx, {chaos.kills} kills, "
        f"{chaos.restarts} db restarts",
        flush=True,
    )
    return 1 if failed else 0


def _log_count(path: Path, text: str) -> int:
    try:
        return path.read_text(encoding="utf-8", errors="replace").count(text)
    except OSError:
        return 0


def load(
    server: Server, cluster: Cluster, *, category: str, n: int, clients: int, kill_every: float,
    limit_s: float, run: str, rng: random.Random,
) -> tuple[list[Outcome], Tally, Chaos, float, bool]:  # fmt: skip
    tally = Tally()
    chaos = Chaos()
    outcomes: list[Outcome] = []
    outcomes_lock = threading.Lock()
    counter = iter(range(n))
    counter_lock = threading.Lock()
    stop_chaos = threading.Event()
    restart_now = threading.Event()
    started = time.monotonic()
    deadline = started + limit_s
    deadline_hit = threading.Event()

    def client(seed: int) -> None:
        local = random.Random(seed)
        while True:
            if time.monotonic() >= deadline:
                deadline_hit.set()
                return
            with counter_lock:
                index = next(counter, None)
            if index is None:
                return
            outcome = submit(server.base, index, run, category, tally, local)
            with outcomes_lock:
                outcomes.append(outcome)
                # 40 % answered, or 40 % of the time gone on a machine too slow for the whole number.
                if len(outcomes) >= n * RESTART_AT or time.monotonic() - started >= limit_s * RESTART_AT:
                    restart_now.set()

    chaos_thread = threading.Thread(
        target=chaos_run,
        args=(server, cluster, chaos),
        kwargs={"stop": stop_chaos, "progress": restart_now, "kill_every": kill_every, "rng": rng},
        daemon=True,
    )
    threads = [threading.Thread(target=client, args=(rng.random(),), daemon=True) for _ in range(clients)]
    chaos_thread.start()
    for t in threads:
        t.start()
    last = 0.0
    while any(t.is_alive() for t in threads):
        time.sleep(0.5)
        now = time.monotonic()
        if now - last >= 10:
            last = now
            say(
                f"{now - started:5.1f} s: {len(outcomes)}/{n} answered, {chaos.kills} kills, "
                f"{chaos.restarts} db restarts, 503 {tally.unavailable}, other 5xx {tally.server_errors}, "
                f"connection errors {tally.connection_errors}"
            )
    load_s = time.monotonic() - started
    stop_chaos.set()
    chaos_thread.join(120)
    return outcomes, tally, chaos, load_s, deadline_hit.is_set()


if __name__ == "__main__":
    sys.exit(main())

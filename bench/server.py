"""A real HTTP server for the API measures, and the load generator that drives it.

The server is gunicorn (a project dependency, and what a city's server runs) serving the project's
WSGI application on 127.0.0.1 with a port the kernel picks, with DJANGO_SETTINGS_MODULE=bench.settings
(the project's settings and URLs plus the bench-only references of bench/views.py) and the bench
database. It is stopped when the `with` block ends, on error too.

The client is wrk (Debian's package, installed by scripts/setup.sh): one event-loop thread, a fixed
number of connections (kept alive when the server allows it), a fixed duration, and a Lua script that
counts every answer that is not a 2xx and prints the figures and the latency distribution as one JSON
line. It only ever targets 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
_LISTENING = re.compile(r"Listening at: (http://127\.0\.0\.1:\d+)")


@dataclass(frozen=True)
class ServerConfig:
    """How gunicorn runs: the same for a measure's project side and its reference."""

    workers: int
    worker_class: str = "sync"  # "sync" or "gthread"
    threads: int = 1

    def describe(self) -> str:
        threads = f" × {self.threads} threads" if self.worker_class == "gthread" else ""
        return f"gunicorn {self.workers} {self.worker_class} workers{threads}"

    def args(self) -> list[str]:
        args = ["--workers", str(self.workers), "--worker-class", self.worker_class]
        if self.worker_class == "gthread":
            args += ["--threads", str(self.threads)]
        return args


def server_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The bench process's environment (DATABASE_URL is the bench database, set by bench.db) with the
    bench settings module and write rate limits off (a load test is one client sending a lot)."""
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    env.setdefault("OPEN137_DEBUG", "0")
    for limit in ("REPORTS", "SUPPORT", "UPDATES", "OPEN311"):
        env[f"OPEN137_RATE_{limit}"] = ""  # empty: the limit is off (open137/settings.py)
    env.update(extra or {})
    return env


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    # SIGTERM to the master (by its id): it stops its workers and exits.
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT_S)
        return
    except subprocess.TimeoutExpired:
        pass
    # Still there: the master and its workers were started in a session of their own, whose id is
    # the master's, so this kills exactly what this module started.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(STOP_TIMEOUT_S)


@contextmanager
def gunicorn(config: ServerConfig, *, ready_path: str = "/api/categories/") -> Iterator[str]:
    """Start gunicorn on 127.0.0.1 (a free port), wait until `ready_path` answers 200 and yield the
    base URL (http://127.0.0.1:PORT); stop the server when the block ends."""
    with tempfile.TemporaryDirectory(prefix="open137-bench-") as tmp:
        log_path = Path(tmp) / "gunicorn.log"
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "open137.wsgi:application",
            "--bind",
            "127.0.0.1:0",
            *config.args(),
            "--timeout",
            "60",
            "--graceful-timeout",
            "5",
            "--log-level",
            "info",
            "--error-logfile",
            str(log_path),
        ]
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=server_environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        try:
            base = _wait_ready(process, log_path, ready_path)
            yield base
        finally:
            _stop(process)


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _wait_ready(process: subprocess.Popen[bytes], log_path: Path, ready_path: str) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    base = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{_log_tail(log_path)}")
        if base is None:
            found = _LISTENING.search(log_path.read_text(encoding="utf-8", errors="replace"))
            base = found.group(1) if found else None
        if base is not None:
            try:
                with urllib.request.urlopen(base + ready_path, timeout=10) as response:  # noqa: S310
                    if response.status == 200:
                        return base
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {START_TIMEOUT_S:g} s:\n{_log_tail(log_path)}")


# --- Load ------------------------------------------------------------------------------------------

# Appended to every measure's script: counts the answers that are not 2xx (per thread, summed in
# done()) and prints one JSON line with the totals and the latency distribution (microseconds) as
# percentiles: every whole percent, then every tenth above 99, then the maximum.
_WRK_REPORT_LUA = r"""
local wrk_threads = {}
function setup(thread)
  thread:set("thread_index", #wrk_threads)
  table.insert(wrk_threads, thread)
end

non_2xx = 0
function response(status, headers, body)
  if status < 200 or status > 299 then non_2xx = non_2xx + 1 end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(wrk_threads) do failed = failed + (thread:get("non_2xx") or 0) end
  local points = {}
  for p = 0, 99 do table.insert(points, string.format("[%d, %d]", p, latency:percentile(p))) end
  for t = 1, 9 do table.insert(points, string.format("[99.%d, %d]", t, latency:percentile(99 + t / 10))) end
  table.insert(points, string.format("[100, %d]", latency.max))
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "non_2xx": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "timeout": %d, "percentiles": [%s]}\n',
    summary.requests, summary.duration, failed, e.connect, e.read, e.write, e.timeout,
    table.concat(points, ", ")))
end
"""


@dataclass(frozen=True)
class LoadResult:
    requests: int
    duration_s: float
    non_2xx: int
    socket_errors: int  # connect, read, write errors and timeouts
    # The latency distribution: (percent, milliseconds), percent ascending; 100 is the maximum.
    percentiles: tuple[tuple[float, float], ...]

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s

    @property
    def failed(self) -> int:
        return self.non_2xx + self.socket_errors

    def latency_ms(self, percent: float) -> float:
        return next(ms for p, ms in self.percentiles if p >= percent)

    def share_within(self, ms: float) -> float:
        """The fraction of the requests answered within `ms` (linear between the known points)."""
        below_percent, below_ms = 0.0, 0.0
        for percent, value in self.percentiles:
            if value > ms:
                if value == below_ms:
                    return below_percent / 100
                return (
                    below_percent + (percent - below_percent) * (ms - below_ms) / (value - below_ms)
                ) / 100
            below_percent, below_ms = percent, value
        return 1.0

    def describe(self) -> str:
        return (
            f"{self.requests} requests in {self.duration_s:.1f} s = {self.rps:.1f}/s, "
            f"p50 {self.latency_ms(50):.1f} ms, p99 {self.latency_ms(99):.1f} ms, failed {self.failed}"
        )


def wrk_available() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise RuntimeError("wrk is not installed (scripts/setup.sh installs Debian's package: make setup)")
    return path


def wrk(
    url: str, *, lua: str = "", connections: int, duration_s: float, timeout_s: float = 10.0
) -> LoadResult:
    """`connections` connections sending requests back to back for `duration_s` seconds
    (one wrk thread); `lua` may define `request()` (a POST body) on top of the counting script."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"load tests only target 127.0.0.1, not {url}")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", encoding="utf-8", delete=False) as script:
        script.write(lua + "\n" + _WRK_REPORT_LUA)
    try:
        completed = subprocess.run(
            [
                wrk_available(),
                "--threads",
                "1",
                "--connections",
                str(connections),
                "--duration",
                f"{duration_s:g}s",
                "--timeout",
                f"{timeout_s:g}s",
                "--script",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=duration_s + timeout_s + 30,
            check=False,
        )
    finally:
        os.unlink(script.name)
    line = next((x for x in completed.stdout.splitlines() if x.startswith("WRK_RESULT ")), None)
    if completed.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}")
    data = json.loads(line.removeprefix("WRK_RESULT "))
    return LoadResult(
        requests=data["requests"],
        duration_s=data["duration_us"] / 1e6,
        non_2xx=data["non_2xx"],
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        percentiles=tuple((float(p), us / 1e3) for p, us in data["percentiles"]),
    )


@dataclass(frozen=True)
class Target:
    url: str
    lua: str = ""


def load_alternating(
    targets: dict[str, Target],
    *,
    connections: int,
    warmup_s: float,
    rounds: int,
    round_s: float,
    drain_url: str,
    say: Callable[[str], None],
) -> dict[str, list[LoadResult]]:
    """Warm each target up, then load them in turns, `rounds` times `round_s` seconds each (the order
    rotates), so that a slower moment of the machine falls on all of them alike; after each run the
    server is drained (`drain(drain_url)`). Every request must get a 2xx: any other answer, a timeout
    or a socket error raises."""

    def checked(name: str, result: LoadResult) -> LoadResult:
        if result.failed:
            raise RuntimeError(
                f"{name}: {result.non_2xx} answers were not 2xx and {result.socket_errors} requests "
                f"failed on the socket (of {result.requests})"
            )
        return result

    def run(name: str, duration_s: float) -> LoadResult:
        target = targets[name]
        result = checked(
            name, wrk(target.url, lua=target.lua, connections=connections, duration_s=duration_s)
        )
        drain(drain_url)
        return result

    names = list(targets)
    for name in names:
        say(f"warm-up {name}: {run(name, warmup_s).describe()}")
    results: dict[str, list[LoadResult]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            result = run(name, round_s)
            results[name].append(result)
            say(f"round {index + 1}/{rounds} {name}: {result.describe()}")
    return results


def drain(url: str) -> None:
    """Wait until the server has finished what the last run left behind.

    When wrk stops, the requests still queued on the server's listening socket are not lost: the
    workers accept them, run them and write to a closed connection. Left alone, that work would
    slow down whichever side runs next. A request sent now queues behind them, so its answer means
    the queue is empty; the pause after it lets the workers finish their last request."""
    time.sleep(0.2)
    with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 - 127.0.0.1 only
        response.read()
    time.sleep(0.5)


def total_rps(results: list[LoadResult]) -> float:
    return sum(r.requests for r in results) / sum(r.duration_s for r in results)


def median_round(ours: list[LoadResult], reference: list[LoadResult]) -> tuple[float, float]:
    """The requests per second of both sides in the round whose ratio (ours / reference) is the
    median of the rounds (each round is one run of each side, back to back): a slower spell of the
    machine that falls on one or two rounds, and on one side more than the other, does not move the
    figure, as it moves the total of all rounds."""
    if len(ours) != len(reference) or not ours:
        raise ValueError("one run of each side per round")
    rounds = sorted(zip(ours, reference, strict=True), key=lambda pair: pair[0].rps / pair[1].rps)
    middle_ours, middle_reference = rounds[(len(rounds) - 1) // 2]
    return middle_ours.rps, middle_reference.rps


def pooled_percentile(results: list[LoadResult], percent: float) -> float:
    """The latency (ms) within which `percent` of all the requests of these runs were answered: the
    runs' distributions merged, each weighted by its number of requests (to the resolution of the
    percentiles wrk reports). It lies between the runs' own figures, nearer the worse ones when the
    slow requests come from one run."""
    total = sum(r.requests for r in results)
    previous_ms, previous_share = 0.0, 0.0
    for value in sorted({ms for r in results for _p, ms in r.percentiles}):
        share = sum(r.requests * r.share_within(value) for r in results) / total
        if share >= percent / 100:
            if share == previous_share:
                return value
            return previous_ms + (value - previous_ms) * (percent / 100 - previous_share) / (
                share - previous_share
            )
        previous_ms, previous_share = value, share
    return max(r.percentiles[-1][1] for r in results)

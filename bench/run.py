"""`make bench`: the campaign page and the Stripe webhook under load, against gunicorn.

    BENCH_GIVERS=20000 BENCH_QUICK=1 .venv/bin/python bench/run.py [--task-workers 2x8]

In one run it:

1. checks that PostgreSQL (127.0.0.1:5432, user postgres, trust) and Redis (127.0.0.1:6379)
   answer, starting them if they are down, and installs wrk with apt-get if it is missing;
2. builds two scratch databases: bench_small (`seed_demo`: the live campaign has 12 givers)
   and bench_g<N> (`seed_demo --givers N`, then VACUUM ANALYZE);
3. counts, in process, the queries and cache reads of a cache miss and a hit of the campaign
   page in both (bench/tasks.py querycount);
4. starts the Stripe stand-in (bench/stripe_standin.py) and gunicorn with gunicorn.conf.py and
   2 workers (DEBUG off, ROOT_URLCONF=bench.urls for the 1 KB baseline page) on 127.0.0.1,
   and reports the worker class and threads gunicorn really runs;
5. measures with wrk, interleaved: baseline, warm campaign page, baseline, campaign page while
   a gift is recorded every 100 ms (a sampler counts stale totals), baseline (x rounds);
6. starts the task workers (`manage.py db_worker`, processes x threads) beside gunicorn; posts
   signed checkout.session.completed events from 8 senders, the stand-in answering at once
   and then 150 ms late: acknowledgements a second, and events processed a second until the
   workers are done; checks each event was stored once and its gift recorded exactly once;
7. posts events at a steady 10 a second while a visitor reloads the campaign page, and
   measures the time from each acknowledgement until the page counts its gift;
8. stops the task workers, requests the campaign page about 20,000 times (within a time cap)
   and compares gunicorn's workers' memory before and after;
9. puts Varnish (deploy/varnish/solidaria.vcl) in front of gunicorn, with a task worker that
   purges it, and measures the campaign page at the edge against the origin alone, quiet
   and under a gift every 100 ms, and how old the totals the edge serves get (bench/edge.py;
   skipped, saying why, without varnishd or with BENCH_EDGE=0);
10. prints a table, writes bench/results/latest.json, and stops everything it started (also on
   Ctrl-C or failure) and drops the scratch databases (unless BENCH_KEEP_DB=1).

Settings come from the environment (BENCH_*) or the flags below; BENCH_QUICK=1 shortens
every phase for a smoke run.
"""

# The bench runs local tools (psql, wrk, gunicorn, redis-cli) with arguments it builds itself.
# ruff: noqa: S603, S607

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import edge, measure, webhooks  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PG_ADMIN = ["psql", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "postgres", "-Atqc"]
PG_URL = "postgres://postgres@127.0.0.1:5432/"
REDIS_URL = "redis://127.0.0.1:6379/7"
STRIPE_SECRET_KEY = "sk_test_bench"  # noqa: S105 (the stand-in's key, not a secret)
WEBHOOK_PATH = "/stripe/webhook/"
BASELINE_PATH = "/bench/baseline/"
SMALL_DB = "bench_small"
BASELINE, WARM_PAGE, GIFTS = "baseline", "warm page", "page + gift stream"
GUNICORN_LOG = RESULTS / "gunicorn.log"
LATENCY_LIMIT_SECONDS = 2.0


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def workers_parse(text: str) -> tuple[int, int]:
    """ "2x6" -> (2, 6): task worker processes, and threads in each."""
    processes, _, threads = text.lower().partition("x")
    try:
        parsed = int(processes), int(threads or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not PROCESSESxTHREADS: {text!r}") from None
    if min(parsed) < 1:
        raise argparse.ArgumentTypeError(f"at least 1x1: {text!r}")
    return parsed


def options_parse() -> argparse.Namespace:
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0", "false")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--givers", type=int, default=_env_int("BENCH_GIVERS", 100_000))
    parser.add_argument(
        "--duration",
        type=float,
        default=float(os.environ.get("BENCH_DURATION") or (5 if quick else 15)),
        help="seconds per wrk phase and at most per webhook run",
    )
    parser.add_argument("--rounds", type=int, default=_env_int("BENCH_ROUNDS", 1))
    parser.add_argument("--connections", type=int, default=_env_int("BENCH_CONNECTIONS", 8))
    parser.add_argument("--wrk-threads", type=int, default=_env_int("BENCH_WRK_THREADS", 2))
    parser.add_argument("--gift-interval", type=float, default=0.1)
    parser.add_argument("--webhook-clients", type=int, default=_env_int("BENCH_WEBHOOK_CLIENTS", 8))
    parser.add_argument(
        "--gunicorn-threads",
        type=int,
        default=_env_int("BENCH_GUNICORN_THREADS", 0),
        help="threads per gunicorn worker; 0 leaves it to gunicorn.conf.py (GUNICORN_THREADS)",
    )
    parser.add_argument(
        "--task-workers",
        type=workers_parse,
        default=workers_parse(os.environ.get("BENCH_TASK_WORKERS") or "2x8"),
        help="db_worker processes x threads each, as PxT (default 2x8)",
    )
    parser.add_argument(
        "--task-nice",
        type=int,
        default=_env_int("BENCH_TASK_NICE", 10),
        help="run the task workers at this nice level (0: as gunicorn), as the deployment "
        "docs advise: acknowledgements first, the backlog when the CPU is free",
    )
    parser.add_argument(
        "--task-interval",
        type=float,
        default=float(os.environ.get("BENCH_TASK_INTERVAL") or 0.05),
        help="db_worker --interval: seconds an idle worker thread waits before looking again",
    )
    parser.add_argument(
        "--webhook-events",
        type=int,
        default=_env_int("BENCH_WEBHOOK_EVENTS", 600 if quick else 2000),
        help="events posted in each acknowledgement run (within --duration)",
    )
    parser.add_argument(
        "--webhook-drain-seconds",
        type=float,
        default=float(os.environ.get("BENCH_WEBHOOK_DRAIN_SECONDS") or 180),
        help="how long to wait, after the last answer, for the workers to process every event",
    )
    parser.add_argument(
        "--stripe-delay-ms",
        type=float,
        default=float(os.environ.get("BENCH_STRIPE_DELAY_MS") or 150),
    )
    parser.add_argument(
        "--latency-rate",
        type=float,
        default=float(os.environ.get("BENCH_LATENCY_RATE") or 10),
        help="events a second in the page-latency run",
    )
    parser.add_argument(
        "--latency-seconds",
        type=float,
        default=float(os.environ.get("BENCH_LATENCY_SECONDS") or (10 if quick else 30)),
    )
    parser.add_argument(
        "--latency-poll",
        type=float,
        default=0.05,
        help="seconds between the page poller's requests in the page-latency run",
    )
    parser.add_argument(
        "--memory-requests",
        type=int,
        default=_env_int("BENCH_MEMORY_REQUESTS", 2000 if quick else 20_000),
    )
    parser.add_argument(
        "--memory-max-seconds",
        type=float,
        default=float(os.environ.get("BENCH_MEMORY_MAX_SECONDS") or (60 if quick else 300)),
    )
    parser.add_argument("--conn-max-age", type=int, default=_env_int("BENCH_CONN_MAX_AGE", 60))
    parser.add_argument(
        "--port",
        type=int,
        default=_env_int("BENCH_PORT", 18200),
        help="gunicorn; the stand-in takes the next one",
    )
    parser.add_argument(
        "--keep-db",
        action="store_true",
        default=os.environ.get("BENCH_KEEP_DB", "") not in ("", "0", "false"),
    )
    parser.add_argument(
        "--edge",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("BENCH_EDGE", "") not in ("0", "false"),
        help="the edge phase: Varnish in front of gunicorn (bench/edge.py)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    options = parser.parse_args()
    options.quick = quick
    return options


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Processes:
    """Every process this run starts, each in its own session; all stopped at the end."""

    def __init__(self):
        self.running: list[tuple[str, subprocess.Popen]] = []
        self.stop_commands: list[list[str]] = []

    def start(self, name: str, command: list[str], *, env: dict, output: Path):
        handle = output.open("w")
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        handle.close()
        self.running.append((name, process))
        return process

    def stop(self, process: subprocess.Popen, *, grace: float = 15) -> None:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.running = [(n, p) for n, p in self.running if p is not process]

    def stop_all(self) -> None:
        for _name, process in reversed(self.running):
            self.stop(process)
        for command in self.stop_commands:
            subprocess.run(command, check=False, capture_output=True)


def _answers(command: list[str]) -> bool:
    return subprocess.run(command, check=False, capture_output=True).returncode == 0


def services_ensure(processes: Processes) -> None:
    """PostgreSQL and Redis answer (started if down; stopped again at the end), wrk exists."""
    if not _answers([*PG_ADMIN, "SELECT 1"]):
        log("PostgreSQL is down: starting the 15/main cluster")
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "start"], check=True
        )
        processes.stop_commands.append(
            ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "stop"]
        )
        for _ in range(30):
            if _answers([*PG_ADMIN, "SELECT 1"]):
                break
            time.sleep(1)
        else:
            raise SystemExit("PostgreSQL does not accept a trust login on 127.0.0.1:5432.")
    redis_ping = ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping"]
    if not _answers(redis_ping):
        log("Redis is down: starting it")
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=True,
        )
        processes.stop_commands.append([*redis_ping[:-1], "shutdown", "nosave"])
        time.sleep(0.5)
        if not _answers(redis_ping):
            raise SystemExit("Redis does not answer on 127.0.0.1:6379.")
    if shutil.which("wrk") is None:
        log("wrk is missing: apt-get install -y wrk")
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True)


def machine_facts() -> dict:
    meminfo = dict(
        line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line
    )
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    redis_info = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "info", "server"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    redis_version = next(
        (
            line.split(":", 1)[1].strip()
            for line in redis_info.splitlines()
            if line.startswith("redis_version:")
        ),
        "unknown",
    )
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(int(meminfo["MemTotal"].split()[0]) / 1024 / 1024, 1),
        "postgresql": _psql("SHOW server_version"),
        "redis": redis_version,
        "python": platform.python_version(),
        "django": importlib.metadata.version("django"),
        "gunicorn": importlib.metadata.version("gunicorn"),
        "wrk": (wrk_version.stdout or wrk_version.stderr).splitlines()[0].strip(),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
    }


def _psql(sql: str, database: str = "postgres") -> str:
    command = [*PG_ADMIN[:-2], database, "-Atqc", sql]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def base_env(options, database: str, *, site_port: int) -> dict:
    env = dict(os.environ)
    env.update(
        DEBUG="false",
        SECRET_KEY=options.secret_key,
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="127.0.0.1",
        SITE_URL=f"http://127.0.0.1:{site_port}",
        DATABASE_URL=f"{PG_URL}{database}",
        CONN_MAX_AGE=str(options.conn_max_age),
        CACHE_URL=REDIS_URL,
        ROOT_URLCONF="bench.urls",
        STRIPE_SECRET_KEY=STRIPE_SECRET_KEY,
        STRIPE_WEBHOOK_SECRET=options.webhook_secret,
        STRIPE_API_BASE=f"http://127.0.0.1:{options.port + 1}",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    for name in ("PAYMENTS_DEMO", "EMAIL_URL"):
        env.pop(name, None)
    return env


def manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def task(env: dict, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "bench/tasks.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def databases_build(options, main_db: str) -> dict:
    """bench_small (12 givers on the live campaign), then bench_g<N> copied from it."""
    timings = {}
    for name in (main_db, SMALL_DB):
        _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _psql(f'CREATE DATABASE "{SMALL_DB}"')
    env = base_env(options, SMALL_DB, site_port=options.port)
    started = time.monotonic()
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "seed_demo")
    manage(env, "collectstatic", "--noinput", "-v0")
    timings["small_seconds"] = round(time.monotonic() - started, 1)
    _psql(f'CREATE DATABASE "{main_db}" TEMPLATE "{SMALL_DB}"')
    started = time.monotonic()
    manage(
        base_env(options, main_db, site_port=options.port),
        "seed_demo",
        "--givers",
        str(options.givers),
    )
    # VACUUM too: otherwise autovacuum visits the freshly inserted rows during the first phases.
    _psql("VACUUM ANALYZE", main_db)
    timings["seed_givers_seconds"] = round(time.monotonic() - started, 1)
    return timings


def _get(port: int, path: str, timeout: float = 5) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as answer:
            return answer.status
    except OSError:
        return 0


# gunicorn's own reading of a command line: gunicorn.conf.py, the environment, then the flags.
# It turns a "sync" worker with threads > 1 into gthread, so the bench asks it what it runs.
GUNICORN_PROBE = """
import json
from gunicorn.app.wsgiapp import WSGIApplication
cfg = WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]").cfg
print(json.dumps({"worker_class": cfg.worker_class_str, "workers": cfg.workers,
                  "threads": cfg.threads, "accesslog": cfg.accesslog}))
"""


def gunicorn_effective(arguments: list[str], env: dict) -> dict:
    """The worker class, workers and threads gunicorn resolves for these arguments."""
    done = subprocess.run(
        [sys.executable, "-c", GUNICORN_PROBE, *arguments],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def gunicorn_start(processes: Processes, options, env: dict, *, port: int):
    """2 workers; gunicorn.conf.py (as the Dockerfile runs it) decides the class and threads
    unless --gunicorn-threads says. Returns the process and what gunicorn really runs."""
    arguments = [
        "config.wsgi:application",
        "--config",
        str(ROOT / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        *(["--threads", str(options.gunicorn_threads)] if options.gunicorn_threads else []),
        "--chdir",
        str(ROOT),
        "--log-level",
        "warning",
        "--backlog",
        "2048",
    ]
    effective = gunicorn_effective(arguments, env)
    log(
        f"gunicorn: {effective['workers']} {effective['worker_class']} workers x "
        f"{effective['threads']} threads"
    )
    process = processes.start(
        "gunicorn", [sys.executable, "-m", "gunicorn", *arguments], env=env, output=GUNICORN_LOG
    )
    for _ in range(120):
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited; see {GUNICORN_LOG}")
        if _get(port, "/healthz") == 200 and len(measure.worker_pids(process.pid)) == 2:
            return process, effective
        time.sleep(0.25)
    raise SystemExit("gunicorn did not answer /healthz with 200 within 30 s.")


def postgres_pids(database: str) -> list[int]:
    """PostgreSQL's processes that serve this database, and its own (WAL writer, checkpointer
    and so on), leaving out other databases' connections."""
    rows = _psql(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() OR datname IS NULL",
        database,
    )
    return [int(pid) for pid in rows.split()]


def task_workers_start(processes: Processes, options, env: dict) -> list[subprocess.Popen]:
    """`manage.py db_worker` processes beside gunicorn, with its environment; returns once
    every worker thread has said it started."""
    count, threads = options.task_workers
    niced = ["nice", "-n", str(options.task_nice)] if options.task_nice else []
    command = [
        *niced,
        sys.executable,
        "manage.py",
        "db_worker",
        "--no-reload",
        "--no-startup-delay",
        "--threads",
        str(threads),
        "--interval",
        str(options.task_interval),
    ]
    started = []
    for number in range(1, count + 1):
        output = RESULTS / f"db-worker-{number}.log"
        started.append(
            (processes.start(f"db-worker-{number}", command, env=env, output=output), output)
        )
    for _ in range(120):
        for process, output in started:
            if process.poll() is not None:
                raise SystemExit(f"db_worker exited; see {output}")
        if all(output.read_text().count("Starting worker") >= threads for _, output in started):
            log(
                f"task workers: {count} db_worker processes x {threads} threads, "
                f"nice {options.task_nice}"
            )
            return [process for process, _ in started]
        time.sleep(0.25)
    raise SystemExit(f"db_worker did not start its {threads} threads within 30 s.")


class MemoryWatch(threading.Thread):
    """Polls the workers' resident memory twice a second; keeps the peak per worker."""

    def __init__(self, master_pid: int):
        super().__init__(daemon=True)
        self.master_pid = master_pid
        self.peak_rss_kib: dict[int, int] = {}
        self.peak_hwm_kib: dict[int, int] = {}
        self.threads: dict[int, int] = {}
        self._halt = threading.Event()

    def poll(self) -> None:
        for pid, memory in measure.workers_memory(self.master_pid).items():
            self.peak_rss_kib[pid] = max(self.peak_rss_kib.get(pid, 0), memory.get("VmRSS", 0))
            self.peak_hwm_kib[pid] = max(self.peak_hwm_kib.get(pid, 0), memory.get("VmHWM", 0))
            with contextlib.suppress(OSError):
                threads = len(os.listdir(f"/proc/{pid}/task"))
                self.threads[pid] = max(self.threads.get(pid, 0), threads)

    def run(self) -> None:
        while not self._halt.wait(0.5):
            self.poll()

    def stop(self) -> dict:
        self._halt.set()
        self.join()
        self.poll()
        return {
            "peak_rss_mib": round(max(self.peak_rss_kib.values(), default=0) / 1024, 1),
            "peak_hwm_mib": round(max(self.peak_hwm_kib.values(), default=0) / 1024, 1),
            "workers": len(self.peak_rss_kib),
            # Threads each worker process had at most (gthread: its pool, plus the main one).
            "os_threads_max": sorted(self.threads.values()),
        }


def wrk_phase(options, port: int, path: str, label: str) -> dict:
    result = measure.run_wrk(
        f"http://127.0.0.1:{port}{path}",
        seconds=options.duration,
        threads=options.wrk_threads,
        connections=options.connections,
    )
    log(
        f"{label:<24} {result.rps:8.1f} req/s  p50 {result.p50_ms:7.1f} ms  "
        f"p99 {result.p99_ms:7.1f} ms  errors {result.non_2xx + result.socket_errors}"
    )
    return {"phase": label, "path": path, **result.summary()}


def gift_phase(options, processes: Processes, env: dict, port: int, page: str) -> dict:
    """The page under wrk while gifts stream in; a sampler checks every total it is shown."""
    gift_log = RESULTS / "gifts.jsonl"
    stream = processes.start(
        "gift-stream",
        [
            sys.executable,
            "bench/tasks.py",
            "gift-stream",
            "--interval",
            str(options.gift_interval),
            "--log",
            str(gift_log),
        ],
        env=env,
        output=RESULTS / "gift-stream.out",
    )
    for _ in range(200):
        if gift_log.exists() and gift_log.read_text().strip():
            break
        if stream.poll() is not None:
            raise SystemExit(f"the gift stream exited; see {RESULTS / 'gift-stream.out'}")
        time.sleep(0.1)
    sampler = measure.PageSampler("127.0.0.1", port, page)
    sampler.start()
    try:
        phase = wrk_phase(options, port, page, GIFTS)
        stream_died = stream.poll() is not None  # it streams until it is stopped
    finally:
        sampler.stop()
        processes.stop(stream)
    if stream_died:
        log(f"the gift stream stopped early; see {RESULTS / 'gift-stream.out'}")
    lines = [json.loads(line) for line in gift_log.read_text().splitlines()]
    commits = [
        measure.Commit(line["committed_at"], Decimal(line["total"]))
        for line in lines
        if "committed_at" in line
    ]
    end = next((line for line in lines if line.get("end")), None)
    seconds = commits[-1].committed_at - commits[0].committed_at if len(commits) > 1 else 0
    checker = {
        "gifts": len(commits) - 1,
        "gifts_per_second": round((len(commits) - 1) / seconds, 2) if seconds else 0,
        "checker_agrees_with_database": bool(
            end and Decimal(end["checker_total"]) == Decimal(end["database_total"])
        ),
        "sampler_connection_failures": sampler.failures,
        "stream_died": stream_died,
    }
    stale = measure.stale_responses(sampler.samples, commits)
    log(
        f"{'':<24} {checker['gifts']} gifts ({checker['gifts_per_second']}/s); sampler: "
        f"{stale['samples']} pages, {stale['stale']} stale, {stale['unreadable']} unreadable, "
        f"{stale['unexplained_totals']} unexplained totals"
    )
    return {**phase, "gift_stream": checker, "staleness": stale}


class SessionPool:
    """Pending online gifts, started through the real checkout service, whose givers have paid
    at the stand-in: each waits for its one `checkout.session.completed` event. A run uses
    what it can in its time; the rest waits for the next run."""

    def __init__(self, standin: webhooks.StandIn):
        self.standin = standin
        self.sessions: list[dict] = []
        self.prepare_seconds = 0.0

    def top_up(self, env: dict, count: int) -> None:
        missing = count - len(self.sessions)
        if missing <= 0:
            return
        log(f"starting {missing} checkouts through the service (Stripe: the stand-in)")
        started = time.monotonic()
        ids_file = RESULTS / "sessions.json"
        task(env, "checkouts", "--count", str(missing), "--out", str(ids_file))
        session_ids = json.loads(ids_file.read_text())
        for start in range(0, len(session_ids), 500):
            self.standin.pay(session_ids[start : start + 500])
        self.sessions += self.standin.sessions(session_ids)
        self.prepare_seconds += time.monotonic() - started

    def consume(self, session_ids: set[str]) -> None:
        self.sessions = [s for s in self.sessions if s["id"] not in session_ids]


def _sent_write(outcomes: list[webhooks.Outcome], pool: SessionPool) -> Path:
    sent_file = RESULTS / "sent.json"
    sent_file.write_text(
        json.dumps(
            {
                "delivered": [
                    {"session_id": o.session_id, "event_id": o.event_id, "status": o.status}
                    for o in outcomes
                ],
                "undelivered": [session["id"] for session in pool.sessions],
            }
        )
    )
    return sent_file


def _stripe_calls(before: dict, after: dict) -> dict:
    return {
        key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(key, 0)
    }


def webhook_run(
    options,
    env: dict,
    pool: SessionPool,
    *,
    port: int,
    delay_ms: float,
    label: str,
    cpu_groups: Callable[[], dict[str, list[int]]],
) -> dict:
    """`webhook_events` signed events from concurrent clients, for at most `duration` seconds,
    with the stand-in `delay_ms` late, while the task workers run. Measures the
    acknowledgements (200s a second, latency); then waits for the workers and checks the
    database: each event stored once in the inbox and processed, its gift recorded exactly
    once, every other pooled gift untouched. Processing rate: gifts recorded over the time from
    the first acknowledgement to the last event processed."""
    pool.top_up(env, options.webhook_events)
    planned = webhooks.deliveries(
        pool.sessions[: options.webhook_events], webhook_secret=options.webhook_secret
    )
    before = pool.standin.stats()
    pool.standin.set_delay(delay_ms)
    cpu_start = measure.cpu_snapshot(cpu_groups())
    try:
        outcomes, seconds = webhooks.deliver(
            planned,
            port=port,
            path=WEBHOOK_PATH,
            clients=options.webhook_clients,
            seconds=options.duration,
        )
        cpu_posted = measure.cpu_snapshot(cpu_groups())
        pool.consume({outcome.session_id for outcome in outcomes})
        sent_file = _sent_write(outcomes, pool)
        drain = str(options.webhook_drain_seconds)
        verified = task(env, "verify-webhooks", "--sent", str(sent_file), "--wait", drain)
        cpu_done = measure.cpu_snapshot(cpu_groups())
    finally:
        pool.standin.set_delay(0)
    stripe_calls = _stripe_calls(before, pool.standin.stats())
    acknowledged = [outcome for outcome in outcomes if outcome.status == 200]
    first_ack = min((outcome.answered_at for outcome in acknowledged), default=None)
    last_processed = verified["last_processed_at"]
    recorded = verified["recorded_exactly_once"]
    processing_seconds = (last_processed - first_ack) if first_ack and last_processed else 0
    retrievals = stripe_calls.get("GET /v1/checkout/sessions/<id>", 0)
    result = {
        "phase": label,
        "stripe_delay_ms": delay_ms,
        "clients": options.webhook_clients,
        "posted": len(outcomes),
        "answered_200": len(acknowledged),
        "seconds_posting": round(seconds, 2),
        "acks_per_second": round(len(acknowledged) / seconds, 1) if seconds else 0,
        **webhooks.latency_summary(outcomes),
        "seconds_until_processed": round(processing_seconds, 2),
        "processed_per_second": round(recorded / processing_seconds, 1)
        if processing_seconds
        else 0,
        "stripe_calls": stripe_calls,
        "session_retrievals_per_event": round(retrievals / len(outcomes), 2) if outcomes else 0,
        # CPU ms per event, by process group: while posting (acks, and the workers meanwhile),
        # and from the first post until everything was processed (the verifier's polls too).
        "cpu_ms_per_event_posting": measure.cpu_per_event(cpu_start, cpu_posted, len(outcomes)),
        "cpu_ms_per_event_total": measure.cpu_per_event(cpu_start, cpu_done, len(outcomes)),
        "verification": verified,
    }
    log(
        f"{'':<24} CPU ms/event while posting {result['cpu_ms_per_event_posting']}; "
        f"in all {result['cpu_ms_per_event_total']}"
    )
    log(
        f"{label:<24} acks {result['acks_per_second']:7.1f}/s  p50 {result['p50_ms']} ms  "
        f"p99 {result['p99_ms']} ms  {len(acknowledged)}/{len(outcomes)} answered 200; "
        f"processed {result['processed_per_second']}/s over {result['seconds_until_processed']}"
        f" s; exactly once: {recorded}/{verified['delivered']}"
        f"{'' if verified['ok'] and verified['drained'] else '  NOT OK'}"
    )
    return result


def page_latency_run(options, env: dict, pool: SessionPool, *, port: int, page: str) -> dict:
    """Events at a steady `latency_rate` a second, the stand-in `stripe_delay_ms` late; a
    visitor reloads the campaign page every `latency_poll` s. For each event: the time from
    its acknowledgement until the page's donor count first included its gift."""
    count = round(options.latency_rate * options.latency_seconds)
    pool.top_up(env, count)
    planned = webhooks.deliveries(pool.sessions[:count], webhook_secret=options.webhook_secret)
    poller = measure.PagePoller("127.0.0.1", port, page, interval=options.latency_poll)
    poller.start()
    pool.standin.set_delay(options.stripe_delay_ms)
    try:
        time.sleep(1)  # the count before: no event in flight (the previous runs have drained)
        counts = {sample.donor_count for sample in poller.samples[-5:]}
        if len(counts) != 1 or None in counts:
            raise SystemExit(f"the page's donor count is not steady before the run: {counts}")
        count_before = counts.pop()
        outcomes, seconds = webhooks.deliver_paced(
            planned,
            port=port,
            path=WEBHOOK_PATH,
            rate=options.latency_rate,
            seconds=options.latency_seconds,
        )
        pool.consume({outcome.session_id for outcome in outcomes})
        sent_file = _sent_write(outcomes, pool)
        drain = str(options.webhook_drain_seconds)
        verified = task(
            env, "verify-webhooks", "--sent", str(sent_file), "--wait", drain, "--times"
        )
        target = count_before + verified["recorded_exactly_once"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
            (sample.donor_count or 0) >= target for sample in poller.samples[-3:]
        ):
            time.sleep(0.1)
    finally:
        pool.standin.set_delay(0)
        poller.stop()
    acknowledged = {o.event_id: o.answered_at for o in outcomes if o.status == 200}
    recorded_at = verified.pop("recorded_at")
    delays = measure.page_delays(
        acknowledged, recorded_at, poller.samples, count_before=count_before
    )
    recording = {
        event_id: recorded_at[event_id] - answered_at if event_id in recorded_at else None
        for event_id, answered_at in acknowledged.items()
    }
    result = {
        "phase": f"{options.latency_rate:g} events/s, page latency",
        "stripe_delay_ms": options.stripe_delay_ms,
        "posted": len(outcomes),
        "answered_200": len(acknowledged),
        "events_per_second": round(len(outcomes) / seconds, 2) if seconds else 0,
        **{f"ack_{k}": v for k, v in webhooks.latency_summary(outcomes).items()},
        "count_before": count_before,
        "page_samples": len(poller.samples),
        "page_failures": poller.failures,
        "ack_to_page": measure.delay_summary(delays, within=LATENCY_LIMIT_SECONDS),
        "ack_to_recorded": measure.delay_summary(recording, within=LATENCY_LIMIT_SECONDS),
        "verification": verified,
    }
    shown = result["ack_to_page"]
    log(
        f"{result['phase']:<24} {result['events_per_second']}/s; ack to page p50 "
        f"{shown['p50_ms']} ms, p99 {shown['p99_ms']} ms, {100 * shown['within']:.1f}% within "
        f"{LATENCY_LIMIT_SECONDS:g} s; ack to recorded p99 {result['ack_to_recorded']['p99_ms']}"
        f" ms; exactly once: {verified['recorded_exactly_once']}/{verified['delivered']}"
    )
    return result


def memory_phase(options, master_pid: int, port: int, page: str, page_rps: float) -> dict:
    """Worker memory before and after about `memory_requests` requests of the campaign page.

    wrk runs for as long as the warm page's rate needs for that many requests, and again for
    what is missing if the page was slower by then (the machine may be shared), within
    `memory_max_seconds` in all; the report says how many were made."""
    before = measure.workers_memory(master_pid)
    requests, seconds_run, errors, rate = 0, 0.0, 0, max(page_rps, 0.1)
    while requests < options.memory_requests:
        left = options.memory_max_seconds - seconds_run
        seconds = (options.memory_requests - requests) / rate * 1.05
        seconds = min(max(seconds, options.duration), left)
        if seconds < 1:
            break
        result = measure.run_wrk(
            f"http://127.0.0.1:{port}{page}",
            seconds=seconds,
            threads=options.wrk_threads,
            connections=options.connections,
        )
        requests += result.requests
        seconds_run += result.seconds
        errors += result.non_2xx + result.socket_errors
        rate = max(result.rps, 0.1)
    after = measure.workers_memory(master_pid)
    growth = {
        str(pid): round(
            100 * (after[pid]["VmRSS"] - before[pid]["VmRSS"]) / before[pid]["VmRSS"], 1
        )
        for pid in before
        if pid in after
    }
    summary = {
        "requests": requests,
        "requests_planned": options.memory_requests,
        "seconds": round(seconds_run, 1),
        "rps": round(requests / seconds_run, 1) if seconds_run else 0,
        "errors": errors,
        "rss_before_mib": {str(pid): round(m["VmRSS"] / 1024, 1) for pid, m in before.items()},
        "rss_after_mib": {str(pid): round(m["VmRSS"] / 1024, 1) for pid, m in after.items()},
        "growth_percent": growth,
        "same_workers": sorted(before) == sorted(after),
    }
    log(
        f"memory: {requests} page requests in {summary['seconds']} s; RSS MiB before "
        f"{list(summary['rss_before_mib'].values())}, after "
        f"{list(summary['rss_after_mib'].values())}"
    )
    return summary


def _ratio(value: float, baselines: list[float]) -> float:
    return round(value / statistics.mean(baselines), 3) if baselines else 0.0


def _stream_kept_pace(phase: dict, options) -> bool:
    """The gift stream ran the whole phase at 90% of its rate or more (else the page was not
    under the load the target names)."""
    stream = phase["gift_stream"]
    return not stream["stream_died"] and stream["gifts_per_second"] >= 0.9 / options.gift_interval


def targets_check(report: dict, options) -> list[dict]:
    """The issue's targets, each with the figure measured here and whether it is met."""
    page = [p for p in report["phases"] if p["phase"] == WARM_PAGE]
    gifts = [p for p in report["phases"] if p["phase"] == GIFTS]
    small, large = report["querycount"]["small"], report["querycount"]["large"]
    rows = [
        (
            "warm page >= 0.8 x baseline rps",
            min(p["ratio_to_baseline"] for p in page),
            all(p["ratio_to_baseline"] >= 0.8 for p in page),
        ),
        (
            f"page under {1 / options.gift_interval:g} gifts/s >= 0.3 x baseline",
            f"{min(p['ratio_to_baseline'] for p in gifts)} (the stream managed "
            f"{min(p['gift_stream']['gifts_per_second'] for p in gifts)} gifts/s)",
            all(p["ratio_to_baseline"] >= 0.3 and _stream_kept_pace(p, options) for p in gifts),
        ),
        (
            "no stale total under the gift stream",
            sum(p["staleness"]["stale"] for p in gifts),
            all(
                p["staleness"]["stale"] == 0
                and p["staleness"]["samples"] > 0
                and p["staleness"]["unreadable"] == 0
                and p["staleness"]["unexplained_totals"] == 0
                and p["gift_stream"]["checker_agrees_with_database"]
                and _stream_kept_pace(p, options)
                for p in gifts
            ),
        ),
        (
            f"cache miss <= 6 queries, same at {small['counted_gifts']} and "
            f"{large['counted_gifts']} gifts",
            f"{small['miss']['queries']} / {large['miss']['queries']}",
            small["miss"]["queries"] == large["miss"]["queries"] <= 6,
        ),
        (
            "cache hit: no query, <= 2 cache reads",
            f"{large['hit']['queries']} queries, {large['hit']['cache_reads']} reads",
            all(q["hit"]["queries"] == 0 and q["hit"]["cache_reads"] <= 2 for q in (small, large))
            if small["cache_counter_works"] and large["cache_counter_works"]
            else None,
        ),
    ]
    processes, threads = options.task_workers
    for run in report["webhooks"]:
        rows.append(
            (
                f"{run['phase']}: acknowledged >= 250 events/s",
                f"{run['acks_per_second']} ({run['answered_200']} of {run['posted']} answered "
                f"200; p99 {run['p99_ms']} ms)",
                run["acks_per_second"] >= 250 and run["answered_200"] == run["posted"],
            )
        )
    slow = [run for run in report["webhooks"] if run["stripe_delay_ms"] > 0]
    rows.append(
        (
            f"processed >= 50 events/s, stand-in +{options.stripe_delay_ms:g} ms, "
            f"{processes} db_worker x {threads} threads",
            min((run["processed_per_second"] for run in slow), default=0),
            bool(slow) and all(run["processed_per_second"] >= 50 for run in slow),
        )
    )
    latency = report["page_latency"]
    checked = [*report["webhooks"], latency]
    rows.append(
        (
            "each event stored once and its gift recorded exactly once",
            f"{sum(r['verification']['recorded_exactly_once'] for r in checked)} of "
            f"{sum(r['verification']['delivered'] for r in checked)}",
            all(r["verification"]["ok"] and r["verification"]["drained"] for r in checked),
        )
    )
    shown = latency["ack_to_page"]
    rows.append(
        (
            f"at {options.latency_rate:g} events/s, 99% on the page within "
            f"{LATENCY_LIMIT_SECONDS:g} s of the ack",
            f"{100 * shown['within']:.1f}% (p50 {shown['p50_ms']} ms, p99 {shown['p99_ms']} ms, "
            f"{latency['events_per_second']} events/s)",
            shown["within"] >= 0.99
            and latency["events_per_second"] >= 0.9 * options.latency_rate
            and latency["answered_200"] == latency["posted"],
        )
    )
    memory = report["memory"]
    growth = max(memory["growth_percent"].values(), default=0.0)
    enough = memory["requests"] >= options.memory_requests and memory["same_workers"]
    rows.append(
        (
            f"worker memory within 10% across {options.memory_requests} requests",
            f"{growth}% over {memory['requests']} requests",
            (growth <= 10) if enough else None,
        )
    )
    rows += edge.targets(report, options)
    return [{"target": name, "measured": measured, "met": met} for name, measured, met in rows]


def report_print(report: dict) -> None:
    print()
    print(
        f"Campaign page benchmark: {report['config']['givers']} extra givers "
        f"({report['querycount']['large']['counted_gifts']} counted gifts), "
        f"{report['machine']['nproc']} CPUs, load {report['machine']['load_average_at_start']}"
        f" -> {report['machine']['load_average_at_end']}"
    )
    print(f"{'phase':<26}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'x base':>8}{'errors':>8}")
    for phase in report["phases"]:
        ratio = phase.get("ratio_to_baseline")
        print(
            f"{phase['phase']:<26}{phase['rps']:>9.1f}{phase['p50_ms']:>9.1f}"
            f"{phase['p99_ms']:>9.1f}{'' if ratio is None else f'{ratio:.2f}':>8}"
            f"{phase['non_2xx'] + phase['socket_errors']:>8}"
        )
    for phase in report["phases"]:
        if "staleness" in phase:
            stale, stream = phase["staleness"], phase["gift_stream"]
            print(
                f"  gift stream: {stream['gifts']} gifts at {stream['gifts_per_second']}/s; "
                f"{stale['samples']} sampled pages, {stale['stale']} stale "
                f"(max {stale['max_gifts_behind']} gifts behind), {stale['unreadable']} "
                f"unreadable"
            )
    servers = report["servers"]
    web, tasks = servers["gunicorn"], servers["task_workers"]
    print(
        f"gunicorn: {web['workers']} {web['worker_class']} workers x {web['threads']} threads; "
        f"task workers: {tasks['processes']} db_worker x {tasks['threads']} threads "
        f"(--interval {tasks['interval']})"
    )
    print(
        f"{'webhooks, ' + str(report['config']['webhook_clients']) + ' senders':<26}"
        f"{'acks/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'posted':>8}{'proc/s':>9}{'once':>8}"
    )
    for run in report["webhooks"]:
        once = run["verification"]["recorded_exactly_once"]
        print(
            f"{run['phase']:<26}{run['acks_per_second']:>9.1f}{run['p50_ms'] or 0:>9.1f}"
            f"{run['p99_ms'] or 0:>9.1f}{run['posted']:>8}{run['processed_per_second']:>9.1f}"
            f"{once:>8}"
        )
    latency = report["page_latency"]
    shown, recorded = latency["ack_to_page"], latency["ack_to_recorded"]
    print(
        f"{latency['phase']} ({latency['events_per_second']}/s, stand-in "
        f"+{latency['stripe_delay_ms']:g} ms, {latency['posted']} events): ack to page p50 "
        f"{shown['p50_ms']} ms, p99 {shown['p99_ms']} ms, max {shown['max_ms']} ms, "
        f"{100 * shown['within']:.1f}% within {LATENCY_LIMIT_SECONDS:g} s; ack to recorded p50 "
        f"{recorded['p50_ms']} ms, p99 {recorded['p99_ms']} ms"
    )
    for size in ("small", "large"):
        counts = report["querycount"][size]
        print(
            f"queries, {counts['counted_gifts']:>7} gifts: miss {counts['miss']['queries']} "
            f"queries / {counts['miss']['cache_reads']} cache reads; hit "
            f"{counts['hit']['queries']} queries / {counts['hit']['cache_reads']} cache reads"
        )
    memory = report["memory"]
    print(
        f"gunicorn worker memory: peak RSS {report['worker_peak']['peak_rss_mib']} MiB; "
        f"across {memory['requests']} page requests: {memory['rss_before_mib']} -> "
        f"{memory['rss_after_mib']} MiB"
    )
    for line in edge.report_lines(report):
        print(line)
    print()
    for row in report["targets"]:
        verdict = {True: "met", False: "MISSED", None: "n/a"}[row["met"]]
        print(f"  [{verdict:>6}] {row['target']}: {row['measured']}")


def standin_start(processes: Processes, env: dict, port: int) -> webhooks.StandIn:
    command = [
        sys.executable,
        "bench/stripe_standin.py",
        "--port",
        str(port),
        "--secret-key",
        STRIPE_SECRET_KEY,
    ]
    process = processes.start(
        "stripe-standin", command, env=env, output=RESULTS / "stripe-standin.log"
    )
    standin = webhooks.StandIn(port, STRIPE_SECRET_KEY, pid=process.pid)
    for _ in range(50):
        with contextlib.suppress(OSError):
            standin.stats()
            return standin
        time.sleep(0.1)
    raise SystemExit("The Stripe stand-in did not start.")


def server_phases(
    options, processes: Processes, env: dict, pool: SessionPool, page: str, report: dict
) -> None:
    """Pages interleaved with baselines; then, with the task workers beside gunicorn, the
    webhook runs and the page-latency run; then memory (workers stopped)."""
    port = options.port
    server, effective = gunicorn_start(processes, options, env, port=port)
    count, threads = options.task_workers
    report["servers"] = {
        "gunicorn": effective,
        "task_workers": {
            "processes": count,
            "threads": threads,
            "interval": options.task_interval,
        },
    }
    watch = MemoryWatch(server.pid)
    watch.start()
    for path in (BASELINE_PATH, page):  # warm-up, not recorded
        measure.run_wrk(
            f"http://127.0.0.1:{port}{path}",
            seconds=2,
            threads=options.wrk_threads,
            connections=options.connections,
        )
    phases = report["phases"] = [wrk_phase(options, port, BASELINE_PATH, BASELINE)]
    for _ in range(options.rounds):
        phases.append(wrk_phase(options, port, page, WARM_PAGE))
        phases.append(wrk_phase(options, port, BASELINE_PATH, BASELINE))
        phases.append(gift_phase(options, processes, env, port, page))
        phases.append(wrk_phase(options, port, BASELINE_PATH, BASELINE))
    for index, phase in enumerate(phases):
        if phase["phase"] != BASELINE:
            neighbours = [phases[index - 1]["rps"], phases[index + 1]["rps"]]
            phase["ratio_to_baseline"] = _ratio(phase["rps"], neighbours)
    pool.top_up(env, 2 * options.webhook_events)
    workers = task_workers_start(processes, options, env)
    main_db = env["DATABASE_URL"].rsplit("/", 1)[1]

    def cpu_groups() -> dict[str, list[int]]:
        return {
            "gunicorn": measure.worker_pids(server.pid),
            "task_workers": [worker.pid for worker in workers],
            "postgres": postgres_pids(main_db),
            "stand_in": [pool.standin.pid],
            "bench": [os.getpid()],  # the senders (and the poller)
        }

    runs = report["webhooks"] = []
    for delay in (0, options.stripe_delay_ms):
        label = "stand-in " + (f"+{delay:g} ms" if delay else "at once")
        runs.append(
            webhook_run(
                options,
                env,
                pool,
                port=port,
                delay_ms=delay,
                label=label,
                cpu_groups=cpu_groups,
            )
        )
    report["page_latency"] = page_latency_run(options, env, pool, port=port, page=page)
    for worker in workers:
        processes.stop(worker)
    page_rps = statistics.mean(p["rps"] for p in phases if p["phase"] == WARM_PAGE)
    report["memory"] = memory_phase(options, server.pid, port, page, page_rps)
    report["worker_peak"] = watch.stop()
    if options.edge:
        report["edge"] = edge.edge_phase(
            options, processes, env, origin_port=port, page=page, results=RESULTS, log=log
        )
    else:
        log("edge phase skipped: BENCH_EDGE=0")
        report["edge"] = {"skipped": "BENCH_EDGE=0"}
    processes.stop(server)


def main() -> None:
    options = options_parse()
    options.secret_key = secrets.token_urlsafe(50)
    options.webhook_secret = f"whsec_{secrets.token_hex(16)}"
    RESULTS.mkdir(parents=True, exist_ok=True)
    main_db = f"bench_g{options.givers}"
    processes = Processes()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    hidden = ("secret_key", "webhook_secret", "out")
    report: dict = {
        "complete": False,
        "config": {key: value for key, value in vars(options).items() if key not in hidden},
    }
    try:
        services_ensure(processes)
        report["machine"] = machine_facts()
        log(f"building {SMALL_DB} and {main_db} (seed_demo --givers {options.givers})")
        report["seed"] = databases_build(options, main_db)
        env = base_env(options, main_db, site_port=options.port)
        report["querycount"] = {
            "small": task(base_env(options, SMALL_DB, site_port=options.port), "querycount"),
            "large": task(env, "querycount"),
        }
        for size, counts in report["querycount"].items():
            log(
                f"querycount {size}: {counts['counted_gifts']} gifts; miss "
                f"{counts['miss']['queries']} queries, hit {counts['hit']['queries']} queries, "
                f"{counts['hit']['cache_reads']} cache reads"
            )
        pool = SessionPool(standin_start(processes, env, options.port + 1))
        page = report["querycount"]["large"]["path"]
        server_phases(options, processes, env, pool, page, report)
        report["webhook_preparation_seconds"] = round(pool.prepare_seconds, 1)
        report["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
        report["targets"] = targets_check(report, options)
        report["complete"] = True
        report_print(report)
    finally:
        processes.stop_all()
        if not options.keep_db:
            for name in (SMALL_DB, main_db):
                with contextlib.suppress(subprocess.CalledProcessError):
                    _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        options.out.parent.mkdir(parents=True, exist_ok=True)
        options.out.write_text(json.dumps(report, indent=2, default=str))
        print(f"\nResults{'' if report['complete'] else ' (incomplete)'}: {options.out}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("Interrupted: every process the bench started was stopped.")

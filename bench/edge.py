"""The bench's edge phase: the campaign page through Varnish (deploy/varnish/solidaria.vcl)
against the origin alone, quiet and under a gift every 100 ms.

With gunicorn already running (run.py), it starts Varnish in front of it and one task worker
that sends the purges (CDN_PURGE_BACKEND=http to Varnish), then measures with wrk, each
pair back to back: the origin alone, the edge; then the same while `bench/tasks.py
gift-stream` records a gift every `gift_interval` seconds (its purges coalesced to one a
second by the app). During the edge's run under the gifts a sampler reads the page through
Varnish every 50 ms and compares its total with the last committed one: the oldest total
the edge served, from the first gift it did not show, is the figure the target caps at 2 s.
Varnish's counters say how often it went to the origin (MAIN.backend_req) and how many
purges it took (MAIN.s_synth).

Skipped, saying why, when varnishd is not installed (apt-get install varnish varnish-modules)
or with BENCH_EDGE=0.
"""

from __future__ import annotations

import json
import sys
import time
from decimal import Decimal
from pathlib import Path

from bench import measure, varnish

EDGE, ORIGIN = "edge", "origin alone"
# Browsers all ask for gzip; Varnish keeps the page compressed and serves it as it is.
HEADERS = ("Accept-Encoding: gzip",)
SAMPLE_INTERVAL = 0.05
STALE_LIMIT_SECONDS = 2.0
RATIO_TARGET = 10


def _wrk(options, port: int, page: str, label: str, log) -> dict:
    result = measure.run_wrk(
        f"http://127.0.0.1:{port}{page}",
        seconds=options.duration,
        threads=options.wrk_threads,
        connections=options.connections,
        headers=HEADERS,
    )
    log(
        f"{label:<24} {result.rps:8.1f} req/s  p50 {result.p50_ms:7.1f} ms  "
        f"p99 {result.p99_ms:7.1f} ms  errors {result.non_2xx + result.socket_errors}"
    )
    return {"phase": label, **result.summary()}


def _purge_worker(processes, options, env: dict, results: Path):
    """One db_worker, two threads: it only sends the purges."""
    command = [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay",
               "--threads", "2", "--interval", str(options.task_interval)]  # fmt: skip
    if options.task_nice:
        command = ["nice", "-n", str(options.task_nice), *command]
    output = results / "edge-worker.log"
    worker = processes.start("edge-worker", command, env=env, output=output)
    for _ in range(120):
        if worker.poll() is not None:
            raise SystemExit(f"the purge worker exited; see {output}")
        if output.read_text().count("Starting worker") >= 2:
            return worker
        time.sleep(0.25)
    raise SystemExit(f"the purge worker did not start within 30 s; see {output}")


def _gift_stream(processes, options, env: dict, results: Path):
    gift_log = results / "edge-gifts.jsonl"
    command = [sys.executable, "bench/tasks.py", "gift-stream", "--interval",
               str(options.gift_interval), "--log", str(gift_log)]  # fmt: skip
    output = results / "edge-gift-stream.out"
    stream = processes.start("edge-gift-stream", command, env=env, output=output)
    for _ in range(200):
        if gift_log.exists() and gift_log.read_text().strip():
            return stream, gift_log
        if stream.poll() is not None:
            raise SystemExit(f"the gift stream exited; see {output}")
        time.sleep(0.1)
    raise SystemExit(f"the gift stream did not start; see {output}")


def _commits(gift_log: Path) -> list[measure.Commit]:
    lines = [json.loads(line) for line in gift_log.read_text().splitlines()]
    return [
        measure.Commit(line["committed_at"], Decimal(line["total"]))
        for line in lines
        if "committed_at" in line
    ]


def _ratio(edge: dict, origin: dict) -> float:
    return round(edge["rps"] / origin["rps"], 1) if origin["rps"] else 0.0


def edge_phase(options, processes, env: dict, *, origin_port: int, page: str, results: Path,
               log) -> dict:  # fmt: skip
    """The whole phase; returns its figures (or why it was skipped)."""
    reason = varnish.missing()
    if reason:
        log(f"edge phase skipped: {reason}")
        return {"skipped": reason}
    port, purge_port = varnish.free_port(), varnish.free_port()
    edge_env = {
        **env,
        "CDN_PURGE_BACKEND": "http",
        "CDN_PURGE_URL": f"http://127.0.0.1:{purge_port}/",
    }
    edge = varnish.start(
        backend_port=origin_port,
        port=port,
        purge_port=purge_port,
        log=results / "varnishd.log",
        memory="256m",
    )
    stream = None
    try:
        worker = _purge_worker(processes, options, edge_env, results)
        log(f"varnish on 127.0.0.1:{port} in front of gunicorn; a purge worker beside it")
        for target in (origin_port, port):  # warm-up, not recorded
            measure.run_wrk(f"http://127.0.0.1:{target}{page}", seconds=2, threads=1,
                            connections=2, headers=HEADERS)  # fmt: skip
        quiet = {
            ORIGIN: _wrk(options, origin_port, page, ORIGIN, log),
            EDGE: _wrk(options, port, page, EDGE, log),
        }
        stream, gift_log = _gift_stream(processes, options, edge_env, results)
        gifts = {ORIGIN: _wrk(options, origin_port, page, f"{ORIGIN} + gifts", log)}
        # The edge's figures cover its own run: readers at the edge, the origin left to
        # Varnish (while wrk hammered the origin directly, a fetch waited behind it).
        sampler = measure.PageSampler("127.0.0.1", port, page, interval=SAMPLE_INTERVAL)
        before, started = edge.counters(), time.time()
        sampler.start()
        try:
            gifts[EDGE] = _wrk(options, port, page, f"{EDGE} + gifts", log)
        finally:
            sampler.stop()
            after, ended = edge.counters(), time.time()
            stream_died = stream.poll() is not None
            processes.stop(stream)
        processes.stop(worker)
    finally:
        edge.stop()
    commits = _commits(gift_log)
    stale = measure.stale_ages(sampler.samples, commits)
    count = len(commits) - 1
    seconds = commits[-1].committed_at - commits[0].committed_at if count else 0
    during = sum(1 for commit in commits[1:] if started <= commit.committed_at < ended)
    origin_fetches = after["MAIN.backend_req"] - before["MAIN.backend_req"]
    purges = after["MAIN.s_synth"] - before["MAIN.s_synth"]
    edge_requests = after["MAIN.client_req"] - before["MAIN.client_req"]
    stream_figures = {
        "gifts": count,
        "gifts_per_second": round(count / seconds, 2) if seconds else 0,
        "stream_died": stream_died,
        "edge_seconds": round(ended - started, 1),
        "gifts_during_edge_run": during,
        "edge_requests": edge_requests,
        "origin_fetches": origin_fetches,
        "purges": purges,
        "origin_fetches_per_gift": round(origin_fetches / during, 3) if during else None,
        "staleness": stale,
    }
    log(
        f"{'':<24} {count} gifts ({stream_figures['gifts_per_second']}/s); during the edge run "
        f"{during} gifts, {purges} purges; Varnish answered {edge_requests} requests with "
        f"{origin_fetches} origin fetches "
        f"({stream_figures['origin_fetches_per_gift']} per gift); sampler: {stale['samples']}"
        f" pages, {stale['stale']} stale, oldest {stale['max_age_ms']} ms"
    )
    return {
        "page": page,
        "headers": list(HEADERS),
        "quiet": quiet,
        "gifts": gifts,
        "ratio_quiet": _ratio(quiet[EDGE], quiet[ORIGIN]),
        "ratio_gifts": _ratio(gifts[EDGE], gifts[ORIGIN]),
        "stream": stream_figures,
    }


def targets(report: dict, options) -> list[tuple[str, object, bool | None]]:
    """The issue's edge targets: (target, measured, met); met is None when skipped."""
    result = report.get("edge")
    if not result or "skipped" in result:
        why = (result or {}).get("skipped", "not run")
        return [(f"edge >= {RATIO_TARGET} x origin alone", f"skipped: {why}", None)]
    stream = result["stream"]
    stale = stream["staleness"]
    kept_pace = (
        not stream["stream_died"] and stream["gifts_per_second"] >= 0.9 / options.gift_interval
    )
    return [
        (
            f"edge >= {RATIO_TARGET} x origin alone (campaign page)",
            f"{result['ratio_quiet']} ({result['quiet'][EDGE]['rps']} / "
            f"{result['quiet'][ORIGIN]['rps']} req/s)",
            result["ratio_quiet"] >= RATIO_TARGET,
        ),
        (
            f"edge >= {RATIO_TARGET} x origin under {1 / options.gift_interval:g} gifts/s",
            f"{result['ratio_gifts']} ({result['gifts'][EDGE]['rps']} / "
            f"{result['gifts'][ORIGIN]['rps']} req/s)",
            result["ratio_gifts"] >= RATIO_TARGET and kept_pace,
        ),
        (
            f"oldest total at the edge <= {STALE_LIMIT_SECONDS:g} s",
            f"{stale['max_age_ms']} ms ({stale['stale']} of {stale['samples']} samples behind)",
            stale["max_age_ms"] <= STALE_LIMIT_SECONDS * 1000
            and stale["samples"] > 0
            and stale["unreadable"] == 0
            and stale["unexplained_totals"] == 0
            and kept_pace,
        ),
        (
            "origin fetches grow with the gifts, not the readers (< 1 per gift)",
            f"{stream['origin_fetches']} fetches for {stream['gifts_during_edge_run']} gifts and "
            f"{stream['edge_requests']} edge requests",
            stream["origin_fetches_per_gift"] is not None and stream["origin_fetches_per_gift"] < 1,
        ),
    ]


def report_lines(report: dict) -> list[str]:
    result = report.get("edge")
    if not result:
        return []
    if "skipped" in result:
        return [f"edge (Varnish): skipped: {result['skipped']}"]
    lines = [f"{'edge (Varnish)':<26}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"]
    for group in ("quiet", "gifts"):
        for name, phase in result[group].items():
            label = name if group == "quiet" else f"{name} + gifts"
            lines.append(
                f"{label:<26}{phase['rps']:>9.1f}{phase['p50_ms']:>9.1f}{phase['p99_ms']:>9.1f}"
                f"{phase['non_2xx'] + phase['socket_errors']:>8}"
            )
    stream, stale = result["stream"], result["stream"]["staleness"]
    lines.append(
        f"  edge / origin: {result['ratio_quiet']}x quiet, {result['ratio_gifts']}x under gifts; "
        f"{stream['gifts_during_edge_run']} gifts, {stream['purges']} purges, "
        f"{stream['origin_fetches']} origin "
        f"fetches for {stream['edge_requests']} edge requests; oldest total "
        f"{stale['max_age_ms']} ms (p99 of stale ones {stale['p99_stale_age_ms']} ms)"
    )
    return lines

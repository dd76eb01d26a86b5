"""Measuring tools that know nothing of Django: wrk, the stale-total sampler, worker memory."""

from __future__ import annotations

import bisect
import http.client
import math
import os
import re
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

RAISED = re.compile(rb'<data class="raised" value="([^"]*)">')
DONOR_COUNT = re.compile(rb'<data class="donor-count" value="([^"]*)">')
_DURATION = re.compile(r"([\d.]+)(us|ms|s|m|h)\b")
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _milliseconds(text: str) -> float:
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match[1]) * _UNIT_MS[match[2]]


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int = 0
    socket_errors: int = 0
    raw: str = field(default="", repr=False)

    def summary(self) -> dict:
        result = asdict(self)
        result.pop("raw")
        return result


def parse_wrk(output: str) -> WrkResult:
    """Requests/sec, the 50% and 99% lines of --latency, and every error wrk reports."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    done = re.search(r"^\s+(\d+) requests in ([\d.]+\w+),", output, re.MULTILINE)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    if not (rps and done and p50 and p99):
        raise ValueError(f"wrk printed no result:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests=int(done[1]),
        seconds=_milliseconds(done[2]) / 1000,
        rps=float(rps[1]),
        p50_ms=_milliseconds(p50[1]),
        p99_ms=_milliseconds(p99[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
        raw=output,
    )


def run_wrk(
    url: str, *, seconds: float, threads: int, connections: int, headers: tuple[str, ...] = ()
) -> WrkResult:
    """One wrk run with --latency. (A request count is reached by choosing the duration: a
    wrk thread stopped from Lua leaves its connections open, and a sync worker that accepted
    one waits on it until gunicorn's timeout kills it.)"""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "--latency",
        *[argument for header in headers for argument in ("-H", header)],
        url,
    ]
    done = subprocess.run(  # noqa: S603 (wrk, with arguments built here)
        command, capture_output=True, text=True, check=False, timeout=seconds + 60
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr}{done.stdout}")
    return parse_wrk(done.stdout)


def raised_in(body: bytes) -> Decimal | None:
    """The page's one `<data class="raised" value="...">`, or None if it is not exactly one."""
    found = RAISED.findall(body)
    if len(found) != 1:
        return None
    try:
        return Decimal(found[0].decode())
    except InvalidOperation:
        return None


@dataclass(frozen=True)
class Sample:
    started: float  # time.time() just before the request was sent
    finished: float
    status: int
    raised: Decimal | None


class PageSampler(threading.Thread):
    """Requests a page one at a time, back to back or every `interval` seconds, keeping each
    response's raised total."""

    def __init__(self, host: str, port: int, path: str, *, interval: float = 0.0):
        super().__init__(daemon=True)
        self.host, self.port, self.path, self.interval = host, port, path, interval
        self.samples: list[Sample] = []
        self.failures = 0
        self._halt = threading.Event()

    def run(self) -> None:
        next_at = time.monotonic()
        while not self._halt.is_set():
            if self.interval:
                next_at += self.interval
                self._halt.wait(max(0.0, next_at - time.monotonic()))
            connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            started = time.time()
            try:
                connection.request("GET", self.path, headers={"Accept-Language": "en"})
                response = connection.getresponse()
                body = response.read()
            except OSError:
                self.failures += 1
                continue
            finally:
                connection.close()
            self.samples.append(Sample(started, time.time(), response.status, raised_in(body)))

    def stop(self) -> None:
        self._halt.set()
        self.join()


def donor_count_in(body: bytes) -> int | None:
    """The page's one `<data class="donor-count" value="N">`, or None if not exactly one."""
    found = DONOR_COUNT.findall(body)
    if len(found) != 1 or not found[0].isdigit():
        return None
    return int(found[0])


@dataclass(frozen=True)
class CountSample:
    started: float  # time.time() just before the request was sent
    finished: float  # time.time() when the whole page had arrived
    donor_count: int | None


class PagePoller(threading.Thread):
    """Requests a page every `interval` seconds (one at a time, as one visitor reloading it),
    keeping the donor count each response shows."""

    def __init__(self, host: str, port: int, path: str, *, interval: float):
        super().__init__(daemon=True)
        self.host, self.port, self.path, self.interval = host, port, path, interval
        self.samples: list[CountSample] = []
        self.failures = 0
        self._halt = threading.Event()

    def run(self) -> None:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        next_at = time.monotonic()
        while not self._halt.is_set():
            started = time.time()
            try:
                connection.request("GET", self.path, headers={"Accept-Language": "en"})
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                self.failures += 1
                body, response = b"", None
            if response is not None:
                count = donor_count_in(body) if response.status == 200 else None
                self.samples.append(CountSample(started, time.time(), count))
            next_at += self.interval
            self._halt.wait(max(0.0, next_at - time.monotonic()))
        connection.close()

    def stop(self) -> None:
        self._halt.set()
        self.join()


def page_delays(
    acknowledged: dict[str, float],
    recorded: dict[str, float],
    samples: list[CountSample],
    *,
    count_before: int,
) -> dict[str, float | None]:
    """Seconds from each event's acknowledgement until a page showed its gift; None if no page did.

    The page shows a count, not names, so each gift gets its place in the order the workers
    recorded them (`recorded`: event id -> time its gift was stored): the gift in place r is
    on the page once a page shows at least `count_before + r` gifts. (Two gifts recorded
    within the same few milliseconds may swap places; that moves a delay by as much.) A
    page counts from the moment it had arrived. Only these gifts may change the count.
    """
    order = sorted(recorded, key=lambda event_id: (recorded[event_id], event_id))
    shown = sorted(
        (sample.finished, sample.donor_count)
        for sample in samples
        if sample.donor_count is not None
    )
    delays: dict[str, float | None] = {}
    for place, event_id in enumerate(order, start=1):
        arrived = next(
            (finished for finished, count in shown if count >= count_before + place), None
        )
        if event_id in acknowledged:
            delays[event_id] = None if arrived is None else arrived - acknowledged[event_id]
    for event_id in acknowledged:
        delays.setdefault(event_id, None)  # acknowledged, never recorded
    return delays


def delay_summary(delays: dict[str, float | None], *, within: float) -> dict:
    """p50, p99 and max in ms (a gift never shown counts as slowest), and the share shown
    within `within` seconds."""
    values = sorted(float("inf") if delay is None else delay for delay in delays.values())
    if not values:
        return {"events": 0, "p50_ms": None, "p99_ms": None, "max_ms": None, "within": 0.0}

    def ms(value: float) -> float | None:
        return None if value == float("inf") else round(value * 1000, 1)

    p99 = values[min(len(values) - 1, math.ceil(0.99 * len(values)) - 1)]
    return {
        "events": len(values),
        "never_shown": sum(1 for delay in delays.values() if delay is None),
        "p50_ms": ms(values[(len(values) - 1) // 2]),
        "p99_ms": ms(p99),
        "max_ms": ms(values[-1]),
        "within": round(sum(1 for value in values if value <= within) / len(values), 4),
    }


@dataclass(frozen=True)
class Commit:
    committed_at: float  # taken after the service returned: committed by then
    total: Decimal


def stale_responses(samples: list[Sample], commits: list[Commit]) -> dict:
    """Count responses older than the last gift committed before their request began.

    `commits` starts with the total before the first gift, then one entry per gift, in order.
    A response is stale when its total is below the total after the last commit logged before
    the request started; `gifts_behind` says by how many gifts. A total that matches no
    commit, or an unreadable page, is counted apart: something else is wrong.
    """
    times = [commit.committed_at for commit in commits]
    position = {commit.total: index for index, commit in enumerate(commits)}
    stale, unreadable, unexplained, behind = 0, 0, 0, []
    for sample in samples:
        if sample.status != 200 or sample.raised is None:
            unreadable += 1
            continue
        last = max(bisect.bisect_left(times, sample.started) - 1, 0)
        shown = position.get(sample.raised)
        if shown is None:
            unexplained += 1
        elif shown < last:
            stale += 1
            behind.append(last - shown)
    return {
        "samples": len(samples),
        "stale": stale,
        "max_gifts_behind": max(behind, default=0),
        "unreadable": unreadable,
        "unexplained_totals": unexplained,
    }


def stale_ages(samples: list[Sample], commits: list[Commit]) -> dict:
    """How old the totals a shared cache served were: for each response whose total is below
    the last commit logged before its request began, the seconds from the first commit it
    does not show until that request. (An origin that is exact has none; a cache in front
    has some until its purge lands.) Unreadable pages and unknown totals are counted apart.
    """
    times = [commit.committed_at for commit in commits]
    position = {commit.total: index for index, commit in enumerate(commits)}
    ages, unreadable, unexplained = [], 0, 0
    for sample in samples:
        if sample.status != 200 or sample.raised is None:
            unreadable += 1
            continue
        shown = position.get(sample.raised)
        if shown is None:
            unexplained += 1
            continue
        last = max(bisect.bisect_left(times, sample.started) - 1, 0)
        ages.append(sample.started - times[shown + 1] if shown < last else 0.0)
    stale = sorted(age for age in ages if age > 0)
    p99 = stale[min(len(stale) - 1, math.ceil(0.99 * len(stale)) - 1)] if stale else 0.0
    return {
        "samples": len(samples),
        "stale": len(stale),
        "max_age_ms": round(max(stale, default=0.0) * 1000, 1),
        "p99_stale_age_ms": round(p99 * 1000, 1),
        "unreadable": unreadable,
        "unexplained_totals": unexplained,
    }


def worker_pids(master_pid: int) -> list[int]:
    """The gunicorn master's children (its workers)."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children")
    if children.exists():
        return [int(pid) for pid in children.read_text().split()]
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master_pid:
            pids.append(int(stat.parent.name))
    return pids


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (the most it was ever resident), in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def workers_memory(master_pid: int) -> dict[int, dict[str, int]]:
    memory = {}
    for pid in worker_pids(master_pid):
        try:
            memory[pid] = memory_kib(pid)
        except OSError:
            continue  # a worker that just exited
    return memory


_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process, all its threads (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def machine_seconds() -> tuple[float, float]:
    """CPU time all CPUs of the machine spent busy, and stolen from it by the hypervisor
    (a virtual machine's CPUs waiting for real ones), since boot."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = values[:7]
    steal = values[7] if len(values) > 7 else 0
    return (user + nice + system + irq + softirq) / _TICKS, steal / _TICKS


def cpu_snapshot(groups: dict[str, list[int]]) -> dict:
    """CPU seconds used so far by each process of each group, and by the whole machine."""
    snapshot: dict = {
        name: {pid: process_cpu_seconds(pid) for pid in pids} for name, pids in groups.items()
    }
    snapshot["machine"], snapshot["steal"] = machine_seconds()
    return snapshot


def cpu_per_event(before: dict, after: dict, events: int) -> dict:
    """Milliseconds of CPU per event for each group between two snapshots (a process that
    appeared in between counts in full; one that vanished is lost). "rest" is the machine's
    busy time outside the groups: anything else running on it; "steal" is time the
    hypervisor gave the machine's CPUs to someone else."""
    used = {
        name: sum(cpu - before[name].get(pid, 0.0) for pid, cpu in after[name].items())
        for name in after
        if name not in ("machine", "steal")
    }
    used["rest"] = after["machine"] - before["machine"] - sum(used.values())
    used["machine"] = after["machine"] - before["machine"]
    used["steal"] = after["steal"] - before["steal"]
    return {
        name: round(1000 * seconds / events, 2) if events else None
        for name, seconds in used.items()
    }

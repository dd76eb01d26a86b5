"""The benchmark's work inside Django, one subcommand per job; bench/run.py calls them.

    python bench/tasks.py querycount
    python bench/tasks.py checkouts --count 2000 --out sessions.json
    python bench/tasks.py verify-webhooks --sent sent.json
    python bench/tasks.py gift-stream --interval 0.1 --log gifts.jsonl

Each reads the same environment as the gunicorn under test (DATABASE_URL, CACHE_URL, Stripe
settings) and prints one JSON object on stdout. Application internals are reached only
through bench/app_calls.py.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import caches  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench import app_calls, counting_cache  # noqa: E402


def _emit(result: dict) -> None:
    print(json.dumps(result, default=str), flush=True)


def _page_request(client: Client, path: str) -> dict:
    counting_cache.reset()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    return {
        "status": response.status_code,
        "queries": len(queries.captured_queries),
        "cache_reads": counting_cache.reads(),
        "cache_writes": counting_cache.writes(),
        "cache_operations": dict(counting_cache.operations),
        "sql": [query["sql"][:160] for query in queries.captured_queries],
    }


def querycount(options) -> None:
    """A cache miss, then a hit, of the campaign page, in process: queries and cache calls.

    The miss is the first request after every cache alias is cleared; the hit is the same
    request straight after. Every alias is swapped for the counting Redis backend (the
    CACHE_URL location), so cache reads are counted wherever the page code makes them.
    """
    location = os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/7")
    counting = {
        alias: {"BACKEND": "bench.counting_cache.CountingRedisCache", "LOCATION": location}
        for alias in settings.CACHES
    }
    campaign = app_calls.live_campaign()
    path = app_calls.campaign_path(campaign)
    with override_settings(CACHES=counting):
        for alias in settings.CACHES:
            caches[alias].clear()
        counting_cache.reset()
        caches["default"].get("bench:counter-probe")
        counter_works = counting_cache.reads() == 1  # so that "0 reads" below means none
        client = Client(HTTP_HOST="127.0.0.1", HTTP_ACCEPT_LANGUAGE="en")
        miss = _page_request(client, path)
        hit = _page_request(client, path)
    _emit(
        {
            "path": path,
            "counted_gifts": app_calls.counted_gifts(campaign),
            "cache_counter_works": counter_works,
            "miss": miss,
            "hit": hit,
        }
    )


def checkouts(options) -> None:
    """Start `count` online gifts through the real checkout service (Stripe: the stand-in)."""
    campaign = app_calls.live_campaign()
    amount = Decimal(options.amount)
    started = time.monotonic()

    def one(index: int) -> str:
        try:
            return app_calls.checkout_start(
                campaign=campaign, amount=amount, email=f"giver{index}@bench.invalid"
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=options.threads) as pool:
        session_ids = list(pool.map(one, range(options.count)))
    Path(options.out).write_text(json.dumps(session_ids))
    _emit({"created": len(session_ids), "seconds": round(time.monotonic() - started, 2)})


def _wait_until_processed(event_ids: list[str], *, wait: float) -> dict:
    """Poll until the inbox holds every one of these events as processed and no task is left
    to run (the receipts too), for at most `wait` seconds; say when that was seen."""
    deadline = time.time() + wait
    while True:
        checked_at = time.time()
        # The task count only once the inbox is done: it is the dearer query of the two.
        processed = app_calls.inbox_processed_count(event_ids=event_ids)
        if processed == len(event_ids) and app_calls.tasks_waiting() == 0:
            return {"drained": True, "drained_seen_at": checked_at}
        if checked_at >= deadline:
            return {
                "drained": False,
                "drained_seen_at": None,
                "tasks_left": app_calls.tasks_waiting(),
            }
        time.sleep(0.5)


def verify_webhooks(options) -> None:
    """Was each delivered event stored once in the inbox, processed, and its gift recorded
    exactly once, with nothing else touched? Waits first (at most `--wait` seconds) for the
    task workers to finish: the webhook answers before the gift is recorded.

    `--sent` holds {"delivered": [{"session_id", "event_id", "status"}], "undelivered": [ids]}.
    Prints the verdict, the inbox's first and last processing times, and with `--times` the
    time each event's gift was stored (`recorded_at`, by event id).
    """
    sent = json.loads(Path(options.sent).read_text())
    delivered, undelivered = sent["delivered"], sent["undelivered"]
    event_ids = [item["event_id"] for item in delivered]
    acknowledged = [item["event_id"] for item in delivered if item["status"] == 200]
    drained = _wait_until_processed(acknowledged, wait=options.wait)
    gifts = app_calls.recorded_gifts(
        session_ids=[item["session_id"] for item in delivered] + undelivered
    )
    inbox = {row.event_id: row for row in app_calls.inbox_rows(event_ids=event_ids)}
    problems: list[str] = []
    succeeded_once = 0
    for item in delivered:
        gift = gifts.get(item["session_id"])
        row = inbox.get(item["event_id"])
        if gift is None:
            problems.append(f"{item['session_id']}: no gift")
            continue
        once = (
            gift.status == app_calls.SUCCEEDED
            and gift.event_ids == (item["event_id"],)
            and gift.receipts == 1
            and gift.amount_charged == gift.amount
            and row is not None
            and row.outcome == app_calls.RECORDED
        )
        if once:
            succeeded_once += 1
        else:
            problems.append(
                f"{item['session_id']}: status {gift.status}, events {list(gift.event_ids)}, "
                f"receipts {gift.receipts}, charged {gift.amount_charged} of {gift.amount}, "
                f"inbox {row.outcome if row else None} (HTTP {item['status']})"
            )
    untouched = sum(
        1
        for session_id in undelivered
        if session_id in gifts
        and gifts[session_id].status == app_calls.PENDING
        and not gifts[session_id].event_ids
    )
    stored = app_calls.stored_event_count(event_ids=event_ids)
    processed = [row.processed_at for row in inbox.values() if row.processed_at is not None]
    result = {
        "delivered": len(delivered),
        "recorded_exactly_once": succeeded_once,
        "stored_events": stored,
        "inbox_rows": len(inbox),
        "retried_events": sum(1 for row in inbox.values() if row.attempts > 1),
        "receipts": sum(
            gifts[i["session_id"]].receipts for i in delivered if i["session_id"] in gifts
        ),
        "receipts_sent": sum(
            gifts[i["session_id"]].receipts_sent for i in delivered if i["session_id"] in gifts
        ),
        "undelivered": len(undelivered),
        "undelivered_untouched": untouched,
        "ok": succeeded_once == len(delivered) == stored == len(inbox)
        and untouched == len(undelivered),
        **drained,
        "first_processed_at": min(processed, default=None),
        "last_processed_at": max(processed, default=None),
        "problems": problems[:20],
    }
    if options.times:
        result["recorded_at"] = {
            row.event_id: row.recorded_at for row in inbox.values() if row.recorded_at
        }
    _emit(result)


def gift_stream(options) -> None:
    """Record a cash gift every `interval` seconds until SIGTERM; log each commit and total.

    The checker: the total after each gift is the total before plus what the gift counts for
    (only this process writes to the campaign meanwhile; the end compares it with the
    database). The time logged is taken after the service returned, so the gift was committed
    by then: a request that began later must show at least that total.
    """
    stop = False

    def _stop(signum, frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    campaign = app_calls.live_campaign()
    recorder = app_calls.cash_recorder()
    amount = Decimal(options.amount)
    total = app_calls.raised(campaign)
    with open(options.log, "w") as log:

        def write(entry: dict) -> None:
            log.write(json.dumps(entry, default=str) + "\n")
            log.flush()

        write({"committed_at": time.time(), "total": total, "gift": 0})
        start, recorded = time.monotonic(), 0
        while not stop:
            # A fixed schedule: a slow gift is not followed by a pause, so the rate holds.
            delay = start + (recorded + 1) * options.interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if stop:
                break
            total += app_calls.cash_gift_record(campaign=campaign, recorder=recorder, amount=amount)
            recorded += 1
            write({"committed_at": time.time(), "total": total, "gift": recorded})
        seconds = time.monotonic() - start
        database_total = app_calls.raised(campaign)
        write({"end": True, "checker_total": total, "database_total": database_total})
    _emit(
        {
            "gifts": recorded,
            "gifts_per_second": round(recorded / seconds, 2) if seconds else 0,
            "checker_total": total,
            "database_total": database_total,
            "agree": total == database_total,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("querycount")
    start = commands.add_parser("checkouts")
    start.add_argument("--count", type=int, required=True)
    start.add_argument("--amount", default="25")
    start.add_argument("--threads", type=int, default=4)
    start.add_argument("--out", required=True)
    verify = commands.add_parser("verify-webhooks")
    verify.add_argument("--sent", required=True)
    verify.add_argument("--wait", type=float, default=0)
    verify.add_argument("--times", action="store_true")
    stream = commands.add_parser("gift-stream")
    stream.add_argument("--interval", type=float, default=0.1)
    stream.add_argument("--amount", default="10")
    stream.add_argument("--log", required=True)
    options = parser.parse_args()
    {
        "querycount": querycount,
        "checkouts": checkouts,
        "verify-webhooks": verify_webhooks,
        "gift-stream": gift_stream,
    }[options.command](options)


if __name__ == "__main__":
    main()

"""Payment chaos: the running app (gunicorn, 2 workers, DEBUG off, PostgreSQL) under a storm
of signed Stripe events, one of its workers killed mid-run.

3,000 checkout sessions live at the Stripe stand-in (bench/stripe_standin.py, run in this
process): paid, paid later by bank debit, failed, expired or left open; some paid ones are
refunded (in part or in full) or disputed (won or lost). Their events (about 7,000), plus
duplicates up to 10,000 deliveries, are shuffled and posted by 8 concurrent senders that
retry on a 5xx or a broken connection, as Stripe does. So refunds, disputes, `expired` and
`async_payment_failed` arrive before and after `paid`. Halfway, one gunicorn worker gets
SIGKILL. The webhook only stores each event in the inbox; two task workers (`db_worker`,
4 threads each) process them, and once a third of the events are recorded one task worker
gets SIGKILL mid-batch and another takes its place: its sweep must finish the lost tasks.
At the end the database must hold exactly what the plan says: every paid session
recorded once with one receipt, refunds applied once, every event stored once, and the
raised total, gift count and per-member totals equal to a ground truth computed here from
the plan alone; `totals_verify` finds no drift.

Runs with SOLIDARIA_CHAOS=1 on PostgreSQL (.ci/run sets both); CHAOS_SESSIONS and
CHAOS_EVENTS scale it down for a quick look.
"""

# The test starts gunicorn with arguments it builds itself.
# ruff: noqa: S603

from __future__ import annotations

import http.client
import io
import json
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from bench import measure, stripe_standin, webhooks
from donations.models import Donation, DonationChange, Receipt, StripeEvent, WebhookDelivery
from donations.selectors.givers import campaign_totals
from donations.services.totals import totals_recount
from tests.factories import CampaignFactory, TeamMemberFactory, donations_bulk_create

ROOT = Path(__file__).resolve().parents[2]
SESSIONS = int(os.environ.get("CHAOS_SESSIONS") or 3000)
EVENTS = int(os.environ.get("CHAOS_EVENTS") or 10_000)
SENDERS = 8


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# gunicorn's and the Stripe stand-in's ports: free ones, so two runs on a machine never meet.
PORT = int(os.environ.get("CHAOS_PORT") or 0) or _free_port()
STAND_IN_PORT = _free_port()
SECRET_KEY = "sk_test_chaos"
WEBHOOK_SECRET = "whsec_chaos"
AMOUNTS = (500, 1000, 2500, 5000, 10000, 777, 12345, 2000)  # USD cents

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        os.environ.get("SOLIDARIA_CHAOS") != "1",
        reason="payment chaos runs with SOLIDARIA_CHAOS=1 (.ci/run sets it)",
    ),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="payment chaos needs PostgreSQL"),
    pytest.mark.skipif(
        not os.environ.get("TEST_REDIS_URL"),
        reason="payment chaos needs TEST_REDIS_URL: its web and task processes share a cache",
    ),
]


@dataclass
class Plan:
    """One checkout session: what happens to it at Stripe, and what should count."""

    donation_id: str
    member_id: int | None
    amount: int
    fee: int
    fate: str  # paid, async_paid, async_failed, expired, open
    session_id: str = ""
    charge_id: str = ""
    refunds: list[int] = field(default_factory=list)
    full_refund: bool = False
    dispute: str = ""  # "", "won", "lost"

    @property
    def paid(self) -> bool:
        return self.fate in ("paid", "async_paid")

    @property
    def refunded(self) -> int:
        return sum(self.refunds)

    @property
    def counts(self) -> bool:
        return self.paid and not self.full_refund and self.dispute != "lost"

    @property
    def raised(self) -> int:
        return self.amount - self.refunded if self.counts else 0


def _plans(rng: random.Random, members: list[int]) -> list[Plan]:
    fates = ["paid"] * 60 + ["async_paid"] * 12 + ["async_failed"] * 6 + ["expired"] * 17
    fates += ["open"] * 5
    plans = []
    for _ in range(SESSIONS):
        amount = rng.choice(AMOUNTS)
        fee = (amount * 29 + 500) // 1000 + 30 if rng.random() < 0.2 else 0
        plan = Plan(
            donation_id=str(uuid.uuid4()),
            member_id=rng.choice([*members, None]),
            amount=amount,
            fee=fee,
            fate=rng.choice(fates),
        )
        if plan.paid:
            roll = rng.random()
            if roll < 0.10:
                plan.full_refund = True
            elif roll < 0.25:
                first = rng.randint(1, amount // 2)
                plan.refunds = [first] + (
                    [rng.randint(1, amount // 4)] if rng.random() < 0.5 else []
                )
            if rng.random() < 0.08:
                plan.dispute = rng.choice(["won", "lost"])
        plans.append(plan)
    return plans


def _stand_in_state(store: stripe_standin.Store, plans: list[Plan]) -> None:
    """Put every session in the state Stripe would hold once all its events happened."""
    for plan in plans:
        metadata = {"donation_id": plan.donation_id, "campaign_id": "chaos"}
        items = [
            {"quantity": "1", "price_data": {"currency": "usd", "unit_amount": str(plan.amount)}}
        ]
        if plan.fee:
            items.append(
                {"quantity": "1", "price_data": {"currency": "usd", "unit_amount": str(plan.fee)}}
            )
        session = store.create_session(
            {
                "mode": "payment",
                "line_items": items,
                "client_reference_id": plan.donation_id,
                "metadata": metadata,
                "payment_intent_data": {"metadata": metadata},
                "customer_email": "giver@example.org",
            },
            None,
        )
        plan.session_id = session["id"]
        if plan.paid:
            store.pay(plan.session_id)
            intent = store.objects[store.objects[plan.session_id]["payment_intent"]]
            plan.charge_id = intent["latest_charge"]
            if plan.full_refund:
                plan.refunds = [plan.amount + plan.fee]
            for units in plan.refunds:
                store.refund(plan.charge_id, units)
        elif plan.fate == "async_failed":
            store.fail(plan.session_id)
        elif plan.fate == "expired":
            store.expire(plan.session_id)


def _events(store: stripe_standin.Store, plans: list[Plan], rng: random.Random) -> list[dict]:
    """Every event Stripe would send about these sessions, with the object it would carry."""
    now = int(time.time())
    events = []

    def add(event_type: str, obj: dict) -> None:
        event_id = f"evt_chaos{uuid.uuid4().hex}"
        events.append(webhooks.stripe_event(event_type, obj, event_id=event_id, created=now))

    def session(plan: Plan, **fields) -> dict:
        return {**store.retrieve(plan.session_id, "checkout.session", []), **fields}

    for plan in plans:
        if plan.fate == "paid":
            add("checkout.session.completed", session(plan))
        elif plan.fate in ("async_paid", "async_failed"):
            add("checkout.session.completed", session(plan, payment_status="unpaid"))
        if plan.fate == "async_paid":
            add("checkout.session.async_payment_succeeded", session(plan))
        elif plan.fate == "async_failed":
            add("checkout.session.async_payment_failed", session(plan))
        elif plan.fate == "expired":
            add("checkout.session.expired", session(plan))
        if not plan.paid:
            continue
        charge = store.retrieve(plan.charge_id, "charge", [])
        if rng.random() < 0.8:
            add("charge.updated", charge)
        if rng.random() < 0.3:  # a late or stray ending, never true of a paid session
            add(
                "checkout.session.expired", session(plan, status="expired", payment_status="unpaid")
            )
        if rng.random() < 0.1:
            add("checkout.session.async_payment_failed", session(plan, payment_status="unpaid"))
        taken = 0
        for units in plan.refunds:
            taken += units
            add("charge.refunded", {**charge, "amount_refunded": taken,
                                    "refunded": taken >= plan.amount + plan.fee})  # fmt: skip
        if plan.dispute:
            dispute = store.dispute(plan.charge_id)
            add("charge.dispute.created", dispute)
            add("charge.dispute.closed", store.dispute_status(dispute["id"], plan.dispute))
    return events


@dataclass
class Storm:
    """What the senders did."""

    sent: Counter = field(default_factory=Counter)  # final status per delivery
    retries: int = 0
    server_errors: int = 0
    connection_errors: int = 0
    kills: int = 0
    killed_at: int = 0


def _post(port: int, body: bytes) -> int:
    connection_ = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {
            "Content-Type": "application/json",
            "Stripe-Signature": webhooks.signed(body, webhook_secret=WEBHOOK_SECRET),
        }
        connection_.request("POST", "/stripe/webhook/", body=body, headers=headers)
        response = connection_.getresponse()
        response.read()
        return response.status
    finally:
        connection_.close()


def _storm(deliveries: list[bytes], *, port: int, master_pid: int) -> Storm:
    """Post every delivery from SENDERS threads, retrying 5xx and broken connections; kill one
    worker with SIGKILL once 40% are done."""
    storm = Storm()
    pending: queue.Queue[bytes] = queue.Queue()
    for body in deliveries:
        pending.put(body)
    lock = threading.Lock()
    done = threading.Event()
    finished = [0]

    def sender() -> None:
        while not done.is_set():
            try:
                body = pending.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                status = _post(port, body)
            except (OSError, http.client.HTTPException):
                status = 0
            with lock:
                if status == 0 or status >= 500:
                    storm.retries += 1
                    storm.connection_errors += status == 0
                    storm.server_errors += status >= 500
                else:
                    storm.sent[status] += 1
                    finished[0] += 1
                    if finished[0] == len(deliveries):
                        done.set()
            if status == 0 or status >= 500:
                time.sleep(0.05)  # Stripe backs off; a short pause is enough here
                pending.put(body)

    def killer() -> None:
        while not done.is_set():
            if finished[0] >= len(deliveries) * 0.4:
                victim = measure.worker_pids(master_pid)[0]
                os.kill(victim, signal.SIGKILL)
                storm.kills += 1
                storm.killed_at = finished[0]
                return
            time.sleep(0.05)

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(SENDERS)]
    threads.append(threading.Thread(target=killer, daemon=True))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return storm


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return answer.status == 200
    except OSError:
        return False


@pytest.fixture
def stand_in():
    server = stripe_standin.serve(port=STAND_IN_PORT, delay_ms=0, secret_key=SECRET_KEY)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.RequestHandlerClass.store
    server.shutdown()
    server.server_close()


@pytest.fixture
def app_env(transactional_db, redis_space_if_set) -> dict:
    """The environment of the app's processes (web and task workers), on the test database."""
    db = connection.settings_dict
    database_url = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "chaos-" + uuid.uuid4().hex,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": f"http://127.0.0.1:{PORT}",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": database_url,
        "CONN_MAX_AGE": "60",
        "CACHE_URL": redis_space_if_set.cache_url if redis_space_if_set else "locmemcache://chaos",
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": f"http://127.0.0.1:{STAND_IN_PORT}",
        "LOG_LEVEL": "ERROR",
        "PYTHONUNBUFFERED": "1",
    }
    if RQ:
        env.update(TASKS_BACKEND="rq", RQ_URL=os.environ["TEST_REDIS_URL"])
    env.pop("PAYMENTS_DEMO", None)
    return env


# CHAOS_TASKS_BACKEND=rq runs the same storm with the tasks in Redis (django-tasks-rq):
# RQ's workers, plus `tasks_sweep --loop` for what a killed one lost (.ci/run runs it once).
RQ = os.environ.get("CHAOS_TASKS_BACKEND") == "rq"


def _task_worker(env: dict, log) -> subprocess.Popen:
    """One task worker process: db_worker with 4 threads, or an RQ worker with its sweeper.
    A short sweep period, so a killed worker's tasks are enqueued again within seconds of
    the minute they wait for (they may still be running elsewhere until then)."""
    env = {**env, "TASKS_SWEEP_SECONDS": "5"}
    if RQ:
        command = [sys.executable, "manage.py", "rqworker", "default", "--job-class",
                   "django_tasks_rq.Job", "--worker-class", "rq.worker.SimpleWorker",
                   "--verbosity", "0"]  # fmt: skip
    else:
        command = [sys.executable, "manage.py", "db_worker", "--no-reload", "--threads", "4",
                   "--interval", "0.1", "--verbosity", "0"]  # fmt: skip
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture
def task_workers(app_env, tmp_path):
    """Two task workers; the list holds every one started (the test adds a replacement)."""
    log = (tmp_path / "workers.log").open("w")
    workers = [_task_worker(app_env, log) for _ in range(2)]
    if RQ:  # RQ's workers do not sweep; the sweeper runs beside them and is never killed
        sweeper = [sys.executable, "manage.py", "tasks_sweep", "--loop"]
        workers.insert(0, subprocess.Popen(
            sweeper, cwd=ROOT, env={**app_env, "TASKS_SWEEP_SECONDS": "5"}, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        ))  # fmt: skip
    try:
        time.sleep(3)
        if any(process.poll() is not None for process in workers):
            pytest.fail(f"a task worker exited: {(tmp_path / 'workers.log').read_text()[-2000:]}")
        yield workers, lambda: _task_worker(app_env, log)
    finally:
        for process in workers:
            _stop(process)
        log.close()
        if RQ:  # the queues, jobs and worker records this run's RQ workers made
            import redis

            connection_ = redis.Redis.from_url(os.environ["TEST_REDIS_URL"])
            for key in connection_.scan_iter("rq:*", count=1000):
                connection_.delete(key)


@pytest.fixture
def gunicorn(app_env, stand_in, tmp_path):
    """gunicorn with 2 sync workers, DEBUG off, on the test database; stopped before the
    database is flushed."""
    env = app_env
    log = (tmp_path / "gunicorn.log").open("w")
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application",
        "--bind", f"127.0.0.1:{PORT}", "--workers", "2", "--worker-class", "sync",
        "--backlog", "2048", "--timeout", "60", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        for _ in range(240):
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited: {(tmp_path / 'gunicorn.log').read_text()[-2000:]}")
            if _healthy(PORT) and len(measure.worker_pids(process.pid)) == 2:
                break
            time.sleep(0.25)
        else:
            pytest.fail("gunicorn did not answer /healthz within a minute")
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _kill_a_task_worker_mid_batch(task_workers, target: int, report: dict) -> None:
    """SIGKILL one task worker once `target` events are recorded, then start another."""
    workers, start = task_workers
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if StripeEvent.objects.count() >= target:
            victim = workers[-1]
            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait()
            report["killed_at"] = StripeEvent.objects.count()
            workers.append(start())
            break
        time.sleep(0.1)
    connection.close()


def _drained(timeout: float) -> float:
    """Wait until every event in the inbox is processed; the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not WebhookDelivery.objects.filter(processed_at__isnull=True).exists():
            return time.monotonic() - started
        time.sleep(0.5)
    waiting = WebhookDelivery.objects.filter(processed_at__isnull=True)
    pytest.fail(f"{waiting.count()} events still waiting after {timeout} s: {list(waiting[:5])}")


def test_payment_chaos_loses_no_gift_and_counts_none_twice(
    gunicorn, task_workers, stand_in, capsys
):
    started = time.monotonic()
    rng = random.Random(int(os.environ.get("CHAOS_SEED") or 13))
    campaign = CampaignFactory(slug="chaos", currency="USD")
    members = [TeamMemberFactory(campaign=campaign, slug=f"m{n}").pk for n in range(3)]
    plans = _plans(rng, members)
    _stand_in_state(stand_in, plans)
    now = timezone.now()
    donations_bulk_create([
        Donation(
            id=plan.donation_id, campaign=campaign, team_member_id=plan.member_id,
            source=Donation.Source.ONLINE, status=Donation.Status.PENDING,
            giver_name=f"Giver {index}", email=f"giver{index}@example.org",
            amount=Decimal(plan.amount) / 100, currency="USD",
            fee_cover_amount=Decimal(plan.fee) / 100, amount_converted=Decimal(plan.amount) / 100,
            conversion_rate=Decimal(1), rate_date=now.date(),
            rate_source=Donation.RateSource.SAME_CURRENCY, received_at=now,
            stripe_checkout_session_id=plan.session_id,
        )
        for index, plan in enumerate(plans)
    ])  # fmt: skip
    events = _events(stand_in, plans, rng)
    distinct = [json.dumps(event).encode() for event in events]
    duplicates = [rng.choice(distinct) for _ in range(max(EVENTS - len(distinct), 0))]
    deliveries = distinct + duplicates
    rng.shuffle(deliveries)
    prepared = time.monotonic()

    killed: dict = {}
    killer = threading.Thread(
        target=_kill_a_task_worker_mid_batch, args=(task_workers, len(distinct) // 3, killed)
    )
    killer.start()
    storm = _storm(deliveries, port=PORT, master_pid=gunicorn.pid)
    stormed = time.monotonic()
    killer.join()
    drain = _drained(timeout=600)
    assert "killed_at" in killed
    assert WebhookDelivery.objects.count() == len(distinct)

    # Every delivery ended in a 200; nothing was refused as malformed.
    assert storm.sent == Counter({200: len(deliveries)})
    assert storm.kills == 1
    # No event lost, none stored twice.
    assert StripeEvent.objects.count() == len(distinct)
    gifts = {str(gift.pk): gift for gift in Donation.objects.filter(campaign=campaign)}
    receipts = Counter(
        str(r.donation_id) for r in Receipt.objects.filter(donation__campaign=campaign)
    )
    payments = Counter(  # the history rows that recorded a payment (perhaps refunded already)
        str(change.donation_id)
        for change in DonationChange.objects.filter(donation__campaign=campaign)
        if change.changes.get("status", [None])[0] == Donation.Status.PENDING
        and change.changes["status"][1] in (Donation.Status.SUCCEEDED, Donation.Status.REFUNDED)
    )
    wrong = []
    for plan in plans:
        gift = gifts[plan.donation_id]
        expected = {
            "paid": Donation.Status.REFUNDED if plan.full_refund else Donation.Status.SUCCEEDED,
            "async_paid": Donation.Status.REFUNDED
            if plan.full_refund
            else Donation.Status.SUCCEEDED,
            "async_failed": Donation.Status.FAILED,
            "expired": Donation.Status.EXPIRED,
            "open": Donation.Status.PENDING,
        }[plan.fate]
        facts = (gift.status, gift.amount_refunded, receipts[plan.donation_id],
                 payments[plan.donation_id], gift.dispute_status in ("lost",))  # fmt: skip
        want = (expected, Decimal(plan.refunded) / 100, int(plan.paid), int(plan.paid),
                plan.dispute == "lost")  # fmt: skip
        if facts != want:
            wrong.append((plan, facts, want))
    assert wrong == []

    # The campaign's figures against a ground truth from the plan alone.
    truth_raised = Decimal(sum(plan.raised for plan in plans)) / 100
    truth_count = sum(plan.counts for plan in plans)
    truth_members = {
        member: Decimal(sum(p.raised for p in plans if p.member_id == member)) / 100
        for member in members
    }
    totals = campaign_totals(campaign=campaign)
    assert (totals.raised, totals.donor_count) == (truth_raised, truth_count)
    assert {m: totals.raised_by_member.get(m, Decimal(0)) for m in members} == truth_members
    assert totals_recount() == []
    verify = io.StringIO()
    call_command("totals_verify", stdout=verify)
    assert "No drift" in verify.getvalue()

    with capsys.disabled():
        print(
            f"\npayment chaos: {len(deliveries)} events posted ({len(distinct)} distinct, "
            f"{len(duplicates)} duplicates) for {len(plans)} sessions by {SENDERS} senders; "
            f"{storm.retries} retries ({storm.server_errors} answered 5xx, "
            f"{storm.connection_errors} broken connections); {storm.kills} worker killed with "
            f"SIGKILL after {storm.killed_at} deliveries; a task worker killed with SIGKILL "
            f"after {killed['killed_at']} events recorded, the inbox drained {drain:.0f} s "
            f"after the storm; totals compared: raised "
            f"{totals.raised} = {truth_raised}, gifts {totals.donor_count} = {truth_count}, "
            f"{len(members)} members equal, totals_verify: no drift; {len(plans)} sessions "
            f"checked one by one. Set-up {prepared - started:.0f} s, storm "
            f"{stormed - prepared:.0f} s ({len(deliveries) / (stormed - prepared):.0f} "
            f"deliveries/s), whole test {time.monotonic() - started:.0f} s."
        )

"""Webhook load: signed `checkout.session.completed` events posted by concurrent clients.

Events are Stripe's example event (tests/data/stripe/event.json) wrapping the session exactly
as the Stripe stand-in holds it, and are signed as Stripe signs them (HMAC-SHA256 over
"timestamp.body", through stripe-python's test helper).
"""

from __future__ import annotations

import http.client
import json
import secrets
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import stripe

EXAMPLE_EVENT = Path(__file__).resolve().parent.parent / "tests" / "data" / "stripe" / "event.json"


@dataclass(frozen=True)
class Delivery:
    session_id: str
    event_id: str
    body: bytes
    signature: str


@dataclass(frozen=True)
class Outcome:
    session_id: str
    event_id: str
    status: int
    seconds: float
    answered_at: float  # time.time() when the answer arrived (the acknowledgement, if 200)


class StandIn:
    """The load generator's side of the Stripe stand-in: its API and private endpoints."""

    def __init__(self, port: int, secret_key: str, *, pid: int | None = None):
        self.port, self.secret_key, self.pid = port, secret_key, pid

    def _call(self, method: str, path: str, body: bytes | None = None, *, api: bool = False):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if api:
            headers["Authorization"] = f"Bearer {self.secret_key}"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = json.loads(response.read())
        finally:
            connection.close()
        if response.status != 200:
            raise RuntimeError(f"Stripe stand-in: {method} {path} answered {response.status}")
        return data

    def pay(self, session_ids: list[str]) -> None:
        self._call("POST", "/_bench/sessions/paid", json.dumps({"ids": session_ids}).encode())

    def set_delay(self, milliseconds: float) -> None:
        self._call("POST", "/_bench/config", json.dumps({"delay_ms": milliseconds}).encode())

    def stats(self) -> dict[str, int]:
        return self._call("GET", "/_bench/stats")

    def sessions(self, session_ids: list[str]) -> list[dict]:
        """Each session as Stripe would put it in an event (not expanded)."""
        return [
            self._call("GET", f"/v1/checkout/sessions/{session_id}", api=True)
            for session_id in session_ids
        ]


def stripe_event(event_type: str, obj: dict, *, event_id: str, created: int) -> dict:
    """An event as Stripe sends it: its example event wrapping `obj`, at this API version."""
    event = json.loads(EXAMPLE_EVENT.read_text())
    event.update(
        id=event_id,
        type=event_type,
        created=created,
        api_version=stripe.api_version,
        data={"object": obj},
        pending_webhooks=1,
    )
    return event


def signed(body: bytes, *, webhook_secret: str) -> str:
    """The Stripe-Signature header for `body`, signed now (Stripe signs each attempt anew)."""
    return stripe.WebhookSignature.generate_signature_header(
        body.decode(), webhook_secret, int(time.time())
    )


def deliveries(sessions: list[dict], *, webhook_secret: str) -> list[Delivery]:
    """One signed `checkout.session.completed` event per session, signed now."""
    now = int(time.time())
    prepared = []
    for session in sessions:
        event = stripe_event(
            "checkout.session.completed",
            session,
            event_id=f"evt_bench{secrets.token_hex(12)}",
            created=now,
        )
        body = json.dumps(event)
        signature = stripe.WebhookSignature.generate_signature_header(body, webhook_secret, now)
        prepared.append(Delivery(session["id"], event["id"], body.encode(), signature))
    return prepared


def _post(connection: http.client.HTTPConnection, path: str, item: Delivery) -> int:
    headers = {"Content-Type": "application/json", "Stripe-Signature": item.signature}
    try:
        connection.request("POST", path, body=item.body, headers=headers)
        response = connection.getresponse()
        response.read()
    except (OSError, http.client.HTTPException):
        connection.close()
        return 0
    return response.status


def deliver(
    planned: list[Delivery], *, port: int, path: str, clients: int, seconds: float
) -> tuple[list[Outcome], float]:
    """Post the events from `clients` threads, each one at a time, until all are sent or
    `seconds` have passed. Returns each delivery's outcome and the wall time taken."""
    pending = iter(planned)
    lock = threading.Lock()
    outcomes: list[Outcome] = []
    deadline = time.monotonic() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < deadline:
            with lock:
                item = next(pending, None)
            if item is None:
                break
            started = time.monotonic()
            status = _post(connection, path, item)
            outcome = Outcome(
                item.session_id, item.event_id, status, time.monotonic() - started, time.time()
            )
            with lock:
                outcomes.append(outcome)
        connection.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes, time.monotonic() - started


def deliver_paced(
    planned: list[Delivery], *, port: int, path: str, rate: float, seconds: float, senders: int = 4
) -> tuple[list[Outcome], float]:
    """Post the events on a fixed schedule, `rate` a second for `seconds` (event i leaves at
    i / rate), from `senders` threads so that one slow answer does not delay the next event.
    Returns each delivery's outcome and the wall time taken."""
    count = min(len(planned), round(rate * seconds))
    pending = iter(enumerate(planned[:count]))
    lock = threading.Lock()
    outcomes: list[Outcome] = []
    start = time.monotonic() + 0.1

    def sender() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                index, item = next(pending, (None, None))
            if item is None:
                break
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            started = time.monotonic()
            status = _post(connection, path, item)
            outcome = Outcome(
                item.session_id, item.event_id, status, time.monotonic() - started, time.time()
            )
            with lock:
                outcomes.append(outcome)
        connection.close()

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes, time.monotonic() - start


def latency_summary(outcomes: list[Outcome]) -> dict:
    timings = sorted(outcome.seconds * 1000 for outcome in outcomes)
    if not timings:
        return {"p50_ms": None, "p99_ms": None}
    p99 = timings[min(len(timings) - 1, round(0.99 * (len(timings) - 1)))]
    return {"p50_ms": round(statistics.median(timings), 1), "p99_ms": round(p99, 1)}

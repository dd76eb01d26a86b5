"""A Stripe stand-in on 127.0.0.1: just enough of Stripe's API for donations/stripe_gateway.py.

    python bench/stripe_standin.py --port 18201 [--delay-ms 150] [--secret-key sk_test_bench]

Point the app at it with STRIPE_API_BASE=http://127.0.0.1:18201. It answers, like Stripe:

- POST /v1/checkout/sessions: creates an open, unpaid session from the form-encoded params
  (amount and currency from the line items, metadata, client_reference_id), idempotent per
  Idempotency-Key;
- GET /v1/checkout/sessions/<id> and GET /v1/charges/<id>, with `expand[]` honoured along
  dotted paths (payment_intent.latest_charge.balance_transaction);
- 401 without the secret key, 404 with Stripe's error shape for an unknown id.

Every object starts as one of Stripe's own example objects (tests/data/stripe/*.json, MIT) with
only the fields of one gift changed. Private endpoints, for the load generator only:

- POST /_bench/sessions/paid {"ids": [...]}: the givers paid; each session becomes complete and
  paid, with a succeeded payment intent, its charge and the charge's balance transaction;
- POST /_bench/config {"delay_ms": 150}: the latency added to every /v1/ answer from now on;
- GET /_bench/stats: how many /v1/ requests were answered, by method and route.

Tests that attack the running app (tests/donations/test_payment_chaos.py) run the same
`Store` in their own process and change it directly: `Store.refund`, `Store.dispute`,
`Store.expire` and `Store.fail` put a session or charge in the state Stripe would have after
those events; `GET /v1/refunds?charge=…` and `GET /v1/events` list them as Stripe does.

Threaded, so delayed answers overlap as Stripe's do. Nothing here imports the application.
"""

from __future__ import annotations

import argparse
import copy
import json
import secrets
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "tests" / "data" / "stripe"
CHECKOUT_URL = "https://checkout.stripe.com/c/pay/"
SESSION_LIFETIME = 24 * 60 * 60
# Stripe's standard card pricing (2.9% + 30), as the stand-in's settlement fee, computed in
# integer units: per mille, rounded half up.
FEE_PER_MILLE = 29
FEE_FIXED_UNITS = 30


def example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def _form_tree(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's form encoding (`a[b][0][c]=v`) back into nested dicts and lists."""
    root: dict = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists_from_digit_dicts(root)


def _lists_from_digit_dicts(node):
    if isinstance(node, dict):
        converted = {key: _lists_from_digit_dicts(value) for key, value in node.items()}
        if converted and all(key.isdigit() for key in converted):
            return [converted[key] for key in sorted(converted, key=int)]
        return converted
    if isinstance(node, list):
        return [_lists_from_digit_dicts(item) for item in node]
    return node


def expand_paths(query_pairs: list[tuple[str, str]]) -> list[list[str]]:
    """The `expand[]` values of a request (`expand[0]=a.b`, `expand[]=a.b`), split on dots."""
    return [value.split(".") for key, value in query_pairs if key.split("[")[0] == "expand"]


class Store:
    """What this Stripe "has": objects by id, and the answers to idempotent creations."""

    def __init__(self):
        self.objects: dict[str, dict] = {}
        self.idempotent: dict[str, str] = {}
        self.lock = threading.Lock()
        self.delay = 0.0
        self.requests: Counter[str] = Counter()
        self.events: list[tuple[dict, bool]] = []

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_bench{secrets.token_hex(12)}"

    def create_session(self, params: dict, idempotency_key: str | None) -> dict:
        with self.lock:
            if idempotency_key and idempotency_key in self.idempotent:
                return copy.deepcopy(self.objects[self.idempotent[idempotency_key]])
        items = params.get("line_items") or []
        amount_total = sum(
            int(item["price_data"]["unit_amount"]) * int(item.get("quantity", 1)) for item in items
        )
        currency = items[0]["price_data"]["currency"] if items else "usd"
        now = int(time.time())
        session = example("checkout_session")
        session_id = self.new_id("cs_test")
        intent_data = params.get("payment_intent_data") or {}
        session.update(
            id=session_id,
            url=f"{CHECKOUT_URL}{session_id}",
            amount_subtotal=amount_total,
            amount_total=amount_total,
            currency=currency,
            client_reference_id=params.get("client_reference_id"),
            customer_email=params.get("customer_email"),
            metadata=params.get("metadata") or {},
            mode=params.get("mode", "payment"),
            submit_type=params.get("submit_type"),
            locale=params.get("locale"),
            success_url=params.get("success_url"),
            cancel_url=params.get("cancel_url"),
            status="open",
            payment_status="unpaid",
            payment_intent=None,
            created=now,
            expires_at=now + SESSION_LIFETIME,
        )
        session["_intent_metadata"] = intent_data.get("metadata") or {}
        with self.lock:
            self.objects[session_id] = session
            if idempotency_key:
                self.idempotent[idempotency_key] = session_id
        return _public(session)

    def pay(self, session_id: str) -> bool:
        """The giver paid: intent, charge and settlement exist, the session is complete."""
        with self.lock:
            session = self.objects.get(session_id)
            if session is None or session["object"] != "checkout.session":
                return False
            if session["payment_status"] == "paid":
                return True
            amount, currency = session["amount_total"], session["currency"]
            metadata = session["_intent_metadata"]
            intent_id, charge_id = self.new_id("pi"), self.new_id("ch")
            transaction_id = self.new_id("txn")
            fee = (amount * FEE_PER_MILLE + 500) // 1000 + FEE_FIXED_UNITS
            now = int(time.time())
            transaction = example("balance_transaction")
            transaction.update(
                id=transaction_id,
                amount=amount,
                currency=currency,
                fee=fee,
                net=amount - fee,
                exchange_rate=None,
                source=charge_id,
                created=now,
                available_on=now,
            )
            charge = example("charge")
            charge.update(
                id=charge_id,
                amount=amount,
                amount_captured=amount,
                amount_refunded=0,
                refunded=False,
                captured=True,
                paid=True,
                status="succeeded",
                disputed=False,
                currency=currency,
                payment_intent=intent_id,
                metadata=metadata,
                balance_transaction=transaction_id,
                created=now,
            )
            intent = example("payment_intent")
            intent.update(
                id=intent_id,
                amount=amount,
                amount_received=amount,
                currency=currency,
                status="succeeded",
                latest_charge=charge_id,
                metadata=metadata,
                created=now,
                canceled_at=None,
                last_payment_error=None,
                next_action=None,
            )
            session.update(status="complete", payment_status="paid", payment_intent=intent_id)
            session["customer_details"]["email"] = session.get("customer_email")
            for obj in (transaction, charge, intent):
                self.objects[obj["id"]] = obj
        return True

    def refund(self, charge_id: str, amount: int, *, status: str = "succeeded") -> dict:
        """A refund of `amount` units of a paid charge; the charge's running totals follow."""
        with self.lock:
            charge = self.objects[charge_id]
            refund = example("refund")
            refund.update(
                id=self.new_id("re"),
                amount=amount,
                currency=charge["currency"],
                charge=charge_id,
                payment_intent=charge["payment_intent"],
                status=status,
                balance_transaction=None,
                created=int(time.time()),
                metadata={},
            )
            refund["_sequence"] = len(self.objects)
            self.objects[refund["id"]] = refund
            self._refund_totals(charge)
        return _public(refund)

    def refund_status(self, refund_id: str, status: str) -> dict:
        """A refund moves on (succeeded, failed, canceled); a failed one gives the money back."""
        with self.lock:
            refund = self.objects[refund_id]
            refund["status"] = status
            self._refund_totals(self.objects[refund["charge"]])
        return _public(refund)

    def _refund_totals(self, charge: dict) -> None:
        taken = sum(
            obj["amount"]
            for obj in self.objects.values()
            if obj.get("object") == "refund"
            and obj["charge"] == charge["id"]
            and obj["status"] not in ("failed", "canceled")
        )
        charge.update(amount_refunded=taken, refunded=taken >= charge["amount"])

    def dispute(self, charge_id: str, *, status: str = "needs_response") -> dict:
        with self.lock:
            charge = self.objects[charge_id]
            dispute = example("dispute")
            dispute.update(
                id=self.new_id("dp"),
                amount=charge["amount"],
                currency=charge["currency"],
                charge=charge_id,
                payment_intent=charge["payment_intent"],
                status=status,
                balance_transactions=[],
                created=int(time.time()),
            )
            self.objects[dispute["id"]] = dispute
            charge["disputed"] = True
        return _public(dispute)

    def dispute_status(self, dispute_id: str, status: str) -> dict:
        with self.lock:
            self.objects[dispute_id]["status"] = status
            return _public(self.objects[dispute_id])

    def expire(self, session_id: str) -> None:
        """The giver never paid and the session's time ran out."""
        with self.lock:
            self.objects[session_id].update(status="expired", payment_status="unpaid")

    def fail(self, session_id: str) -> None:
        """A delayed payment (a bank debit) that did not go through."""
        with self.lock:
            session = self.objects[session_id]
            intent = example("payment_intent")
            intent.update(
                id=self.new_id("pi"),
                amount=session["amount_total"],
                currency=session["currency"],
                status="requires_payment_method",
                latest_charge=None,
                metadata=session["_intent_metadata"],
            )
            self.objects[intent["id"]] = intent
            session.update(status="complete", payment_status="unpaid", payment_intent=intent["id"])

    def add_event(self, event: dict, *, delivered: bool) -> None:
        """An event as Stripe keeps it (30 days), with whether its delivery ever succeeded."""
        with self.lock:
            self.events.append((event, delivered))

    def list(self, kind: str, query: dict[str, str]) -> dict:
        """Stripe's list shape, newest first: refunds of one charge, or events."""
        limit = min(int(query.get("limit", "10")), 100)
        with self.lock:
            if kind == "refund":
                found = [
                    _public(obj)
                    for obj in self.objects.values()
                    if obj.get("object") == "refund" and obj["charge"] == query.get("charge")
                ]
                found.sort(key=lambda obj: (obj["created"], obj["id"]), reverse=True)
            else:
                since = int(query.get("created[gte]", "0"))
                undelivered = query.get("delivery_success") == "false"
                found = [
                    copy.deepcopy(event)
                    for event, delivered in reversed(self.events)
                    if event["created"] >= since and not (undelivered and delivered)
                ]
        if "starting_after" in query:
            ids = [obj["id"] for obj in found]
            found = found[ids.index(query["starting_after"]) + 1 :]
        return {"object": "list", "url": f"/v1/{kind}s", "has_more": len(found) > limit,
                "data": found[:limit]}  # fmt: skip

    def retrieve(self, object_id: str, kind: str, expand: list[list[str]]) -> dict | None:
        with self.lock:
            obj = self.objects.get(object_id)
            if obj is None or obj["object"] != kind:
                return None
            answer = _public(obj)
            for path in expand:
                self._expand(answer, path)
        return answer

    def _expand(self, obj: dict, path: list[str]) -> None:
        field, rest = path[0], path[1:]
        value = obj.get(field)
        if isinstance(value, str) and value in self.objects:
            value = _public(self.objects[value])
            obj[field] = value
        if rest and isinstance(value, dict):
            self._expand(value, rest)


def _public(obj: dict) -> dict:
    return {key: copy.deepcopy(value) for key, value in obj.items() if not key.startswith("_")}


def _stripe_error(status: int, message: str, error_type: str = "invalid_request_error") -> dict:
    return {"error": {"type": error_type, "message": message}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "StripeStandIn/1"
    store: Store
    secret_key: str

    def log_message(self, format, *args):
        pass  # quiet: the load generator counts requests through /_bench/stats

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_bench{secrets.token_hex(6)}")
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/_bench/stats":
            with self.store.lock:
                return self._send(200, dict(self.store.requests))
        self._api("GET", url, urllib.parse.parse_qsl(url.query, keep_blank_values=True))

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        body = self._body()
        if url.path.startswith("/_bench/"):
            return self._private(url.path, json.loads(body or b"{}"))
        self._api("POST", url, urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))

    def _private(self, path: str, data: dict) -> None:
        if path == "/_bench/sessions/paid":
            unknown = [session_id for session_id in data["ids"] if not self.store.pay(session_id)]
            return self._send(200 if not unknown else 404, {"unknown": unknown})
        if path == "/_bench/config":
            self.store.delay = float(data.get("delay_ms", 0)) / 1000
            return self._send(200, {"delay_ms": self.store.delay * 1000})
        self._send(404, _stripe_error(404, f"No private route {path}."))

    def _api(self, method: str, url, pairs: list[tuple[str, str]]) -> None:
        parts = url.path.strip("/").split("/")
        route = "/".join(part if index < 3 else "<id>" for index, part in enumerate(parts))
        with self.store.lock:
            self.store.requests[f"{method} /{route}"] += 1
        if self.store.delay:
            time.sleep(self.store.delay)
        if self.headers.get("Authorization") != f"Bearer {self.secret_key}":
            return self._send(401, _stripe_error(401, "Invalid API Key.", "authentication_error"))
        expand = expand_paths(pairs)
        if method == "POST" and parts == ["v1", "checkout", "sessions"]:
            params = _form_tree([(k, v) for k, v in pairs if not k.startswith("expand")])
            key = self.headers.get("Idempotency-Key")
            return self._send(200, self.store.create_session(params, key))
        if method == "GET" and parts[:3] == ["v1", "checkout", "sessions"] and len(parts) == 4:
            return self._object(parts[3], "checkout.session", expand)
        if method == "GET" and parts[:2] == ["v1", "charges"] and len(parts) == 3:
            return self._object(parts[2], "charge", expand)
        if method == "GET" and parts[:2] == ["v1", "disputes"] and len(parts) == 3:
            return self._object(parts[2], "dispute", expand)
        if method == "GET" and parts in (["v1", "refunds"], ["v1", "events"]):
            query = {key: value for key, value in pairs if not key.startswith("expand")}
            return self._send(200, self.store.list(parts[1][:-1], query))
        self._send(404, _stripe_error(404, f"Unrecognized request URL ({method}: {url.path})."))

    def _object(self, object_id: str, kind: str, expand: list[list[str]]) -> None:
        obj = self.store.retrieve(object_id, kind, expand)
        if obj is None:
            return self._send(404, _stripe_error(404, f"No such {kind}: '{object_id}'"))
        self._send(200, obj)


def serve(*, port: int, delay_ms: float, secret_key: str) -> ThreadingHTTPServer:
    store = Store()
    store.delay = delay_ms / 1000
    handler = type("BoundHandler", (Handler,), {"store": store, "secret_key": secret_key})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    server.request_queue_size = 256
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description="A Stripe stand-in for benchmarks.")
    parser.add_argument("--port", type=int, default=18201)
    parser.add_argument("--delay-ms", type=float, default=0)
    parser.add_argument("--secret-key", default="sk_test_bench")
    options = parser.parse_args()
    server = serve(port=options.port, delay_ms=options.delay_ms, secret_key=options.secret_key)
    print(f"Stripe stand-in on http://127.0.0.1:{options.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()

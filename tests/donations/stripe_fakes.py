"""The outside world, Stripe, faked at stripe-python's HTTP client boundary.

Payloads start from Stripe's own example objects (tests/data/stripe/*.json, copied from the
openapi repository's fixtures3.json, MIT) and change only the fields a test is about.
Webhooks are signed with `stripe.WebhookSignature.generate_signature_header`.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import stripe

DATA = Path(__file__).resolve().parent.parent / "data" / "stripe"
WEBHOOK_SECRET = "whsec_test_secret"
SECRET_KEY = "sk_test_fake"
CHECKOUT_URL = "https://checkout.stripe.com/c/pay/"
_ids = itertools.count(1)
# Every event a test makes, in order: Stripe makes an event when an object changes, so an
# object the test did not store itself is, at the fake's end, as its newest event shows it.
_made_events: list[dict] = []


def example(name: str) -> dict:
    """A fresh copy of one of Stripe's example objects."""
    return json.loads((DATA / f"{name}.json").read_text())


@dataclass
class RecordedRequest:
    method: str
    url: str
    headers: dict
    body: str

    @property
    def path(self) -> str:
        return urllib.parse.urlsplit(self.url).path

    @property
    def form(self) -> dict[str, str]:
        """The form-encoded body as a flat dict: {"line_items[0][quantity]": "1", ...}."""
        return dict(urllib.parse.parse_qsl(self.body, keep_blank_values=True))

    @property
    def query(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.url).query)


class FakeStripeHTTP(stripe.HTTPClient):
    """Answers the few API calls we make from dicts the test filled in, and records each call.

    `sessions` and `charges` hold what Stripe "has" now, by id; so do `refunds`, `disputes`,
    `invoices`, `subscriptions` and `payment_intents`. An object the test did not store is
    as the newest event the test made about it shows it (Stripe makes an event when an
    object changes); a charge also as the session or payment intent that holds it; a
    charge refunded with no refund stored has refunds adding up to its refunded amount, as
    Stripe keeps them. `errors` maps a path to an HTTP status to answer with instead (e.g.
    {"/v1/checkout/sessions": 400}). Listing sessions (and invoices) answers newest first in
    pages of at most `page_size`, with `has_more` and `starting_after` as Stripe does;
    objects come back as stored (store them expanded as the caller asks).

    Like Stripe: cancelling a subscription, ending it at its period's end and voiding an
    invoice change the stored object; a paid (or void) invoice cannot be voided (400 with
    Stripe's error shape), a cancelled subscription cannot be cancelled again (404), and a
    POST with an idempotency key gets the first answer to that key again for 24 hours.
    """

    name = "fake"

    def __init__(self):
        super().__init__()
        self.requests: list[RecordedRequest] = []
        self.sessions: dict[str, dict] = {}
        self.charges: dict[str, dict] = {}
        self.errors: dict[str, int] = {}
        self.events: list[tuple[dict, bool]] = []  # (event, delivered), oldest first
        self.refunds: dict[str, dict] = {}
        self.invoices: dict[str, dict] = {}
        self.subscriptions: dict[str, dict] = {}
        self.payment_intents: dict[str, dict] = {}
        self.disputes: dict[str, dict] = {}
        self.products: dict[str, dict] = {}
        self.webhook_endpoints: list[dict] = []  # see `webhook_endpoint`
        self.page_size = 100
        self.now = time.time  # the fake's clock, for idempotency keys' 24 hours
        self._lock = threading.Lock()
        self._replies: dict[str, tuple[float, tuple]] = {}
        self._derived_refunds: dict[str, list[dict]] = {}
        _made_events.clear()

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        recorded = RecordedRequest(method.upper(), url, dict(headers or {}), post_data or "")
        with self._lock:
            self.requests.append(recorded)
        key = recorded.headers.get("Idempotency-Key")
        if recorded.method in ("POST", "DELETE") and key:
            with self._lock:
                first = self._replies.get(key)
            if first is not None and self.now() - first[0] < IDEMPOTENCY_SECONDS:
                return first[1]
            reply = self._answer(method, recorded)
            with self._lock:
                self._replies[key] = (self.now(), reply)
            return reply
        return self._answer(method, recorded)

    def _answer(self, method, recorded: RecordedRequest):
        path = recorded.path
        if path in self.errors:
            return _error(self.errors[path])
        if method.upper() == "POST" and path == "/v1/checkout/sessions":
            return _ok(self._create_session(recorded.form))
        if method.upper() == "GET" and path == "/v1/checkout/sessions":
            return self._list_sessions(recorded.query)
        if (
            method.upper() == "POST"
            and path.startswith("/v1/checkout/sessions/")
            and path.endswith("/expire")
        ):
            session = self._current("checkout.session", self.sessions, path.split("/")[4])
            if session is None:
                return _error(404)
            if session.get("status") != "open":
                return _error(400, "invalid_request_error", "Only open sessions can be expired.")
            session["status"] = "expired"
            return _ok(session)
        if method.upper() == "GET" and path.startswith("/v1/checkout/sessions/"):
            return self._found(self._current("checkout.session", self.sessions,
                                             path.rsplit("/", 1)[1]))  # fmt: skip
        if method.upper() == "GET" and path == "/v1/refunds":
            charge_id = recorded.query.get("charge", [""])[0]
            return _ok({"object": "list", "url": "/v1/refunds", "has_more": False,
                        "data": self._refunds_of(charge_id)})  # fmt: skip
        if method.upper() == "GET" and path.startswith("/v1/refunds/"):
            refund_id = path.rsplit("/", 1)[1]
            known = {refund["id"]: refund for refund in self._all_refunds()}
            return self._found(known.get(refund_id))
        if method.upper() == "GET" and path == "/v1/events":
            return self._list_events(recorded.query)
        if method.upper() == "GET" and path.startswith("/v1/charges/"):
            return self._found(self._charge(path.rsplit("/", 1)[1]))
        if method.upper() == "GET" and path.startswith("/v1/disputes/"):
            return self._found(self._current("dispute", self.disputes, path.rsplit("/", 1)[1]))
        if method.upper() == "GET" and path == "/v1/webhook_endpoints":
            return _ok({"object": "list", "url": "/v1/webhook_endpoints", "has_more": False,
                        "data": self.webhook_endpoints})  # fmt: skip
        if method.upper() == "POST" and path == "/v1/products":
            return self._create_product(recorded.form)
        return self._monthly(method.upper(), path, recorded)

    def _current(self, kind: str, store: dict, object_id: str) -> dict | None:
        """The object as stored by the test, else as its newest event shows it."""
        if object_id in store:
            return store[object_id]
        made = [
            (event["created"], index, event["data"]["object"])
            for index, event in enumerate(list(_made_events))
            if event["data"]["object"].get("object") == kind
            and event["data"]["object"].get("id") == object_id
        ]
        return copy.deepcopy(max(made, key=lambda item: item[:2])[2]) if made else None

    def _charge(self, charge_id: str) -> dict | None:
        found = self._current("charge", self.charges, charge_id)
        if found is not None:
            return found
        for holder in [*self.sessions.values(), *self.payment_intents.values()]:
            intent = holder.get("payment_intent", holder)
            latest = intent.get("latest_charge") if isinstance(intent, dict) else None
            if isinstance(latest, dict) and latest.get("id") == charge_id:
                return latest
        return None

    def _all_refunds(self) -> list[dict]:
        refunds = {}
        for event in list(_made_events):
            obj = event["data"]["object"]
            if obj.get("object") == "refund":
                refunds[obj["id"]] = self._current("refund", {}, obj["id"])
        for derived in self._derived_refunds.values():
            refunds.update({refund["id"]: refund for refund in derived})
        return [*{**refunds, **self.refunds}.values()]

    def _refunds_of(self, charge_id: str) -> list[dict]:
        """The charge's refunds: stored or made by the test, else what its refunded amount
        says (Stripe adds a refund whenever more of a charge is refunded)."""
        found = [refund for refund in self._all_refunds() if refund["charge"] == charge_id]
        charge = self._charge(charge_id)
        derived = self._derived_refunds.setdefault(charge_id, [])
        if charge is not None and (not found or all(r in derived for r in found)):
            more = charge.get("amount_refunded", 0) - sum(refund["amount"] for refund in derived)
            if more > 0:
                obj = refund(charge_id=charge_id, amount=more, currency=charge["currency"])
                obj["payment_intent"] = charge.get("payment_intent")
                derived.append(obj)
            found = list(derived)
        return found

    def _monthly(self, method: str, path: str, recorded: RecordedRequest):
        """Invoices, subscriptions and payment intents: what monthly gifts ask of Stripe."""
        parts = path.split("/")[2:]  # e.g. ["invoices", "in_1", "void"]
        if method == "GET" and parts == ["invoices"]:
            return self._list_invoices(recorded.query)
        if method == "GET" and parts == ["invoice_payments"]:
            wanted = recorded.query.get("payment[payment_intent]", [""])[0]
            found = [
                payment
                for invoice in self.invoices.values()
                for payment in (invoice.get("payments") or {}).get("data", [])
                if payment["payment"].get("payment_intent") == wanted
            ]
            return _ok({"object": "list", "url": "/v1/invoice_payments", "has_more": False,
                        "data": found[:1]})  # fmt: skip
        if method == "GET" and len(parts) == 2 and parts[0] == "invoices":
            return self._known(self.invoices, parts[1])
        if method == "POST" and len(parts) == 3 and parts[0] == "invoices" and parts[2] == "void":
            if parts[1] not in self.invoices:
                return _error(404)
            if self.invoices[parts[1]]["status"] not in ("open", "uncollectible"):
                status = self.invoices[parts[1]]["status"]
                message = f"You can only void open invoices; this one is {status}."
                return _error(400, "invalid_request_error", message)
            self.invoices[parts[1]]["status"] = "void"
            return _ok(self.invoices[parts[1]])
        if method == "POST" and len(parts) == 2 and parts[0] == "invoices":
            if parts[1] not in self.invoices:
                return _error(404)
            self.invoices[parts[1]]["auto_advance"] = recorded.form.get("auto_advance") == "true"
            return _ok(self.invoices[parts[1]])
        if method == "GET" and len(parts) == 2 and parts[0] == "payment_intents":
            return self._known(self.payment_intents, parts[1])
        if len(parts) == 2 and parts[0] == "subscriptions":
            subscription = self.subscriptions.get(parts[1])
            if subscription is None:
                return _error(404)
            if method == "DELETE" and subscription["status"] in ("canceled", "incomplete_expired"):
                return _error(404, "invalid_request_error",
                              f"No such subscription: '{parts[1]}'")  # fmt: skip
            if method == "DELETE":
                subscription.update(status="canceled", canceled_at=int(time.time()))
            elif method == "POST" and recorded.form.get("cancel_at_period_end") == "true":
                subscription["cancel_at_period_end"] = True
            return _ok(subscription)
        return _error(404)

    def _list_invoices(self, query: dict[str, list[str]]):
        since = int(query.get("created[gte]", ["0"])[0])
        status = query.get("status", [None])[0]
        limit = min(int(query.get("limit", ["10"])[0]), self.page_size)
        listed = sorted(
            (
                invoice
                for invoice in self.invoices.values()
                if invoice["created"] >= since and status in (None, invoice["status"])
            ),
            key=lambda invoice: (invoice["created"], invoice["id"]),
            reverse=True,
        )
        if "starting_after" in query:
            ids = [invoice["id"] for invoice in listed]
            listed = listed[ids.index(query["starting_after"][0]) + 1 :]
        return _ok({"object": "list", "url": "/v1/invoices", "has_more": len(listed) > limit,
                    "data": listed[:limit]})  # fmt: skip

    def request_stream(self, method, url, headers, post_data=None, *, _usage=None):
        raise NotImplementedError("The fake answers no streaming calls.")

    def close(self):
        pass

    def _create_session(self, form: dict[str, str]) -> dict:
        session = example("checkout_session")
        session_id = f"cs_test_fake{next(_ids)}"
        session.update(
            id=session_id,
            url=f"{CHECKOUT_URL}{session_id}",
            client_reference_id=form.get("client_reference_id"),
            metadata={"donation_id": form.get("metadata[donation_id]")},
            currency=form.get("line_items[0][price_data][currency]"),
            mode=form.get("mode", "payment"),
        )
        return session

    def _create_product(self, form: dict[str, str]):
        """A product with the id asked for; a second one with that id is refused, as Stripe
        does (`resource_already_exists`)."""
        product_id = form.get("id") or f"prod_fake{next(_ids)}"
        if product_id in self.products:
            body = {"error": {"type": "invalid_request_error", "code": "resource_already_exists",
                              "message": "Product already exists.", "param": "id"}}  # fmt: skip
            return json.dumps(body), 400, {"request-id": "req_fake"}
        self.products[product_id] = {
            "id": product_id, "object": "product", "name": form.get("name"),
            "statement_descriptor": form.get("statement_descriptor"),
            "metadata": {"campaign_id": form.get("metadata[campaign_id]")},
        }  # fmt: skip
        return _ok(self.products[product_id])

    def _list_sessions(self, query: dict[str, list[str]]):
        since = int(query.get("created[gte]", ["0"])[0])
        limit = min(int(query.get("limit", ["10"])[0]), self.page_size)
        listed = sorted(
            (s for s in self.sessions.values() if s["created"] >= since),
            key=lambda s: (s["created"], s["id"]),
            reverse=True,
        )
        if "starting_after" in query:
            ids = [s["id"] for s in listed]
            listed = listed[ids.index(query["starting_after"][0]) + 1 :]
        return _ok({
            "object": "list",
            "url": "/v1/checkout/sessions",
            "has_more": len(listed) > limit,
            "data": listed[:limit],
        })  # fmt: skip

    def _list_events(self, query: dict[str, list[str]]):
        since = int(query.get("created[gte]", ["0"])[0])
        undelivered = query.get("delivery_success", [""])[0] == "false"
        limit = min(int(query.get("limit", ["10"])[0]), self.page_size)
        listed = [
            event
            for event, delivered in reversed(self.events)
            if event["created"] >= since and not (undelivered and delivered)
        ]
        if "starting_after" in query:
            ids = [event["id"] for event in listed]
            listed = listed[ids.index(query["starting_after"][0]) + 1 :]
        return _ok({"object": "list", "url": "/v1/events", "has_more": len(listed) > limit,
                    "data": listed[:limit]})  # fmt: skip

    def gets_of(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "GET" and r.path == path]

    @staticmethod
    def _known(store: dict, object_id: str):
        return _ok(store[object_id]) if object_id in store else _error(404)

    @staticmethod
    def _found(obj: dict | None):
        return _ok(obj) if obj is not None else _error(404)

    def posts_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path == path]


def _ok(body: dict):
    return json.dumps(body), 200, {"request-id": "req_fake"}


# Stripe replays a key's first answer for 24 hours (https://docs.stripe.com/api/idempotent_requests).
IDEMPOTENCY_SECONDS = 24 * 60 * 60


def _error(status: int, error_type: str = "api_error", message: str = ""):
    body = {"error": {"type": error_type, "message": message or f"Fake Stripe says {status}."}}
    return json.dumps(body), status, {"request-id": "req_fake"}


# Builders: Stripe's example objects with the fields our code reads set for one gift.


def balance_transaction(*, amount: int, currency: str, fee: int, exchange_rate=None) -> dict:
    txn = example("balance_transaction")
    txn.update(
        id=f"txn_fake{next(_ids)}",
        amount=amount,
        currency=currency.lower(),
        fee=fee,
        net=amount - fee,
        exchange_rate=exchange_rate,
    )
    return txn


def charge(
    *,
    donation,
    amount: int,
    currency: str,
    charge_id: str = "ch_fake_1",
    payment_intent_id: str = "pi_fake_1",
    amount_refunded: int = 0,
    refunded: bool = False,
    settlement: dict | None = None,
    balance_transaction_id: str | None = None,
) -> dict:
    obj = example("charge")
    obj.update(
        id=charge_id,
        amount=amount,
        amount_captured=amount,
        amount_refunded=amount_refunded,
        refunded=refunded,
        currency=currency.lower(),
        payment_intent=payment_intent_id,
        metadata={"donation_id": str(donation.id), "campaign_id": str(donation.campaign_id)},
        balance_transaction=settlement or balance_transaction_id,
    )
    return obj


def checkout_session(
    *,
    donation,
    amount_total: int,
    currency: str,
    status: str = "complete",
    payment_status: str = "paid",
    payment_intent: dict | str | None = "pi_fake_1",
    created: int | None = None,
) -> dict:
    session = example("checkout_session")
    metadata = {"donation_id": str(donation.id), "campaign_id": str(donation.campaign_id)}
    session.update(
        id=donation.stripe_checkout_session_id,
        client_reference_id=str(donation.id),
        metadata=metadata,
        amount_total=amount_total,
        amount_subtotal=amount_total,
        currency=currency.lower(),
        status=status,
        payment_status=payment_status,
        payment_intent=payment_intent,
        mode="payment",
        submit_type="donate",
        created=int(time.time()) if created is None else created,
    )
    return session


def expanded_intent(*, charge_obj: dict | None, status: str = "succeeded") -> dict:
    intent = example("payment_intent")
    intent_id = charge_obj["payment_intent"] if charge_obj else "pi_fake_1"
    intent.update(id=intent_id, status=status, latest_charge=charge_obj)
    if charge_obj:
        intent.update(amount=charge_obj["amount"], currency=charge_obj["currency"])
    return intent


def dispute(*, charge_id: str = "ch_fake_1", status: str = "needs_response") -> dict:
    obj = example("dispute")
    obj.update(charge=charge_id, status=status, id=f"dp_fake{next(_ids)}")
    return obj


def event(event_type: str, obj: dict, *, event_id: str | None = None) -> dict:
    payload = example("event")
    payload.update(
        id=event_id or f"evt_fake{next(_ids)}",
        type=event_type,
        data={"object": copy.deepcopy(obj)},
        api_version=stripe.api_version,
    )
    _made_events.append(payload)  # as the test leaves it (it may set `created`)
    return payload


def signed(payload: dict, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> tuple:
    """The body and its Stripe-Signature header, signed now (or at the unix time `at`)."""
    body = json.dumps(payload)
    timestamp = int(time.time()) if at is None else at
    return body, stripe.WebhookSignature.generate_signature_header(body, secret, timestamp)


def deliver(client, payload: dict, **kwargs):
    """POST one signed event to the webhook, as Stripe does."""
    body, header = signed(payload, **kwargs)
    return client.post(
        "/stripe/webhook/", data=body, content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header,
    )  # fmt: skip


def signed_header(body: str, *, secret: str = WEBHOOK_SECRET) -> str:
    """The Stripe-Signature header for a body given as text (signed now)."""
    return stripe.WebhookSignature.generate_signature_header(body, secret, int(time.time()))


def webhook_endpoint(*, url: str, events, status: str = "enabled") -> dict:
    """Stripe's example webhook endpoint, sending `events` (["*"]: all) to `url`."""
    obj = example("webhook_endpoint")
    obj.update(id=f"we_fake{next(_ids)}", url=url, enabled_events=sorted(events), status=status,
               api_version=stripe.api_version)  # fmt: skip
    return obj


def refund(*, charge_id: str = "ch_fake_1", amount: int, status: str = "succeeded",
           refund_id: str | None = None, currency: str = "usd") -> dict:  # fmt: skip
    obj = example("refund")
    obj.update(id=refund_id or f"re_fake{next(_ids)}", charge=charge_id, amount=amount,
               currency=currency, status=status, payment_intent="pi_fake_1")  # fmt: skip
    return obj


# Monthly gifts: Stripe's example subscription, invoice and invoice payment, set for one gift.


def subscription(
    *,
    gift,
    subscription_id: str = "sub_fake_1",
    status: str = "active",
    cancel_at_period_end: bool = False,
    period_end: int | None = None,
    latest_invoice: str | dict | None = None,
) -> dict:
    obj = example("subscription")
    obj.update(
        id=subscription_id,
        status=status,
        cancel_at_period_end=cancel_at_period_end,
        cancel_at=None,
        canceled_at=None,
        ended_at=None,
        currency=gift.currency.lower(),
        metadata={"monthly_gift_id": str(gift.pk), "campaign_id": str(gift.campaign_id)},
        latest_invoice=latest_invoice,
    )
    end = period_end or int(time.time()) + 30 * 24 * 60 * 60
    for item in obj["items"]["data"]:
        item.update(subscription=subscription_id, current_period_end=end,
                    current_period_start=end - 30 * 24 * 60 * 60)  # fmt: skip
    return obj


def invoice_payment(*, invoice_id: str, payment_intent_id: str, amount: int, currency: str,
                    status: str = "paid") -> dict:  # fmt: skip
    obj = example("invoice_payment")
    obj.update(
        id=f"inpay_fake{next(_ids)}",
        invoice=invoice_id,
        amount_paid=amount if status == "paid" else None,
        amount_requested=amount,
        currency=currency.lower(),
        is_default=True,
        status=status,
        payment={"type": "payment_intent", "payment_intent": payment_intent_id},
    )
    return obj


def invoice(
    *,
    gift,
    invoice_id: str,
    amount: int,
    currency: str = "usd",
    status: str = "paid",
    subscription_id: str = "sub_fake_1",
    payment_intent_id: str | None = None,
    billing_reason: str = "subscription_cycle",
    created: int | None = None,
    with_payments: bool = True,
) -> dict:
    """An invoice of the gift's subscription in the shape of the pinned API version: no
    `subscription` or `charge` of its own, its subscription under `parent` and its payment
    under `payments` (present only when expanded: `with_payments`)."""
    obj = example("invoice")
    now = int(time.time())
    obj.update(
        id=invoice_id,
        status=status,
        billing_reason=billing_reason,
        currency=currency.lower(),
        amount_due=amount,
        amount_paid=amount if status == "paid" else 0,
        amount_remaining=0 if status == "paid" else amount,
        total=amount,
        subtotal=amount,
        created=now if created is None else created,
        customer_email=gift.email,
        parent={
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {
                "subscription": subscription_id,
                "metadata": {"monthly_gift_id": str(gift.pk), "campaign_id": str(gift.campaign_id)},
            },
        },
        status_transitions={"finalized_at": now, "marked_uncollectible_at": None,
                            "paid_at": now if status == "paid" else None, "voided_at": None},
    )  # fmt: skip
    obj.pop("subscription", None)
    if with_payments:
        payment_intent_id = payment_intent_id or f"pi_{invoice_id}"
        payment_status = "paid" if status == "paid" else "open"
        obj["payments"] = {
            "object": "list",
            "has_more": False,
            "url": f"/v1/invoices/{invoice_id}/payments",
            "data": [invoice_payment(invoice_id=invoice_id, payment_intent_id=payment_intent_id,
                                     amount=amount, currency=currency, status=payment_status)],
        }  # fmt: skip
    return obj


def monthly_session(
    *,
    donation,
    amount_total: int,
    currency: str = "usd",
    status: str = "complete",
    payment_status: str = "paid",
    subscription_obj: dict | str | None = "sub_fake_1",
    invoice_id: str | None = None,
    created: int | None = None,
) -> dict:
    """The Checkout Session of a monthly gift (subscription mode): no payment intent; the
    subscription it started (expanded, as the gateway asks) and its first invoice."""
    session = checkout_session(
        donation=donation, amount_total=amount_total, currency=currency, status=status,
        payment_status=payment_status, payment_intent=None, created=created,
    )  # fmt: skip
    session.update(mode="subscription", submit_type=None, subscription=subscription_obj,
                   invoice=invoice_id)  # fmt: skip
    return session


class MonthlyStripe:
    """What Stripe holds for one monthly gift: its subscription, invoices paid (each with a
    payment intent and a charge with its settlement), as a test builds them up month by month."""

    def __init__(self, fake: FakeStripeHTTP, gift, *, subscription_id: str = "sub_fake_1",
                 prefix: str = "month"):  # fmt: skip
        self.fake, self.gift, self.subscription_id = fake, gift, subscription_id
        self.prefix = prefix  # ids in_<prefix>_<n>, pi_<prefix>_<n>, ch_<prefix>_<n>
        fake.subscriptions[subscription_id] = subscription(
            gift=gift, subscription_id=subscription_id
        )

    def pay(self, number: int, *, amount: int = 2500, currency: str = "usd", fee: int = 103,
            status: str = "paid", created: int | None = None) -> dict:  # fmt: skip
        """Invoice `number` of the subscription, paid (or `open` after a failed attempt),
        with its payment intent and charge stored as Stripe would hold them."""
        invoice_id, intent_id = f"in_{self.prefix}_{number}", f"pi_{self.prefix}_{number}"
        obj = invoice(
            gift=self.gift,
            invoice_id=invoice_id,
            amount=amount,
            currency=currency,
            status=status,
            subscription_id=self.subscription_id,
            payment_intent_id=intent_id,
            created=created,
            billing_reason="subscription_create" if number == 1 else "subscription_cycle",
        )
        self.fake.invoices[invoice_id] = obj  # fmt: skip
        if status == "paid":
            settled = balance_transaction(amount=amount, currency=currency, fee=fee)
            charge_obj = charge(donation=self.gift, amount=amount, currency=currency,
                                charge_id=f"ch_{self.prefix}_{number}", payment_intent_id=intent_id,
                                settlement=settled)  # fmt: skip
            charge_obj["metadata"] = {}  # a subscription's charges carry no metadata of ours
            self.fake.charges[charge_obj["id"]] = charge_obj
            self.fake.payment_intents[intent_id] = expanded_intent(charge_obj=charge_obj)
        subscription_obj = self.fake.subscriptions[self.subscription_id]
        subscription_obj["latest_invoice"] = invoice_id
        if subscription_obj["status"] in ("active", "past_due"):
            # A renewal that failed makes the subscription past due; one paid, active again.
            subscription_obj["status"] = "active" if status == "paid" else "past_due"
        return obj

    def webhook_invoice(self, number: int) -> dict:
        """The invoice as a webhook carries it: without its payments (not included by
        default), so the code must ask Stripe for them."""
        obj = copy.deepcopy(self.fake.invoices[f"in_{self.prefix}_{number}"])
        obj.pop("payments", None)
        return obj

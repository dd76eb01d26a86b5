"""Stripe, behind one door. The only module that imports `stripe`.

Everything else in the project speaks in Decimal amounts with ISO codes and in the plain
dataclasses below; this module turns them into Stripe's integer units and API calls, and turns
Stripe's answers (webhook payloads and API responses) back into facts. Stripe's JSON is read
with `parse_float=Decimal`, so no amount or rate ever passes through a float.

Stripe's own currency rules are facts no library holds; they live in the tables below.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import hashlib
import json
import logging
import re
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any
from urllib.parse import quote

import stripe
from django.conf import settings

logger = logging.getLogger(__name__)

# Stripe's currency rules, from https://docs.stripe.com/currencies (checked 2026-11).
#
# Zero-decimal currencies: the API amount is in whole units (¥500 is 500), not hundredths.
# https://docs.stripe.com/currencies#zero-decimal
ZERO_DECIMAL_CURRENCIES = frozenset({
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA",
    "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
})  # fmt: skip
# Special cases (https://docs.stripe.com/currencies#special-cases): the API keeps two decimals
# (100 is one unit) but only whole units can be charged or paid out, so amounts must be
# multiples of 100. ISK: card networks accept whole krónur only since 2023-04-14. HUF and TWD:
# zero-decimal for payouts; we charge whole units too so every gift can be paid out as given.
# CLDR agrees for display (Babel gives HUF and ISK zero decimals), but Stripe's integer units
# must never be derived from Babel's precision.
WHOLE_UNITS_IN_HUNDREDTHS = frozenset({"HUF", "ISK", "TWD"})
# Minimum charge amounts per currency, in major units.
# https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts
# For a currency not listed, Stripe's minimum is the equivalent of USD 0.50.
MINIMUM_CHARGE = {
    "USD": Decimal("0.50"), "AED": Decimal("2.00"), "AUD": Decimal("0.50"),
    "BGN": Decimal("1.00"), "BRL": Decimal("0.50"), "CAD": Decimal("0.50"),
    "CHF": Decimal("0.50"), "CZK": Decimal("15.00"), "DKK": Decimal("2.50"),
    "EUR": Decimal("0.50"), "GBP": Decimal("0.30"), "HKD": Decimal("4.00"),
    "HUF": Decimal("175"), "INR": Decimal("0.50"), "JPY": Decimal("50"),
    "MXN": Decimal("10"), "MYR": Decimal("2"), "NOK": Decimal("3.00"),
    "NZD": Decimal("0.50"), "PLN": Decimal("2.00"), "RON": Decimal("2.00"),
    "SEK": Decimal("3.00"), "SGD": Decimal("0.50"), "THB": Decimal("10"),
}  # fmt: skip
MINIMUM_CHARGE_FALLBACK_USD = Decimal("0.50")
# Stripe's largest amount: eight digits in the smallest unit (99,999,999), for every
# currency (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts). With a
# thousands-per-dollar currency (IDR, KRW, HUF, ISK...) that is far below DONATION_MAX_USD.
MAXIMUM_CHARGE_UNITS = 99_999_999
# Standard card pricing for the "cover the fees" estimate (https://stripe.com/pricing):
# a percentage plus a fixed USD amount, converted by the caller. An estimate, shown as one.
CARD_FEE_PERCENT = Decimal("0.029")
CARD_FEE_FIXED_USD = Decimal("0.30")

# The statement descriptor suffix: with a prefix of up to 10 characters and Stripe's "* "
# between them, 10 more keep the whole descriptor within the 22 characters banks show.
STATEMENT_SUFFIX_LENGTH = 10
# A Checkout Session's `expires_at` must fall 30 minutes to 24 hours after Stripe creates it
# (https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-expires_at).
# We compute it before the request reaches Stripe (retries included), so it stays a minute
# inside both limits whatever STRIPE_CHECKOUT_EXPIRES_MINUTES says.
CHECKOUT_EXPIRES_EARLIEST = datetime.timedelta(minutes=31)
CHECKOUT_EXPIRES_LATEST = datetime.timedelta(hours=23, minutes=59)
# The webhook signature may be at most this old (Stripe's own default as well).
WEBHOOK_TOLERANCE_SECONDS = 300
# What Checkout returns with the session, expanded in one call: the charge and its settlement
# (one-off gifts), or the subscription it started (monthly gifts).
SESSION_EXPAND = ["payment_intent.latest_charge.balance_transaction", "subscription"]
# The same for every session of a list. Four levels is Stripe's maximum expansion depth
# (https://docs.stripe.com/api/expanding_objects), and 100 its largest page.
SESSION_LIST_EXPAND = [f"data.{path}" for path in SESSION_EXPAND]
SESSION_LIST_PAGE_SIZE = 100
CHECKOUT_LOCALES = {"en": "en", "es": "es"}
# What we store of Stripe's strings: ids and event types fit these columns, or the event is
# refused as malformed (never a database error and a retry). Amounts beyond any charge are
# refused too.
ID_MAX_LENGTH = 255
EVENT_ID_MAX_LENGTH = 255
EVENT_TYPE_MAX_LENGTH = 100
MAX_UNITS_READ = 10**12


class GatewayError(Exception):
    """Stripe could not be reached or refused the request."""


class NotFoundError(GatewayError):
    """Stripe answered that the object does not exist (404)."""


class RefusedError(GatewayError):
    """Stripe refused the request as invalid for the object's state (400): asking again
    gets the same answer (an invoice already paid cannot be voided, say)."""


class InvalidWebhookError(Exception):
    """A webhook whose signature is missing, wrong or stale, or whose body is not an event."""


class MalformedEventError(InvalidWebhookError):
    """A correctly signed event whose body has not the shape of a Stripe event."""


class MalformedObjectError(ValueError):
    """A Stripe object (in an event or an API answer) we cannot read as facts."""


class StripeAmountError(ValueError):
    """An amount Stripe cannot charge in that currency (too many decimals)."""


def charge_decimals(currency: str) -> int:
    """How many decimals a gift in `currency` may have for Stripe to charge it exactly."""
    code = currency.upper()
    return 0 if code in ZERO_DECIMAL_CURRENCIES or code in WHOLE_UNITS_IN_HUNDREDTHS else 2


def _unit_exponent(currency: str) -> int:
    return 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 2


def to_stripe_units(amount: Decimal, currency: str) -> int:
    """Decimal major units → Stripe's integer amount. Refuses anything it would have to round."""
    if amount != amount.quantize(Decimal(1).scaleb(-charge_decimals(currency))):
        raise StripeAmountError(f"{amount} {currency} has too many decimals for Stripe.")
    return int(amount.scaleb(_unit_exponent(currency)))


def from_stripe_units(units: int, currency: str) -> Decimal:
    """Stripe's integer amount → Decimal major units, exactly."""
    return Decimal(int(units)).scaleb(-_unit_exponent(currency))


def maximum_charge(currency: str) -> Decimal:
    """The largest amount Stripe charges in `currency`, in major units, chargeable exactly."""
    largest = from_stripe_units(MAXIMUM_CHARGE_UNITS, currency)
    return largest.quantize(Decimal(1).scaleb(-charge_decimals(currency)), rounding="ROUND_FLOOR")


def statement_descriptor_suffix(name: str) -> str:
    """A short suffix for the donor's card statement, from the campaign's name.

    Stripe appends it to the account's prefix; it may hold Latin letters, digits, spaces and
    some punctuation only, not < > \\ ' " *, and must have a letter. We keep ASCII letters,
    digits and spaces, at most STATEMENT_SUFFIX_LENGTH characters, so prefix and suffix fit
    the 22 characters most statements show. Empty when nothing usable remains.
    """
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    kept = " ".join("".join(c if c.isalnum() else " " for c in folded).split()).upper()
    suffix = kept[:STATEMENT_SUFFIX_LENGTH].strip()
    return suffix if any(c.isalpha() for c in suffix) else ""


def minimum_charge(currency: str) -> Decimal | None:
    """Stripe's minimum in `currency`, or None when it is "the equivalent of USD 0.50"."""
    return MINIMUM_CHARGE.get(currency.upper())


class CheckoutOutcome(StrEnum):
    OPEN = "open"  # the giver has not finished Checkout yet
    PROCESSING = "processing"  # completed with a delayed method (bank debit): money not in yet
    PAID = "paid"
    FAILED = "failed"  # a delayed payment that did not go through
    EXPIRED = "expired"  # abandoned; nothing was charged


@dataclass(frozen=True)
class Settlement:
    """The charge's balance transaction: what reached the Stripe balance, and at what cost."""

    amount: Decimal
    currency: str
    exchange_rate: Decimal | None
    fee: Decimal
    net: Decimal


@dataclass(frozen=True)
class ChargeFacts:
    charge_id: str
    payment_intent_id: str | None
    donation_id: str | None
    amount: Decimal
    currency: str
    amount_refunded: Decimal
    fully_refunded: bool
    settlement: Settlement | None
    balance_transaction_id: str | None = None


class SubscriptionState(StrEnum):
    """A subscription's state, in our terms (Stripe's statuses and cancel_at_period_end)."""

    STARTING = "starting"  # incomplete: the first payment is not through yet
    ACTIVE = "active"
    PAST_DUE = "past_due"  # a renewal failed; Stripe is retrying
    UNPAID = "unpaid"  # Stripe stopped retrying: nothing is charged until someone acts
    ENDING = "ending"  # set to cancel: it will not charge again
    CANCELED = "canceled"
    EXPIRED = "expired"  # never started (incomplete_expired)
    PAUSED = "paused"


@dataclass(frozen=True)
class SubscriptionFacts:
    subscription_id: str
    state: SubscriptionState
    status: str
    monthly_gift_id: str | None = None
    paid_through: int | None = None  # the end of the current period (unix time)
    latest_invoice_id: str | None = None


@dataclass(frozen=True)
class InvoiceFacts:
    """A subscription's invoice: one month of a monthly gift. Its payment comes from the
    invoice's payments (`invoice.payments`, the API version we pin has no `charge` on it)."""

    invoice_id: str
    subscription_id: str | None
    status: str  # draft, open, paid, uncollectible, void
    billing_reason: str
    amount_paid: Decimal
    currency: str
    monthly_gift_id: str | None = None
    payment_intent_id: str | None = None
    charge: ChargeFacts | None = None
    paid_at: int | None = None
    created: int = 0
    # Stripe's page where the donor pays this invoice or confirms it with their bank (None
    # until finalized, or if it is not an https address on Stripe's side).
    hosted_invoice_url: str | None = None

    @property
    def paid(self) -> bool:
        return self.status == "paid"


@dataclass(frozen=True)
class CheckoutFacts:
    """What a Checkout Session says about one gift, in our terms."""

    session_id: str
    donation_id: str | None
    outcome: CheckoutOutcome
    amount_total: Decimal | None
    currency: str
    payment_intent_id: str | None = None
    charge: ChargeFacts | None = None
    mode: str = "payment"  # or "subscription": a monthly gift
    subscription_id: str | None = None
    # The subscription's first invoice: the session's own, or its subscription's latest.
    invoice_id: str | None = None

    @property
    def monthly(self) -> bool:
        return self.mode == "subscription"

    def with_outcome(self, outcome: CheckoutOutcome) -> CheckoutFacts:
        return replace(self, outcome=outcome)


@dataclass(frozen=True)
class DisputeFacts:
    dispute_id: str
    charge_id: str | None
    status: str
    payment_intent_id: str | None = None
    # Stripe's dispute fee (and its return, if any), from the dispute's balance transactions,
    # in the settlement currency; None when Stripe has moved no money yet.
    fee: Decimal | None = None
    fee_currency: str = ""


@dataclass(frozen=True)
class RefundFacts:
    refund_id: str
    charge_id: str | None
    payment_intent_id: str | None
    amount: Decimal
    currency: str
    status: str


@dataclass(frozen=True)
class WebhookEvent:
    event_id: str
    type: str
    created: int = 0
    # The id of the object the event names (a session, charge, invoice...), for the inbox.
    object_id: str = ""
    session: CheckoutFacts | None = None
    charge: ChargeFacts | None = None
    dispute: DisputeFacts | None = None
    refund: RefundFacts | None = None
    invoice: InvoiceFacts | None = None
    subscription: SubscriptionFacts | None = None


@dataclass(frozen=True)
class CheckoutRequest:
    """One gift's Checkout Session, in our terms; `create_checkout_session` speaks Stripe."""

    donation_id: str
    campaign_id: int
    product_name: str
    amount: Decimal
    currency: str
    fee_cover_name: str
    fee_cover_amount: Decimal
    email: str
    language: str
    success_url: str
    cancel_url: str
    statement_name: str = ""
    # A monthly gift: Checkout in subscription mode, billed every month until stopped.
    monthly_gift_id: str = ""

    @property
    def monthly(self) -> bool:
        return bool(self.monthly_gift_id)


@dataclass(frozen=True)
class CheckoutSession:
    session_id: str
    url: str


_http_client: stripe.HTTPClient | None = None


def use_http_client(http_client: stripe.HTTPClient | None) -> None:
    """Send Stripe API calls through `http_client` (tests, staging); None restores the default."""
    global _http_client
    _http_client = http_client


_clients: dict[tuple, stripe.StripeClient] = {}
# A person's page waits on Stripe this long at most (the worker keeps stripe-python's 80 s).
PAGE_TIMEOUT_SECONDS = 8
_page_request: contextvars.ContextVar[bool] = contextvars.ContextVar("page", default=False)


@contextlib.contextmanager
def page_request() -> Iterator[None]:
    """Stripe calls made inside answer a person's page: a short timeout, no retries."""
    token = _page_request.set(True)
    try:
        yield
    finally:
        _page_request.reset(token)


def _client() -> stripe.StripeClient:
    """One client per process, configuration and kind of caller (a page or the worker):
    building one per call cost each webhook a fresh HTTP connection pool."""
    page = _page_request.get()
    key = (settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE, id(_http_client), page)
    client = _clients.get(key)
    if client is None:
        base_addresses = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
        http_client = _http_client
        if http_client is None and page:
            http_client = stripe.RequestsClient(timeout=PAGE_TIMEOUT_SECONDS)
        client = stripe.StripeClient(
            settings.STRIPE_SECRET_KEY,
            base_addresses=base_addresses,
            http_client=http_client,
            max_network_retries=0 if page else 2,
        )
        if len(_clients) > 4:
            _clients.clear()  # only the current configuration is ever used again
        _clients[key] = client
    return client


def _gateway_error(error: stripe.StripeError) -> GatewayError:
    if error.http_status == 404:
        return NotFoundError(str(error))
    if error.http_status == 400 and isinstance(error, stripe.InvalidRequestError):
        return RefusedError(str(error))
    return GatewayError(str(error))


def _read(reader, obj: Any):
    """Facts from an API answer; an answer we cannot read is Stripe failing us (GatewayError)."""
    try:
        return reader(obj)
    except MalformedObjectError as error:
        raise GatewayError(f"Stripe answered with an object we cannot read: {error}") from error


def _decoded(stripe_object: Any) -> dict:
    """The raw JSON of a resource method's answer, with numbers as Decimal."""
    return _json(stripe_object.last_response.body)


def _get(path: str, params: dict[str, Any]) -> dict:
    """GET an API path and return Stripe's raw JSON, with numbers as Decimal.

    Through stripe-python's raw_request: the same keys, retries and errors as its resource
    methods, without building a StripeObject tree we would only read back as JSON (that cost
    a webhook several milliseconds). Raises stripe.StripeError.
    """
    return _json(_client().raw_request("get", path, **params).body)


def create_checkout_session(request: CheckoutRequest) -> CheckoutSession:
    """Create the Checkout Session for one gift. Idempotent per donation id at Stripe's end.

    A monthly gift's session is in subscription mode: its prices are built inline (amount,
    currency, a monthly interval, a product named for the campaign), so nothing has to be
    set up in the Dashboard, and its ids ride on the subscription's metadata, which every
    invoice copies (`parent.subscription_details.metadata`).
    """
    metadata = {"donation_id": request.donation_id, "campaign_id": str(request.campaign_id)}
    if request.monthly:
        metadata["monthly_gift_id"] = request.monthly_gift_id
    interval = "month" if request.monthly else None
    product_id = _monthly_product(request) if request.monthly else None
    line_items = [
        _line_item(request.product_name, request.amount, request.currency, interval, product_id)
    ]
    if request.fee_cover_amount:
        line_items.append(
            _line_item(request.fee_cover_name, request.fee_cover_amount, request.currency, interval)
        )
    params = {
        "mode": "subscription" if request.monthly else "payment",
        # Charge what the giver chose, in the currency they chose: the per-session setting
        # overrides the Dashboard's, so Adaptive Pricing stays off even if someone turns it on.
        "adaptive_pricing": {"enabled": False},
        "expires_at": checkout_expires_at(settings.STRIPE_CHECKOUT_EXPIRES_MINUTES),
        "line_items": line_items,
        "customer_email": request.email,
        "client_reference_id": request.donation_id,
        "metadata": metadata,
        "locale": CHECKOUT_LOCALES.get(request.language.split("-")[0], "auto"),
        "success_url": request.success_url,
        "cancel_url": request.cancel_url,
    }
    if request.monthly:
        # payment_intent_data is for one-off payments; a subscription carries its own.
        params["subscription_data"] = {"metadata": metadata, "description": request.product_name}
    else:
        params["submit_type"] = "donate"
        params["payment_intent_data"] = _payment_intent_data(request, metadata)
    params.update(_payment_methods())
    try:
        session = _client().v1.checkout.sessions.create(
            params=params, options={"idempotency_key": f"checkout-{request.donation_id}"}
        )
    except stripe.StripeError as error:
        raise GatewayError(str(error)) from error
    return CheckoutSession(session_id=session.id, url=session.url)


def checkout_expires_at(minutes: int) -> int:
    """When a session made now expires (unix time): `minutes` from now, kept a minute inside
    Stripe's limits (CHECKOUT_EXPIRES_EARLIEST, CHECKOUT_EXPIRES_LATEST)."""
    life = datetime.timedelta(minutes=minutes)
    life = min(max(life, CHECKOUT_EXPIRES_EARLIEST), CHECKOUT_EXPIRES_LATEST)
    return int(time.time()) + int(life.total_seconds())


def _payment_intent_data(request: CheckoutRequest, metadata: dict) -> dict:
    data: dict[str, Any] = {"metadata": metadata}
    suffix = statement_descriptor_suffix(request.statement_name)
    if suffix:
        data["statement_descriptor_suffix"] = suffix
    return data


def _payment_methods() -> dict:
    """A payment method configuration when one is set (pmc_…), else an explicit list: never
    whatever the Dashboard happens to enable (buy-now-pay-later methods forbid donations)."""
    if settings.STRIPE_PAYMENT_METHOD_CONFIGURATION:
        return {"payment_method_configuration": settings.STRIPE_PAYMENT_METHOD_CONFIGURATION}
    return {"payment_method_types": list(settings.STRIPE_PAYMENT_METHOD_TYPES)}


def _monthly_product(request: CheckoutRequest) -> str | None:
    """The Stripe product a monthly gift's price is for, carrying the statement descriptor
    suffix; None when the campaign's name gives no suffix (Checkout's inline product then).

    Checkout in subscription mode takes no statement descriptor: `payment_intent_data` is for
    payment mode only, and neither `subscription_data` (nor its `invoice_settings`) nor an
    inline `product_data` has one. A Product's `statement_descriptor` is "only used for
    subscription payments", and each invoice of a subscription takes its first item's
    product's (https://docs.stripe.com/api/products/create#create_product-statement_descriptor,
    https://docs.stripe.com/api/invoices/update#update_invoice-statement_descriptor), so every
    month carries it, the first one in Checkout included. The product's id is derived from
    the campaign, name and suffix: one product per campaign and name however many gifts,
    created once (Stripe refuses a second one with the same id, which is what we want). Any
    other refusal of the product (a descriptor Stripe will not take, say) is logged and the
    gift goes ahead with Checkout's inline product, without the suffix: a donor is never
    turned away for a statement line.
    """
    suffix = statement_descriptor_suffix(request.statement_name)
    if not suffix:
        return None
    digest = hashlib.sha256(f"{request.product_name}\n{suffix}".encode()).hexdigest()[:16]
    product_id = f"solidaria_{request.campaign_id}_{digest}"
    params = {
        "id": product_id,
        "name": request.product_name,
        "statement_descriptor": suffix,
        "metadata": {"campaign_id": str(request.campaign_id)},
    }
    try:
        _client().v1.products.create(params=params)
    except stripe.InvalidRequestError as error:
        if error.code != "resource_already_exists":
            logger.warning(
                "Stripe refused product %s (%s); no suffix this time.", product_id, error
            )
            return None
    except stripe.StripeError as error:
        raise GatewayError(str(error)) from error
    return product_id


def _line_item(
    name: str,
    amount: Decimal,
    currency: str,
    interval: str | None = None,
    product_id: str | None = None,
) -> dict:
    price_data: dict[str, Any] = {
        "currency": currency.lower(),
        "unit_amount": to_stripe_units(amount, currency),
    }
    if product_id:
        price_data["product"] = product_id
    else:
        price_data["product_data"] = {"name": name}
    if interval:
        price_data["recurring"] = {"interval": interval, "interval_count": 1}
    return {"quantity": 1, "price_data": price_data}


def retrieve_checkout_session(session_id: str) -> CheckoutFacts:
    """The session as Stripe has it now, with its charge and settlement when they exist."""
    try:
        session = _get(
            f"/v1/checkout/sessions/{quote(session_id, safe='')}", {"expand": SESSION_EXPAND}
        )
    except stripe.StripeError as error:
        raise _gateway_error(error) from error
    return _read(checkout_facts, session)


def list_checkout_sessions(*, created_since: datetime.datetime) -> Iterator[CheckoutFacts]:
    """Every Checkout Session created since then, newest first, a page of 100 per API call.

    Each comes with its charge and settlement expanded, as `retrieve_checkout_session` gives.
    Raises GatewayError when a page cannot be fetched.
    """
    params: dict[str, Any] = {
        "created": {"gte": int(created_since.timestamp())},
        "limit": SESSION_LIST_PAGE_SIZE,
        "expand": SESSION_LIST_EXPAND,
    }
    while True:
        try:
            page = _get("/v1/checkout/sessions", params)
        except stripe.StripeError as error:
            raise GatewayError(str(error)) from error
        for session in page["data"]:
            yield _read(checkout_facts, session)
        if not page.get("has_more") or not page["data"]:
            return
        params["starting_after"] = page["data"][-1]["id"]


# Stripe keeps events for 30 days; the events list reaches no further back.
EVENTS_RETENTION = datetime.timedelta(days=30)


def list_undelivered_events(*, created_since: datetime.datetime) -> Iterator[WebhookEvent]:
    """Events Stripe could not deliver to our endpoint (`delivery_success=false`) since then
    (at most 30 days back), newest first, 100 per API call. An event we cannot read is
    logged and skipped. Raises GatewayError when a page cannot be fetched."""
    oldest = datetime.datetime.now(datetime.UTC) - EVENTS_RETENTION
    params: dict[str, Any] = {
        "created": {"gte": int(max(created_since, oldest).timestamp())},
        "delivery_success": "false",
        "limit": SESSION_LIST_PAGE_SIZE,
    }
    while True:
        try:
            page = _get("/v1/events", params)
        except stripe.StripeError as error:
            raise _gateway_error(error) from error
        for data in page["data"]:
            try:
                yield webhook_event(data)
            except MalformedEventError as error:
                logger.error("Skipped an undelivered Stripe event we cannot read: %s", error)
        if not page.get("has_more") or not page["data"]:
            return
        params["starting_after"] = page["data"][-1]["id"]


def retrieve_charge(charge_id: str) -> ChargeFacts:
    """The charge as Stripe has it now, with its balance transaction (settlement) expanded."""
    try:
        charge = _get(
            f"/v1/charges/{quote(charge_id, safe='')}", {"expand": ["balance_transaction"]}
        )
    except stripe.StripeError as error:
        raise _gateway_error(error) from error
    return _read(charge_facts, charge)


def construct_webhook_event(*, payload: bytes, signature: str) -> WebhookEvent:
    """Verify the Stripe-Signature over the raw body (300 s tolerance), then read the event.

    Raises InvalidWebhookError for a bad signature, and its subclass MalformedEventError for a
    signed body whose shape is not one we can read (nothing may be recorded from it).
    """
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"),
            signature,
            settings.STRIPE_WEBHOOK_SECRET,
            WEBHOOK_TOLERANCE_SECONDS,
        )
    except (stripe.SignatureVerificationError, ValueError) as error:
        raise InvalidWebhookError(str(error)) from error
    return read_webhook_event(payload)


def read_webhook_event(payload: bytes | str) -> WebhookEvent:
    """An event's body read again, without its signature: for a body whose signature was
    verified when it arrived (the webhook's inbox). MalformedEventError as above."""
    try:
        data = _json(payload)
    except (ValueError, RecursionError) as error:
        raise MalformedEventError(str(error)) from error
    return webhook_event(data)


def webhook_event(data: Any) -> WebhookEvent:
    """An event's JSON (from the webhook or the events list) as facts; MalformedEventError
    when it has not the shape of a Stripe event."""
    try:
        event = _mapping(data, "event")
        event_id = _text(event.get("id"), "id", max_length=EVENT_ID_MAX_LENGTH)
        event_type = _text(event.get("type"), "type", max_length=EVENT_TYPE_MAX_LENGTH)
        obj = _mapping(_mapping(event.get("data"), "data").get("object"), "data.object", True)
        kind = obj.get("object")
        version = event.get("api_version")
        if version and version != stripe.api_version:
            logger.warning(
                "Stripe event %s has API version %s; this code reads %s. Set the webhook "
                "endpoint's API version to %s in the Stripe Dashboard.",
                event_id, version, stripe.api_version, stripe.api_version,
            )  # fmt: skip
        created = event.get("created")
        return WebhookEvent(
            event_id=event_id,
            type=event_type,
            created=0 if created is None else _units(created, "created"),
            object_id=str(obj.get("id") or "")[:EVENT_ID_MAX_LENGTH],
            session=checkout_facts(obj) if kind == "checkout.session" else None,
            charge=charge_facts(obj) if kind == "charge" else None,
            dispute=dispute_facts(obj) if kind == "dispute" else None,
            refund=refund_facts(obj) if kind == "refund" else None,
            invoice=invoice_facts(obj) if kind == "invoice" else None,
            subscription=subscription_facts(obj) if kind == "subscription" else None,
        )
    except MalformedObjectError as error:
        raise MalformedEventError(str(error)) from error


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number Stripe sends")


def _json(text: bytes | str) -> Any:
    """Stripe's JSON with numbers as Decimal (never a float) and without NaN or Infinity.

    Raises ValueError for anything else, JSON nested deeper than Python's recursion limit too
    (signed or not, it is no object of Stripe's)."""
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except RecursionError as error:
        raise ValueError("JSON nested too deeply") from error


def _mapping(value: Any, field: str, required: bool = False) -> dict:
    """A JSON object; None reads as empty unless `required`."""
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise MalformedObjectError(f"{field} is not an object")
    return value


def _text(value: Any, field: str, *, max_length: int = ID_MAX_LENGTH, required: bool = True):
    """A string Stripe sends (an id, a status): printable, and short enough to store."""
    if value is None or value == "":
        if required:
            raise MalformedObjectError(f"{field} is missing")
        return None
    if not isinstance(value, str) or len(value) > max_length or not value.isprintable():
        raise MalformedObjectError(f"{field} is not a short printable string")
    return value


def _units(value: Any, field: str, *, signed: bool = False) -> int:
    """An amount in Stripe's integer units (a JSON integer, never a bool or a decimal)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedObjectError(f"{field} is not an integer amount")
    if abs(value) > MAX_UNITS_READ or (value < 0 and not signed):
        raise MalformedObjectError(f"{field} is out of range")
    return value


def _currency(value: Any, field: str = "currency") -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value):
        raise MalformedObjectError(f"{field} is not a currency code")
    return value.upper()


def _rate(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)) or not value > 0:
        raise MalformedObjectError("exchange_rate is not a positive number")
    return Decimal(value)


def _id(value: Any, field: str = "id") -> str | None:
    """An expandable field: either an id string or the expanded object with an `id`."""
    if isinstance(value, dict):
        return _text(value.get("id"), field)
    return _text(value, field, required=False)


def checkout_facts(session: Any) -> CheckoutFacts:
    session = _mapping(session, "session", required=True)
    currency = _currency(session["currency"]) if session.get("currency") is not None else ""
    total = session.get("amount_total")
    payment_intent = session.get("payment_intent")
    charge = None
    intent_status = None
    if isinstance(payment_intent, dict):
        intent_status = _text(payment_intent.get("status"), "status", required=False)
        if isinstance(payment_intent.get("latest_charge"), dict):
            charge = charge_facts(payment_intent["latest_charge"])
    metadata = _mapping(session.get("metadata"), "metadata")
    reference = session.get("client_reference_id") or metadata.get("donation_id")
    subscription = session.get("subscription")
    invoice_id = _id(session.get("invoice"), "invoice")
    if invoice_id is None and isinstance(subscription, dict):
        invoice_id = _id(subscription.get("latest_invoice"), "latest_invoice")
    return CheckoutFacts(
        session_id=_text(session.get("id"), "id"),
        donation_id=_text(reference, "client_reference_id", required=False),
        outcome=_outcome(
            _text(session.get("status"), "status", required=False),
            _text(session.get("payment_status"), "payment_status", required=False),
            intent_status,
        ),
        amount_total=(
            from_stripe_units(_units(total, "amount_total"), currency)
            if total is not None and currency
            else None
        ),
        currency=currency,
        payment_intent_id=_id(payment_intent, "payment_intent"),
        charge=charge,
        mode=_text(session.get("mode"), "mode", max_length=40, required=False) or "payment",
        subscription_id=_id(subscription, "subscription"),
        invoice_id=invoice_id,
    )


def _outcome(status: str | None, payment_status: str | None, intent_status: str | None):
    if status == "expired":
        return CheckoutOutcome.EXPIRED
    if payment_status in ("paid", "no_payment_required"):
        return CheckoutOutcome.PAID
    if status == "complete":
        # A delayed method that failed leaves the intent waiting for a new payment method.
        if intent_status in ("requires_payment_method", "canceled"):
            return CheckoutOutcome.FAILED
        return CheckoutOutcome.PROCESSING
    return CheckoutOutcome.OPEN


def _settlement(transaction: dict) -> Settlement:
    settled_in = _currency(transaction.get("currency"), "balance_transaction.currency")
    return Settlement(
        amount=from_stripe_units(
            _units(transaction.get("amount"), "amount", signed=True), settled_in
        ),
        currency=settled_in,
        exchange_rate=_rate(transaction.get("exchange_rate")),
        fee=from_stripe_units(_units(transaction.get("fee", 0), "fee", signed=True), settled_in),
        net=from_stripe_units(_units(transaction.get("net"), "net", signed=True), settled_in),
    )


def charge_facts(charge: Any) -> ChargeFacts:
    charge = _mapping(charge, "charge", required=True)
    currency = _currency(charge.get("currency"))
    transaction = charge.get("balance_transaction")
    settlement = _settlement(transaction) if isinstance(transaction, dict) else None
    metadata = _mapping(charge.get("metadata"), "metadata")
    return ChargeFacts(
        charge_id=_text(charge.get("id"), "id"),
        payment_intent_id=_id(charge.get("payment_intent"), "payment_intent"),
        donation_id=_text(metadata.get("donation_id"), "metadata.donation_id", required=False),
        amount=from_stripe_units(_units(charge.get("amount"), "amount"), currency),
        currency=currency,
        amount_refunded=from_stripe_units(
            _units(charge.get("amount_refunded", 0), "amount_refunded"), currency
        ),
        fully_refunded=charge.get("refunded") is True,
        settlement=settlement,
        balance_transaction_id=_id(transaction, "balance_transaction"),
    )


def refund_facts(refund: Any) -> RefundFacts:
    refund = _mapping(refund, "refund", required=True)
    currency = _currency(refund.get("currency"))
    charge_id = _id(refund.get("charge"), "charge")
    payment_intent_id = _id(refund.get("payment_intent"), "payment_intent")
    if charge_id is None and payment_intent_id is None:
        raise MalformedObjectError("a refund names neither a charge nor a payment intent")
    return RefundFacts(
        refund_id=_text(refund.get("id"), "id"),
        charge_id=charge_id,
        payment_intent_id=payment_intent_id,
        amount=from_stripe_units(_units(refund.get("amount"), "amount"), currency),
        currency=currency,
        status=_text(refund.get("status"), "status", max_length=40),
    )


def list_refunds(*, charge_id: str) -> list[RefundFacts]:
    """Every refund of a charge, as Stripe has them now (100 per page, every page)."""
    params: dict[str, Any] = {"charge": charge_id, "limit": SESSION_LIST_PAGE_SIZE}
    refunds: list[RefundFacts] = []
    while True:
        try:
            page = _get("/v1/refunds", params)
        except stripe.StripeError as error:
            raise _gateway_error(error) from error
        refunds += [_read(refund_facts, refund) for refund in page["data"]]
        if not page.get("has_more") or not page["data"]:
            return refunds
        params["starting_after"] = page["data"][-1]["id"]


def dispute_facts(dispute: Any) -> DisputeFacts:
    dispute = _mapping(dispute, "dispute", required=True)
    charge_id = _id(dispute.get("charge"), "charge")
    payment_intent_id = _id(dispute.get("payment_intent"), "payment_intent")
    if charge_id is None and payment_intent_id is None:
        raise MalformedObjectError("a dispute names neither a charge nor a payment intent")
    transactions = dispute.get("balance_transactions") or []
    if not isinstance(transactions, list):
        raise MalformedObjectError("balance_transactions is not a list")
    settled = [_settlement(_mapping(txn, "balance_transaction", True)) for txn in transactions]
    currencies = {txn.currency for txn in settled}
    if len(currencies) > 1:
        raise MalformedObjectError("a dispute's balance transactions in several currencies")
    return DisputeFacts(
        dispute_id=_text(dispute.get("id"), "id"),
        charge_id=charge_id,
        status=_text(dispute.get("status"), "status", max_length=40),
        payment_intent_id=payment_intent_id,
        fee=sum((txn.fee for txn in settled), Decimal(0)) if settled else None,
        fee_currency=currencies.pop() if currencies else "",
    )


# Stripe's subscription statuses (https://docs.stripe.com/api/subscriptions/object#subscription_object-status).
SUBSCRIPTION_STATES = {
    "incomplete": SubscriptionState.STARTING,
    "trialing": SubscriptionState.ACTIVE,
    "active": SubscriptionState.ACTIVE,
    "past_due": SubscriptionState.PAST_DUE,
    "unpaid": SubscriptionState.UNPAID,
    "canceled": SubscriptionState.CANCELED,
    "incomplete_expired": SubscriptionState.EXPIRED,
    "paused": SubscriptionState.PAUSED,
}


def _timestamp(value: Any, field: str) -> int | None:
    return None if value is None else _units(value, field)


def subscription_facts(subscription: Any) -> SubscriptionFacts:
    """A subscription as facts. Since API version 2025-03-31 its period lives on its items."""
    subscription = _mapping(subscription, "subscription", required=True)
    status = _text(subscription.get("status"), "status", max_length=40)
    if status not in SUBSCRIPTION_STATES:
        raise MalformedObjectError(f"unknown subscription status {status!r}")
    state = SUBSCRIPTION_STATES[status]
    ending = subscription.get("cancel_at_period_end") is True or bool(subscription.get("cancel_at"))
    if ending and state in (
        SubscriptionState.ACTIVE,
        SubscriptionState.PAST_DUE,
        SubscriptionState.UNPAID,
    ):
        state = SubscriptionState.ENDING
    items = _mapping(subscription.get("items"), "items").get("data") or []
    if not isinstance(items, list):
        raise MalformedObjectError("items.data is not a list")
    ends = [
        _timestamp(_mapping(item, "item", True).get("current_period_end"), "current_period_end")
        for item in items
    ]
    ends = [end for end in ends if end is not None]
    metadata = _mapping(subscription.get("metadata"), "metadata")
    return SubscriptionFacts(
        subscription_id=_text(subscription.get("id"), "id"),
        state=state,
        status=status,
        monthly_gift_id=_text(
            metadata.get("monthly_gift_id"), "metadata.monthly_gift_id", required=False
        ),
        paid_through=max(ends) if ends else None,
        latest_invoice_id=_id(subscription.get("latest_invoice"), "latest_invoice"),
    )


def _invoice_payment_intent(invoice: dict) -> tuple[str | None, str | None]:
    """The payment intent (or charge) that paid the invoice, from `invoice.payments`: the
    one paid, else the default one. Older API versions had `payment_intent` and `charge` on
    the invoice itself; they are read when present."""
    payments = _mapping(invoice.get("payments"), "payments").get("data") or []
    if not isinstance(payments, list):
        raise MalformedObjectError("payments.data is not a list")
    payments = [_mapping(payment, "invoice_payment", True) for payment in payments]
    chosen = next((p for p in payments if p.get("status") == "paid"), None) or next(
        (p for p in payments if p.get("is_default") is True), None
    )
    if chosen is not None:
        payment = _mapping(chosen.get("payment"), "payment")
        return _id(payment.get("payment_intent"), "payment.payment_intent"), _id(
            payment.get("charge"), "payment.charge"
        )
    return _id(invoice.get("payment_intent"), "payment_intent"), _id(
        invoice.get("charge"), "charge"
    )


def invoice_facts(invoice: Any, *, charge: ChargeFacts | None = None) -> InvoiceFacts:
    """An invoice as facts. Its subscription and that subscription's metadata are under
    `parent.subscription_details` since API version 2025-03-31 (`subscription` before)."""
    invoice = _mapping(invoice, "invoice", required=True)
    currency = _currency(invoice.get("currency"))
    parent = _mapping(invoice.get("parent"), "parent")
    details = _mapping(parent.get("subscription_details"), "parent.subscription_details")
    subscription = details.get("subscription") or invoice.get("subscription")
    metadata = _mapping(details.get("metadata"), "subscription_details.metadata")
    payment_intent_id, charge_id = _invoice_payment_intent(invoice)
    transitions = _mapping(invoice.get("status_transitions"), "status_transitions")
    if charge is None and charge_id and isinstance(invoice.get("charge"), dict):
        charge = charge_facts(invoice["charge"])
    return InvoiceFacts(
        invoice_id=_text(invoice.get("id"), "id"),
        subscription_id=_id(subscription, "subscription"),
        status=_text(invoice.get("status"), "status", max_length=40, required=False) or "",
        billing_reason=_text(
            invoice.get("billing_reason"), "billing_reason", max_length=40, required=False
        )
        or "",
        amount_paid=from_stripe_units(
            _units(invoice.get("amount_paid", 0), "amount_paid"), currency
        ),
        currency=currency,
        monthly_gift_id=_text(
            metadata.get("monthly_gift_id"), "metadata.monthly_gift_id", required=False
        ),
        payment_intent_id=payment_intent_id or (charge.payment_intent_id if charge else None),
        charge=charge,
        paid_at=_timestamp(transitions.get("paid_at"), "paid_at"),
        created=_timestamp(invoice.get("created"), "created") or 0,
        hosted_invoice_url=_https_url(invoice.get("hosted_invoice_url")),
    )


URL_MAX_LENGTH = 2048


def _https_url(value: Any) -> str | None:
    """An https address Stripe gave us to send a person to, or None: nothing else is ever
    put in an email."""
    if (
        not isinstance(value, str)
        or len(value) > URL_MAX_LENGTH
        or not value.startswith("https://")
        or not value.isprintable()
        or any(c.isspace() for c in value)
    ):
        return None
    return value


def _payment_charge(payment_intent_id: str) -> ChargeFacts | None:
    """The charge of a payment intent, with its settlement, as Stripe has it now."""
    try:
        intent = _client().v1.payment_intents.retrieve(
            payment_intent_id, params={"expand": ["latest_charge.balance_transaction"]}
        )
    except stripe.StripeError as error:
        raise _gateway_error(error) from error
    latest = _decoded(intent).get("latest_charge")
    return _read(charge_facts, latest) if isinstance(latest, dict) else None


def with_payment(invoice: InvoiceFacts) -> InvoiceFacts:
    """A paid invoice with its charge and settlement (one more call), when it has a payment
    intent and the charge is not known yet."""
    if invoice.charge is not None or not invoice.payment_intent_id or not invoice.paid:
        return invoice
    return replace(invoice, charge=_payment_charge(invoice.payment_intent_id))


def retrieve_invoice(invoice_id: str) -> InvoiceFacts:
    """The invoice as Stripe has it now, with its payments, and, once paid, its charge and
    settlement. Raises GatewayError (NotFoundError for an unknown invoice)."""
    try:
        invoice = _client().v1.invoices.retrieve(invoice_id, params={"expand": ["payments"]})
    except stripe.StripeError as error:
        raise _gateway_error(error) from error
    return with_payment(_read(invoice_facts, _decoded(invoice)))


def invoice_of_payment(payment_intent_id: str) -> InvoiceFacts | None:
    """The invoice a payment intent paid (a month of a monthly gift), as Stripe has it now, or
    None when it paid no invoice. Its charge carries none of our metadata, so this is how a
    refund or dispute of a month finds the month when it arrives before the invoice's news."""
    params = {"payment": {"type": "payment_intent", "payment_intent": payment_intent_id},
              "limit": 1}  # fmt: skip
    try:
        page = _decoded(_client().v1.invoice_payments.list(params=params))
    except stripe.StripeError as error:
        raise _gateway_error(error) from error
    if not page["data"]:
        return None
    invoice_id = _id(_mapping(page["data"][0], "invoice_payment", True).get("invoice"), "invoice")
    return retrieve_invoice(invoice_id) if invoice_id else None


def list_paid_invoices(*, created_since: datetime.datetime) -> Iterator[InvoiceFacts]:
    """Every paid invoice created since then, newest first, 100 per call, with its payments
    (not its charge: `with_payment` fetches that for the ones that need it)."""
    params: dict[str, Any] = {
        "created": {"gte": int(created_since.timestamp())},
        "status": "paid",
        "limit": SESSION_LIST_PAGE_SIZE,
        "expand": ["data.payments"],
    }
    while True:
        try:
            page = _decoded(_client().v1.invoices.list(params=params))
        except stripe.StripeError as error:
            raise _gateway_error(error) from error
        for invoice in page["data"]:
            yield _read(invoice_facts, invoice)
        if not page.get("has_more") or not page["data"]:
            return
        params["starting_after"] = page["data"][-1]["id"]


def retrieve_subscription(subscription_id: str) -> SubscriptionFacts:
    """The subscription as Stripe has it now. Raises GatewayError (NotFoundError)."""
    try:
        subscription = _client().v1.subscriptions.retrieve(subscription_id)
    except stripe.StripeError as error:
        raise _gateway_error(error) from error
    return _read(subscription_facts, _decoded(subscription))


def cancel_subscription(subscription_id: str, *, attempt: str) -> SubscriptionFacts:
    """Stop a subscription now: it never charges again (what was paid stays paid).

    The idempotency key is per `attempt`: Stripe replays a key's first answer for 24 hours,
    so a key per subscription would replay one error to every retry. A subscription already
    cancelled is stopped as asked: its state is read back instead of the 404 Stripe gives."""
    try:
        subscription = _client().v1.subscriptions.cancel(
            subscription_id, options={"idempotency_key": f"cancel-{subscription_id}-{attempt}"}
        )
    except stripe.StripeError as error:
        failure = _gateway_error(error)
        if isinstance(failure, NotFoundError):
            current = retrieve_subscription(subscription_id)  # NotFoundError if truly unknown
            if current.state in (SubscriptionState.CANCELED, SubscriptionState.EXPIRED):
                return current
        raise failure from error
    return _read(subscription_facts, _decoded(subscription))


def end_subscription_at_period_end(subscription_id: str) -> SubscriptionFacts:
    """Stop a subscription when the month paid for ends: it never charges again. Setting
    the flag twice does nothing more, so no idempotency key of ours: a fixed one would
    replay a first failure for 24 hours (stripe-python keys its own network retries)."""
    try:
        subscription = _client().v1.subscriptions.update(
            subscription_id, params={"cancel_at_period_end": True}
        )
    except stripe.StripeError as error:
        raise _gateway_error(error) from error
    return _read(subscription_facts, _decoded(subscription))


def stop_invoice(invoice_id: str) -> InvoiceFacts:
    """Make sure an unpaid invoice is never charged, as Stripe has it now: an open one is
    voided; a draft (which a subscription's invoice cannot be deleted from) stops advancing
    on its own. One already paid, void or uncollectible is left as it is: Stripe refuses to
    void a paid invoice, forever, so that answer is final, never an error to retry.
    Returns the invoice as it is after."""
    invoice = retrieve_invoice(invoice_id)
    try:
        if invoice.status == "open":
            _client().v1.invoices.void_invoice(invoice_id)
        elif invoice.status == "draft":
            _client().v1.invoices.update(invoice_id, params={"auto_advance": False})
        else:
            return invoice
    except stripe.StripeError as error:
        failure = _gateway_error(error)
        if not isinstance(failure, RefusedError):
            raise failure from error
        logger.warning("Stripe would not stop invoice %s: %s", invoice_id, error)
    return retrieve_invoice(invoice_id)


def expire_checkout_session(session_id: str) -> None:
    """Close an open Checkout Session so it can no longer be paid. One that is already
    complete or expired is left as it is (Stripe's 400 is final)."""
    try:
        _client().v1.checkout.sessions.expire(session_id)
    except stripe.StripeError as error:
        failure = _gateway_error(error)
        if not isinstance(failure, RefusedError):
            raise failure from error


def retrieve_dispute(dispute_id: str) -> DisputeFacts:
    """The dispute as Stripe has it now, with its balance transactions (its fee)."""
    try:
        dispute = _get(f"/v1/disputes/{quote(dispute_id, safe='')}", {})
    except stripe.StripeError as error:
        raise _gateway_error(error) from error
    return _read(dispute_facts, dispute)


def retrieve_refund(refund_id: str) -> RefundFacts:
    """The refund as Stripe has it now (a refund's own read is current even when the list
    of its charge's refunds lags behind)."""
    try:
        refund = _get(f"/v1/refunds/{quote(refund_id, safe='')}", {})
    except stripe.StripeError as error:
        raise _gateway_error(error) from error
    return _read(refund_facts, refund)


@dataclass(frozen=True)
class WebhookEndpointFacts:
    """One of the account's webhook endpoints: where it sends, which events, whether on."""

    endpoint_id: str
    url: str
    enabled_events: frozenset[str]
    enabled: bool

    def sends(self, event_type: str) -> bool:
        return "*" in self.enabled_events or event_type in self.enabled_events


def webhook_endpoint_facts(endpoint: Any) -> WebhookEndpointFacts:
    endpoint = _mapping(endpoint, "webhook_endpoint", required=True)
    events = endpoint.get("enabled_events") or []
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise MalformedObjectError("enabled_events is not a list of event types")
    return WebhookEndpointFacts(
        endpoint_id=_text(endpoint.get("id"), "id"),
        url=_text(endpoint.get("url"), "url", max_length=URL_MAX_LENGTH),
        enabled_events=frozenset(events),
        enabled=endpoint.get("status") == "enabled",
    )


def list_webhook_endpoints() -> list[WebhookEndpointFacts]:
    """Every webhook endpoint of the account (`GET /v1/webhook_endpoints`, 100 a page)."""
    params: dict[str, Any] = {"limit": SESSION_LIST_PAGE_SIZE}
    endpoints: list[WebhookEndpointFacts] = []
    while True:
        try:
            page = _get("/v1/webhook_endpoints", params)
        except stripe.StripeError as error:
            raise _gateway_error(error) from error
        endpoints += [_read(webhook_endpoint_facts, endpoint) for endpoint in page["data"]]
        if not page.get("has_more") or not page["data"]:
            return endpoints
        params["starting_after"] = page["data"][-1]["id"]


def api_version() -> str:
    """The Stripe API version this stripe-python pins (what the webhook endpoint must use)."""
    return stripe.api_version

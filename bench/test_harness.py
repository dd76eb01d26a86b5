"""Checks of the harness itself (no Django, no database):

.venv/bin/python -m pytest bench/test_harness.py -p no:django -q
"""

from __future__ import annotations

import argparse
import threading
import time
from decimal import Decimal

import pytest
import stripe

from bench import measure, run, stripe_standin

KEY = "sk_test_bench"


def _sample(started: float, raised: str | None, status: int = 200) -> measure.Sample:
    return measure.Sample(
        started, started + 0.05, status, None if raised is None else Decimal(raised)
    )


COMMITS = [
    measure.Commit(10.0, Decimal("100.00")),  # the total when the stream started
    measure.Commit(11.0, Decimal("110.00")),
    measure.Commit(12.0, Decimal("120.00")),
    measure.Commit(13.0, Decimal("130.00")),
]


def test_a_page_showing_a_total_older_than_the_last_commit_before_its_request_is_stale():
    samples = [
        _sample(9.0, "100.00"),  # before any gift
        _sample(11.5, "110.00"),  # up to date
        _sample(11.5, "120.00"),  # a gift committed while the request ran: newer is fine
        _sample(12.5, "110.00"),  # one gift behind
        _sample(13.5, "100.00"),  # three gifts behind
    ]
    result = measure.stale_responses(samples, COMMITS)
    assert result == {
        "samples": 5,
        "stale": 2,
        "max_gifts_behind": 3,
        "unreadable": 0,
        "unexplained_totals": 0,
    }


def test_a_page_started_exactly_at_a_commit_time_is_not_required_to_show_it():
    result = measure.stale_responses([_sample(12.0, "110.00")], COMMITS)
    assert result["stale"] == 0


def test_a_cached_total_is_as_old_as_the_first_commit_it_does_not_show():
    samples = [
        _sample(11.5, "110.00"),  # up to date
        _sample(12.5, "110.00"),  # 0.5 s after the gift of 12.0 it does not show
        _sample(13.75, "110.00"),  # 1.75 s after that same gift (two behind now)
        _sample(13.5, "130.00"),  # newer than needed
        _sample(13.5, None),
    ]
    result = measure.stale_ages(samples, COMMITS)
    assert result == {
        "samples": 5,
        "stale": 2,
        "max_age_ms": 1750.0,
        "p99_stale_age_ms": 1750.0,
        "unreadable": 1,
        "unexplained_totals": 0,
    }


def test_unreadable_pages_and_totals_no_gift_produced_are_counted_apart():
    samples = [_sample(11.5, None), _sample(11.5, "110.00", 500), _sample(11.5, "115.00")]
    result = measure.stale_responses(samples, COMMITS)
    assert (result["stale"], result["unreadable"], result["unexplained_totals"]) == (0, 2, 1)


def test_the_raised_total_is_read_only_from_exactly_one_data_element():
    page = b'<p><data class="raised" value="1234.50">$1,234.50</data></p>'
    assert measure.raised_in(page) == Decimal("1234.50")
    assert measure.raised_in(b"<p>no total</p>") is None
    assert measure.raised_in(page + page) is None


WRK_OUTPUT = """\
Running 15s test @ http://127.0.0.1:18200/bench/baseline/
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     9.91ms   31.40ms 420.00ms   96.80%
    Req/Sec   412.63     75.10   570.00     72.67%
  Latency Distribution
     50%  850.00us
     75%    5.10ms
     90%    9.84ms
     99%    1.20s
  12345 requests in 15.02s, 14.32MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:    821.90
Transfer/sec:      0.95MB
"""


def test_wrk_latency_output_is_read_with_its_units():
    result = measure.parse_wrk(WRK_OUTPUT)
    assert result.summary() == {
        "requests": 12345,
        "seconds": 15.02,
        "rps": 821.9,
        "p50_ms": 0.85,
        "p99_ms": 1200.0,
        "non_2xx": 7,
        "socket_errors": 5,
    }


def test_wrk_output_without_results_is_refused():
    with pytest.raises(ValueError, match="wrk printed no result"):
        measure.parse_wrk("unable to connect to 127.0.0.1:18200 Connection refused\n")


@pytest.fixture
def standin():
    server = stripe_standin.serve(port=0, delay_ms=0, secret_key=KEY)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    client = stripe.StripeClient(
        KEY, base_addresses={"api": f"http://127.0.0.1:{port}"}, max_network_retries=0
    )
    yield server, client
    server.shutdown()
    server.server_close()


def _create(client: stripe.StripeClient, key: str = "checkout-1"):
    metadata = {"donation_id": "d-1", "campaign_id": "2"}
    params = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 2500,
                    "product_data": {"name": "Gift"},
                },
            },
            {
                "quantity": 1,
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 106,
                    "product_data": {"name": "Fees"},
                },
            },
        ],
        "client_reference_id": "d-1",
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "success_url": "http://127.0.0.1/thanks",
        "cancel_url": "http://127.0.0.1/donate",
    }
    return client.v1.checkout.sessions.create(params=params, options={"idempotency_key": key})


def test_the_standin_creates_sessions_idempotently_as_stripe_does(standin):
    _server, client = standin
    first, again = _create(client), _create(client)
    other = _create(client, key="checkout-2")
    assert first.id == again.id != other.id
    assert (first.amount_total, first.currency, first.status) == (2606, "usd", "open")
    assert first.metadata.to_dict() == {"donation_id": "d-1", "campaign_id": "2"}
    assert first.client_reference_id == "d-1"


def test_a_paid_session_expands_to_its_charge_and_settlement(standin):
    server, client = standin
    session_id = _create(client).id
    assert server.RequestHandlerClass.store.pay(session_id)
    expand = ["payment_intent.latest_charge.balance_transaction"]
    session = client.v1.checkout.sessions.retrieve(session_id, params={"expand": expand})
    charge = session.payment_intent.latest_charge
    transaction = charge.balance_transaction
    assert (session.status, session.payment_status) == ("complete", "paid")
    assert (session.payment_intent.status, session.payment_intent.amount) == ("succeeded", 2606)
    assert (charge.amount, charge.paid, charge.metadata.to_dict()["donation_id"]) == (
        2606,
        True,
        "d-1",
    )
    assert (transaction.amount, transaction.fee, transaction.net) == (2606, 106, 2500)
    plain = client.v1.checkout.sessions.retrieve(session_id)
    assert plain.payment_intent == session.payment_intent.id  # not expanded unless asked
    alone = client.v1.charges.retrieve(charge.id, params={"expand": ["balance_transaction"]})
    assert alone.balance_transaction.id == transaction.id


def test_the_standin_refuses_unknown_ids_and_wrong_keys(standin):
    server, client = standin
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.retrieve("cs_test_unknown")
    port = server.server_address[1]
    stranger = stripe.StripeClient(
        "sk_test_other", base_addresses={"api": f"http://127.0.0.1:{port}"}, max_network_retries=0
    )
    with pytest.raises(stripe.AuthenticationError):
        stranger.v1.checkout.sessions.retrieve("cs_test_unknown")


def test_the_standin_adds_its_delay_to_every_api_answer(standin):
    server, client = standin
    session_id = _create(client).id
    server.RequestHandlerClass.store.delay = 0.2
    started = time.monotonic()
    client.v1.checkout.sessions.retrieve(session_id)
    assert time.monotonic() - started >= 0.2


def test_the_donor_count_is_read_only_from_exactly_one_data_element():
    assert measure.donor_count_in(b'<data class="donor-count" value="2012">2,012</data>') == 2012
    assert measure.donor_count_in(b"<p>no count</p>") is None
    twice = b'<data class="donor-count" value="1"></data><data class="donor-count" value="2">'
    assert measure.donor_count_in(twice) is None
    assert measure.donor_count_in(b'<data class="donor-count" value="1,2">') is None


def _count(finished: float, count: int | None) -> measure.CountSample:
    return measure.CountSample(finished - 0.01, finished, count)


def test_a_gift_is_on_the_page_once_a_page_counts_up_to_its_place_in_recording_order():
    acknowledged = {"evt_a": 10.0, "evt_b": 10.1, "evt_c": 10.2}
    # Recorded out of the order acknowledged: b first, then a; c never.
    recorded = {"evt_b": 10.3, "evt_a": 10.5}
    samples = [_count(10.2, 100), _count(10.4, 101), _count(10.9, 102), _count(12.0, None)]
    delays = measure.page_delays(acknowledged, recorded, samples, count_before=100)
    assert delays["evt_b"] == pytest.approx(0.3)  # first in place: shown at 10.4
    assert delays["evt_a"] == pytest.approx(0.9)  # second: shown at 10.9
    assert delays["evt_c"] is None


def test_the_delay_summary_counts_a_gift_never_shown_as_the_slowest():
    delays = {f"evt_{n}": n / 100 for n in range(99)} | {"evt_lost": None}
    summary = measure.delay_summary(delays, within=0.5)
    assert summary["events"] == 100
    assert summary["never_shown"] == 1
    assert summary["p50_ms"] == 490.0
    assert summary["p99_ms"] == 980.0
    assert summary["max_ms"] is None
    assert summary["within"] == 0.51


def test_cpu_per_event_counts_new_processes_in_full_and_the_rest_of_the_machine():
    before = {"workers": {1: 10.0}, "machine": 100.0, "steal": 7.0}
    after = {"workers": {1: 12.0, 2: 1.0}, "machine": 105.0, "steal": 8.0}
    assert measure.cpu_per_event(before, after, 100) == {
        "workers": 30.0,
        "rest": 20.0,
        "machine": 50.0,
        "steal": 10.0,
    }


def test_task_workers_are_given_as_processes_x_threads():
    assert run.workers_parse("2x6") == (2, 6)
    assert run.workers_parse("3") == (3, 1)  # one thread each
    for wrong in ("0x4", "2x0", "two"):
        with pytest.raises(argparse.ArgumentTypeError):
            run.workers_parse(wrong)

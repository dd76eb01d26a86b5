import datetime
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from donations.models import Donation, StripeEvent
from donations.services import online
from tests.donations import stripe_fakes
from tests.factories import CampaignFactory, TeamMemberFactory

pytestmark = pytest.mark.django_db


def _form(**overrides) -> dict:
    return {
        "amount": "25.00",
        "currency": "USD",
        "name": "Ana García",
        "email": "ana@example.org",
        "message": "¡Adelante!",
        "website": "",
    } | overrides


def _errors(response, field: str) -> list[str]:
    return response.context["form"].errors.get(field, [])


def test_donate_page_is_a_plain_form_with_the_contract_fields(client, rates_today):
    campaign = CampaignFactory(slug="caravan")

    response = client.get("/c/caravan/donate/")

    html = response.content.decode()
    assert response.status_code == 200
    for field in ("amount", "currency", "name", "email", "anonymous", "hide_amount", "message"):
        assert f'name="{field}"' in html
    assert 'name="cover_fees"' in html
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/js/donate.js" defer>']
    assert "style=" not in html
    assert "Organizers of this campaign always see your name" in html
    assert campaign.title in html


def test_preset_amounts_are_radios_named_amount_and_a_chosen_preset_is_given(
    client, stripe_http, rates_today
):
    CampaignFactory(slug="caravan")

    html = client.get("/c/caravan/donate/").content.decode()
    response = client.post("/c/caravan/donate/", _form(amount="50", amount_other=""))

    for preset in ("25", "50", "100", "250"):
        # The first preset carries the field's id: the error summary links to it.
        radio = f'<input type="radio" name="amount" value="{preset}"'
        assert radio + (' id="id_amount">' if preset == "25" else ">") in html
    assert 'name="amount_other"' in html
    assert response.status_code == 303
    assert Donation.objects.get().amount == Decimal("50")


def test_other_amount_is_used_when_no_preset_is_chosen(client, stripe_http, rates_today):
    CampaignFactory(slug="caravan")

    response = client.post("/c/caravan/donate/", _form(amount="", amount_other="37.50"))

    assert response.status_code == 303
    assert Donation.objects.get().amount == Decimal("37.50")


def test_the_other_choice_gives_the_typed_amount_without_javascript(
    client, stripe_http, rates_today
):
    CampaignFactory(slug="caravan")

    response = client.post("/c/caravan/donate/", _form(amount="other", amount_other="37.50"))

    assert response.status_code == 303
    assert Donation.objects.get().amount == Decimal("37.50")


def test_a_preset_and_a_different_typed_amount_are_never_guessed(client, stripe_http, rates_today):
    """Without JavaScript a giver may leave a preset chosen and type another amount."""
    CampaignFactory(slug="caravan")

    response = client.post("/c/caravan/donate/", _form(amount="50", amount_other="37.50"))

    assert response.status_code == 200
    assert "You chose 50 and also typed 37.50." in _errors(response, "amount")[0]
    assert response.context["form"].data["amount_other"] == "37.50"
    assert not Donation.objects.exists()
    assert stripe_http.requests == []


def test_the_same_amount_chosen_and_typed_is_no_conflict(client, stripe_http, rates_today):
    CampaignFactory(slug="caravan")

    response = client.post("/c/caravan/donate/", _form(amount="50", amount_other="50"))

    assert response.status_code == 303
    assert Donation.objects.get().amount == Decimal("50")


def test_presets_in_a_yen_campaign_are_round_yen_amounts(client, rates_today):
    CampaignFactory(slug="tokyo", currency="JPY", accepted_currencies="")

    html = client.get("/c/tokyo/donate/").content.decode()

    # USD 25 at 138.02 / 1.0163 = 3,395.2 yen, shown as 3,400.
    for preset in ("3400", "6800", "14000", "34000"):
        assert f'value="{preset}"' in html


def test_member_link_preselects_the_team_member(client, rates_today):
    campaign = CampaignFactory(slug="caravan")
    TeamMemberFactory(campaign=campaign, slug="rosa", name="Rosa")
    TeamMemberFactory(campaign=campaign, slug="luis", name="Luis")

    html = client.get("/c/caravan/donate/?member=rosa").content.decode()

    assert '<option value="rosa" selected>Rosa</option>' in html
    assert '<option value="luis">Luis</option>' in html


def test_campaign_page_links_to_the_donate_form_and_per_member(client):
    campaign = CampaignFactory(slug="caravan")
    TeamMemberFactory(campaign=campaign, slug="rosa", name="Rosa")

    html = client.get("/c/caravan/").content.decode()

    assert 'href="/c/caravan/donate/"' in html
    assert 'href="/c/caravan/donate/?member=rosa"' in html


def test_closed_campaign_refuses_giving_on_get_and_post(client, stripe_http, rates_today):
    CampaignFactory(
        slug="done", status=Campaign.Status.COMPLETED, completed_on=datetime.date(2025, 1, 31)
    )

    page = client.get("/c/done/donate/")
    post = client.post("/c/done/donate/", _form())

    assert str(online.CAMPAIGN_CLOSED) in page.content.decode()
    assert 'name="amount"' not in page.content.decode()
    assert post.status_code == 403
    assert Donation.objects.count() == 0
    assert stripe_http.requests == []


def test_campaign_past_its_end_date_refuses_giving(client, stripe_http, rates_today):
    CampaignFactory(slug="ended", ends_on=timezone.localdate() - datetime.timedelta(days=1))

    response = client.post("/c/ended/donate/", _form())

    assert response.status_code == 403
    assert Donation.objects.count() == 0


def test_valid_post_stores_a_pending_gift_and_answers_303_to_checkout(
    client, stripe_http, rates_today
):
    campaign = CampaignFactory(slug="caravan")
    member = TeamMemberFactory(campaign=campaign, slug="rosa")

    response = client.post(
        "/c/caravan/donate/", _form(team_member="rosa", anonymous="on", hide_amount="on")
    )

    donation = Donation.objects.get()
    (sent,) = stripe_http.posts_to("/v1/checkout/sessions")
    assert response.status_code == 303
    assert (
        response["Location"] == f"{stripe_fakes.CHECKOUT_URL}{donation.stripe_checkout_session_id}"
    )
    assert donation.status == Donation.Status.PENDING
    assert donation.source == Donation.Source.ONLINE
    assert donation.amount == Decimal("25.00")
    assert donation.fee_cover_amount == Decimal(0)
    assert donation.team_member == member
    assert donation.anonymous and donation.hide_amount
    assert donation.giver_name == "Ana García"
    assert donation.message == "¡Adelante!"
    assert sent.form["client_reference_id"] == str(donation.id)
    assert sent.form["metadata[campaign_id]"] == str(campaign.id)
    assert sent.form["line_items[0][price_data][unit_amount]"] == "2500"
    assert sent.form["locale"] == "en"
    assert sent.form["success_url"] == (
        "http://testserver/donations/thanks/?session_id={CHECKOUT_SESSION_ID}"
    )
    assert sent.form["cancel_url"] == "http://testserver/c/caravan/donate/?resume=1"
    assert sent.headers["Idempotency-Key"] == f"checkout-{donation.id}"


def test_checkout_speaks_and_returns_in_the_language_of_the_donate_page(
    client, stripe_http, rates_today
):
    CampaignFactory(slug="caravan")

    client.post("/es/c/caravan/donate/", _form())

    sent = stripe_http.posts_to("/v1/checkout/sessions")[0]
    assert sent.form["locale"] == "es"
    assert sent.form["success_url"] == (
        "http://testserver/es/donations/thanks/?session_id={CHECKOUT_SESSION_ID}"
    )
    assert sent.form["cancel_url"] == "http://testserver/es/c/caravan/donate/?resume=1"


def test_cover_fees_adds_a_separate_line_and_is_stored_apart(client, stripe_http, rates_today):
    CampaignFactory(slug="caravan")

    client.post("/c/caravan/donate/", _form(amount="100", cover_fees="on"))

    donation = Donation.objects.get()
    form = stripe_http.posts_to("/v1/checkout/sessions")[0].form
    # (100 + 0.30) / (1 - 0.029) = 103.2956..., so 3.30 on top, rounded up to the cent.
    assert donation.fee_cover_amount == Decimal("3.30")
    assert donation.amount == Decimal("100")
    assert form["line_items[0][price_data][unit_amount]"] == "10000"
    assert form["line_items[1][price_data][unit_amount]"] == "330"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"amount": "1500.5", "currency": "JPY"}, "amount", "Enter a whole number of JPY"),
        ({"amount": "10.005"}, "amount", "at most two decimals"),
        ({"amount": "4.99"}, "amount", "The smallest gift online is $5.00."),
        ({"amount": "100000.01"}, "amount", "The largest gift online is $100,000.00."),
        ({"amount": "0"}, "amount", "greater than zero"),
        ({"amount": ""}, "amount", "Choose or enter an amount."),
        ({"amount": "-5"}, "amount", "greater than zero"),
        ({"amount": "lots"}, "amount", "plain number, like 25 or 25.50"),
        ({"amount": "1e30"}, "amount", "plain number, like 25 or 25.50"),
        ({"amount": "9" * 19}, "amount", "plain number, like 25 or 25.50"),
        ({"amount": "9" * 29}, "amount", "at most 20 characters"),
        ({"amount": "1,000"}, "amount", "plain number, like 25 or 25.50"),
        ({"currency": "GBP"}, "currency", "This campaign does not accept GBP."),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"message": "x" * 501}, "message", "at most 500 characters"),
    ],
)
def test_invalid_gift_is_refused_next_to_its_field_and_nothing_is_stored(
    client, stripe_http, rates_today, overrides, field, message
):
    CampaignFactory(slug="caravan")

    response = client.post("/c/caravan/donate/", _form(**overrides))

    assert response.status_code == 200
    assert any(message in error for error in _errors(response, field)), _errors(response, field)
    assert Donation.objects.count() == 0
    assert stripe_http.requests == []


def test_yen_minimum_is_the_usd_minimum_at_the_stored_rate(client, stripe_http, rates_today):
    CampaignFactory(slug="caravan")

    # USD 5 = 5 * 138.02 / 1.0163 JPY = 679.03..., rounded up to 680 yen.
    too_small = client.post("/c/caravan/donate/", _form(amount="679", currency="JPY"))
    enough = client.post("/c/caravan/donate/", _form(amount="680", currency="JPY"))

    assert "The smallest gift online is ¥680." in _errors(too_small, "amount")
    assert enough.status_code == 303
    assert Donation.objects.get().currency == "JPY"


def test_never_below_stripes_minimum_charge_even_when_the_site_allows_less(
    client, stripe_http, rates_today, settings
):
    settings.DONATION_MIN_USD = Decimal("0.01")
    CampaignFactory(slug="caravan", accepted_currencies="MXN")

    below = client.post("/c/caravan/donate/", _form(amount="9.99", currency="MXN"))

    assert "The smallest gift online is MX$10.00." in _errors(below, "amount")
    assert Donation.objects.count() == 0


def test_currency_without_a_stored_rate_is_refused(client, stripe_http, rates_today):
    CampaignFactory(slug="caravan", accepted_currencies="CAD")

    response = client.post("/c/caravan/donate/", _form(currency="CAD"))

    assert "There is no stored exchange rate for CAD" in _errors(response, "amount")[0]
    assert Donation.objects.count() == 0


def test_honeypot_looks_like_success_but_creates_nothing(client, stripe_http, rates_today):
    CampaignFactory(slug="caravan")

    response = client.post("/c/caravan/donate/", _form(website="http://spam.example"))

    assert response.status_code == 303
    assert Donation.objects.count() == 0
    assert stripe_http.requests == []


def test_stripe_failing_shows_an_error_and_charges_nothing(client, stripe_http, rates_today):
    CampaignFactory(slug="caravan")
    stripe_http.errors["/v1/checkout/sessions"] = 400

    response = client.post("/c/caravan/donate/", _form())

    assert response.status_code == 200
    assert str(online.CHECKOUT_UNAVAILABLE) in response.content.decode()
    assert Donation.objects.get().status == Donation.Status.FAILED


def test_demo_mode_end_to_end_gift_appears_in_givers_and_totals(client, demo_payments, rates_today):
    CampaignFactory(slug="caravan", goal_amount=Decimal("1000"))

    start = client.post("/c/caravan/donate/", _form(amount="40", name="Rosa Díaz"))
    donation = Donation.objects.get()
    page = client.get(start["Location"])
    paid = client.post(start["Location"], {"action": "pay"})
    thanks = client.get(paid["Location"])
    campaign_page = client.get("/c/caravan/").content.decode()

    assert start.status_code == 303
    assert start["Location"] == f"/donations/demo-checkout/{donation.id}/"
    assert "Demo: no money moves" in page.content.decode()
    assert 'value="pay"' in page.content.decode()
    assert 'value="decline"' in page.content.decode()
    donation.refresh_from_db()
    assert (
        paid["Location"] == f"/donations/thanks/?session_id={donation.stripe_checkout_session_id}"
    )
    assert donation.stripe_checkout_session_id.startswith("demo_")
    assert str(donation.id) not in donation.stripe_checkout_session_id
    assert "Your gift is confirmed" in thanks.content.decode()
    assert "$40.00" in thanks.content.decode()
    donation.refresh_from_db()
    assert donation.status == Donation.Status.SUCCEEDED
    assert donation.amount_converted == Decimal("40.00")
    assert donation.receipt.status == "queued"
    assert StripeEvent.objects.count() == 0
    assert '<data class="raised" value="40.00">' in campaign_page
    assert '<data class="donor-count" value="1">' in campaign_page
    assert "Rosa Díaz" in campaign_page


def test_a_finished_demo_gift_never_leads_a_stranger_to_its_thank_you_page(
    client, demo_payments, rates_today
):
    CampaignFactory(slug="caravan")
    start = client.post("/c/caravan/donate/", _form(email="ana@example.org"))
    client.post(start["Location"], {"action": "pay"})

    stranger = client.get(start["Location"])

    assert stranger.status_code == 302
    assert stranger["Location"] == "/c/caravan/"
    assert "ana@example.org" not in client.get(stranger["Location"]).content.decode()


def test_demo_decline_records_a_failed_payment_that_does_not_count(
    client, demo_payments, rates_today
):
    CampaignFactory(slug="caravan")

    start = client.post("/c/caravan/donate/", _form())
    declined = client.post(start["Location"], {"action": "decline"}, follow=True)

    assert Donation.objects.get().status == Donation.Status.FAILED
    assert str(online.DEMO_DECLINED) in declined.content.decode()
    assert '<data class="donor-count" value="0">' in client.get("/c/caravan/").content.decode()


def test_leaving_the_demo_page_without_paying_reads_as_not_finished(
    client, demo_payments, rates_today
):
    CampaignFactory(slug="caravan")
    client.post("/c/caravan/donate/", _form())
    donation = Donation.objects.get()

    response = client.get(f"/donations/thanks/?session_id={donation.stripe_checkout_session_id}")

    assert "Your payment is not finished" in response.content.decode()
    assert Donation.objects.get().status == Donation.Status.PENDING


def test_demo_checkout_does_not_exist_when_payments_are_real(client, stripe_http, rates_today):
    CampaignFactory(slug="caravan")
    client.post("/c/caravan/donate/", _form())
    donation = Donation.objects.get()

    response = client.post(f"/donations/demo-checkout/{donation.id}/", {"action": "pay"})

    assert response.status_code == 404
    donation.refresh_from_db()
    assert donation.status == Donation.Status.PENDING

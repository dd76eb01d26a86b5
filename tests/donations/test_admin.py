import datetime
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from donations.models import Donation, DonationChange, ExportLog, VolunteerAssignment
from donations.services.access import organizer_assign
from donations.services.cash import AMOUNT_NOT_A_NUMBER_ERROR
from tests.factories import (
    CampaignFactory,
    DonationFactory,
    OfflineDonationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:donations_donation_changelist"


def change_url(donation) -> str:
    return reverse("admin:donations_donation_change", args=[donation.pk])


def offline_form(donation, **overrides) -> dict:
    received = timezone.localtime(donation.received_at)
    data = {
        "giver_name": donation.giver_name,
        "message": donation.message,
        "team_member": "",
        "amount": str(donation.amount),
        "currency": donation.currency,
        "received_at_0": received.date().isoformat(),
        "received_at_1": received.strftime("%H:%M:%S"),
        "location": donation.location,
        "note": donation.note,
        "deposited_on": "",
        "changes-TOTAL_FORMS": "0",
        "changes-INITIAL_FORMS": "0",
        "changes-MIN_NUM_FORMS": "0",
        "changes-MAX_NUM_FORMS": "0",
        "_save": "Save",
    }
    data.update(overrides)
    return data


def action(client, name: str, donations, **extra):
    data = {"action": name, "_selected_action": [str(d.pk) for d in donations], "index": "0"}
    data.update(extra)
    return client.post(reverse(CHANGELIST), data, follow=True)


@pytest.fixture
def rates_campaign(data_dir):
    call_command("import_rates", str(data_dir / "eurofxref-daily-2022-07-08.xml"))
    return CampaignFactory(launched_on=datetime.date(2022, 7, 1))


def test_an_organizer_edit_goes_through_the_service_and_shows_in_the_history(
    client, rates_campaign, cash_organizer
):
    organizer_assign(by=None, user=cash_organizer, campaign=rates_campaign)
    received_at = timezone.make_aware(datetime.datetime(2022, 7, 8, 12))
    entry = OfflineDonationFactory(
        campaign=rates_campaign, amount=Decimal("10.00"), received_at=received_at
    )
    client.force_login(cash_organizer)

    response = client.post(
        change_url(entry), offline_form(entry, amount="100", currency="EUR", location="Plaza")
    )

    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.amount, entry.currency, entry.location) == (Decimal("100.00"), "EUR", "Plaza")
    assert (entry.amount_converted, entry.conversion_rate) == (Decimal("101.63"), Decimal("1.0163"))
    change = DonationChange.objects.get(donation=entry)
    assert change.changes["amount"] == ["10.00", "100.00"]
    assert change.changes["location"] == ["Sunday pantry", "Plaza"]
    html = client.get(change_url(entry)).content.decode()
    assert "History" in html and "Sunday pantry" in html and "organizer-cash" in html


def test_an_edit_without_a_rate_is_a_form_error(client, cash_campaign, cash_organizer):
    entry = OfflineDonationFactory(campaign=cash_campaign)
    client.force_login(cash_organizer)

    response = client.post(change_url(entry), offline_form(entry, currency="EUR"))

    assert response.status_code == 200
    assert "There is no stored exchange rate for EUR" in response.content.decode()
    entry.refresh_from_db()
    assert entry.currency == "USD"
    assert not DonationChange.objects.exists()


def test_an_admin_edit_breaking_the_cash_form_rules_is_a_form_error(
    client, cash_campaign, cash_organizer
):
    entry = OfflineDonationFactory(campaign=cash_campaign)
    future = timezone.localtime() + datetime.timedelta(days=30)
    client.force_login(cash_organizer)

    response = client.post(
        change_url(entry),
        offline_form(entry, received_at_0=future.date().isoformat(), received_at_1="12:00:00"),
    )

    assert response.status_code == 200
    assert "in the future" in response.content.decode()
    entry.refresh_from_db()
    assert entry.received_at < timezone.now()
    assert not DonationChange.objects.exists()


@pytest.mark.parametrize("typed", ["2e1", "NaN", "1,000"])
def test_the_admin_edit_of_a_cash_amount_reads_it_as_the_cash_form_does(
    client, cash_campaign, cash_organizer, typed
):
    entry = OfflineDonationFactory(campaign=cash_campaign, amount=Decimal("10.00"))
    client.force_login(cash_organizer)

    response = client.post(change_url(entry), offline_form(entry, amount=typed))

    assert response.status_code == 200
    assert str(AMOUNT_NOT_A_NUMBER_ERROR) in response.content.decode()
    entry.refresh_from_db()
    assert entry.amount == Decimal("10.00")
    assert not DonationChange.objects.exists()


def test_online_gifts_can_only_be_moderated(client, cash_campaign, cash_organizer):
    online = DonationFactory(campaign=cash_campaign, giver_name="Troll", message="buy pills")
    client.force_login(cash_organizer)
    data = {
        "name_hidden_by_organizer": "on",
        "message_hidden_by_organizer": "on",
        "amount": "1",
        "giver_name": "Changed",
        "changes-TOTAL_FORMS": "0",
        "changes-INITIAL_FORMS": "0",
        "_save": "Save",
    }

    response = client.post(change_url(online), data)

    assert response.status_code == 302
    online.refresh_from_db()
    assert online.name_hidden_by_organizer and online.message_hidden_by_organizer
    assert (online.amount, online.giver_name) == (Decimal("25.00"), "Troll")
    assert DonationChange.objects.get(donation=online).action == "moderate"
    page = client.get(cash_campaign.get_absolute_url()).content.decode()
    assert "Troll" not in page and "buy pills" not in page
    assert '<data class="raised" value="25.00">' in page


def test_the_deposit_action_marks_cash_on_the_chosen_date(client, cash_campaign, cash_organizer):
    cash = OfflineDonationFactory.create_batch(2, campaign=cash_campaign)
    online = DonationFactory(campaign=cash_campaign)
    client.force_login(cash_organizer)
    changelist = client.get(reverse(CHANGELIST)).content.decode()
    assert 'type="date" name="deposited_on"' in changelist and 'name="reason"' in changelist

    response = action(client, "mark_deposited", [*cash, online], deposited_on="2026-01-15")

    assert "2 cash entries marked as deposited on 2026-01-15." in response.content.decode()
    assert set(
        Donation.objects.filter(source="offline").values_list("deposited_on", flat=True)
    ) == {datetime.date(2026, 1, 15)}
    online.refresh_from_db()
    assert online.deposited_on is None


def test_undeposited_cash_filters_by_volunteer_and_location(client, cash_campaign, cash_organizer):
    ana, ben = UserFactory(username="ana"), UserFactory(username="ben")
    OfflineDonationFactory(
        campaign=cash_campaign, entered_by=ana, location="Church", giver_name="G1"
    )
    OfflineDonationFactory(
        campaign=cash_campaign, entered_by=ana, location="Market", giver_name="G2"
    )
    OfflineDonationFactory(
        campaign=cash_campaign, entered_by=ben, location="Church", giver_name="G3"
    )
    OfflineDonationFactory(
        campaign=cash_campaign,
        entered_by=ana,
        location="Church",
        giver_name="G4",
        deposited_on=timezone.localdate(),
    )
    DonationFactory(campaign=cash_campaign, giver_name="G5")
    client.force_login(cash_organizer)

    response = client.get(
        reverse(CHANGELIST),
        {"deposited": "no", "entered_by__id__exact": ana.pk, "location": "Church"},
    )

    names = set(re.findall(r">(G\d)<", response.content.decode()))
    assert names == {"G1"}
    response = client.get(reverse(CHANGELIST), {"deposited": "no"})
    assert set(re.findall(r">(G\d)<", response.content.decode())) == {"G1", "G2", "G3"}


def test_the_void_action_needs_the_reason_beside_it(client, cash_campaign, cash_organizer):
    entry = OfflineDonationFactory(campaign=cash_campaign)
    client.force_login(cash_organizer)

    refused = action(client, "void_entries", [entry], reason="")
    entry.refresh_from_db()
    assert "Type a reason" in refused.content.decode()
    assert entry.status == Donation.Status.SUCCEEDED

    action(client, "void_entries", [entry], reason="counted twice")

    entry.refresh_from_db()
    assert (entry.status, entry.void_reason) == (Donation.Status.VOIDED, "counted twice")
    assert client.get(reverse(CHANGELIST)).status_code == 200


def test_the_export_action_redirects_to_the_campaigns_csv(client, cash_campaign, cash_organizer):
    gifts = [
        OfflineDonationFactory(campaign=cash_campaign),
        DonationFactory(campaign=cash_campaign),
    ]
    client.force_login(cash_organizer)

    response = client.post(
        reverse(CHANGELIST),
        {"action": "export_campaign", "_selected_action": [str(g.pk) for g in gifts], "index": "0"},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("donations:export-csv", args=[cash_campaign.slug])
    elsewhere = DonationFactory()
    organizer_assign(by=None, user=cash_organizer, campaign=elsewhere.campaign)
    mixed = [*gifts, elsewhere]
    assert "one campaign only" in action(client, "export_campaign", mixed).content.decode()


def test_the_campaign_admin_links_to_report_and_export(client, cash_campaign, cash_organizer):
    client.force_login(cash_organizer)

    html = client.get(
        reverse("admin:campaigns_campaign_change", args=[cash_campaign.pk])
    ).content.decode()

    assert reverse("donations:report", args=[cash_campaign.slug]) in html
    assert reverse("donations:export-csv", args=[cash_campaign.slug]) in html


def test_organizers_assign_volunteers_in_the_admin(client, cash_campaign, cash_organizer):
    volunteer = UserFactory(username="newbie")
    client.force_login(cash_organizer)

    response = client.post(
        reverse("admin:donations_volunteerassignment_add"),
        {"user": volunteer.pk, "campaign": cash_campaign.pk, "_save": "Save"},
    )

    assert response.status_code == 302
    assert VolunteerAssignment.objects.filter(user=volunteer, campaign=cash_campaign).exists()
    assert volunteer.groups.filter(name="Volunteers").exists()
    assert not volunteer.is_staff and volunteer.get_all_permissions() == set()


def test_the_export_log_is_read_only(client, cash_campaign, cash_organizer):
    log = ExportLog.objects.create(user=cash_organizer, campaign=cash_campaign)
    client.force_login(cash_organizer)

    assert client.get(reverse("admin:donations_exportlog_changelist")).status_code == 200
    assert client.get(reverse("admin:donations_exportlog_add")).status_code == 403
    change = client.get(reverse("admin:donations_exportlog_change", args=[log.pk]))
    assert 'name="_save"' not in change.content.decode()
    assert (
        client.post(reverse("admin:donations_exportlog_delete", args=[log.pk])).status_code == 403
    )


def test_only_superusers_delete_donations(client, cash_campaign, cash_organizer, cash_superuser):
    entry = OfflineDonationFactory(campaign=cash_campaign)
    url = reverse("admin:donations_donation_delete", args=[entry.pk])
    client.force_login(cash_organizer)
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert Donation.objects.filter(pk=entry.pk).exists()

    client.force_login(cash_superuser)
    client.post(url, {"post": "yes"})
    assert not Donation.objects.filter(pk=entry.pk).exists()


def test_a_voided_entry_stays_in_the_admin_read_only(client, cash_campaign, cash_organizer):
    entry = OfflineDonationFactory(campaign=cash_campaign, giver_name="Gone Gina")
    action_client = client
    action_client.force_login(cash_organizer)
    action(action_client, "void_entries", [entry], reason="fake")

    listing = client.get(reverse(CHANGELIST), {"status__exact": "voided"}).content.decode()
    change = client.get(change_url(entry)).content.decode()

    assert "Gone Gina" in listing
    assert 'name="amount"' not in change
    assert Group.objects.filter(name="Organizers").exists()


def test_an_online_gift_shows_its_stripe_history_on_its_admin_page(
    client, stripe_http, cash_campaign, cash_organizer, rates_today
):
    from tests.donations import stripe_fakes as fakes
    from tests.factories import PendingOnlineDonationFactory

    gift = PendingOnlineDonationFactory(campaign=cash_campaign, amount=Decimal("25.00"))
    charge = fakes.charge(donation=gift, amount=2500, currency="usd")
    stripe_http.sessions[gift.stripe_checkout_session_id] = fakes.checkout_session(
        donation=gift,
        amount_total=2500,
        currency="usd",
        payment_intent=fakes.expanded_intent(charge_obj=charge),
    )
    paid = fakes.checkout_session(donation=gift, amount_total=2500, currency="usd")
    fakes.deliver(client, fakes.event("checkout.session.completed", paid, event_id="evt_seen"))
    client.force_login(cash_organizer)

    page = client.get(change_url(gift)).content.decode()

    assert "Payment recorded" in page
    assert "evt_seen" in page
    assert "Stripe event checkout.session.completed" in page


def test_history_actions_and_rate_sources_are_fixed_sets_in_the_database(cash_campaign):
    from django.db import IntegrityError, transaction

    from donations.models import ExchangeRate

    gift = DonationFactory(campaign=cash_campaign)
    with pytest.raises(IntegrityError), transaction.atomic():
        DonationChange.objects.create(donation=gift, action="rewrite history")
    with pytest.raises(IntegrityError), transaction.atomic():
        ExchangeRate.objects.create(
            date=timezone.localdate(), currency="USD", per_euro=Decimal("1.1"), source="treasurer"
        )

import datetime
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from donations.models import Donation, DonationChange
from donations.selectors.givers import campaign_totals
from donations.services.access import organizer_assign
from donations.services.cash import (
    BEFORE_LAUNCH_ERROR,
    FUTURE_DATE_ERROR,
    NOT_ASSIGNED_ERROR,
    TOKEN_ERROR,
    VOID_NOT_ALLOWED_ERROR,
    VOID_REASON_ERROR,
    CashBatchError,
    CashGift,
    donation_mark_deposited,
    donation_moderate,
    donation_record_cash,
    donation_record_cash_batch,
    donation_update_cash,
    donation_void,
    volunteer_assign,
)
from tests.factories import (
    CampaignFactory,
    DonationFactory,
    OfflineDonationFactory,
    TeamMemberFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

RATES_DAY = datetime.date(2022, 7, 8)


def history(entry) -> list[str]:
    """The actions in a gift's history, oldest first."""
    return list(entry.changes.order_by("changed_at", "id").values_list("action", flat=True))


def gift(**overrides) -> CashGift:
    values = {
        "amount": Decimal("20.00"),
        "currency": "USD",
        "received_on": timezone.localdate(),
        "name": "Rosa Díaz",
        "location": "Sunday pantry",
        "note": "paid in coins",
    }
    values.update(overrides)
    return CashGift(**values)


def record(campaign, user, token=None, another_gift=False, **overrides) -> Donation:
    return donation_record_cash(
        campaign=campaign,
        entered_by=user,
        gift=gift(**overrides),
        form_token=token or uuid.uuid4(),
        another_gift=another_gift,
    )


@pytest.fixture
def rates_campaign(cash_volunteer, data_dir):
    """A USD campaign launched before the day of the sample ECB file, whose rates are loaded."""
    call_command("import_rates", str(data_dir / "eurofxref-daily-2022-07-08.xml"))
    campaign = CampaignFactory(slug="rates", launched_on=datetime.date(2022, 7, 1))
    volunteer_assign(by=None, user=cash_volunteer, campaign=campaign)
    return campaign


def test_recorded_cash_is_counted_at_once_with_who_entered_it(cash_campaign, cash_volunteer):
    entry = record(cash_campaign, cash_volunteer)

    entry.refresh_from_db()
    assert entry.source == Donation.Source.OFFLINE
    assert entry.status == Donation.Status.SUCCEEDED
    assert entry.entered_by == cash_volunteer
    assert entry.location == "Sunday pantry"
    assert entry.note == "paid in coins"
    assert entry.amount_converted == Decimal("20.00")
    assert entry.rate_source == Donation.RateSource.SAME_CURRENCY
    assert abs(entry.received_at - timezone.now()) < datetime.timedelta(minutes=1)
    assert campaign_totals(campaign=cash_campaign).raised == Decimal("20.00")


def test_cash_received_on_an_earlier_day_is_dated_at_local_noon(cash_campaign, cash_volunteer):
    day = timezone.localdate() - datetime.timedelta(days=2)
    entry = record(cash_campaign, cash_volunteer, received_on=day)

    local = timezone.localtime(entry.received_at)
    assert (local.date(), local.hour, local.minute) == (day, 12, 0)


def test_the_same_form_token_never_records_a_second_entry(cash_campaign, cash_volunteer):
    token = uuid.uuid4()
    first = record(cash_campaign, cash_volunteer, token=token)
    second = record(cash_campaign, cash_volunteer, token=token, amount=Decimal("99"))

    assert second.pk == first.pk
    assert Donation.objects.count() == 1
    assert Donation.objects.get().amount == Decimal("20.00")


def test_someone_elses_form_token_is_refused(cash_campaign, cash_volunteer):
    token = uuid.uuid4()
    record(cash_campaign, cash_volunteer, token=token)
    intruder = UserFactory()
    volunteer_assign(by=None, user=intruder, campaign=cash_campaign)

    with pytest.raises(PermissionDenied, match=str(TOKEN_ERROR)):
        record(cash_campaign, intruder, token=token)
    assert Donation.objects.count() == 1


def test_a_volunteer_not_assigned_records_nothing(cash_campaign, cash_other_volunteer):
    with pytest.raises(PermissionDenied, match=str(NOT_ASSIGNED_ERROR)):
        record(cash_campaign, cash_other_volunteer)
    assert not Donation.objects.exists()


def test_cash_for_a_completed_campaign_is_still_accepted(cash_volunteer):
    campaign = CampaignFactory(status="completed", completed_on=timezone.localdate())
    volunteer_assign(by=None, user=cash_volunteer, campaign=campaign)

    assert record(campaign, cash_volunteer).campaign == campaign


@pytest.mark.parametrize(
    ("days", "message"), [(1, FUTURE_DATE_ERROR), (-11, BEFORE_LAUNCH_ERROR % {"date": "x"})]
)
def test_a_date_in_the_future_or_before_launch_is_refused(
    cash_campaign, cash_volunteer, days, message
):
    day = timezone.localdate() + datetime.timedelta(days=days)

    with pytest.raises(ValidationError) as raised:
        record(cash_campaign, cash_volunteer, received_on=day)

    text = raised.value.message_dict["received_on"][0]
    assert text.split("(")[0] == str(message).split("(")[0]
    assert not Donation.objects.exists()


def test_a_currency_the_campaign_does_not_take_is_refused(cash_campaign, cash_volunteer):
    with pytest.raises(ValidationError) as raised:
        record(cash_campaign, cash_volunteer, currency="GBP")
    assert "currency" in raised.value.message_dict
    assert not Donation.objects.exists()


def test_another_currency_is_converted_with_the_stored_ecb_rate(rates_campaign, cash_volunteer):
    entry = record(
        rates_campaign, cash_volunteer, amount=Decimal("100"), currency="EUR", received_on=RATES_DAY
    )

    entry.refresh_from_db()
    assert entry.amount == Decimal("100.00")
    assert entry.amount_converted == Decimal("101.63")
    assert entry.conversion_rate == Decimal("1.0163")
    assert entry.rate_date == RATES_DAY
    assert entry.rate_source == Donation.RateSource.ECB


def test_a_cross_rate_goes_through_the_euro(rates_campaign, cash_volunteer):
    entry = record(
        rates_campaign, cash_volunteer, amount=Decimal("500"), currency="MXN", received_on=RATES_DAY
    )

    # 500 MXN * 1.0163 USD/EUR / 20.8477 MXN/EUR = 24.3744...
    assert entry.amount_converted == Decimal("24.37")


def test_without_a_rate_nothing_is_stored(rates_campaign, cash_volunteer):
    later = RATES_DAY + datetime.timedelta(days=30)

    with pytest.raises(ValidationError) as raised:
        record(rates_campaign, cash_volunteer, currency="EUR", received_on=later)

    assert "no stored exchange rate for EUR" in raised.value.message_dict["currency"][0]
    assert not Donation.objects.exists()


def test_a_batch_records_every_row(cash_campaign, cash_volunteer):
    gifts = {0: gift(name="A"), 1: gift(name="B", amount=Decimal("5")), 4: gift(name="C")}

    entries = donation_record_cash_batch(
        campaign=cash_campaign, entered_by=cash_volunteer, gifts=gifts, batch_token=uuid.uuid4()
    )

    assert [entry.giver_name for entry in entries] == ["A", "B", "C"]
    assert campaign_totals(campaign=cash_campaign).raised == Decimal("45.00")


def test_a_batch_with_one_bad_row_records_nothing_and_names_the_row(cash_campaign, cash_volunteer):
    future = timezone.localdate() + datetime.timedelta(days=3)
    gifts = {0: gift(), 1: gift(received_on=future), 2: gift(currency="GBP")}

    with pytest.raises(CashBatchError) as raised:
        donation_record_cash_batch(
            campaign=cash_campaign, entered_by=cash_volunteer, gifts=gifts, batch_token=uuid.uuid4()
        )

    assert sorted(raised.value.errors) == [1, 2]
    assert not Donation.objects.exists()


def test_a_batch_submitted_twice_is_recorded_once(cash_campaign, cash_volunteer):
    token = uuid.uuid4()
    gifts = {0: gift(), 1: gift()}
    first = donation_record_cash_batch(
        campaign=cash_campaign, entered_by=cash_volunteer, gifts=gifts, batch_token=token
    )
    second = donation_record_cash_batch(
        campaign=cash_campaign, entered_by=cash_volunteer, gifts=gifts, batch_token=token
    )

    assert {entry.pk for entry in second} == {entry.pk for entry in first}
    assert Donation.objects.count() == 2


def test_a_batch_has_at_most_thirty_rows(cash_campaign, cash_volunteer):
    gifts = {index: gift() for index in range(31)}

    with pytest.raises(ValidationError):
        donation_record_cash_batch(
            campaign=cash_campaign, entered_by=cash_volunteer, gifts=gifts, batch_token=uuid.uuid4()
        )
    assert not Donation.objects.exists()


def test_a_volunteer_voids_their_own_entry_with_a_reason(cash_campaign, cash_volunteer):
    entry = record(cash_campaign, cash_volunteer)

    donation_void(donation=entry, by=cash_volunteer, reason="typed 20 instead of 2")

    entry.refresh_from_db()
    assert entry.status == Donation.Status.VOIDED
    assert entry.voided_by == cash_volunteer
    assert entry.void_reason == "typed 20 instead of 2"
    change = DonationChange.objects.get(donation=entry, action="void")
    assert (change.changed_by, change.reason) == (cash_volunteer, "typed 20 instead of 2")
    assert change.changes["status"] == ["succeeded", "voided"]
    assert change.changes["void_reason"] == ["", "typed 20 instead of 2"]
    assert campaign_totals(campaign=cash_campaign).raised == Decimal("0.00")


def test_voiding_needs_a_reason(cash_campaign, cash_volunteer):
    entry = record(cash_campaign, cash_volunteer)

    with pytest.raises(ValidationError) as raised:
        donation_void(donation=entry, by=cash_volunteer, reason="   ")

    assert raised.value.message_dict["reason"] == [str(VOID_REASON_ERROR)]
    entry.refresh_from_db()
    assert entry.status == Donation.Status.SUCCEEDED
    assert history(entry) == ["record"]


def test_a_volunteer_cannot_void_after_24_hours(cash_campaign, cash_volunteer):
    entry = record(cash_campaign, cash_volunteer)
    Donation.objects.filter(pk=entry.pk).update(
        created_at=timezone.now() - datetime.timedelta(hours=24, minutes=1)
    )

    with pytest.raises(PermissionDenied, match=str(VOID_NOT_ALLOWED_ERROR)):
        donation_void(donation=entry, by=cash_volunteer, reason="late")

    entry.refresh_from_db()
    assert entry.status == Donation.Status.SUCCEEDED


def test_a_volunteer_cannot_void_someone_elses_entry(cash_campaign, cash_volunteer):
    colleague = UserFactory()
    volunteer_assign(by=None, user=colleague, campaign=cash_campaign)
    entry = record(cash_campaign, colleague)

    with pytest.raises(PermissionDenied):
        donation_void(donation=entry, by=cash_volunteer, reason="not mine")

    entry.refresh_from_db()
    assert entry.status == Donation.Status.SUCCEEDED


def test_an_organizer_voids_any_offline_entry_even_an_old_one(
    cash_campaign, cash_volunteer, cash_organizer
):
    entry = record(cash_campaign, cash_volunteer)
    Donation.objects.filter(pk=entry.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=30)
    )

    donation_void(donation=entry, by=cash_organizer, reason="counterfeit bill")

    entry.refresh_from_db()
    assert (entry.status, entry.voided_by) == (Donation.Status.VOIDED, cash_organizer)


def test_online_gifts_cannot_be_voided(cash_campaign, cash_organizer):
    online = DonationFactory(campaign=cash_campaign)

    with pytest.raises(ValidationError):
        donation_void(donation=online, by=cash_organizer, reason="no")

    online.refresh_from_db()
    assert online.status == Donation.Status.SUCCEEDED


def test_an_organizer_edit_keeps_the_history_and_converts_again(
    rates_campaign, cash_volunteer, cash_organizer
):
    organizer_assign(by=None, user=cash_organizer, campaign=rates_campaign)
    entry = record(rates_campaign, cash_volunteer, amount=Decimal("10"), received_on=RATES_DAY)
    assert entry.amount_converted == Decimal("10.00")

    donation_update_cash(
        donation=entry,
        by=cash_organizer,
        values={"amount": Decimal("100"), "currency": "EUR", "giver_name": "Rosa D."},
    )

    entry.refresh_from_db()
    assert (entry.amount, entry.currency) == (Decimal("100.00"), "EUR")
    assert entry.amount_converted == Decimal("101.63")
    assert entry.conversion_rate == Decimal("1.0163")
    assert entry.rate_source == Donation.RateSource.ECB
    change = DonationChange.objects.get(donation=entry, action="edit")
    assert change.changed_by == cash_organizer
    assert change.changes["amount"] == ["10.00", "100.00"]
    assert change.changes["currency"] == ["USD", "EUR"]
    assert change.changes["giver_name"] == ["Rosa Díaz", "Rosa D."]
    assert change.changes["amount_converted"] == ["10.00", "101.63"]


def test_an_edit_without_a_rate_changes_nothing(rates_campaign, cash_volunteer, cash_organizer):
    organizer_assign(by=None, user=cash_organizer, campaign=rates_campaign)
    entry = record(rates_campaign, cash_volunteer, received_on=RATES_DAY)
    later = timezone.make_aware(datetime.datetime(2022, 9, 1, 12))

    with pytest.raises(ValidationError):
        donation_update_cash(
            donation=entry, by=cash_organizer, values={"currency": "EUR", "received_at": later}
        )

    entry.refresh_from_db()
    assert entry.currency == "USD"
    assert history(entry) == ["record"]


@pytest.mark.parametrize(
    ("field", "bad_value"),
    [
        ("received_at", "future"),
        ("team_member", "other campaign"),
        ("currency", "GBP"),
        ("amount", Decimal("12.345")),
    ],
)
def test_an_organizer_edit_obeys_the_cash_form_rules(
    cash_campaign, cash_volunteer, cash_organizer, field, bad_value
):
    entry = record(cash_campaign, cash_volunteer)
    if bad_value == "future":
        bad_value = timezone.now() + datetime.timedelta(days=30)
    elif bad_value == "other campaign":
        bad_value = TeamMemberFactory()

    with pytest.raises(ValidationError) as raised:
        donation_update_cash(donation=entry, by=cash_organizer, values={field: bad_value})

    assert field in raised.value.message_dict
    entry.refresh_from_db()
    assert (entry.amount, entry.currency, entry.team_member_id) == (
        Decimal("20.00"),
        "USD",
        None,
    )
    assert history(entry) == ["record"]


def test_a_volunteer_cannot_edit_entries(cash_campaign, cash_volunteer):
    entry = record(cash_campaign, cash_volunteer)

    with pytest.raises(PermissionDenied):
        donation_update_cash(donation=entry, by=cash_volunteer, values={"amount": Decimal(1)})

    entry.refresh_from_db()
    assert entry.amount == Decimal("20.00")


def test_deposits_mark_only_counted_cash(cash_campaign, cash_volunteer, cash_organizer):
    cash = record(cash_campaign, cash_volunteer)
    voided = record(cash_campaign, cash_volunteer, another_gift=True)
    donation_void(donation=voided, by=cash_volunteer, reason="duplicate")
    online = DonationFactory(campaign=cash_campaign)
    day = timezone.localdate()

    count = donation_mark_deposited(
        donations=[cash, voided, online], deposited_on=day, by=cash_organizer
    )

    assert count == 1
    assert Donation.objects.get(pk=cash.pk).deposited_on == day
    assert Donation.objects.get(pk=voided.pk).deposited_on is None
    assert Donation.objects.get(pk=online.pk).deposited_on is None
    assert DonationChange.objects.filter(donation=cash, action="deposit").count() == 1


def test_moderation_hides_name_and_message_but_keeps_the_gift(cash_campaign, cash_organizer):
    online = DonationFactory(campaign=cash_campaign, message="spam link")

    donation_moderate(donation=online, by=cash_organizer, hide_name=True, hide_message=True)

    online.refresh_from_db()
    assert online.public_name_hidden and online.public_message == ""
    assert online.status == Donation.Status.SUCCEEDED
    assert campaign_totals(campaign=cash_campaign).raised == Decimal("25.00")
    assert DonationChange.objects.get(donation=online).action == "moderate"


def test_volunteer_assign_is_idempotent_and_grants_no_permission(cash_campaign):
    user = UserFactory()

    volunteer_assign(by=None, user=user, campaign=cash_campaign)
    volunteer_assign(by=None, user=user, campaign=cash_campaign)

    assert user.volunteer_assignments.count() == 1
    assert list(user.groups.values_list("name", flat=True)) == ["Volunteers"]
    assert user.get_all_permissions() == set()
    assert not user.is_staff


def test_offline_factory_entries_are_voidable_by_organizers(cash_campaign, cash_organizer):
    entry = OfflineDonationFactory(campaign=cash_campaign)

    donation_void(donation=entry, by=cash_organizer, reason="test")

    assert Donation.objects.get(pk=entry.pk).status == Donation.Status.VOIDED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_double_submits_record_one_entry(cash_campaign, cash_volunteer):
    if connection.vendor != "postgresql":
        pytest.skip(reason="needs PostgreSQL: SQLite serialises writers")
    token = uuid.uuid4()

    def submit(_index: int) -> uuid.UUID:
        try:
            return record(cash_campaign, cash_volunteer, token=token).pk
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        ids = set(pool.map(submit, range(10)))

    assert len(ids) == 1
    assert Donation.objects.filter(form_token=token).count() == 1

"""Team members with gifts are retired or have their gifts moved, never deleted.

A retired member leaves the public pages and the gift forms, while its gifts keep counting
for the campaign; the admin refuses to delete a member with gifts (inline, delete page, bulk)
and says what to do instead; its gifts move through an admin page that calls the service.
"""

import datetime
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from campaigns.models import TeamMember
from campaigns.services import (
    MEMBER_CAMPAIGN_FIXED_ERROR,
    MEMBER_HAS_GIFTS_ERROR,
    campaign_content_save,
)
from donations.models import Donation, DonationChange
from donations.services.access import organizer_assign
from donations.services.cash import (
    TEAM_MEMBER_RETIRED_ERROR,
    CashGift,
    donation_record_cash,
    donation_update_cash,
)
from donations.services.members import team_member_gifts_move
from donations.services.online import gift_check
from donations.services.totals import totals_recount
from tests.campaigns.test_admin import FormFields
from tests.donations.test_admin import offline_form
from tests.factories import (
    CampaignFactory,
    DonationFactory,
    OfflineDonationFactory,
    TeamMemberFactory,
    UserFactory,
)
from tests.html import data_value, texts

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana(cash_campaign):
    member = TeamMemberFactory(campaign=cash_campaign, name="Ana", slug="ana")
    DonationFactory(campaign=cash_campaign, team_member=member, amount=Decimal("40.00"))
    return member


@pytest.fixture
def organizer_client(client, cash_organizer):
    client.force_login(cash_organizer)
    return client


def refusal(name: str) -> str:
    return MEMBER_HAS_GIFTS_ERROR % {"name": name}


def test_deleting_a_member_with_gifts_in_the_campaign_inline_is_refused_with_what_to_do(
    organizer_client, cash_campaign, ana
):
    url = reverse("admin:campaigns_campaign_change", args=[cash_campaign.pk])
    parser = FormFields()
    parser.feed(organizer_client.get(url).content.decode())
    data = parser.data
    index = next(
        key.split("-")[1]
        for key, value in data.items()
        if key.endswith("-id") and key.startswith("team_members-") and value == str(ana.pk)
    )
    data[f"team_members-{index}-DELETE"] = "on"

    response = organizer_client.post(url, data)

    assert response.status_code == 200
    assert refusal("Ana") in texts(response.content.decode(), ".errorlist li")
    assert TeamMember.objects.filter(pk=ana.pk).exists()
    assert Donation.objects.get().team_member == ana
    assert totals_recount() == []


def test_the_delete_page_of_a_member_with_gifts_sends_back_with_what_to_do(organizer_client, ana):
    response = organizer_client.get(reverse("admin:campaigns_teammember_delete", args=[ana.pk]))

    change = reverse("admin:campaigns_teammember_change", args=[ana.pk])
    assert (response.status_code, response["Location"]) == (302, change)
    page = organizer_client.get(change).content.decode()
    assert refusal("Ana") in texts(page, ".messagelist li")
    organizer_client.post(
        reverse("admin:campaigns_teammember_delete", args=[ana.pk]), {"post": "yes"}
    )
    assert TeamMember.objects.filter(pk=ana.pk).exists()


def test_a_bulk_delete_with_a_member_with_gifts_deletes_nothing(
    organizer_client, cash_campaign, ana
):
    idle = TeamMemberFactory(campaign=cash_campaign, name="Idle")
    url = reverse("admin:campaigns_teammember_changelist")

    organizer_client.post(
        url,
        {"action": "delete_selected", "post": "yes", "_selected_action": [ana.pk, idle.pk]},
    )

    assert set(TeamMember.objects.filter(pk__in=[ana.pk, idle.pk])) == {ana, idle}


def test_a_member_without_gifts_is_deleted_from_the_inline(organizer_client, cash_campaign, ana):
    idle = TeamMemberFactory(campaign=cash_campaign, name="Idle")
    url = reverse("admin:campaigns_campaign_change", args=[cash_campaign.pk])
    parser = FormFields()
    parser.feed(organizer_client.get(url).content.decode())
    data = parser.data
    index = next(
        key.split("-")[1]
        for key, value in data.items()
        if key.endswith("-id") and key.startswith("team_members-") and value == str(idle.pk)
    )
    data[f"team_members-{index}-DELETE"] = "on"

    assert organizer_client.post(url, data).status_code == 302

    assert not TeamMember.objects.filter(pk=idle.pk).exists()
    assert TeamMember.objects.filter(pk=ana.pk).exists()


def test_a_retired_member_leaves_the_pages_and_forms_and_its_gifts_still_count(
    client, cash_campaign, cash_volunteer, ana
):
    TeamMemberFactory(campaign=cash_campaign, name="Bea", slug="bea")
    ana.retired = True
    ana.save()

    page = client.get(cash_campaign.get_absolute_url()).content.decode()
    assert texts(page, ".team-member > a:first-of-type") == ["Little Village", "Bea"]
    assert data_value(page, "raised")[0] == "40.00"
    member_page = client.get(reverse("campaigns:member", args=[cash_campaign.slug, "ana"]))
    assert (member_page.status_code, member_page["Location"]) == (
        302,
        cash_campaign.get_absolute_url(),
    )
    flyer = reverse("campaigns:member-flyer", args=[cash_campaign.slug, "ana"])
    assert client.get(flyer).status_code == 404
    donate = client.get(reverse("donations:donate", args=[cash_campaign.slug]) + "?member=ana")
    assert texts(donate.content.decode(), "select[name=team_member] option") == [
        "Nobody in particular",
        "Little Village",
        "Bea",
    ]
    client.force_login(cash_volunteer)
    cash = client.get(reverse("donations:cash-new", args=[cash_campaign.slug])).content.decode()
    options = texts(cash, "select[name=team_member] option")
    assert "Bea" in options
    assert "Ana" not in options


def test_a_retired_member_takes_no_new_gift_whoever_asks(cash_campaign, cash_volunteer, ana):
    ana.retired = True
    ana.save()

    with pytest.raises(ValidationError) as online:
        gift_check(
            campaign=cash_campaign,
            amount=Decimal("25"),
            currency="USD",
            team_member=ana,
            today=timezone.localdate(),
        )
    with pytest.raises(ValidationError) as cash:
        donation_record_cash(
            campaign=cash_campaign,
            entered_by=cash_volunteer,
            gift=CashGift(
                amount=Decimal("10"),
                currency="USD",
                received_on=timezone.localdate() - datetime.timedelta(days=1),
                team_member=ana,
            ),
            form_token=uuid.uuid4(),
        )

    assert online.value.message_dict["team_member"] == [TEAM_MEMBER_RETIRED_ERROR]
    assert cash.value.message_dict["team_member"] == [TEAM_MEMBER_RETIRED_ERROR]
    assert Donation.objects.count() == 1


def test_the_cash_edit_service_refuses_to_give_an_entry_to_a_retired_member(
    cash_campaign, cash_organizer, ana
):
    ana.retired = True
    ana.save()
    entry = OfflineDonationFactory(campaign=cash_campaign, amount=Decimal("10.00"))

    with pytest.raises(ValidationError) as refused:
        donation_update_cash(donation=entry, by=cash_organizer, values={"team_member": ana})

    assert refused.value.message_dict["team_member"] == [TEAM_MEMBER_RETIRED_ERROR]
    entry.refresh_from_db()
    assert entry.team_member is None
    assert not DonationChange.objects.filter(donation=entry, action="edit").exists()


def test_an_entry_of_a_member_who_retired_since_stays_editable_and_theirs(
    cash_campaign, cash_organizer, ana
):
    entry = OfflineDonationFactory(
        campaign=cash_campaign, team_member=ana, amount=Decimal("10.00"), note=""
    )
    ana.retired = True
    ana.save()

    donation_update_cash(donation=entry, by=cash_organizer, values={"note": "Counted twice."})

    entry.refresh_from_db()
    assert (entry.note, entry.team_member) == ("Counted twice.", ana)


def test_the_admin_edit_of_a_cash_entry_still_refuses_a_retired_member(
    organizer_client, cash_campaign, ana
):
    ana.retired = True
    ana.save()
    entry = OfflineDonationFactory(campaign=cash_campaign, amount=Decimal("10.00"))
    url = reverse("admin:donations_donation_change", args=[entry.pk])
    page = organizer_client.get(url).content.decode()
    assert "Ana" not in texts(page, "select[name=team_member] option")

    response = organizer_client.post(url, offline_form(entry, team_member=str(ana.pk)))

    assert response.status_code == 200
    assert texts(response.content.decode(), ".field-team_member .errorlist li")
    entry.refresh_from_db()
    assert entry.team_member is None


def test_a_member_with_gifts_stays_in_its_campaign_whoever_saves_it(cash_campaign, ana):
    elsewhere = CampaignFactory(slug="elsewhere")
    ana.campaign = elsewhere

    with pytest.raises(ValidationError) as refused:
        campaign_content_save(content=ana)

    assert refused.value.message_dict["campaign"] == [MEMBER_CAMPAIGN_FIXED_ERROR % {"name": "Ana"}]
    ana.refresh_from_db()
    assert ana.campaign == cash_campaign
    gift = Donation.objects.get()
    assert gift.team_member.campaign_id == gift.campaign_id == cash_campaign.pk


def test_a_member_without_gifts_may_still_move_to_another_campaign(cash_campaign):
    elsewhere = CampaignFactory(slug="elsewhere")
    idle = TeamMemberFactory(campaign=cash_campaign, name="Idle", slug="idle")
    idle.campaign = elsewhere

    campaign_content_save(content=idle)

    idle.refresh_from_db()
    assert idle.campaign == elsewhere


def test_the_member_admin_shows_the_campaign_read_only_so_gifts_cannot_follow_a_move(
    organizer_client, cash_organizer, cash_campaign, ana
):
    elsewhere = CampaignFactory(slug="elsewhere")
    organizer_assign(by=None, user=cash_organizer, campaign=elsewhere)
    url = reverse("admin:campaigns_teammember_change", args=[ana.pk])
    parser = FormFields()
    parser.feed(organizer_client.get(url).content.decode())
    assert "campaign" not in parser.data

    response = organizer_client.post(url, {**parser.data, "campaign": str(elsewhere.pk)})

    assert response.status_code == 302
    ana.refresh_from_db()
    assert ana.campaign == cash_campaign
    gift = Donation.objects.get()
    assert gift.team_member.campaign_id == gift.campaign_id


def test_an_organizer_moves_a_members_gifts_in_the_admin_then_deletes_the_member(
    organizer_client, cash_organizer, cash_campaign, ana
):
    bea = TeamMemberFactory(campaign=cash_campaign, name="Bea", slug="bea")
    change = reverse("admin:campaigns_teammember_change", args=[ana.pk])
    move = reverse("admin:campaigns_teammember_move_gifts", args=[ana.pk])
    assert f'href="{move}"' in organizer_client.get(change).content.decode()
    form = organizer_client.get(move).content.decode()
    assert texts(form, "select[name=to_member] option") == [
        "No team member",
        "Little Village",
        "Bea",
    ]

    response = organizer_client.post(move, {"to_member": bea.pk, "reason": "Ana left."})

    assert (response.status_code, response["Location"]) == (302, change)
    gift = Donation.objects.get()
    assert gift.team_member == bea
    history = DonationChange.objects.get(donation=gift, action="member")
    assert (history.changed_by, history.reason) == (cash_organizer, "Ana left.")
    assert totals_recount() == []
    delete = reverse("admin:campaigns_teammember_delete", args=[ana.pk])
    assert organizer_client.post(delete, {"post": "yes"}).status_code == 302
    assert not TeamMember.objects.filter(pk=ana.pk).exists()


def test_the_move_page_asks_for_a_reason_and_moves_nothing_without_one(
    organizer_client, cash_campaign, ana
):
    move = reverse("admin:campaigns_teammember_move_gifts", args=[ana.pk])

    response = organizer_client.post(move, {"to_member": "", "reason": ""})

    assert response.status_code == 200
    assert Donation.objects.get().team_member == ana


def test_the_move_page_offers_no_retired_member_and_the_service_refuses_one(
    organizer_client, cash_organizer, cash_campaign, ana
):
    gone = TeamMemberFactory(campaign=cash_campaign, name="Gone", slug="gone", retired=True)
    move = reverse("admin:campaigns_teammember_move_gifts", args=[ana.pk])
    form = organizer_client.get(move).content.decode()
    assert "Gone" not in texts(form, "select[name=to_member] option")

    response = organizer_client.post(move, {"to_member": gone.pk, "reason": "Ana left."})
    assert response.status_code == 200
    with pytest.raises(ValidationError) as refused:
        team_member_gifts_move(member=ana, to_member=gone, by=cash_organizer, reason="Ana left.")

    assert refused.value.message_dict["to_member"] == [TEAM_MEMBER_RETIRED_ERROR]
    assert Donation.objects.get().team_member == ana
    assert not DonationChange.objects.filter(action="member").exists()


def test_an_organizer_of_another_campaign_cannot_reach_the_move_page(client, ana):
    stranger = UserFactory(username="stranger", is_staff=True)
    stranger.groups.add(Group.objects.get(name="Organizers"))
    client.force_login(stranger)

    move = reverse("admin:campaigns_teammember_move_gifts", args=[ana.pk])
    response = client.post(move, {"to_member": "", "reason": "Mine."})

    assert response.status_code == 302  # to the admin index: not one of theirs
    assert Donation.objects.get().team_member == ana

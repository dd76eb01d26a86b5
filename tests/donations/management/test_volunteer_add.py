import getpass

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from donations.models import VolunteerAssignment
from tests.factories import CampaignFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "tamales-at-the-plaza-42"


def test_volunteer_add_creates_the_user_in_the_group_with_the_assignment(cash_campaign):
    call_command("volunteer_add", "maria", cash_campaign.slug, password=PASSWORD)

    user = get_user_model().objects.get(username="maria")
    assert user.check_password(PASSWORD)
    assert not user.is_staff and not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == ["Volunteers"]
    assert VolunteerAssignment.objects.filter(user=user, campaign=cash_campaign).count() == 1


def test_volunteer_add_for_an_existing_user_only_adds_the_campaign(cash_campaign):
    user = UserFactory(username="maria")
    other = CampaignFactory()
    call_command("volunteer_add", "maria", other.slug)

    call_command("volunteer_add", "maria", cash_campaign.slug)
    call_command("volunteer_add", "maria", cash_campaign.slug)

    user.refresh_from_db()
    assert user.check_password("correct horse battery staple")
    assert set(user.volunteer_assignments.values_list("campaign__slug", flat=True)) == {
        other.slug,
        cash_campaign.slug,
    }


def test_volunteer_add_asks_for_a_password_for_a_new_user(cash_campaign, monkeypatch):
    # The terminal is the outside world here: getpass stands for the person typing.
    typed = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(typed))

    call_command("volunteer_add", "luis", cash_campaign.slug)

    assert get_user_model().objects.get(username="luis").check_password(PASSWORD)


def test_volunteer_add_refuses_an_unknown_campaign_and_a_weak_password(cash_campaign):
    with pytest.raises(CommandError, match="No campaign"):
        call_command("volunteer_add", "ana", "nope", password=PASSWORD)
    with pytest.raises(CommandError):
        call_command("volunteer_add", "ana", cash_campaign.slug, password="123")
    assert not get_user_model().objects.filter(username="ana").exists()

"""Signing in and resetting passwords: throttled per account and per client, and logged."""

import datetime
import logging

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import CampaignFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def sign_in(client, username, password, *, ip="198.51.100.7", url=None):
    return client.post(
        url or reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def security_lines(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "solidaria.security"]


def signed_in(client) -> bool:
    return client.get(reverse("donations:volunteer-home")).status_code == 200


def test_after_five_wrong_passwords_even_the_right_one_is_refused(client):
    """One account guessed at from one address (the account-and-address pair): its failures
    are the account's, so the per-account lock covers it."""
    UserFactory(username="rosa")
    answers = [sign_in(client, "rosa", "guess").status_code for _attempt in range(5)]
    assert answers == [200, 200, 200, 200, 429]  # the form with its error, then the pause

    response = sign_in(client, "rosa", PASSWORD)

    assert response.status_code == 429
    assert "Sign-in paused" in response.content.decode()
    assert "Wait 30 minutes" in response.content.decode()
    assert not signed_in(client)


def test_the_account_stays_locked_from_another_address(client):
    UserFactory(username="rosa")
    for attempt in range(5):
        sign_in(client, "rosa", "guess", ip=f"198.51.100.{attempt + 10}")

    assert sign_in(client, "rosa", PASSWORD, ip="203.0.113.50").status_code == 429
    assert not signed_in(client)


def test_failures_at_other_accounts_on_a_shared_address_do_not_lock_anyone_else(client):
    """A march's hotspot: many people behind one address, some of them mistyping."""
    UserFactory(username="tomas")
    for attempt in range(5):
        sign_in(client, f"someone-{attempt}", "guess", ip="198.51.100.99")

    assert sign_in(client, "tomas", PASSWORD, ip="198.51.100.99").status_code == 302
    assert signed_in(client)


def test_a_volunteers_sign_ins_between_guesses_do_not_reset_another_accounts_failures():
    """A success clears only its own account's failures, never the address's."""
    UserFactory(username="vol")
    UserFactory(username="organizer", is_staff=True)
    volunteer, guesser = Client(), Client()
    for _attempt in range(5):
        assert sign_in(volunteer, "vol", PASSWORD).status_code == 302
        sign_in(guesser, "organizer", "guess")

    response = sign_in(guesser, "organizer", PASSWORD)

    assert response.status_code == 429
    assert not signed_in(guesser)
    assert sign_in(Client(), "organizer", PASSWORD, ip="203.0.113.9").status_code == 429


def test_a_success_clears_that_accounts_own_failures(client):
    UserFactory(username="rosa")
    for _attempt in range(4):
        sign_in(client, "rosa", "guess")
    assert sign_in(client, "rosa", PASSWORD).status_code == 302
    client.logout()

    answers = [sign_in(client, "rosa", "guess").status_code for _attempt in range(4)]

    assert answers == [200, 200, 200, 200]
    assert sign_in(client, "rosa", PASSWORD).status_code == 302


def test_the_admin_sign_in_is_throttled_too(client):
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    url = reverse("admin:login")
    for _attempt in range(5):
        sign_in(client, "boss", "guess", url=url)

    assert sign_in(client, "boss", PASSWORD, url=url).status_code == 429
    assert client.get(reverse("admin:index")).status_code == 302


def test_the_lock_ends_after_the_cool_off_period(client):
    UserFactory(username="rosa")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _attempt in range(5):
            sign_in(client, "rosa", "guess")
        assert sign_in(client, "rosa", PASSWORD).status_code == 429
    with time_machine.travel(start + datetime.timedelta(minutes=31), tick=False):
        assert sign_in(client, "rosa", PASSWORD).status_code == 302
        assert signed_in(client)


def test_fewer_failures_than_the_limit_do_not_lock(client):
    UserFactory(username="rosa")
    for _attempt in range(4):
        sign_in(client, "rosa", "guess")

    assert sign_in(client, "rosa", PASSWORD).status_code == 302


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_a_name_longer_than_any_account_is_refused_by_the_form(client, url):
    """Django's sign-in form does not check the name's length; django-axes' record of the
    failure holds 255 characters, and PostgreSQL refused a longer one with a server error."""
    response = sign_in(client, "0" * 256, "guess", url=url)

    assert response.status_code == 200
    assert "Ensure this value has at most 150 characters" in response.content.decode()
    assert not signed_in(client)


def test_a_failed_sign_in_is_logged_with_the_account_and_address(client, caplog):
    UserFactory(username="rosa")
    with caplog.at_level(logging.WARNING, logger="solidaria.security"):
        sign_in(client, "rosa", "guess", ip="198.51.100.23")

    lines = security_lines(caplog)
    assert lines == ["sign-in failed username='rosa' path=/accounts/login/ ip=198.51.100.23"]


def test_a_refusal_is_logged_with_the_user_and_the_page(client, caplog):
    volunteer = UserFactory(username="vol")
    CampaignFactory(slug="drive")
    client.force_login(volunteer)
    with caplog.at_level(logging.WARNING, logger="solidaria.security"):
        response = client.get("/organize/drive/report/", REMOTE_ADDR="198.51.100.5")

    assert response.status_code == 403
    lines = security_lines(caplog)
    assert lines == [
        f"refused status=403 method=GET path=/organize/drive/report/ user={volunteer.pk} "
        "ip=198.51.100.5"
    ]


def reset(client, email, ip="198.51.100.7"):
    return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=ip)


def test_password_reset_emails_to_one_address_stop_after_three_an_hour(client):
    UserFactory(username="rosa", email="rosa@example.org")
    start = timezone.now().replace(minute=1, second=0)  # the limits count in clock hours
    with time_machine.travel(start, tick=False):
        answers = [reset(client, "rosa@example.org", ip=f"198.51.100.{n}") for n in range(5)]
    assert [answer.status_code for answer in answers] == [302] * 5
    assert {answer["Location"] for answer in answers} == {reverse("password_reset_done")}
    assert len(mail.outbox) == 3
    with time_machine.travel(start + datetime.timedelta(minutes=5), tick=False):
        assert reset(client, "ROSA@example.org").status_code == 302  # same address, other case
    assert len(mail.outbox) == 3

    with time_machine.travel(start + datetime.timedelta(hours=1, minutes=1), tick=False):
        reset(client, "rosa@example.org")
    assert len(mail.outbox) == 4


def test_password_reset_requests_from_one_client_stop_after_ten_an_hour(client):
    for n in range(11):
        UserFactory(username=f"user-{n}", email=f"user-{n}@example.org")
    with time_machine.travel(timezone.now().replace(minute=1), tick=False):
        answers = [reset(client, f"user-{n}@example.org", ip="198.51.100.77") for n in range(11)]

    assert [answer.status_code for answer in answers] == [302] * 10 + [429]
    assert "Too many password reset requests" in answers[-1].content.decode()
    assert len(mail.outbox) == 10
    assert reset(client, "user-10@example.org", ip="203.0.113.3").status_code == 302
    assert len(mail.outbox) == 11

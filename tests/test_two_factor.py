"""Two-factor sign-in with an authenticator app: optional for anyone, required of superusers
when the setting says so, asked for by the site's sign-in and the admin's."""

import datetime
import time

import pytest
import time_machine
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import UserFactory
from tests.html import soup

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
START = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def clock():
    """A frozen clock the tests move on: each code is good once, in its own 30 seconds."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def code(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():06d}"


def turn_on(client, user) -> TOTPDevice:
    client.post(reverse("two-factor"), {"action": "start"})
    device = TOTPDevice.objects.get(user=user)
    client.post(reverse("two-factor"), {"action": "confirm", "otp_token": code(device)})
    device.refresh_from_db()
    return device


def test_setting_it_up_shows_a_qr_code_and_needs_a_right_code(client, clock):
    user = UserFactory(username="org", is_staff=True)
    client.force_login(user)

    client.post(reverse("two-factor"), {"action": "start"})
    page = soup(client.get(reverse("two-factor")).content.decode())
    device = TOTPDevice.objects.get(user=user)
    assert page.select_one("img.qr-code")["src"].startswith("data:image/svg+xml")
    assert page.select_one(".otp-secret").get_text().replace(" ", "") != ""
    assert not device.confirmed

    wrong = client.post(reverse("two-factor"), {"action": "confirm", "otp_token": "000000"})
    assert "That code is not right" in wrong.content.decode()
    device.refresh_from_db()
    assert not device.confirmed

    clock.shift(datetime.timedelta(minutes=1))  # django-otp slows down after a wrong code
    right = client.post(
        reverse("two-factor"), {"action": "confirm", "otp_token": code(device)}, follow=True
    )
    device.refresh_from_db()
    assert device.confirmed
    assert "Two-factor sign-in is on" in right.content.decode()


def test_once_on_signing_in_needs_the_code_as_well(client, clock):
    user = UserFactory(username="org", is_staff=True)
    client.force_login(user)
    device = turn_on(client, user)
    client.logout()
    clock.shift(datetime.timedelta(minutes=2))

    without = client.post(reverse("login"), {"username": "org", "password": PASSWORD})
    assert without.status_code == 200
    assert "That code is not right" in without.content.decode()
    assert client.get(reverse("donations:volunteer-home")).status_code == 302

    with_code = client.post(
        reverse("login"), {"username": "org", "password": PASSWORD, "otp_token": code(device)}
    )
    assert with_code.status_code == 302
    assert client.get(reverse("donations:volunteer-home")).status_code == 200


def test_the_admin_sign_in_asks_for_the_code_too(client, clock):
    user = UserFactory(username="boss", is_staff=True, is_superuser=True)
    client.force_login(user)
    device = turn_on(client, user)
    client.logout()
    clock.shift(datetime.timedelta(minutes=2))
    admin_login = reverse("admin:login")

    form = soup(client.get(admin_login).content.decode())
    assert form.select_one('#login-form input[name="otp_token"]') is not None
    client.post(admin_login, {"username": "boss", "password": PASSWORD})
    assert client.get(reverse("admin:index")).status_code == 302
    client.post(admin_login, {"username": "boss", "password": PASSWORD, "otp_token": code(device)})
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_wrong_code_counts_as_a_failed_sign_in(client, clock):
    user = UserFactory(username="org", is_staff=True)
    client.force_login(user)
    device = turn_on(client, user)
    client.logout()

    for _attempt in range(5):
        clock.shift(datetime.timedelta(minutes=1))
        client.post(reverse("login"), {"username": "org", "password": PASSWORD, "otp_token": "1"})
    clock.shift(datetime.timedelta(minutes=1))
    response = client.post(
        reverse("login"), {"username": "org", "password": PASSWORD, "otp_token": code(device)}
    )
    assert response.status_code == 429


def test_it_can_be_turned_off_with_a_current_code(client, clock):
    user = UserFactory(username="org", is_staff=True)
    client.force_login(user)
    device = turn_on(client, user)
    clock.shift(datetime.timedelta(minutes=2))

    client.post(reverse("two-factor"), {"action": "remove", "otp_token": "000000"})
    assert TOTPDevice.objects.filter(user=user).exists()
    clock.shift(datetime.timedelta(minutes=1))
    client.post(reverse("two-factor"), {"action": "remove", "otp_token": code(device)})
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_a_required_superuser_reaches_only_the_two_factor_page_until_set_up(
    client, settings, clock
):
    settings.TWO_FACTOR_REQUIRED_FOR_SUPERUSERS = True
    boss = UserFactory(username="boss", is_staff=True, is_superuser=True)
    client.force_login(boss)

    assert client.get(reverse("admin:index"))["Location"] == reverse("two-factor")
    assert client.get(reverse("donations:volunteer-home"))["Location"] == reverse("two-factor")
    page = client.get(reverse("two-factor")).content.decode()
    assert "requires two-factor sign-in for your account" in page

    device = turn_on(client, boss)
    assert client.get(reverse("admin:index")).status_code == 200
    clock.shift(datetime.timedelta(minutes=2))
    client.post(reverse("two-factor"), {"action": "remove", "otp_token": code(device)})
    assert TOTPDevice.objects.filter(user=boss, confirmed=True).exists()


def test_a_required_superuser_with_a_new_session_enters_a_code_to_continue(client, settings, clock):
    settings.TWO_FACTOR_REQUIRED_FOR_SUPERUSERS = True
    boss = UserFactory(username="boss", is_staff=True, is_superuser=True)
    client.force_login(boss)
    device = turn_on(client, boss)
    client.logout()
    client.force_login(boss)  # a session that has not passed a code

    assert client.get(reverse("admin:index"))["Location"] == reverse("two-factor")
    clock.shift(datetime.timedelta(minutes=3))
    client.post(reverse("two-factor"), {"action": "verify", "otp_token": code(device)})
    assert client.get(reverse("admin:index")).status_code == 200


def test_other_staff_need_not_use_it_even_when_superusers_must(client, settings):
    settings.TWO_FACTOR_REQUIRED_FOR_SUPERUSERS = True
    client.force_login(UserFactory(username="org", is_staff=True))

    assert client.get(reverse("admin:index")).status_code == 200


def test_the_page_needs_a_signed_in_user(client):
    response = client.get(reverse("two-factor"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))

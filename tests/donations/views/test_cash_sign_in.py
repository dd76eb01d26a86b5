import re

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def test_the_sign_in_page_is_styled_like_the_site(client):
    html = client.get(reverse("login")).content.decode()

    assert "/static/css/site.css" in html
    assert 'class="site-header"' in html
    assert 'name="username"' in html and 'name="password"' in html
    assert reverse("password_reset") in html


def test_signing_in_lands_on_the_volunteer_page(client, cash_volunteer):
    response = client.post(
        reverse("login"), {"username": cash_volunteer.username, "password": PASSWORD}, follow=True
    )

    assert response.redirect_chain[-1][0] == "/volunteer/"
    assert "Cash drive" in response.content.decode()


def test_signing_out_shows_the_site_styled_page(client, cash_volunteer):
    client.force_login(cash_volunteer)

    response = client.post(reverse("logout"), follow=True)

    assert response.status_code == 200
    assert client.get(reverse("donations:volunteer-home")).status_code == 302


def test_password_reset_by_email_works(client):
    user = UserFactory(username="rosa", email="rosa@example.org")

    response = client.post(reverse("password_reset"), {"email": "rosa@example.org"}, follow=True)

    assert "Check your email" in response.content.decode()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["rosa@example.org"]
    assert message.subject == "Reset your Solidaria password"
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body).group(1)
    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a-brand-new-pass-77", "new_password2": "a-brand-new-pass-77"},
        follow=True,
    )
    assert "Your password is changed" in done.content.decode()
    user.refresh_from_db()
    assert user.check_password("a-brand-new-pass-77")


def test_password_reset_for_an_unknown_address_sends_nothing(client):
    client.post(reverse("password_reset"), {"email": "nobody@example.org"})

    assert mail.outbox == []

"""Error pages in the site's design and the visitor's language."""

import pytest
from django.template.loader import render_to_string
from django.test import override_settings

from tests.html import texts

pytestmark = pytest.mark.django_db


def test_a_missing_page_is_a_designed_404_in_the_pages_language(client):
    english = client.get("/c/no-such-campaign/")
    spanish = client.get("/es/c/no-such-campaign/")

    assert english.status_code == spanish.status_code == 404
    assert texts(english.content.decode(), "h1") == ["We cannot find that page"]
    assert texts(spanish.content.decode(), "h1") == ["No encontramos esa página"]
    assert texts(english.content.decode(), ".error-code") == ["404"]


def test_a_wrong_method_gets_a_designed_405(client):
    response = client.post("/c/anything/givers/")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert texts(response.content.decode(), "h1") == ["That is not how this page works"]


def test_an_expired_form_gets_a_designed_403():
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "x"})

    assert response.status_code == 403
    assert texts(response.content.decode(), "h1") == ["This form expired"]


def test_the_500_page_needs_no_database_and_no_context(django_assert_num_queries):
    with django_assert_num_queries(0):
        html = render_to_string("500.html")

    assert texts(html, "h1") == ["Something went wrong on our side"]
    assert 'href="/static/css/site.css"' in html


@override_settings(DEBUG=False)
def test_a_bad_host_gets_a_designed_400(client):
    response = client.get("/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert texts(response.content.decode(), "h1") == ["Bad request"]

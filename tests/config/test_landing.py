"""The site root sends each kind of user where they belong; /favicon.ico is the project's icon.
Both work under the strict Content-Security-Policy (no inline script or style)."""

from __future__ import annotations

import re

import pytest
from django.conf import settings

from tests.analytics import factories as f
from tests.config.test_security import assert_strict

pytestmark = pytest.mark.django_db


def places(page: str) -> dict[str, str]:
    """Each place's link, and whether it is marked as the user's own."""
    found = {}
    for place, mark, href in re.findall(
        r'<li id="place-(\w+)"( class="rm-yours")?>\s*<h2><a href="([^"]+)"', page
    ):
        found[place] = (href, bool(mark))
    return found


def test_anyone_gets_the_three_places_and_no_inline_code(client):
    response = client.get("/")

    assert response.status_code == 200
    assert_strict(response)
    page = response.content.decode()
    assert places(page) == {
        "admin": ("/admin/", False),
        "dashboards": ("/analytics/", False),
        "api": ("/api/docs/", False),
    }
    assert '<link rel="stylesheet" href="/static/css/returns-mail.css">' in page
    assert "<script" not in page
    assert "<style" not in page
    assert " style=" not in page


@pytest.mark.parametrize(
    ("who", "yours"),
    [
        ("it_admin", {"admin"}),
        ("manager", {"dashboards"}),
        ("staff_manager", {"dashboards"}),  # staff by mistake: the admin has nothing for them
        ("nobody", set()),
    ],
)
def test_a_signed_in_user_sees_their_place_marked(client, who, yours):
    person = {
        "it_admin": lambda: f.it_admin("ita"),
        "manager": lambda: f.manager("mgr"),
        "staff_manager": lambda: f.manager("smgr", is_staff=True),
        "nobody": lambda: f.user("nobody"),
    }[who]()
    client.force_login(person)

    page = client.get("/").content.decode()

    assert {place for place, (_, mine) in places(page).items() if mine} == yours
    assert f"Signed in as <strong>{person.username}</strong>" in page
    assert ("Your login has no role yet" in page) is (who == "nobody")


def test_the_favicon_is_served_at_the_root(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    body = response.content
    assert body == (settings.BASE_DIR / "static" / "favicon.ico").read_bytes()
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert b"\x89PNG" in body
    assert "max-age=86400" in response["Cache-Control"]

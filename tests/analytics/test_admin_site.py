"""The analytics app's place in the admin."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_the_admin_header_links_to_the_dashboards(admin_client):
    page = admin_client.get("/admin/")

    assert '<a href="/analytics/">View site</a>' in page.text

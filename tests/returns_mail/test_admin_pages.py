"""Every returns_mail admin page loads for an IT admin and is refused (403) to a Manager."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from returns_mail.models import AccountCircuit, Attempt, Message, Suppression
from returns_mail.roles import IT_ADMINS, MANAGERS
from returns_mail.services.api_clients import api_client_create
from tests.returns_mail.test_admin_support import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(ingest, make_rule, make_account):
    account = make_account("sendgrid")
    rule = make_rule("refund.processed", accounts=[account])
    event = ingest("refund.processed", execute=False)
    message = Message.objects.get()
    Attempt.objects.create(
        message=message, account=account, started_at=timezone.now(), duration_ms=1, outcome="sent"
    )
    api_client, _ = api_client_create(name="warehouse", scopes=["messages:read"])
    return {
        "triggerrule": rule,
        "returnevent": event,
        "message": message,
        "apiclient": api_client,
        "suppression": Suppression.objects.create(email="x@shop.example", reason="manual"),
        "accountcircuit": AccountCircuit.objects.create(account=account, last_error="boom"),
    }


def pages(rows) -> list[str]:
    def admin(name, *args):
        return reverse(f"admin:returns_mail_{name}", args=args)

    urls = [admin("eventtypesetting_changelist")]
    for model, row in rows.items():
        urls += [admin(f"{model}_changelist"), admin(f"{model}_change", row.pk)]
    urls += [
        admin("triggerrule_add"),
        admin("triggerrule_test", rows["triggerrule"].pk),
        f"{admin('triggerrule_test', rows['triggerrule'].pk)}?event_id={rows['returnevent'].pk}",
        admin("suppression_add"),
        admin("apiclient_add"),
        admin("apiclient_rotate", rows["apiclient"].pk),
    ]
    return urls


def test_every_page_loads_for_an_it_admin(client, rows):
    login(client, IT_ADMINS)

    statuses = {url: client.get(url).status_code for url in pages(rows)}

    assert statuses == dict.fromkeys(statuses, 200)
    index = client.get(reverse("admin:app_list", args=["returns_mail"])).content.decode()
    for name in ("Trigger rules", "Return events", "Messages", "Suppressions", "API clients"):
        assert name in index


def test_every_page_is_refused_to_a_manager(client, rows):
    login(client, MANAGERS)

    statuses = {url: client.get(url).status_code for url in pages(rows)}

    assert statuses == dict.fromkeys(statuses, 403)

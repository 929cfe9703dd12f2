"""The suppression list as CSV in the admin: the filtered list exported (formula cells
defused), a file imported only when every line is good, as the admin's, on the audit trail."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.admin.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from returns_mail.models import Suppression, SuppressionReason, SuppressionScope
from returns_mail.roles import IT_ADMINS, MANAGERS
from returns_mail.services.suppression import SuppressionEntry, suppression_add, suppressions_add
from tests.returns_mail.test_admin_support import login

pytestmark = pytest.mark.django_db

EXPORT_URL = reverse("admin:returns_mail_suppression_export_csv")
IMPORT_URL = reverse("admin:returns_mail_suppression_import_csv")
LIST_URL = reverse("admin:returns_mail_suppression_changelist")


def exported(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(text)))


def upload(client, text: str, name: str = "list.csv"):
    file = SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")
    return client.post(IMPORT_URL, {"file": file})


def test_the_export_lists_the_filtered_suppressions_with_formula_cells_defused(
    client, make_account
):
    admin = login(client, IT_ADMINS, "ita")
    account = make_account("sendgrid", name="SendGrid main")
    suppression_add(email="hand@example.com", reason="manual", note="=HYPERLINK(1)", actor=admin)
    suppressions_add(
        [SuppressionEntry("-gone@example.com", "promotional", "unsubscribe", "+1 reported")],
        source_account=account,
    )

    response = client.get(EXPORT_URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="suppressions-')
    lines = exported(response)
    assert lines[0] == ["email", "scope", "reason", "note", "source", "created_at"]
    assert [line[:5] for line in lines[1:]] == [
        ["hand@example.com", "all", "manual", "'=HYPERLINK(1)", "by ita"],
        ["'-gone@example.com", "promotional", "unsubscribe", "'+1 reported",
         "reported by SendGrid main (SendGrid)"],
    ]  # fmt: skip
    filtered = exported(client.get(EXPORT_URL, {"scope__exact": "promotional"}))
    assert [line[0] for line in filtered[1:]] == ["'-gone@example.com"]
    searched = exported(client.get(EXPORT_URL, {"q": "hand"}))
    assert [line[0] for line in searched[1:]] == ["hand@example.com"]
    assert "Export CSV" in client.get(LIST_URL).content.decode()


def test_a_good_file_is_imported_as_the_admins_and_recorded(client):
    admin = login(client, IT_ADMINS, "ita")
    suppression_add(email="already@example.com", reason="hard_bounce")

    response = upload(
        client,
        "Email,Scope,Reason,Note\n"
        "Ann@Example.com,promotional,unsubscribe,asked by phone\n"
        "bob@example.com,,,\n"
        "already@example.com,all,manual,\n"
        "ann@example.com,promotional,unsubscribe,twice in the file\n",
        name="from-crm.csv",
    )

    assert response.status_code == 302
    found = {(s.email, s.scope): s for s in Suppression.objects.all()}
    assert set(found) == {
        ("ann@example.com", "promotional"),
        ("bob@example.com", "all"),
        ("already@example.com", "all"),
    }
    ann = found[("ann@example.com", "promotional")]
    assert (ann.reason, ann.note, ann.created_by) == ("unsubscribe", "asked by phone", admin)
    assert ann.mirror_pending  # an unsubscribe: mirrored to the providers
    assert found[("bob@example.com", "all")].reason == SuppressionReason.MANUAL
    assert found[("already@example.com", "all")].reason == "hard_bounce"  # kept as it was
    entry = LogEntry.objects.get(user=admin, object_repr="suppression list (CSV import)")
    assert entry.change_message == (
        "imported 3 suppression(s) from the CSV file from-crm.csv: 2 new, 1 already listed"
    )
    page = client.get(LIST_URL).content.decode()
    assert "Imported 3 suppression(s) from from-crm.csv: 2 new, 1 already listed." in page

    again = upload(client, "email\nbob@example.com\n")
    assert again.status_code == 302
    assert Suppression.objects.count() == 3


def test_a_file_with_a_bad_line_changes_nothing_and_says_which_lines(client):
    login(client, IT_ADMINS, "ita")

    response = upload(
        client,
        "email,scope,reason,note\n"
        "good@example.com,all,manual,\n"
        "not-an-address,all,manual,\n"
        "other@example.com,everything,manual,\n"
        "third@example.com,all,manual\n"
        f"long@example.com,all,manual,{'x' * 256}\n",
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was imported: 4 problems in the file" in html
    assert "line 3: &#x27;not-an-address&#x27; is not an email address" in html
    assert "line 4: scope &#x27;everything&#x27; is not one of all, promotional" in html
    assert "line 5: 3 values for 4 columns" in html
    assert "line 6: the note is longer than 255 characters" in html
    assert not Suppression.objects.exists()
    assert not LogEntry.objects.filter(object_repr="suppression list (CSV import)").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("scope,reason\nall,manual\n", "the first line must name the columns"),
        ("email,colour\na@example.com,red\n", "the first line must name the columns"),
        ("email\n", "the file has no suppressions"),
    ],
)
def test_a_file_without_the_right_columns_is_refused(client, content, message):
    login(client, IT_ADMINS, "ita")

    response = upload(client, content)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Suppression.objects.exists()


def test_a_file_that_is_not_utf8_is_refused(client):
    login(client, IT_ADMINS, "ita")
    file = SimpleUploadedFile("list.csv", "email\nzoë@example.com\n".encode("latin-1"))

    response = client.post(IMPORT_URL, {"file": file})

    assert response.status_code == 400
    assert "the file is not UTF-8 text" in response.content.decode()
    assert not Suppression.objects.exists()


def test_managers_can_neither_export_nor_import(client):
    login(client, MANAGERS, "manager")
    suppression_add(email="x@example.com", reason="manual", scope=SuppressionScope.ALL)

    assert client.get(EXPORT_URL).status_code == 403
    assert upload(client, "email\ny@example.com\n").status_code == 403
    assert Suppression.objects.count() == 1

"""The Mailchimp Marketing part of the ESP sandbox, spoken to over raw HTTP."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests

from providers.sandbox.core import Fault

KEY = "0123456789abcdef0123456789abcdef-us6"
PROBLEM_JSON = "application/problem+json; charset=utf-8"


def md5(email: str) -> str:
    return hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest()


@pytest.fixture
def api(esp_sandbox):
    def call(method: str, path: str, body=None, *, key: str | None = KEY, **kwargs):
        return requests.request(
            method,
            f"{esp_sandbox.url}/mailchimp/3.0{path}",
            data=json.dumps(body) if body is not None else None,
            auth=("user", key) if key is not None else None,
            timeout=10,
            **kwargs,
        )

    return call


def member(email: str, **extra) -> dict:
    return {"email_address": email, "status_if_new": "subscribed", **extra}


def assert_problem(response, status: int, title: str) -> dict:
    assert response.status_code == status
    assert response.headers["Content-Type"] == PROBLEM_JSON
    body = response.json()
    assert (body["status"], body["title"]) == (status, title)
    assert {"type", "detail", "instance"} <= set(body)
    return body


def test_ping(api):
    response = api("GET", "/ping")

    assert response.status_code == 200
    assert response.json() == {"health_status": "Everything's Chimpy!"}


@pytest.mark.parametrize(
    "key",
    [None, "no-dash-here-at-all", "0123abcd", "revoked-us6", "0123abcdrevoked-us6", "xyz-us6"],
)
def test_a_bad_key_is_401_api_key_invalid(api, key):
    body = assert_problem(api("GET", "/ping", key=key), 401, "API Key Invalid")

    assert "datacenter" in body["detail"]


def test_audiences_exist_when_referenced_except_missing_ones(api):
    assert api("GET", "/lists/aud42").json()["id"] == "aud42"
    assert_problem(api("GET", "/lists/missing-1"), 404, "Resource Not Found")


def test_unknown_paths_and_methods(api):
    assert_problem(api("GET", "/nothing/here"), 404, "Resource Not Found")
    response = api("DELETE", "/campaigns")
    assert_problem(response, 405, "Method Not Allowed")
    assert response.headers["Allow"] == "POST"


def test_member_upsert_is_keyed_by_the_md5_of_the_lowercased_email(api, esp_sandbox):
    body = member("Jo@Shop.example", merge_fields={"FNAME": "Jo", "UNKNOWN": "x"})
    created = api("PUT", f"/lists/aud1/members/{md5('jo@shop.example')}", body)

    assert created.status_code == 200
    assert created.json()["id"] == md5("jo@shop.example")
    assert created.json()["status"] == "subscribed"
    assert created.json()["merge_fields"]["FNAME"] == "Jo"
    assert "UNKNOWN" not in created.json()["merge_fields"]  # ignored, as Mailchimp does
    by_address = api("GET", "/lists/aud1/members/jo@shop.example")
    assert by_address.json()["id"] == md5("jo@shop.example")
    (record,) = esp_sandbox.records("mailchimp")
    assert (record["method"], record["body"]) == ("PUT", body)
    assert record["key"] == "...-us6"


def test_a_new_member_needs_status_if_new_and_a_valid_status(api):
    path = f"/lists/aud1/members/{md5('a@x.example')}"

    missing = assert_problem(
        api("PUT", path, {"email_address": "a@x.example"}), 400, "Invalid Resource"
    )
    assert missing["errors"] == [
        {"field": "status_if_new", "message": "This value should not be blank."}
    ]
    bad = api("PUT", path, member("a@x.example", status_if_new="happy"))
    assert assert_problem(bad, 400, "Invalid Resource")["errors"][0]["field"] == "status_if_new"
    mismatch = api("PUT", path, member("b@x.example"))
    assert_problem(mismatch, 400, "Invalid Resource")
    assert_problem(api("PUT", path, "{not json", headers={}), 400, "Invalid Resource")


def test_an_existing_member_is_updated_without_status_if_new(api):
    path = f"/lists/aud1/members/{md5('a@x.example')}"
    api("PUT", path, member("a@x.example"))

    updated = api("PUT", path, {"email_address": "a@x.example", "status": "unsubscribed"})

    assert updated.json()["status"] == "unsubscribed"


def test_invalid_json_is_a_bad_request(api, esp_sandbox):
    response = requests.put(
        f"{esp_sandbox.url}/mailchimp/3.0/lists/aud1/members/{md5('a@x.example')}",
        data="{not json",
        auth=("user", KEY),
        timeout=10,
    )

    assert_problem(response, 400, "Bad Request")


def test_member_get_patch_archive_and_delete_permanently(api, esp_sandbox):
    path = f"/lists/aud1/members/{md5('a@x.example')}"
    api("PUT", path, member("a@x.example"))

    assert (
        api("PATCH", path, {"merge_fields": {"LNAME": "Lee"}}).json()["merge_fields"]["LNAME"]
        == "Lee"
    )
    archived = api("DELETE", path)
    assert (archived.status_code, archived.content) == (204, b"")
    assert api("GET", path).json()["status"] == "archived"
    deleted = api("POST", f"{path}/actions/delete-permanent")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert_problem(api("GET", path), 404, "Resource Not Found")
    assert [r["method"] for r in esp_sandbox.records("mailchimp")] == [
        "PUT",
        "PATCH",
        "DELETE",
        "POST",
    ]


def test_member_tags_answer_204_and_show_on_the_member(api):
    path = f"/lists/aud1/members/{md5('a@x.example')}"
    api("PUT", path, member("a@x.example"))

    tagged = api("POST", f"{path}/tags", {"tags": [{"name": "vip", "status": "active"}]})

    assert (tagged.status_code, tagged.content) == (204, b"")
    assert [t["name"] for t in api("GET", path).json()["tags"]] == ["vip"]
    api("POST", f"{path}/tags", {"tags": [{"name": "vip", "status": "inactive"}]})
    assert api("GET", path).json()["tags"] == []
    bad = api("POST", f"{path}/tags", {"tags": [{"name": "vip", "status": "on"}]})
    assert_problem(bad, 400, "Invalid Resource")
    assert_problem(
        api("POST", f"/lists/aud1/members/{md5('z@x.example')}/tags", {"tags": []}),
        404,
        "Resource Not Found",
    )


def test_batch_members_reports_new_updated_and_errors(api):
    api("PUT", f"/lists/aud1/members/{md5('old@x.example')}", member("old@x.example"))
    members = [
        {"email_address": "new@x.example", "status": "subscribed"},
        {"email_address": "old@x.example", "status": "subscribed"},
        {"email_address": "fake", "status": "subscribed"},
        {"email_address": "s@x.example", "status": "sleeping"},
    ]

    plain = api("POST", "/lists/aud1", {"members": members}).json()

    assert [m["email_address"] for m in plain["new_members"]] == ["new@x.example"]
    assert plain["updated_members"] == []
    assert [(e["email_address"], e["error_code"]) for e in plain["errors"]] == [
        ("old@x.example", "ERROR_CONTACT_EXISTS"),
        ("fake", "ERROR_GENERIC"),
        ("s@x.example", "ERROR_GENERIC"),
    ]
    assert (plain["total_created"], plain["total_updated"], plain["error_count"]) == (1, 0, 3)
    updating = api("POST", "/lists/aud1", {"members": members[:2], "update_existing": True}).json()
    assert (updating["total_created"], updating["total_updated"]) == (0, 2)


def test_batch_members_refuses_more_than_500(api, esp_sandbox):
    members = [{"email_address": f"m{i}@x.example", "status": "subscribed"} for i in range(501)]

    body = assert_problem(api("POST", "/lists/aud1", {"members": members}), 400, "Invalid Resource")

    assert body["errors"][0]["field"] == "members"
    assert esp_sandbox.records("mailchimp") == []
    ok = api("POST", "/lists/aud1", {"members": members[:500]})
    assert ok.json()["total_created"] == 500


def test_merge_fields_add_list_and_refuse_duplicates(api):
    created = api(
        "POST", "/lists/aud1/merge-fields", {"name": "Order", "type": "text", "tag": "ORDER"}
    )

    assert created.json()["tag"] == "ORDER"
    again = api(
        "POST", "/lists/aud1/merge-fields", {"name": "Order", "type": "text", "tag": "ORDER"}
    )
    assert_problem(again, 400, "Invalid Resource")
    assert_problem(
        api("POST", "/lists/aud1/merge-fields", {"name": "X", "type": "colour"}),
        400,
        "Invalid Resource",
    )
    first_page = api("GET", "/lists/aud1/merge-fields").json()
    assert first_page["total_items"] == 6  # FNAME LNAME ADDRESS PHONE BIRTHDAY + ORDER
    tags = [
        f["tag"]
        for f in api("GET", "/lists/aud1/merge-fields", params={"count": 2, "offset": 4}).json()[
            "merge_fields"
        ]
    ]
    assert tags == ["BIRTHDAY", "ORDER"]


def test_a_required_merge_field_must_be_given_for_new_members(api):
    api(
        "POST",
        "/lists/aud1/merge-fields",
        {"name": "Order", "type": "number", "tag": "ORDER", "required": True},
    )
    path = f"/lists/aud1/members/{md5('a@x.example')}"

    missing = assert_problem(api("PUT", path, member("a@x.example")), 400, "Invalid Resource")
    assert missing["errors"] == [{"field": "ORDER", "message": "Please enter a value"}]
    not_a_number = api("PUT", path, member("a@x.example", merge_fields={"ORDER": "abc"}))
    assert_problem(not_a_number, 400, "Invalid Resource")
    assert api("PUT", path, member("a@x.example", merge_fields={"ORDER": 7})).status_code == 200
    skipped = api(
        "PUT",
        f"/lists/aud1/members/{md5('b@x.example')}",
        member("b@x.example"),
        params={"skip_merge_validation": "true"},
    )
    assert skipped.status_code == 200


def test_segments_are_static_xor_saved(api):
    both = api(
        "POST",
        "/lists/aud1/segments",
        {"name": "s", "static_segment": [], "options": {"match": "any", "conditions": []}},
    )
    assert_problem(both, 400, "Invalid Resource")
    assert_problem(api("POST", "/lists/aud1/segments", {"name": "s"}), 400, "Invalid Resource")
    api("PUT", f"/lists/aud1/members/{md5('a@x.example')}", member("a@x.example"))

    static = api(
        "POST",
        "/lists/aud1/segments",
        {"name": "s", "static_segment": ["a@x.example", "stranger@x.example"]},
    ).json()

    assert (static["type"], static["member_count"]) == ("static", 1)  # strangers are ignored
    assert api("GET", f"/lists/aud1/segments/{static['id']}").json()["name"] == "s"
    assert_problem(api("GET", "/lists/aud1/segments/999999"), 404, "Resource Not Found")


def test_segment_batch_adds_removes_and_limits_each_side_to_500(api):
    for email in ("a@x.example", "b@x.example"):
        api("PUT", f"/lists/aud1/members/{md5(email)}", member(email))
    segment = api(
        "POST", "/lists/aud1/segments", {"name": "s", "static_segment": ["b@x.example"]}
    ).json()
    path = f"/lists/aud1/segments/{segment['id']}"

    answer = api(
        "POST",
        path,
        {"members_to_add": ["a@x.example", "zz@x.example"], "members_to_remove": ["b@x.example"]},
    ).json()

    assert (answer["total_added"], answer["total_removed"], answer["error_count"]) == (1, 1, 1)
    assert answer["errors"][0]["email_addresses"] == ["zz@x.example"]
    assert api("GET", path).json()["member_count"] == 1
    too_many = {"members_to_add": [f"m{i}@x.example" for i in range(501)]}
    assert_problem(api("POST", path, too_many), 400, "Invalid Resource")
    too_many = {"members_to_remove": [f"m{i}@x.example" for i in range(501)]}
    assert_problem(api("POST", path, too_many), 400, "Invalid Resource")


def _campaign(api, **settings) -> str:
    api("PUT", f"/lists/aud1/members/{md5('a@x.example')}", member("a@x.example"))
    body = {
        "type": "regular",
        "recipients": {"list_id": "aud1"},
        "settings": {"subject_line": "Hi", "from_name": "Shop", **settings},
    }
    created = api("POST", "/campaigns", body)
    assert created.json()["status"] == "save"
    return created.json()["id"]


def test_a_campaign_needs_reply_to_and_content_to_send(api):
    campaign_id = _campaign(api)

    refused = assert_problem(
        api("POST", f"/campaigns/{campaign_id}/actions/send"), 400, "Bad Request"
    )

    assert refused["detail"] == "Your Campaign is not ready to send."
    assert {e["field"] for e in refused["errors"]} == {"settings.reply_to", "content"}


def test_a_ready_campaign_sends_with_204(api):
    campaign_id = _campaign(api, reply_to="help@shop.example")
    content = api("PUT", f"/campaigns/{campaign_id}/content", {"html": "<p>Hi</p>"})
    assert content.json()["plain_text"] == "Hi"

    sent = api("POST", f"/campaigns/{campaign_id}/actions/send")

    assert (sent.status_code, sent.content) == (204, b"")
    campaign = api("GET", f"/campaigns/{campaign_id}").json()
    assert (campaign["status"], campaign["emails_sent"]) == ("sent", 1)
    assert_problem(api("POST", f"/campaigns/{campaign_id}/actions/send"), 400, "Bad Request")


def test_campaign_content_takes_exactly_one_source(api):
    campaign_id = _campaign(api)
    both = {"html": "<p>x</p>", "url": "https://shop.example"}

    assert_problem(api("PUT", f"/campaigns/{campaign_id}/content", both), 400, "Invalid Resource")
    assert_problem(
        api("PUT", f"/campaigns/{campaign_id}/content", {"plain_text": "x"}),
        400,
        "Invalid Resource",
    )


def test_campaigns_need_an_existing_audience_and_segment(api):
    missing = {"type": "regular", "recipients": {"list_id": "missing-9"}}
    assert_problem(api("POST", "/campaigns", missing), 400, "Invalid Resource")
    no_segment = {
        "type": "regular",
        "recipients": {"list_id": "aud1", "segment_opts": {"saved_segment_id": 424242}},
    }
    assert_problem(api("POST", "/campaigns", no_segment), 400, "Invalid Resource")
    assert_problem(api("POST", "/campaigns", {"type": "fax"}), 400, "Invalid Resource")


def test_scheduling_needs_a_future_quarter_hour(api):
    campaign_id = _campaign(api, reply_to="help@shop.example")
    api("PUT", f"/campaigns/{campaign_id}/content", {"html": "<p>Hi</p>"})
    soon = (datetime.now(UTC) + timedelta(days=1)).replace(minute=30, second=0, microsecond=0)
    path = f"/campaigns/{campaign_id}/actions/schedule"

    off_quarter = api("POST", path, {"schedule_time": soon.replace(minute=7).isoformat()})
    assert_problem(off_quarter, 400, "Invalid Resource")
    past = api("POST", path, {"schedule_time": "2020-01-01T10:00:00+00:00"})
    assert_problem(past, 400, "Invalid Resource")
    scheduled = api("POST", path, {"schedule_time": soon.isoformat()})
    assert (scheduled.status_code, scheduled.content) == (204, b"")
    assert api("GET", f"/campaigns/{campaign_id}").json()["status"] == "schedule"


def test_templates_have_integer_ids_and_can_be_patched(api, esp_sandbox):
    created = api("POST", "/templates", {"name": "Label", "html": "<p>1</p>"}).json()

    assert isinstance(created["id"], int)
    patched = api("PATCH", f"/templates/{created['id']}", {"html": "<p>2</p>"})
    assert patched.json()["id"] == created["id"]
    assert_problem(api("PATCH", "/templates/1", {"html": "x"}), 404, "Resource Not Found")
    assert_problem(api("POST", "/templates", {"name": "No html"}), 400, "Invalid Resource")
    assert [r["body"] for r in esp_sandbox.records("mailchimp")] == [
        {"name": "Label", "html": "<p>1</p>"},
        {"html": "<p>2</p>"},
    ]


def test_reads_are_not_recorded(api, esp_sandbox):
    api("GET", "/ping")
    api("GET", "/lists/aud1")

    assert esp_sandbox.records("mailchimp") == []


@pytest.mark.parametrize(
    ("kind", "title"),
    [
        ("429", "Too Many Requests"),
        ("500", "Internal Server Error"),
        ("503", "Service Unavailable"),
    ],
)
def test_injected_faults_are_problem_json(api, esp_sandbox, kind, title):
    esp_sandbox.faults.add(KEY, Fault(kind, times=1, retry_after=4))

    response = api("GET", "/ping")

    assert_problem(response, int(kind), title)
    assert (response.headers.get("Retry-After") == "4") == (kind == "429")


def test_more_than_10_requests_in_flight_per_key_get_429(api, esp_sandbox):
    esp_sandbox.faults.add(KEY, Fault("slow", delay=2.0))
    start = threading.Barrier(12)
    statuses: list[int] = []

    def ping():
        start.wait()
        statuses.append(api("GET", "/ping").status_code)

    threads = [threading.Thread(target=ping) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200] * 10 + [429] * 2
    esp_sandbox.faults.clear()
    assert api("GET", "/ping", key="fedcba9876543210-us6").status_code == 200  # per key
    assert api("GET", "/ping").status_code == 200  # and the slots are free again


def test_dropped_connections_free_their_slot(api, esp_sandbox):
    esp_sandbox.faults.add(KEY, Fault("drop", times=11))
    for _ in range(11):
        with pytest.raises(requests.ConnectionError):
            api("GET", "/ping")

    assert api("GET", "/ping").status_code == 200

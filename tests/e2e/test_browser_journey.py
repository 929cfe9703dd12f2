"""Issue #8, end to end in a real browser: Playwright drives Debian's chromium (headless)
against the live server, every step through the real UI.

1. An IT admin opens the site root, follows its "Administration" link, logs in, adds a SendGrid account pointing at the ESP sandbox (with the
   signed-webhook verification key), saves it and clicks "Test connection".
2. Edits the default "Refund processed" template and clicks "Save and publish"; the copy at the
   account is current. Then opens the Preview of version 1 from its row, sees version 1 and
   publishes it from the preview (a rollback), and publishes version 2 again with its row's
   Publish button.
3. Creates a trigger rule for refund.processed (one condition row, the account as route).
4. The returns system posts a refund.processed event to the API.
5. The admin sees the message "Sent" in the Messages list, then "Delivered" once the signed
   SendGrid webhook has come in.
6. A manager logs in at /analytics/login/ and sees the delivered message on the overview,
   providers, messages and campaigns dashboards.

Only the two staff users (with their roles), the default templates and the API client are
created directly. A screenshot after each step goes to var/test-artifacts/e2e/ (git-ignored),
with what the browser console said at each step (console.txt, Content-Security-Policy refusals
included), and one of the page at a failure. Without chromium this test FAILS (it does not
skip): see tests/e2e/browser.py."""

from __future__ import annotations

import random
import re

import requests
from django.conf import settings

from providers.sandbox.sendgrid_events import (
    build_events,
    event_body,
    new_signing_key,
    public_key_text,
    signed_headers,
)
from returns_mail.services.api_clients import api_client_create
from templates_lib.services.defaults import defaults_install
from tests.analytics import factories as f
from tests.e2e.browser import Journey, open_journey
from tests.returns_mail.test_api_support import event_body as api_event_body

SENDGRID_KEY = "SG.testkeyid.testsecret-0001"
ACCOUNT = "SendGrid (browser journey)"
ACCOUNT_LABEL = f"{ACCOUNT} (SendGrid)"  # how forms and lists name the account
RULE = "Refund confirmation (browser)"
CUSTOMER = "ada.customer@example.com"
NEW_SUBJECT = "Good news: your refund of {{refund.amount}} {{refund.currency}} is on its way"


def test_an_it_admin_sets_up_sending_and_a_manager_sees_the_delivery(live_server, esp_sandbox):
    assert not settings.SECURE_SSL_REDIRECT, "run with DEBUG=true (.env): the live server is HTTP"
    # The only rows written directly: the staff (with their roles), the default templates
    # (published before any account exists, so nothing is pushed yet) and the API client.
    f.it_admin("e2e-it")
    f.manager("e2e-manager")
    defaults_install()
    _, token = api_client_create(name="returns system (e2e)", scopes=["events:write"])
    signing_key = new_signing_key()

    with open_journey(live_server, "e2e") as trip:
        _run(trip, esp_sandbox, token, signing_key)


def _run(journey: Journey, esp_sandbox, token: str, signing_key) -> None:
    account_id = _step1_add_and_check_the_account(journey, esp_sandbox, signing_key)
    template_url = _step2_edit_and_publish_the_template(journey)
    _step2b_preview_and_publish_a_version(journey, template_url)
    _step3_create_the_rule(journey)
    record = _step4_post_the_event(journey, esp_sandbox, token)
    _step5_see_it_sent_then_delivered(journey, account_id, record, signing_key)
    _step6_the_manager_sees_it_counted(journey)


def _step1_add_and_check_the_account(journey: Journey, esp_sandbox, signing_key) -> int:
    page = journey.page
    journey.go("/")
    page.get_by_role("heading", name="Returns Mail").wait_for()
    journey.shot("site-root")
    assert journey.problems() == [], journey.problems()  # its stylesheet and favicon load
    page.get_by_role("link", name="Administration").click()
    page.wait_for_url(re.compile(r"/admin/login/\?next=/admin/$"))
    journey.admin_login("e2e-it")
    page.locator("#content-main").get_by_role("link", name="Provider accounts").first.click()
    page.wait_for_url(re.compile(r"/admin/providers/provideraccount/$"))
    page.locator(".object-tools a.addlink").click()
    page.wait_for_url(re.compile(r"/provideraccount/add/$"))

    page.fill("#id_name", ACCOUNT)
    page.select_option("#id_kind", "sendgrid")
    page.fill("#id_api_base_url", esp_sandbox.base_url("sendgrid"))
    page.fill("#id_new_api_key", SENDGRID_KEY)
    page.fill("#id_from_email", "returns@shop.example")
    page.fill("#id_from_name", "Shop Returns")
    page.fill("#id_webhook_verification_key", public_key_text(signing_key))
    journey.shot("account-form")
    page.click("input[name=_continue]")
    page.wait_for_url(re.compile(r"/provideraccount/\d+/change/$"))
    journey.no_form_errors()
    journey.success("was added successfully")
    account_id = int(re.search(r"/provideraccount/(\d+)/change/", page.url).group(1))
    # The key is never shown back, only its last four characters.
    assert "set (ending …0001)" in page.content()
    assert SENDGRID_KEY not in page.content()

    page.get_by_role("button", name="Test connection").click()
    journey.success(f"{ACCOUNT}: connection ok in")
    journey.shot("account-connection-ok")
    assert esp_sandbox.records("sendgrid"), "the check never reached the sandbox"
    return account_id


def _step2_edit_and_publish_the_template(journey: Journey) -> str:
    page = journey.page
    journey.go("/admin/")
    page.locator("#content-main").get_by_role("link", name="Templates", exact=True).first.click()
    page.wait_for_url(re.compile(r"/admin/templates_lib/template/$"))
    page.get_by_role("link", name="Refund processed", exact=True).click()
    page.wait_for_url(re.compile(r"/template/\d+/change/$"))
    template_url = page.url
    # The WYSIWYG view shows the variables where they stand (block tags are protected source).
    editor = page.frame_locator("iframe.cke_wysiwyg_frame").locator("body")
    editor.get_by_text("Thank you for shopping with us.").wait_for()
    shown = editor.inner_text()
    for variable in ("{{refund.amount}}", "{{refund.method}}", "{{return_id}}", "{{name}}"):
        assert variable in shown, f"{variable} is not visible in the editor: {shown[:1000]}"
    assert "{{#each" not in shown

    page.fill("#id_subject", NEW_SUBJECT)
    journey.shot("template-edited")
    page.click("input[name=_saveandpublish]")
    page.wait_for_url(re.compile(r"/admin/templates_lib/template/(\?.*)?$"))
    journey.no_form_errors()
    journey.success("Saved and published version 2.")
    # The list counts the provider copies; the template's page shows the copy at the account.
    row = page.locator("#result_list tr", has=page.get_by_role("link", name="Refund processed"))
    assert row.locator("td.field-sync_summary").inner_text().strip() == "1/1 current"
    assert row.locator("td.field-active").inner_text().strip() == "v2"
    page.goto(template_url)
    copy = page.locator("tr", has_text=ACCOUNT).filter(has_text="Current")
    copy.first.wait_for()
    journey.shot("template-published")
    return template_url


def _version_row(journey: Journey, number: int):
    return journey.page.locator(
        "tr", has=journey.page.locator("td.field-number", has_text=f"{number}")
    )


def _step2b_preview_and_publish_a_version(journey: Journey, template_url: str) -> None:
    page = journey.page
    # Version 1's row: its Preview shows version 1, not the active version 2.
    _version_row(journey, 1).get_by_role("link", name="Preview").click()
    page.wait_for_url(re.compile(r"/template/\d+/preview/\?version=1$"))
    page.get_by_role("heading", name=re.compile(r"^Version 1 · en$")).wait_for()
    subject = page.locator("#preview-subject").inner_text()
    assert "Good news" not in subject, subject
    journey.shot("template-preview-v1")
    # Its "Publish version 1" button is there without choosing anything else: a rollback.
    page.get_by_role("button", name="Publish version 1").click()
    page.wait_for_url(template_url)
    journey.success("Published version 1; pushing it to 1 provider copies.")
    assert _version_row(journey, 1).locator("td.field-state").inner_text().strip() == "active"

    # Version 2's row: Preview shows it, and its row's Publish button makes it active again.
    _version_row(journey, 2).get_by_role("link", name="Preview").click()
    page.wait_for_url(re.compile(r"/template/\d+/preview/\?version=2$"))
    page.get_by_role("heading", name=re.compile(r"^Version 2 · en$")).wait_for()
    subject = page.locator("#preview-subject").inner_text()
    assert subject.startswith("Good news: your refund of 89.80 EUR"), subject
    page.go_back()
    page.wait_for_url(template_url)
    _version_row(journey, 2).get_by_role("button", name="Publish").click()
    page.wait_for_url(template_url)
    journey.success("Published version 2; pushing it to 1 provider copies.")
    assert _version_row(journey, 2).locator("td.field-state").inner_text().strip() == "active"
    assert _version_row(journey, 1).get_by_role("button", name="Publish").count() == 1
    page.locator("tr", has_text=ACCOUNT).filter(has_text="Current").first.wait_for()
    journey.shot("template-version-2-republished")


def _step3_create_the_rule(journey: Journey) -> None:
    page = journey.page
    journey.go("/admin/")
    page.locator("#content-main").get_by_role("link", name="Trigger rules").first.click()
    page.wait_for_url(re.compile(r"/admin/returns_mail/triggerrule/$"))
    page.locator(".object-tools a.addlink").click()
    page.wait_for_url(re.compile(r"/triggerrule/add/$"))

    page.fill("#id_name", RULE)
    page.select_option("#id_event_type", "refund.processed")
    page.select_option("#id_template", label="Refund processed")
    page.fill("#id_conditions-0-field", "refund.amount")
    page.select_option("#id_conditions-0-op", "gt")
    page.fill("#id_conditions-0-value", "50")
    page.select_option("#id_routing", "single")
    page.select_option("#id_route-0-account", label=ACCOUNT_LABEL)
    journey.shot("rule-form")
    page.click("input[name=_save]")
    page.wait_for_url(re.compile(r"/admin/returns_mail/triggerrule/(\?.*)?$"))
    journey.no_form_errors()
    journey.success("was added successfully")
    row = page.locator("#result_list tr", has=page.get_by_role("link", name=RULE))
    assert f"One account: {ACCOUNT}" in row.inner_text()
    journey.shot("rule-saved")


def _step4_post_the_event(journey: Journey, esp_sandbox, token: str) -> dict:
    """What the returns system does: POST /api/v1/events with its token (over HTTP)."""
    body = api_event_body("refund.processed", return_id="RMA-E2E-1")
    body["customer"]["email"] = CUSTOMER
    response = requests.post(
        f"{journey.base}/api/v1/events",
        json=body,
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "e2e-refund-RMA-E2E-1"},
        timeout=60,
    )
    assert response.status_code == 202, response.text
    [message] = response.json()["messages"]
    assert (message["rule"], message["recipient"]) == (RULE, CUSTOMER)
    # Tasks run inline: the send happened before the answer came back.
    [record] = esp_sandbox.records("sendgrid", path="/v3/mail/send")
    sent = str(record["body"])
    assert "Good news: your refund of 89.80 EUR is on its way" in sent, "not version 2"
    # The HTML went through CKEditor and back (the subject was the only edit): every variable,
    # and the {{#each}} over the items table's rows, survived.
    for text in ("89.80", "Visa ending 4242", "RMA-E2E-1", "Organic T-shirt, red, M"):
        assert text in sent, f"{text!r} is missing from the email: {sent[:3000]}"
    return record


def _message_row(journey: Journey):
    page = journey.page
    journey.go("/admin/")
    page.locator("#content-main").get_by_role("link", name="Messages", exact=True).first.click()
    page.wait_for_url(re.compile(r"/admin/returns_mail/message/$"))
    return page.locator("#result_list tbody tr", has_text=CUSTOMER)


def _step5_see_it_sent_then_delivered(journey: Journey, account_id, record, signing_key) -> None:
    row = _message_row(journey)
    row.first.wait_for()
    assert row.count() == 1
    assert row.locator("td.field-status").inner_text().strip() == "Sent"
    assert row.locator("td.field-account").inner_text().strip() == ACCOUNT_LABEL
    journey.shot("message-sent")

    # SendGrid reports processed + delivered, signed with the key pasted in step 1.
    events = build_events(
        record["body"],
        record["message_id"],
        rates={},
        rng=random.Random(8),  # noqa: S311 - simulated behaviour
    )
    body = event_body(events)
    headers = signed_headers(signing_key, body)
    response = requests.post(
        f"{journey.base}/webhooks/sendgrid/{account_id}/",
        data=body,
        headers={**headers, "Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.json()["new"] >= 1, response.text

    row = _message_row(journey)
    assert row.locator("td.field-status").inner_text().strip() == "Delivered"
    row.get_by_role("link").first.click()
    journey.page.wait_for_url(re.compile(r"/admin/returns_mail/message/\d+/change/$"))
    assert record["message_id"] in journey.page.content()
    journey.shot("message-delivered")


def _step6_the_manager_sees_it_counted(journey: Journey) -> None:
    page = journey.page
    journey.page.context.clear_cookies()  # the IT admin leaves; the manager logs in
    seen = len(journey.console)  # the dashboards must not log a single error
    journey.go("/analytics/login/?next=/analytics/")
    page.fill("#login-form [name=username]", "e2e-manager")
    page.fill("#login-form [name=password]", f.PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r"/analytics/$"))

    _wait_for_charts(journey)
    detail = page.locator("#kpi-delivery_rate .rm-tile-detail").inner_text()
    assert detail.startswith("1 delivered of 1 with an outcome"), detail
    rate = page.locator("#kpi-delivery_rate .rm-tile-value").inner_text()
    assert re.sub(r"\s", "", rate) == "100.0%", rate  # a narrow space before the % sign
    journey.shot("dashboard-overview")

    _nav(page, "Providers")
    page.wait_for_url(re.compile(r"/analytics/providers/"))
    _wait_for_charts(journey)
    delivered = page.locator("tr", has=page.locator("td", has_text=re.compile(r"^Delivered$")))
    cells = [cell.strip() for cell in delivered.first.locator("td").all_inner_texts()]
    assert cells[:2] == ["Delivered", "1"], cells  # the SendGrid column
    page.locator("tr", has_text=ACCOUNT).first.wait_for()  # the account's uptime row
    journey.shot("dashboard-providers")

    _nav(page, "Recent messages")
    page.wait_for_url(re.compile(r"/analytics/messages/"))
    message = page.locator("#table-messages tr", has_text=CUSTOMER)
    message.first.wait_for()
    assert "delivered" in message.first.inner_text().lower()
    journey.shot("dashboard-messages")

    _nav(page, "Campaigns")
    page.wait_for_url(re.compile(r"/analytics/campaigns/"))
    page.locator("#table-campaigns").wait_for()  # a transactional email is no campaign
    journey.shot("dashboard-campaigns")

    assert journey.problems(since=seen) == [], journey.problems(since=seen)
    # Nothing on any page of the journey was refused by the Content-Security-Policy.
    assert journey.csp_refusals() == [], journey.csp_refusals()


def _nav(page, name: str) -> None:
    page.get_by_role("navigation", name="Dashboards").get_by_role("link", name=name).click()


def _wait_for_charts(journey: Journey) -> None:
    """Every chart on the page has drawn (or said it failed)."""
    page = journey.page
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-chart]')]"
        ".every(box => ['true', 'error'].includes(box.dataset.rendered))"
    )
    states = page.eval_on_selector_all(
        "[data-chart]", "boxes => boxes.map(b => b.dataset.rendered)"
    )
    assert states, "no chart on the page"
    assert all(s == "true" for s in states), (states, journey.console)

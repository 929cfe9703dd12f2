"""The campaign page in a real browser (Playwright on Debian's chromium, see tests/e2e/browser.py):
its progress script polls only while the campaign runs and reloads the page once when it stops;
a draft, a finished campaign and a test send stay put. Screenshots go to
var/test-artifacts/campaigns/."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from django.db import connection

from returns_mail.models import Campaign, CampaignStatus, Customer
from tests.analytics import factories as f
from tests.e2e.browser import open_journey
from tests.returns_mail.campaign_support import everyone, make_campaign, offer_template

# Longer than two of the script's poll intervals (2 s): a page that polls or reloads on its own
# does so within this window.
QUIET_MS = 5_000
TEST_RECIPIENT = "marketing@shop.example"


class PageActivity:
    """What the page asks the server for: its own loads (reloads included) and progress polls."""

    def __init__(self, page):
        self.loads: list[str] = []
        self.polls: list[str] = []
        page.on("request", lambda request: self._seen(page, request))

    def _seen(self, page, request) -> None:
        if request.is_navigation_request() and request.frame == page.main_frame:
            self.loads.append(request.url)
        elif "/progress/" in request.url:
            self.polls.append(request.url)

    def clear(self) -> None:
        self.loads.clear()
        self.polls.clear()


def _set_status(campaign, status) -> None:
    """Change the row as a worker would: from another thread (Playwright's sync API runs an
    event loop in this one, where Django refuses database calls)."""

    def update():
        try:
            Campaign.objects.filter(pk=campaign.pk).update(status=status)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(update).result()


def _wait_until(page, condition, what: str, *, steps: int = 150) -> None:
    for _ in range(steps):
        if condition():
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"never happened: {what}")


def test_the_campaign_page_polls_only_while_the_campaign_runs(
    live_server, make_account, make_template, esp_sandbox, settings
):
    # The sandbox renders with handlebars.js in js2py: a template's first render can take
    # seconds on a busy machine, and the test send must not give up on it.
    settings.PROVIDER_TIMEOUT = 60
    f.it_admin("campaign-it")
    Customer.objects.create(email="ann@example.com", name="Ann", marketing_consent=True)
    sendgrid = make_account("sendgrid")
    template = offer_template(make_template)
    draft = make_campaign(
        everyone(), template, sendgrid, name="Draft offer", test_recipients=TEST_RECIPIENT
    )
    running = make_campaign(draft.segment, template, sendgrid, name="Running offer")
    finished = make_campaign(draft.segment, template, sendgrid, name="Finished offer")
    Campaign.objects.filter(pk=running.pk).update(status=CampaignStatus.SENDING)
    Campaign.objects.filter(pk=finished.pk).update(status=CampaignStatus.FINISHED)

    with open_journey(live_server, "campaigns") as journey:
        journey.admin_login("campaign-it")
        page = journey.page
        activity = PageActivity(page)

        # Not running: the page neither polls nor reloads.
        for campaign in (draft, finished):
            activity.clear()
            journey.go(f"/admin/returns_mail/campaign/{campaign.pk}/change/")
            page.wait_for_timeout(QUIET_MS)
            assert (len(activity.loads), len(activity.polls)) == (1, 0), (
                f"{campaign.name}: {len(activity.loads)} loads, {len(activity.polls)} polls"
            )
            journey.shot(campaign.status)

        # Running: it polls and stays; once the campaign has finished, one reload, then quiet.
        activity.clear()
        journey.go(f"/admin/returns_mail/campaign/{running.pk}/change/")
        _wait_until(page, lambda: len(activity.polls) >= 2, "two progress polls")
        assert len(activity.loads) == 1, activity.loads
        assert page.locator(".campaign-progress").get_attribute("data-status") == "sending"
        journey.shot("sending")
        _set_status(running, CampaignStatus.FINISHED)
        _wait_until(page, lambda: len(activity.loads) == 2, "the reload once it finished")
        page.wait_for_load_state()
        polls = len(activity.polls)
        page.wait_for_timeout(QUIET_MS)
        assert (len(activity.loads), len(activity.polls)) == (2, polls)
        assert page.locator(".campaign-progress").get_attribute("data-status") == "finished"
        journey.shot("sending-then-finished")

        # A test send from the draft goes out once, also when the page is reloaded afterwards
        # (the button's POST answers with a redirect: a reload asks for the page again, with GET).
        journey.go(f"/admin/returns_mail/campaign/{draft.pk}/change/")
        page.click("input[name=_campaign_test]")
        page.wait_for_url(re.compile(rf"/campaign/{draft.pk}/change/$"))
        journey.success("Test sent to the test recipients.")
        journey.shot("test-sent")
        page.reload()
        page.wait_for_timeout(QUIET_MS)
        [request] = esp_sandbox.records("sendgrid", path="/v3/mail/send")
        to = [p["to"][0]["email"] for p in request["body"]["personalizations"]]
        assert to == [TEST_RECIPIENT]
        assert page.locator("ul.messagelist").count() == 0  # the confirmation was shown once

    assert journey.problems() == [], journey.problems()  # the favicon included
    assert journey.csp_refusals() == []

"""The dashboards in a real headless browser (Playwright on Debian's chromium, through
tests/e2e/browser.py): a manager logs in, opens the overview and every chart must draw.
Screenshots of each page with charts go to var/test-artifacts/dashboards/ (git-ignored), with
what the browser console said (console.txt).

Without chromium this test FAILS (it does not skip): see tests/e2e/browser.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from analytics.models import LatencyBin, Period
from tests.analytics import factories as f
from tests.e2e.browser import Journey, open_journey

PAGES_WITH_CHARTS = {"": 4, "providers/": 2, "breakdown/": 1}
WAIT_MS = 20_000

# The chart boxes' `data-rendered` states, in page order.
CHART_STATES = (
    "() => [...document.querySelectorAll('[data-chart]')].map(b => b.getAttribute('data-rendered'))"
)
# Every chart drew, or one said it failed (no need to wait any longer then).
CHARTS_SETTLED = """expected => {
  const states = [...document.querySelectorAll('[data-chart]')].map(
    b => b.getAttribute('data-rendered'));
  return states.includes('error')
    || (states.length === expected && states.every(s => s === 'true'));
}"""
# Whether a canvas has at least one pixel that is not fully transparent.
CANVAS_DREW = """c => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 3; i < d.length; i += 4) { if (d[i]) return true; }
  return false;
}"""


@pytest.fixture
def dashboard_data(transactional_db):
    """A week of traffic ending now, so the default period (the last 7 days) has data."""
    sg = f.account("sendgrid", "SendGrid main")
    md = f.account("mailchimp_transactional", "Mandrill")
    now = timezone.now()
    for days_ago in range(7):
        day = (now - timedelta(days=days_ago)).replace(hour=0, minute=0, second=0, microsecond=0)
        for account, sent in ((sg, 100 + 10 * days_ago), (md, 60 + 5 * days_ago)):
            f.rollup(
                day,
                period=Period.DAY,
                account=account,
                sent=sent,
                delivered=sent - 8 if account == sg else 0,
                bounced_hard=3,
                bounced_soft=2,
                opened=sent // 2,
                clicked=sent // 5,
            )
        f.bins(day, LatencyBin.Metric.RESPONSE, {2: 5, 4: 3}, period=Period.DAY, account=sg)
        f.bins(day, LatencyBin.Metric.LEAD, {1: 4, 3: 2}, period=Period.DAY, account=sg)
    for minutes in range(1, 30):
        f.check(now - timedelta(minutes=minutes), minutes != 7, account=sg)
    return {"sg": sg, "md": md}


def _log_in(journey: Journey, username: str) -> None:
    page = journey.page
    journey.go("/analytics/login/?next=/analytics/")
    page.fill("[name=username]", username)
    page.fill("[name=password]", f.PASSWORD)
    page.click("#login-form button[type=submit]")
    # The click returns before the redirect is followed: wait for the page to leave the form.
    page.wait_for_url(lambda url: "/login/" not in url, timeout=WAIT_MS)


def _wait_for_charts(journey: Journey, expected: int) -> list:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = journey.page
    try:
        page.wait_for_function(CHARTS_SETTLED, arg=expected, timeout=WAIT_MS)
    except PlaywrightTimeout:
        boxes = page.eval_on_selector_all(
            "[data-chart]",
            "bs => Object.fromEntries(bs.map(b => [b.dataset.chart, b.dataset.rendered ?? null]))",
        )
        pytest.fail(f"Charts did not render within 20 s: {boxes}; console: {journey.console}")
    states = page.evaluate(CHART_STATES)
    assert states == ["true"] * expected, f"a chart failed: {states}; console: {journey.console}"
    return states


def test_a_manager_sees_every_chart_rendered(live_server, dashboard_data):
    assert not settings.SECURE_SSL_REDIRECT, "run with DEBUG=true (.env): the live server is HTTP"
    f.manager("browser-manager")
    # Opened here, not in a fixture: a missing browser fails the test itself.
    with open_journey(live_server, "dashboards") as journey:
        _check_the_dashboards(journey)


def _check_the_dashboards(journey: Journey) -> None:
    page, base_url = journey.page, journey.base
    _log_in(journey, "browser-manager")

    assert page.url == f"{base_url}/analytics/", page.content()[:2000]
    _wait_for_charts(journey, PAGES_WITH_CHARTS[""])
    screenshot = journey.shot("overview")
    assert screenshot.stat().st_size > 10_000

    # The figures are on the page, each canvas really drew something, no script failed, and
    # every file came from our own server (no CDN).
    tile = page.inner_text("#kpi-delivery_rate .rm-tile-value").strip()
    assert tile.endswith("%")
    assert tile != "—"
    canvases = page.locator("[data-chart] canvas").all()
    assert len(canvases) == PAGES_WITH_CHARTS[""]
    for canvas in canvases:
        assert int(canvas.get_attribute("width")) > 100
        assert canvas.evaluate(CANVAS_DREW), "a chart canvas is blank"
    # Console errors (a failed load included) and uncaught exceptions.
    assert journey.problems() == []
    resources = page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)")
    assert resources, "no static files were loaded"
    assert all(name.startswith(base_url) for name in resources), resources
    assert any(name.endswith("/static/vendor/chart.js/chart.umd.min.js") for name in resources)

    # The other pages with charts draw too.
    for path, expected in PAGES_WITH_CHARTS.items():
        if path:
            journey.go(f"/analytics/{path}")
            _wait_for_charts(journey, expected)
            journey.shot(path.strip("/"))

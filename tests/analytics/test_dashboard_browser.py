"""The dashboards in a real headless browser (Debian's chromium + chromium-driver, via selenium):
a manager logs in, opens the overview and every chart must draw. A screenshot of the overview is
saved to var/test-artifacts/dashboard-overview.png.

Without chromium this test FAILS (it does not skip): CI must install the Debian packages
`chromium` and `chromium-driver`."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from analytics.models import LatencyBin, Period
from tests.analytics import factories as f

ARTIFACTS = Path(settings.BASE_DIR) / "var" / "test-artifacts"
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
PAGES_WITH_CHARTS = {"": 3, "providers/": 1, "breakdown/": 1}


def _browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: `.venv/bin/pip install selenium` (dev extra)")
    binary = next((path for name in CHROMIUM if (path := shutil.which(name))), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        pytest.fail(
            "The dashboard browser test needs Chromium and its driver: "
            "`apt-get install -y chromium chromium-driver` (Debian). "
            f"Found browser: {binary}, chromedriver: {driver_path}."
        )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in containers
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,2000",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)


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


def _log_in(browser, base_url: str, username: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{base_url}/analytics/login/?next=/analytics/")
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(f.PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
    # The click returns before the redirect is followed: wait for the page to leave the form.
    WebDriverWait(browser, 20).until(lambda driver: "/login/" not in driver.current_url)


def _wait_for_charts(browser, expected: int) -> list:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def rendered(driver):
        boxes = driver.find_elements(By.CSS_SELECTOR, "[data-chart]")
        states = [box.get_attribute("data-rendered") for box in boxes]
        if "error" in states:
            return states
        return states if len(states) == expected and all(s == "true" for s in states) else False

    try:
        states = WebDriverWait(browser, 20).until(rendered)
    except TimeoutException:
        boxes = browser.find_elements(By.CSS_SELECTOR, "[data-chart]")
        states = {b.get_attribute("data-chart"): b.get_attribute("data-rendered") for b in boxes}
        pytest.fail(f"Charts did not render within 20 s: {states}; console: {_console(browser)}")
    assert states == ["true"] * expected, f"a chart failed: {states}; console: {_console(browser)}"
    return states


def _console(browser) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser")]


def test_a_manager_sees_every_chart_rendered(live_server, dashboard_data):
    assert not settings.SECURE_SSL_REDIRECT, "run with DEBUG=true (.env): the live server is HTTP"
    f.manager("browser-manager")
    browser = _browser()  # here, not in a fixture: a missing browser fails the test itself
    try:
        browser.set_page_load_timeout(30)
        _check_the_dashboards(browser, live_server.url)
    finally:
        browser.quit()


def _check_the_dashboards(browser, base_url: str) -> None:
    from selenium.webdriver.common.by import By

    _log_in(browser, base_url, "browser-manager")

    assert browser.current_url == f"{base_url}/analytics/", browser.page_source[:2000]
    _wait_for_charts(browser, PAGES_WITH_CHARTS[""])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "dashboard-overview.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000

    # The figures are on the page, each canvas really drew something, no script failed, and
    # every file came from our own server (no CDN).
    tile = browser.find_element(By.CSS_SELECTOR, "#kpi-delivery_rate .rm-tile-value").text
    assert tile.endswith("%")
    assert tile != "—"
    for canvas in browser.find_elements(By.CSS_SELECTOR, "[data-chart] canvas"):
        assert int(canvas.get_attribute("width")) > 100
        assert browser.execute_script(
            "const c = arguments[0], d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            "for (let i = 3; i < d.length; i += 4) { if (d[i]) return true; } return false;",
            canvas,
        ), "a chart canvas is blank"
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name);"
    )
    assert resources, "no static files were loaded"
    assert all(name.startswith(base_url) for name in resources), resources
    assert any(name.endswith("/static/vendor/chart.js/chart.umd.min.js") for name in resources)

    # The other pages with charts draw too.
    for path, expected in PAGES_WITH_CHARTS.items():
        if path:
            browser.get(f"{base_url}/analytics/{path}")
            _wait_for_charts(browser, expected)
            browser.save_screenshot(str(ARTIFACTS / f"dashboard-{path.strip('/')}.png"))

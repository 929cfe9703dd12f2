"""Playwright on Debian's chromium (headless) for the browser tests: finding the binary,
launching it, and a page wrapper that keeps what the browser said and takes screenshots.

Without chromium a browser test FAILS (it does not skip): CI installs the Debian package
`chromium` (`make browser`); Playwright needs only that binary, no `playwright install`.
CHROMIUM_PATH points it at another chromium."""

from __future__ import annotations

import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings

from tests.analytics import factories as f

ARTIFACTS = Path(settings.BASE_DIR) / "var" / "test-artifacts"
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_MS = 30_000  # 2 shared cores: every wait is generous


def chromium_binary() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail("playwright is not installed: `.venv/bin/pip install playwright` (dev extra)")
    binary = os.environ.get("CHROMIUM_PATH") or next(
        (path for name in CHROMIUM if (path := shutil.which(name))), None
    )
    if binary is None:
        pytest.fail(
            "The browser tests need Chromium: `apt-get install -y chromium` (Debian; "
            "`make browser`). Playwright uses that binary; `playwright install` is not needed."
        )
    return binary


@contextmanager
def browser_context():
    """A fresh headless browser context (1400x1000, en-US, generous timeouts)."""
    binary = chromium_binary()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=binary,
            headless=True,
            args=[
                *(["--no-sandbox"] if os.geteuid() == 0 else []),  # root in containers
                "--disable-dev-shm-usage",
                "--disable-gpu",
            ],
        )
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
            context.set_default_timeout(TIMEOUT_MS)
            context.set_default_navigation_timeout(TIMEOUT_MS)
            yield context
        finally:
            browser.close()


class Journey:
    """The page, the live server's address, and what the browser said along the way.

    Screenshots go to var/test-artifacts/<folder>/ (git-ignored), numbered, with what the
    browser console said at each step in console.txt (Content-Security-Policy refusals
    included)."""

    def __init__(self, page, base_url: str, folder: str = "e2e"):
        self.page = page
        self.base = base_url
        self.artifacts = ARTIFACTS / folder
        self.artifacts.mkdir(parents=True, exist_ok=True)
        for old in [*self.artifacts.glob("*.png"), *self.artifacts.glob("console.txt")]:
            old.unlink()
        self.console: list[str] = []
        self.shots = 0
        self._logged = 0
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        # Content-Security-Policy refusals, reported by the page itself.
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', e => console.error("
            "'CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline')"
            " + ' at ' + e.sourceFile + ':' + e.lineNumber));"
        )

    def go(self, path: str) -> None:
        response = self.page.goto(self.base + path)
        assert response is not None, f"GET {path}: no response"
        assert response.ok, f"GET {path}: HTTP {response.status}"

    def shot(self, name: str) -> Path:
        self.shots += 1
        path = self.artifacts / f"{self.shots:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        with (self.artifacts / "console.txt").open("a") as log:  # what the browser said, per step
            log.write(f"--- {path.name} ({self.page.url})\n")
            log.writelines(f"{line}\n" for line in self.console[self._logged :])
        self._logged = len(self.console)
        return path

    def success(self, text: str) -> None:
        """Django admin's message bar says `text` (success or info, not a warning or error)."""
        self.page.locator("ul.messagelist li:is(.success, .info)", has_text=text).first.wait_for()

    def no_form_errors(self) -> None:
        errors = self.page.locator(".errornote, ul.errorlist")
        if errors.count():
            pytest.fail(f"the form was refused: {errors.all_inner_texts()}")

    def problems(self, since: int = 0) -> list[str]:
        return [m for m in self.console[since:] if m.startswith(("error", "pageerror"))]

    def csp_refusals(self) -> list[str]:
        return [line for line in self.console if "CSP violation" in line]

    def admin_login(self, username: str) -> None:
        page = self.page
        self.go("/admin/login/?next=/admin/")
        page.fill("#id_username", username)
        page.fill("#id_password", f.PASSWORD)
        page.click("#login-form [type=submit]")
        page.wait_for_url(re.compile(r"/admin/$"))


@contextmanager
def open_journey(live_server, folder: str):
    """A Journey in a fresh browser; on a failure, a screenshot and the console are kept."""
    with browser_context() as context:
        trip = Journey(context.new_page(), live_server.url, folder)
        try:
            yield trip
        except BaseException:
            trip.shot("FAILED")
            print("browser console:", *trip.console, sep="\n  ")
            raise

"""E2E fixtures: one headless Chromium for the e2e package, a fresh browser context per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, Page, Response, sync_playwright

from tests.factories import PASSWORD
from vma.models import User

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # runs as root in the CI container
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    # Playwright's sync API keeps an asyncio event loop running in this thread for as long as it
    # is started. Django's async-safety guard sees that loop and refuses every ORM call of the test
    # thread (factories, assertions, the flush between live-server tests) with
    # SynchronousOnlyOperation. No coroutine of ours touches the ORM: the loop only serves
    # Playwright between our blocking calls, and the live server answers from its own thread. So
    # the guard is lifted, but only while the browser runs, so tests outside tests/e2e keep it.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()


@dataclass
class BrowserProblems:
    """What went wrong in the page that a test's own assertions would not see."""

    js_errors: list[str] = field(default_factory=list)
    broken_assets: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda exc: self.js_errors.append(str(exc)))
        page.on("response", self._check_asset)

    def _check_asset(self, response: Response) -> None:
        if "/static/" in response.url and response.status >= 400:
            self.broken_assets.append(f"{response.status} {response.url}")


@pytest.fixture
def problems() -> BrowserProblems:
    return BrowserProblems()


@pytest.fixture
def page(browser: Browser, live_server, problems: BrowserProblems) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems.watch(page)
    yield page
    context.close()


def log_in(page: Page, user: User, password: str = PASSWORD) -> Response | None:
    """Sign in through the login form, as a person would; returns the response to the POST."""
    page.goto("/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", password)
    with page.expect_navigation() as nav:
        page.click("button[type=submit]:has-text('Sign in')")
    return nav.value

"""Headless Chromium for the browser tests: the system's chromium and chromedriver via Selenium."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

#: axe-core, vendored (tests/assets/axe-core/README.md): the audit needs no network.
AXE = Path(__file__).parent / "assets" / "axe-core" / "axe.min.js"
AXE_SHA256 = "880970c081707360e64f34cea25ff91892f5bc95675b0776925b9709dd8a68bb"
#: What the audit fails on; "moderate" and "minor" findings are reported, not failed.
AXE_FAILING = ("serious", "critical")
AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ["violations"]}).then(
  (r) => done(r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" "))}))),
  (e) => done([{id: "axe-error", impact: "critical", help: String(e), nodes: []}]));
"""

CHROMIUM_FLAGS = (
    "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
    "--disable-background-networking --disable-component-update --disable-sync"
).split()


def start_chromium(required: bool) -> Any:
    """A WebDriver for /usr/bin/chromium; skips (or fails when ``required``) if it is missing."""
    chromium = shutil.which("chromium")
    chromedriver = shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        chromium = None
    if chromium is None or chromedriver is None:
        message = "chromium, chromium-driver (Debian) and selenium are needed for browser tests"
        if required:
            pytest.fail(message + " (UWS_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='uws-chromium-')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager never downloads a browser or a driver.
    return webdriver.Chrome(options=options, service=Service(chromedriver))


class Browser:
    """The client's pages on one live server, with the waits and checks the tests share."""

    def __init__(self, driver: Any, base: str, artifacts: Path) -> None:
        self.driver = driver
        self.base = base
        self.artifacts = artifacts
        driver.get_log("browser")  # drop messages of earlier tests

    def open(self, page: str, wait: bool = True) -> None:
        self.driver.get(f"{self.base}/client/static/{page}")
        if wait:
            self.wait(lambda d: d.execute_script("return document.readyState") == "complete")

    def wait(self, condition: Callable[[Any], Any], timeout: float = 10.0) -> Any:
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(
            self.driver,
            timeout,
            poll_frequency=0.05,
            ignored_exceptions=(StaleElementReferenceException,),
        ).until(condition)

    def css(self, selector: str) -> Any:
        return self.driver.find_element("css selector", selector)

    def wait_css(self, selector: str, timeout: float = 10.0) -> Any:
        def found(driver: Any) -> Any:
            elements = driver.find_elements("css selector", selector)
            return elements[0] if elements and elements[0].is_displayed() else None

        return self.wait(found, timeout)

    def log_in(self, user: str, password: str) -> None:
        """Fill in and send the login form of the page shown (login.html)."""
        self.wait_css("#username").send_keys(user)
        self.css("#password").send_keys(password)
        self.css("#submit").click()

    def session_cookie(self) -> str | None:
        """The session cookie (WebDriver sees HttpOnly cookies; the page's scripts do not)."""
        cookie = self.driver.get_cookie("uws_session")
        return str(cookie["value"]) if cookie else None

    def fetch_status(self, path: str) -> int:
        """The status of a GET sent from the page with its cookies, as the client sends it."""
        return int(
            self.driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "fetch(arguments[0], {headers: {'X-Requested-With': 'XMLHttpRequest'}})"
                ".then((r) => done(r.status), () => done(0));",
                path,
            )
        )

    def rows(self) -> list[Any]:
        return self.driver.find_elements("css selector", "#jobs tbody tr")

    def phases(self) -> list[str]:
        return [row.get_attribute("data-phase") for row in self.rows()]

    def select(self, selector: str, value: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.css(selector)).select_by_value(value)

    def mark_page(self) -> None:
        """Mark the loaded document; page_marked() is False after any reload or navigation."""
        self.driver.execute_script("window.uwsTestMark = 1")

    def page_marked(self) -> bool:
        return bool(self.driver.execute_script("return window.uwsTestMark === 1"))

    def alert_text(self) -> str | None:
        from selenium.common.exceptions import NoAlertPresentException

        try:
            return str(self.driver.switch_to.alert.text)
        except NoAlertPresentException:
            return None

    def horizontal_overflow(self) -> int:
        return int(
            self.driver.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth"
            )
        )

    def tab_until(self, predicate: Callable[[Any], bool], limit: int = 40) -> None:
        for _ in range(limit):
            self.driver.switch_to.active_element.send_keys("\ue004")  # Tab
            if predicate(self.driver.switch_to.active_element):
                return
        raise AssertionError("the element was not reached with the Tab key")

    def errors(self) -> list[str]:
        """JavaScript errors and CSP violations logged since the last call."""
        return [
            e["message"]
            for e in self.driver.get_log("browser")
            if e["level"] == "SEVERE" and "favicon" not in e["message"]
        ]

    def color_scheme(self, scheme: str) -> None:
        """Emulate the system's light or dark setting (prefers-color-scheme)."""
        self.driver.execute_cdp_cmd(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
        )

    def axe(self) -> list[dict[str, Any]]:
        """axe-core's violations on the page shown (injected by WebDriver, not by the page:
        the client's CSP allows no foreign script, and DevTools evaluation is not subject to it)."""
        source = AXE.read_bytes()
        assert hashlib.sha256(source).hexdigest() == AXE_SHA256, "tests/assets/axe-core changed"
        if not self.driver.execute_script("return typeof window.axe === 'object'"):
            self.driver.execute_script(source.decode("utf-8"))
        self.driver.set_script_timeout(60)
        return list(self.driver.execute_async_script(AXE_RUN))

    def shot(self, name: str) -> Path:
        """Save a screenshot as test-artifacts/<name>.png (git-ignored)."""
        self.artifacts.mkdir(exist_ok=True)
        time.sleep(0.2)  # let the last update paint
        path = self.artifacts / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

"""A real headless Chromium for the web console's tests, driven by Selenium through Debian's chromium-driver.

Nothing is ever downloaded: Selenium is pointed at the installed browser and driver (Selenium Manager is never
asked, and SE_OFFLINE forbids it anyway). Without them the tests skip, saying how to install them, unless
HOOKPIPE_REQUIRE_BROWSER=1 (CI), where a missing browser fails the test instead.

`Browser` keeps what a console test needs beside the driver: every request each page made (Chromium's
performance log), so a test can hold the console to its own origin; screenshots into one folder; and waits that
poll a condition with a time-out instead of sleeping.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest

T = TypeVar("T")

#: The browser and its driver, as Debian's chromium and chromium-driver packages install them.
CHROMIUM = Path(os.environ.get("HOOKPIPE_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("HOOKPIPE_CHROMEDRIVER", "/usr/bin/chromedriver"))

#: How to get them, as a skip or failure says it.
INSTALL_HINT = "apt-get install -y --no-install-recommends chromium chromium-driver"

#: Set to 1 (CI, `make test` under .ci/run) and a missing browser fails the browser tests instead of skipping them.
REQUIRE_ENV = "HOOKPIPE_REQUIRE_BROWSER"

#: The folder screenshots are saved into; unset: the test's own temporary folder.
SCREENSHOTS_ENV = "HOOKPIPE_SCREENSHOTS"

#: Chromium's switches: headless, no sandbox (tests run as root in containers), and nothing that reaches the
#: network by itself (updates, sync, QUIC probes, first-run pages), so every request logged is the page's own.
CHROMIUM_SWITCHES = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,900",
)

#: Seconds a wait for a page, an element or a condition gets by default before it fails the test.
WAIT_TIMEOUT = 10.0

#: Seconds between two looks at a condition.
POLL_INTERVAL = 0.05

#: The name of the window property submit() sets on the page it leaves.
_OLD_PAGE_MARK = "hookpipeTestLeftPage"

#: Seconds chromedriver gets to answer one command (a page load included) before Selenium gives up.
COMMAND_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Viewport:
    """A CSS viewport in pixels; `mobile` makes Chromium honour the page's `<meta name="viewport">` as a phone."""

    width: int
    height: int
    mobile: bool = False


#: A laptop: every screenshot but the phone one.
DESKTOP = Viewport(1280, 900)

#: A phone (iPhone 12-15 in CSS pixels), at one device pixel per CSS pixel to keep the PNG small.
PHONE = Viewport(390, 844, mobile=True)


def browser_problem() -> str | None:
    """Why the browser tests cannot run here (what is missing and how to install it), or None."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        return f"{' and '.join(missing)} missing: {INSTALL_HINT}"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium missing: .venv/bin/pip install -e '.[dev]'"
    return None


def require_browser() -> None:
    """Skip the calling test (fail it when HOOKPIPE_REQUIRE_BROWSER=1) if the browser cannot run here."""
    problem = browser_problem()
    if problem is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 and the browser tests cannot run: {problem}", pytrace=False)
    pytest.skip(f"browser tests need Chromium: {problem}")


def screenshot_folder(default: Path) -> Path:
    """HOOKPIPE_SCREENSHOTS (created if need be), else `default` (such as a folder of pytest's tmp_path)."""
    configured = os.environ.get(SCREENSHOTS_ENV)
    folder = Path(configured) if configured else default
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def start_chromium(profile: Path) -> Any:
    """A headless Chromium (a Selenium WebDriver) with an empty profile in `profile` and its performance log on."""
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager never downloads a driver or a browser
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.remote.remote_connection import RemoteConnection

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for switch in (*CHROMIUM_SWITCHES, f"--user-data-dir={profile}"):
        options.add_argument(switch)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    # A driver path given to the Service is used as it is: Selenium Manager is not consulted at all.
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    executor = driver.command_executor
    assert isinstance(executor, RemoteConnection)
    executor.client_config.timeout = COMMAND_TIMEOUT  # read on every command
    driver.set_page_load_timeout(COMMAND_TIMEOUT)
    return driver


def wait_until(condition: Callable[[], T | None], what: str, timeout: float = WAIT_TIMEOUT,
               detail: Callable[[], str] | None = None) -> T:
    """Poll `condition` until it returns something truthy, and return that; after `timeout` seconds fail with
    `what` (and `detail()`, such as what the page shows)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}" + (f"\n{detail()}" if detail else ""))
        time.sleep(POLL_INTERVAL)


@dataclass(slots=True)
class Request:
    """One request the page made: its URL, method, resource type (Document, Script, Fetch...) and the HTTP status
    of its answer (None while none came, as for a request the browser blocked)."""

    url: str
    method: str
    kind: str
    status: int | None = None


@dataclass(slots=True)
class NetworkLog:
    """Every request read from Chromium's performance log and not yet taken; redirects are requests of their own."""

    pending: list[Request] = field(default_factory=list)
    _latest: dict[str, Request] = field(default_factory=dict)  # by DevTools requestId, the last of its chain

    def read(self, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            if message.get("method") == "Network.requestWillBeSent":
                redirected = self._latest.get(params["requestId"])
                if redirected is not None and "redirectResponse" in params:
                    redirected.status = int(params["redirectResponse"]["status"])
                request = Request(params["request"]["url"], params["request"]["method"], params.get("type", ""))
                self._latest[params["requestId"]] = request
                self.pending.append(request)
            elif message.get("method") == "Network.responseReceived":
                answered = self._latest.get(params["requestId"])
                if answered is not None:
                    answered.status = int(params["response"]["status"])

    def take(self) -> list[Request]:
        taken, self.pending = self.pending, []
        return taken


class Browser:
    """A Chromium driver on one origin (`origin`: scheme, host and port of the console).

    open() loads a path and waits for the document; find(), find_all() and wait_for() read the page;
    own_origin_only() asserts every request since its last call went to `origin` (or was a `data:` URL);
    screenshot() saves the viewport as `{name}.png` in `screenshots`.
    """

    def __init__(self, driver: Any, origin: str, screenshots: Path) -> None:
        self.driver = driver
        self.origin = origin.rstrip("/")
        self.screenshots = screenshots
        self.network = NetworkLog()
        self._viewport(DESKTOP)
        driver.get("about:blank")
        driver.get_log("performance")  # the start page's requests are Chromium's, not the console's
        driver.get_log("browser")

    # Pages

    def open(self, path: str) -> None:
        """Load `origin + path` and wait until the document is complete."""
        self.driver.get(self.origin + path)
        self.wait_loaded()

    def reload(self) -> None:
        self.driver.refresh()
        self.wait_loaded()

    def wait_loaded(self, timeout: float = WAIT_TIMEOUT) -> None:
        wait_until(lambda: self.driver.execute_script("return document.readyState") == "complete",
                   "the page to load", timeout, self.describe)

    @property
    def path(self) -> str:
        """The current URL's path and query."""
        parts = urlsplit(self.driver.current_url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def find(self, css: str) -> Any:
        """The first element matching `css` (NoSuchElementException if none)."""
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str, within: Any = None) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list((within or self.driver).find_elements(By.CSS_SELECTOR, css))

    def wait_for(self, css: str, timeout: float = WAIT_TIMEOUT) -> Any:
        """The first element matching `css` once the page has one."""
        return wait_until(lambda: next(iter(self.find_all(css)), None), f"an element {css!r} on {self.path}",
                          timeout, self.describe)

    def text(self, css: str = "body") -> str:
        return str(self.find(css).text)

    def describe(self) -> str:
        """The URL and the start of the page's text, for failure messages."""
        try:
            body = self.driver.execute_script("return document.body ? document.body.innerText : ''") or ""
        except Exception as error:  # the page is mid-load or gone: say so instead of hiding the first failure
            body = f"({error.__class__.__name__} reading the page)"
        return f"at {self.driver.current_url}:\n{body[:2000]}"

    def submit(self, form: Any, button_text: str | None = None) -> None:
        """Press `form`'s submit button (the one whose text is `button_text`, if given) and wait for the page that
        answers (a new document replaces the form's)."""
        buttons = self.find_all("button[type=submit], button:not([type]), input[type=submit]", within=form)
        if button_text is not None:
            buttons = [b for b in buttons if (b.text or b.get_attribute("value") or "").strip() == button_text]
        assert buttons, f"no submit button {button_text or ''!r} in the form; {self.describe()}"
        # A mark on this document's window: the page that answers is a new document, without it.
        self.driver.execute_script(f"window.{_OLD_PAGE_MARK} = true")
        buttons[0].click()
        wait_until(self._new_page_loaded, f"the page answering {button_text or 'the form'}", WAIT_TIMEOUT,
                   self.describe)

    def _new_page_loaded(self) -> bool:
        from selenium.common.exceptions import WebDriverException

        try:
            return bool(self.driver.execute_script(
                f"return document.readyState === 'complete' && !window.{_OLD_PAGE_MARK}"))
        except WebDriverException:  # between two documents
            return False

    # Network

    def requests(self) -> list[Request]:
        """Every request since the last own_origin_only() (drains Chromium's log into the pending list)."""
        self.network.read(self.driver.get_log("performance"))
        return list(self.network.pending)

    def last_document_status(self) -> int | None:
        """The HTTP status of the last page (Document request) loaded."""
        documents = [r for r in self.requests() if r.kind == "Document"]
        assert documents, f"no page loaded yet; {self.describe()}"
        return documents[-1].status

    def own_origin_only(self) -> list[Request]:
        """Assert that every request since the last call went to the console's origin or was a `data:` URL, and
        that the page's Content-Security-Policy refused nothing meanwhile (an inline script or style, a foreign
        asset); return the requests (then forget them)."""
        self.requests()
        made = self.network.take()
        foreign = [f"{r.method} {r.url}" for r in made if not (_same_origin(r.url, self.origin)
                                                                or r.url.startswith("data:"))]
        assert not foreign, f"requests outside {self.origin}: {foreign}"
        refused = [entry["message"] for entry in self.driver.get_log("browser")
                   if "Content Security Policy" in entry.get("message", "")]
        assert not refused, f"refused by the page's Content-Security-Policy: {refused}"
        return made

    # Screenshots

    def screenshot(self, name: str, viewport: Viewport = DESKTOP, show: str | None = None) -> Path:
        """The viewport as `{screenshots}/{name}.png`, at `viewport`'s size (the desktop size is put back), scrolled
        so that the bottom of the element `show` (a CSS selector) is in view, if given."""
        path = self.screenshots / f"{name}.png"
        with self.at(viewport):
            if show is not None:
                self.driver.execute_script("arguments[0].scrollIntoView({block: 'end'})", self.find(show))
            assert self.driver.save_screenshot(str(path)), f"no screenshot saved at {path}"
            if show is not None:
                self.driver.execute_script("window.scrollTo(0, 0)")
        return path

    @contextmanager
    def at(self, viewport: Viewport) -> Iterator[None]:
        """The page at `viewport`'s size meanwhile, then at the desktop size again."""
        if viewport == DESKTOP:
            yield
            return
        self._viewport(viewport)
        try:
            yield
        finally:
            self._viewport(DESKTOP)

    def _viewport(self, viewport: Viewport) -> None:
        # Emulation sets the page's viewport exactly; the window's size alone leaves less (headless keeps room
        # for a toolbar it never draws).
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": viewport.width, "height": viewport.height, "deviceScaleFactor": 1, "mobile": viewport.mobile})
        # The layout viewport's width (a phone widens innerWidth to fit a page wider than itself).
        wait_until(lambda: self.driver.execute_script("return document.documentElement.clientWidth")
                   == viewport.width, f"a {viewport.width}px wide viewport", WAIT_TIMEOUT, self.describe)

    def quit(self) -> None:
        self.driver.quit()


def _same_origin(url: str, origin: str) -> bool:
    parts, own = urlsplit(url), urlsplit(origin)
    return (parts.scheme, parts.netloc) == (own.scheme, own.netloc)


def first_number(text: str) -> int | None:
    """The first whole number in `text` (such as a queue depth cell's), or None."""
    match = re.search(r"\d[\d,]*", text)
    return int(match.group().replace(",", "")) if match else None


@contextmanager
def chromium_profile() -> Iterator[Path]:
    """A new, empty Chromium profile folder, deleted afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="hookpipe-chromium-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)

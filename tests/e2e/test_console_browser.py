"""The web console of `hookpipe admin` in a real headless Chromium, beside a live pipeline (ingest, router,
deliverer and admin as processes, the real broker, a receiver whose answers each test writes): signing in and
out, an event's attempts and a resend, pausing and resuming a destination, replaying a dead letter, testing the
routes, bad input answered with an alert and a form without its CSRF value refused, the events list updating
itself and fitting a phone. After every page, every request the browser made went to the console's own origin
and its Content-Security-Policy refused nothing. Each page is saved as a screenshot (HOOKPIPE_SCREENSHOTS;
`make console-screenshots` writes them into docs/images/console).

One pipeline and one browser serve the whole module. The tests run in file order, each posting events of its own,
and the later ones see what the earlier ones left (the events page lists every event posted before it). The
browser is driven from the test's thread, so the receiver answers from an event loop in a thread of its own.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import json
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

from tests.support.browser import (
    PHONE,
    Browser,
    chromium_profile,
    first_number,
    require_browser,
    screenshot_folder,
    start_chromium,
    wait_until,
)
from tests.support.pipeline import delete_topology, new_prefix, pipeline_config, post_events
from tests.support.processes import ServiceProcess, admin_process, admin_section
from tests.support.receiver import Receiver
from tests.support.service_set import ServiceSet

pytestmark = pytest.mark.e2e

T = TypeVar("T")

TOKEN = "e2e-console-token-0123456789abcdef"
SESSION_COOKIE = "hookpipe_session"

#: Seconds a test waits for the pipeline and the index to show what it did (a reload of the page each look).
SETTLE_TIMEOUT = 30.0

#: Seconds the events page gets to update itself (console.js asks for new rows every 5 s).
LIVE_TIMEOUT = 12.0

#: Seconds a coroutine run on the receiver's loop gets (start-ups included).
LOOP_TIMEOUT = 90.0


class EventLoopThread:
    """An asyncio loop running in a thread of its own: the receiver answers there while the test's thread waits on
    the browser."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="console-test-loop", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = LOOP_TIMEOUT) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class ScriptedReceiver:
    """Answers an event's n-th request with the n-th status of its script (200 past its end, or with no script),
    and keeps per webhook-id every status it answered."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[int]] = {}
        self.answered: dict[str, list[int]] = collections.defaultdict(list)

    async def respond(self, request: web.Request, _: int) -> web.StreamResponse:
        event_id = request.headers["webhook-id"]
        script = self.scripts.get(event_id, [])
        seen = len(self.answered[event_id])
        status = script[seen] if seen < len(script) else 200
        self.answered[event_id].append(status)
        return web.Response(status=status, text="ok" if status < 300 else "scripted failure")


class Console:
    """The module's pipeline, the receiver's script, the browser on the console, and the folder of the services'
    logs."""

    def __init__(self, loop: EventLoopThread, config: dict[str, Any], receiver: ScriptedReceiver,
                 browser: Browser, logs: Path) -> None:
        self.loop = loop
        self.config = config
        self.receiver = receiver
        self.browser = browser
        self.logs = logs

    def describe(self) -> str:
        """What the page shows and the end of admin's log, for failure messages."""
        admin_log = self.logs / "admin.log"
        tail = admin_log.read_text(errors="replace")[-2000:] if admin_log.exists() else "(no log)"
        return f"{self.browser.describe()}\n--- admin.log (every log in {self.logs}):\n{tail}"

    def post(self, ids: list[str], source: str = "demo", script: list[int] | None = None) -> None:
        """POST one event per id to `source`; the receiver answers each as `script` says."""
        for event_id in ids:
            self.receiver.scripts[event_id] = list(script or [])
        self.loop.run(post_events(self.config, ids, body=b'{"type": "order.paid", "total": 12}', source=source))

    def wait_answered(self, event_id: str, statuses: list[int], timeout: float = SETTLE_TIMEOUT) -> None:
        """Until the receiver has answered `event_id` with exactly `statuses`, in order."""
        wait_until(lambda: self.receiver.answered.get(event_id) == statuses,
                   f"the receiver answering {event_id} {statuses}", timeout,
                   lambda: f"answered so far: {self.receiver.answered.get(event_id)}; logs in {self.logs}")

    def sign_in(self) -> None:
        """Sign in with the right token, unless the browser already holds a session."""
        if self.browser.driver.get_cookie(SESSION_COOKIE) is None:
            self.browser.open("/login")
            self.browser.find("#token").send_keys(TOKEN)
            self.browser.submit(self.browser.find("form#login"), "Sign in")
        assert self.browser.driver.get_cookie(SESSION_COOKIE) is not None, self.browser.describe()

    def reload_until(self, condition: Callable[[], T | None], what: str, timeout: float = SETTLE_TIMEOUT) -> T:
        """Reload the page until `condition()` is truthy (the index catches up within a second or so)."""

        def look() -> T | None:
            try:
                result = condition()
            except (NoSuchElementException, StaleElementReferenceException):  # not there yet, or just replaced
                result = None
            if not result:
                self.browser.reload()
            return result

        return wait_until(look, what, timeout, self.describe)


def console_config(prefix: str, receiver_url: str, directory: Path) -> dict[str, Any]:
    """Source `demo` to destination `receiver` (route `demo`), source `orders` to destination `audit` (route
    `orders`), each event's type from its body's `type`, archive on, and breakers that never open (the tests fail
    deliveries on purpose)."""
    config = pipeline_config(prefix, receiver_url, archive={"max_age": "1h", "max_bytes": "1GiB"},
                             admin=admin_section(TOKEN, directory))
    config["destinations"]["receiver"]["breaker"] = {"failures": 1_000_000}
    config["sources"]["demo"]["type"] = {"json": "$.type"}
    config["destinations"]["audit"] = copy.deepcopy(config["destinations"]["receiver"])
    config["sources"]["orders"] = copy.deepcopy(config["sources"]["demo"])
    config["routes"].append({"name": "orders", "sources": ["orders"], "to": ["audit"]})
    return config


@contextlib.contextmanager
def running_pipeline(loop: EventLoopThread, directory: Path) -> Iterator[tuple[dict[str, Any], ScriptedReceiver]]:
    """The receiver, the three services and hookpipe admin, each stopped (and the topology deleted) afterwards."""
    scripted = ScriptedReceiver()

    async def start_receiver() -> Receiver:
        receiver = Receiver(scripted.respond)
        await receiver.start()
        return receiver

    receiver = loop.run(start_receiver())
    config = console_config(new_prefix(), receiver.url, directory)
    services = ServiceSet(config, directory)
    admin: ServiceProcess | None = None
    try:
        loop.run(services.start())
        admin = admin_process(services.config_path, config, directory)
        admin.start()
        loop.run(admin.wait_ready(60))
        yield config, scripted
    finally:
        try:
            if admin is not None:
                admin.terminate()
            loop.run(services.stop())
        finally:
            services.kill_all()
            loop.run(receiver.stop())
            loop.run(delete_topology(config))


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    require_browser()
    directory = tmp_path_factory.mktemp("console")
    loop = EventLoopThread()
    try:
        with running_pipeline(loop, directory) as (config, receiver), chromium_profile() as profile:
            screenshots = screenshot_folder(directory / "screenshots")
            browser = Browser(start_chromium(profile), f"http://{config['admin']['listen']}", screenshots)
            try:
                yield Console(loop, config, receiver, browser, directory)
            finally:
                browser.quit()
    finally:
        loop.close()


def attempts_of(browser: Browser, destination: str) -> list[tuple[str, str, str]]:
    """(data-attempt, data-status, data-resend) of each attempt row of `destination`'s delivery, in page order."""
    rows = browser.find_all(f'section.delivery[data-destination="{destination}"] table.attempts tr.attempt')
    return [(row.get_attribute("data-attempt"), row.get_attribute("data-status"), row.get_attribute("data-resend"))
            for row in rows]


def assert_alert(browser: Browser, status: int, *words: str) -> str:
    """The page answered `status` with an alert naming each of `words`, and no traceback; its text."""
    alert = browser.wait_for('p[role="alert"].error')
    assert browser.last_document_status() == status, browser.describe()
    text = str(alert.text)
    assert all(word.lower() in text.lower() for word in words), (words, text)
    assert "Traceback" not in browser.driver.page_source, browser.describe()
    return text


#: JavaScript: a CSS path of each element whose right edge is past the viewport's (the deepest ones only, and none
#: inside a box that scrolls or clips them, as a wide table in a scrolling box is).
STICKING_OUT = """
const width = document.documentElement.clientWidth, out = [];
const clipped = element => {
  for (let node = element.parentElement; node && node !== document.body; node = node.parentElement)
    if (getComputedStyle(node).overflowX !== 'visible') return true;
  return false;
};
for (const element of document.querySelectorAll('body *')) {
  if (element.getBoundingClientRect().right <= width + 0.5 || clipped(element)) continue;
  if ([...element.children].some(child => child.getBoundingClientRect().right > width + 0.5)) continue;
  const path = [];
  for (let node = element; node && node !== document.body; node = node.parentElement)
    path.unshift(node.tagName.toLowerCase() + (node.id ? '#' + node.id : '')
                 + (node.getAttribute('name') ? `[name=${node.getAttribute('name')}]` : ''));
  out.push(path.join(' > ') + ` (right edge ${Math.round(element.getBoundingClientRect().right)}px)`);
}
return out.slice(0, 10);
"""


def assert_notice(browser: Browser) -> str:
    """The page an action answered with (after its redirect) says what was done; its text."""
    return str(browser.wait_for('p[role="status"].notice').text)


def test_a_wrong_token_is_refused_and_the_right_one_signs_in(console: Console) -> None:
    browser = console.browser
    browser.driver.delete_all_cookies()
    browser.open("/events")
    assert browser.path.startswith("/login"), browser.describe()
    assert browser.find('label[for="token"]').text.strip() == "Admin token"
    assert browser.find("#token").get_attribute("type") == "password"
    browser.screenshot("login")
    browser.own_origin_only()

    browser.find("#token").send_keys("wrong-token-0123456789abcdef")
    browser.submit(browser.find("form#login"), "Sign in")
    assert_alert(browser, 401, "token")
    assert browser.driver.get_cookie(SESSION_COOKIE) is None
    browser.own_origin_only()

    browser.find("#token").clear()
    browser.find("#token").send_keys(TOKEN)
    browser.submit(browser.find("form#login"), "Sign in")
    assert browser.path.split("?")[0] == "/events", browser.describe()
    cookie = browser.driver.get_cookie(SESSION_COOKIE)
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
    assert TOKEN not in browser.driver.page_source
    assert [a.text for a in browser.find_all('header nav[aria-label="Main"] a')] == [
        "Events", "Destinations", "Dead letters", "Routes"]
    browser.own_origin_only()


def test_an_event_shows_its_three_attempts_in_order_and_a_resend_adds_a_fourth(console: Console) -> None:
    console.sign_in()
    browser = console.browser
    console.post(["evt-flaky"], script=[500, 500, 200])
    console.wait_answered("evt-flaky", [500, 500, 200])

    browser.open("/events")
    browser.find('#filters [name="source"]').send_keys("demo")
    browser.submit(browser.find("form#filters"))
    assert "source=demo" in browser.path, browser.describe()
    row = '#events tr[data-event-id="evt-flaky"]'
    console.reload_until(lambda: browser.find_all(f'{row}[data-status="delivered"]'), "evt-flaky listed delivered")
    browser.own_origin_only()

    browser.find(f'{row} a[href$="/events/evt-flaky"]').click()
    browser.wait_for("#deliveries")
    assert "evt-flaky" in browser.text("h1"), browser.describe()
    assert "demo" in browser.text("#metadata")
    assert attempts_of(browser, "receiver") == [("1", "500", "false"), ("2", "500", "false"),
                                                ("3", "200", "false")], browser.describe()
    browser.own_origin_only()

    form = browser.find('section.delivery[data-destination="receiver"] form.resend')
    assert form.find_element("css selector", 'input[name="destination"]').get_attribute("value") == "receiver"
    browser.submit(form, "Resend to receiver")
    assert_notice(browser)
    console.wait_answered("evt-flaky", [500, 500, 200, 200])
    if not browser.path.startswith("/events/evt-flaky"):
        browser.open("/events/evt-flaky")
    console.reload_until(lambda: len(attempts_of(browser, "receiver")) == 4, "a fourth attempt listed")
    assert attempts_of(browser, "receiver")[3] == ("4", "200", "true"), browser.describe()
    browser.screenshot("event", show="#deliveries")
    browser.own_origin_only()


def destination_row(browser: Browser, name: str) -> Any:
    return browser.find(f'#destinations tr[data-destination="{name}"]')


def test_a_paused_destination_holds_its_events_until_resumed(console: Console) -> None:
    console.sign_in()
    browser = console.browser
    browser.open("/destinations")
    assert destination_row(browser, "audit").get_attribute("data-paused") == "false", browser.describe()
    browser.submit(destination_row(browser, "audit").find_element("css selector", "form.pause"), "Pause audit")
    assert_notice(browser)
    if not browser.path.startswith("/destinations"):
        browser.open("/destinations")
    console.reload_until(lambda: destination_row(browser, "audit").get_attribute("data-paused") == "true",
                         "audit shown paused")

    held = ["evt-held-1", "evt-held-2", "evt-held-3"]
    console.post(held, source="orders")
    console.reload_until(
        lambda: first_number(destination_row(browser, "audit").find_element("css selector", "td.depth").text) == 3,
        "audit's queue depth at 3")
    assert not any(console.receiver.answered.get(event_id) for event_id in held), console.receiver.answered
    browser.screenshot("destinations")
    browser.own_origin_only()

    browser.submit(destination_row(browser, "audit").find_element("css selector", "form.resume"), "Resume audit")
    assert_notice(browser)
    for event_id in held:
        console.wait_answered(event_id, [200])
    if not browser.path.startswith("/destinations"):
        browser.open("/destinations")
    console.reload_until(
        lambda: destination_row(browser, "audit").get_attribute("data-paused") == "false" and first_number(
            destination_row(browser, "audit").find_element("css selector", "td.depth").text) == 0,
        "audit shown resumed with an empty queue")
    browser.own_origin_only()


def replay_form(browser: Browser, destination: str, event_id: str) -> Any:
    """The replay form of the letter's own row if it has one, else its destination's."""
    section = f'section[data-destination="{destination}"]'
    forms = browser.find_all(f'{section} tr[data-event-id="{event_id}"] form.replay') or browser.find_all(
        f"{section} form.replay")
    assert forms, f"no form.replay in {section}; {browser.describe()}"
    return forms[0]


def test_a_dead_letter_replayed_from_the_console_is_delivered(console: Console) -> None:
    console.sign_in()
    browser = console.browser
    console.post(["evt-gone"], script=[410])
    console.post(["evt-refused"], source="orders", script=[410])
    console.wait_answered("evt-gone", [410])
    console.wait_answered("evt-refused", [410])

    browser.open("/dead-letters")
    gone = 'section[data-destination="receiver"] tr[data-event-id="evt-gone"]'
    refused = 'section[data-destination="audit"] tr[data-event-id="evt-refused"]'
    console.reload_until(lambda: browser.find_all(gone) and browser.find_all(refused), "both dead letters listed")
    browser.screenshot("dead-letters")
    browser.own_origin_only()

    form = replay_form(browser, "receiver", "evt-gone")
    assert form.find_element("css selector", 'input[name="destination"]').get_attribute("value") == "receiver"
    browser.submit(form)
    assert_notice(browser)
    console.wait_answered("evt-gone", [410, 200])
    browser.open("/dead-letters")
    console.reload_until(lambda: not browser.find_all(gone) and browser.find_all(refused),
                         "evt-gone gone from the dead letters, evt-refused still there")
    browser.own_origin_only()

    browser.open("/events/evt-gone")
    console.reload_until(
        lambda: browser.find_all('section.delivery[data-destination="receiver"][data-status="delivered"]'),
        "evt-gone shown delivered")
    assert [status for _, status, _ in attempts_of(browser, "receiver")][-1] == "200", browser.describe()
    browser.own_origin_only()


def test_the_routes_page_answers_a_pasted_event(console: Console) -> None:
    console.sign_in()
    browser = console.browser
    browser.open("/routes")
    event = {"id": "evt-route", "source": "orders", "type": "order.paid", "headers": {"x-shop": "north"},
             "body": {"type": "order.paid", "total": 12}}
    browser.find("textarea#event").clear()  # it opens with an example
    browser.find("textarea#event").send_keys(json.dumps(event, indent=2))
    browser.submit(browser.find("form#route-test"), "Test")
    result = browser.wait_for("section#result")
    assert browser.last_document_status() == 200, browser.describe()
    assert "orders" in result.text and "audit" in result.text and "demo" in result.text, result.text
    browser.screenshot("routes")
    browser.own_origin_only()


def test_bad_input_on_a_form_shows_an_alert_not_a_traceback(console: Console) -> None:
    console.sign_in()
    browser = console.browser
    browser.open("/routes")
    browser.find("textarea#event").clear()
    browser.find("textarea#event").send_keys('{"id": "evt-broken", "source": ')
    browser.submit(browser.find("form#route-test"), "Test")
    assert_alert(browser, 400, "event")
    browser.own_origin_only()

    browser.open("/events")
    browser.find('#filters [name="since"]').send_keys("not-a-time")
    browser.submit(browser.find("form#filters"))
    assert_alert(browser, 400, "since")
    browser.own_origin_only()

    console.post(["evt-kept"], source="orders", script=[410])
    console.wait_answered("evt-kept", [410])
    browser.open("/dead-letters")
    kept = 'section[data-destination="audit"] tr[data-event-id="evt-kept"]'
    console.reload_until(lambda: browser.find_all(kept), "evt-kept listed as a dead letter")
    browser.submit(browser.find('section[data-destination="audit"] form.purge'), "Purge audit")  # box not ticked
    assert_alert(browser, 400, "confirm")
    browser.open("/dead-letters")
    assert browser.find_all(kept), browser.describe()
    browser.own_origin_only()


def test_a_form_without_its_csrf_value_is_refused(console: Console) -> None:
    console.sign_in()
    browser = console.browser
    browser.open("/destinations")
    form = destination_row(browser, "receiver").find_element("css selector", "form.pause")
    browser.driver.execute_script("arguments[0].querySelector('input[name=csrf]').remove()", form)
    browser.submit(form, "Pause receiver")
    assert browser.last_document_status() == 403, browser.describe()
    browser.open("/destinations")
    assert destination_row(browser, "receiver").get_attribute("data-paused") == "false", browser.describe()
    browser.own_origin_only()


def test_the_events_page_brings_new_rows_by_itself(console: Console) -> None:
    console.sign_in()
    browser = console.browser
    browser.open("/events")
    assert len(browser.find_all("#events tr[data-event-id]")) >= 6, browser.describe()
    browser.screenshot("events")
    live = browser.text("#live")
    wait_until(lambda: browser.text("#live") not in ("", live), "the live line to say the table was updated",
               LIVE_TIMEOUT, browser.describe)
    made = browser.own_origin_only()
    assert any(r.kind in ("Fetch", "XHR") and "/events/rows" in r.url and r.status == 200 for r in made), made


def test_the_events_page_fits_a_phone(console: Console) -> None:
    console.sign_in()
    browser = console.browser
    browser.open("/events")
    browser.screenshot("events-phone", PHONE)
    with browser.at(PHONE):
        overflow = browser.driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        wider = browser.driver.execute_script(STICKING_OUT)
    assert overflow <= 0, f"the events page is {overflow}px wider than a {PHONE.width}px phone: {wider}"
    browser.own_origin_only()


def test_signing_out_ends_the_session(console: Console) -> None:
    console.sign_in()
    browser = console.browser
    browser.open("/events")
    browser.submit(browser.find("form#logout"))
    assert browser.path.startswith("/login"), browser.describe()
    assert browser.driver.get_cookie(SESSION_COOKIE) is None
    browser.open("/destinations")
    assert browser.path == "/login?next=/destinations" or browser.path.startswith("/login?next=%2Fdestinations"), (
        browser.path)
    browser.own_origin_only()

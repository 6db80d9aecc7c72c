"""The dashboard's page in a real browser: Debian's chromium, headless, driven by Selenium.

The real server (uvicorn, on a thread, a free port) serves the page against the
test Redis, as the read-only ACL user. The page must load without a console
error and without fetching anything from another origin, and a message appended
through LangChain's ``RedisChatMessageHistory`` must show in its live feed, pushed
into the open page (not read on a reload or a reconnect). The time from just
before the append to the moment the row is in the DOM is recorded
(``append_to_feed_seconds``), not asserted: speed lives in ``benchmarks/``.

The browser is the system's (``/usr/bin/chromium`` and ``/usr/bin/chromedriver``,
which ``make test`` installs with apt-get): both paths are given, and Selenium
Manager is told to stay offline, so nothing is downloaded. The screenshot goes
to the test's temporary folder; with ``REDIS_MEMORY_SCREENSHOT=1`` (or when it is
missing) also to ``docs/dashboard.png``, the README's picture.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _paths import ROOT
from _waiting import wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOT = ROOT / "docs" / "dashboard.png"

pytestmark = [
    pytest.mark.standalone_only,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="Debian's chromium and chromium-driver are not installed "
        "(`make test` installs them as root: apt-get install chromium chromium-driver)",
    ),
]

from langchain_core.messages import AIMessage, HumanMessage  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from test_dashboard import POLL, reader_user, write_everything  # noqa: E402

from langchain_redis_memory import RedisChatMessageHistory  # noqa: E402
from redis_memory import RedisMemoryConfig  # noqa: E402
from redis_memory.cache import ResponseCache  # noqa: E402
from redis_memory.dashboard import ServerThread, create_app  # noqa: E402
from redis_memory.presence import Presence  # noqa: E402
from redis_memory.priorityqueue import PriorityQueue  # noqa: E402

WIDTH, HEIGHT = 1280, 900


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[webdriver.Chrome]:
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager: never download
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={WIDTH},{HEIGHT}",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    # The page's own size (the window's includes the browser's frame).
    metrics = {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        yield driver
    finally:
        driver.quit()


def _text(driver: webdriver.Chrome, element_id: str) -> str:
    return driver.execute_script(f"return document.getElementById('{element_id}').textContent")


def test_the_page_shows_a_new_message_live(
    browser, config, redis_server, tmp_path, record_property
):
    with reader_user(redis_server, config.prefix) as url:
        reader = RedisMemoryConfig(url=url, prefix=config.prefix)
        app = create_app(reader, refresh=0.5, memory_every=1.0)
        with ServerThread(app) as running:
            wait_until(lambda: app.state.dashboard.feed["ok"], **POLL)
            write_everything(config)
            browser.get(running.url)
            assert browser.title == f"redis-memory dashboard · {config.prefix}"
            wait_until(lambda: _text(browser, "page-status") == "page: live", **POLL)
            wait_until(lambda: _text(browser, "feed-status") == "feed: live", **POLL)
            wait_until(lambda: _text(browser, "redis-status") == "Redis: connected", **POLL)
            wait_until(lambda: "reader-1" in _text(browser, "teams"), **POLL)

            # The append, then the DOM polled until its row is in the feed.
            history = RedisChatMessageHistory("support:ticket-981", config=config)
            selector = '#feed li[data-scope="support:ticket-981"]'
            probe = f"return document.querySelector('{selector}') !== null"
            started = time.perf_counter()
            history.add_messages([HumanMessage("My invoice is wrong"), AIMessage("Let me check.")])
            wait_until(lambda: browser.execute_script(probe), what="the message to reach the feed")
            latency = time.perf_counter() - started
            record_property("append_to_feed_seconds", round(latency, 4))
            print(f"append-to-feed latency: {latency * 1000:.1f} ms")
            row_class, row = browser.execute_script(
                f"const row = document.querySelector('{selector}'); "
                "return [row.className, row.textContent]"
            )
            # Pushed to the open page as a feed event: the page marks (and flashes) those
            # "new"; the events a page gets on loading or reconnecting are not.
            assert row_class == "event new"
            assert _text(browser, "page-status") == "page: live"
            assert "+2 messages" in row

            _more_live_data(config)
            # Every panel shows what _more_live_data wrote.
            wait_until(lambda: "hits" in _text(browser, "cache-rate"), **POLL)
            wait_until(lambda: "measured" in _text(browser, "memory-total"), **POLL)
            wait_until(lambda: "cache" in _text(browser, "memory"), **POLL)  # measured since
            wait_until(lambda: "support:ticket-981" in _text(browser, "sessions"), **POLL)
            wait_until(lambda: "onboarding:ana" in _text(browser, "sessions"), **POLL)
            wait_until(lambda: "writer-2" in _text(browser, "teams"), **POLL)
            wait_until(lambda: "tickets" in _text(browser, "pqueues"), **POLL)
            # No row still flashing in the picture (the page's only animation).
            wait_until(
                lambda: browser.execute_script("return document.getAnimations().length === 0")
            )
            shot = tmp_path / "dashboard.png"
            assert browser.save_screenshot(str(shot))
            assert shot.stat().st_size > 10_000
            if os.environ.get("REDIS_MEMORY_SCREENSHOT") or not SCREENSHOT.exists():
                _save_small(shot, SCREENSHOT)

            # Nothing from another origin, and no console error at any point.
            origins = browser.execute_script(
                "return performance.getEntriesByType('resource').map(e => new URL(e.name).origin)"
            )
            assert set(origins) <= {running.url.rstrip("/")}, origins
            errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
            assert errors == [], errors


def _more_live_data(config: RedisMemoryConfig) -> None:
    """What makes a screenshot worth a look: chat traffic, cache lookups, a busy team."""
    for i, session in enumerate(("support:ticket-981", "user:42", "onboarding:ana", "user:42")):
        history = RedisChatMessageHistory(session, config=config)
        history.add_messages([HumanMessage(f"question {i}"), AIMessage(f"answer {i}")])
    cache = ResponseCache("answers", config=config, publish_events=True)
    for prompt in ("What is Redis?", "What is a vector index?", "What is Redis?", "What is Redis?"):
        if cache.lookup(prompt, "gpt-4o-mini") is None:
            cache.update(prompt, "gpt-4o-mini", {"text": "..."})
    team = Presence("support", config=config, ttl=60)
    team.join("triage-1", capabilities=["triage", "en"], metadata={"model": "small"})
    team.join("writer-2", capabilities=["write", "fr"])
    queue = PriorityQueue("tickets", config=config, lease=120)
    for number, priority in ((7, 1), (8, 5), (9, 9)):
        queue.put({"ticket": number}, priority=priority, task_id=f"ticket-{number}")
    assert queue.take("triage-1") is not None


def _save_small(source: Path, target: Path) -> None:
    """The screenshot as a 256-colour PNG (a third of the size, no visible change)."""
    target.parent.mkdir(exist_ok=True)
    try:
        from PIL import Image
    except ImportError:  # Pillow comes with matplotlib (dev); without it, as it is
        shutil.copyfile(source, target)
        return
    with Image.open(source) as image:
        image.convert("RGB").quantize(colors=256, dither=Image.Dither.NONE).save(
            target, optimize=True
        )

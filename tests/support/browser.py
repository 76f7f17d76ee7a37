"""Real-browser fixtures: the app served on a real socket, and Debian's Chromium driven by Playwright.

``live_server`` serves the test's own ``app`` (so it runs on SQLite and on PostgreSQL, and sees what the
``session`` and ``make_*`` fixtures commit) under werkzeug in a thread, on 127.0.0.1 and a free port.
One Chromium serves the whole run (``chromium``, session-scoped), handed to each test as ``browser``;
``page`` is a fresh context (no cookies) per test, with ``base_url`` set, so ``page.goto("/")`` opens
the home page.

The fixtures are defined here, not in a conftest, because browser tests live in two places
(``tests/browser/`` and the page checks in ``tests/``). A module that needs them imports them::

    from tests.support.browser import (  # noqa: F401
        browser_fixture, chromium_fixture, live_server_fixture, page_fixture)

Several modules may import them: they all share one Chromium (see ``_SharedChromium``).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tests.support.require_all import missing

CHROMIUM_ENV = "CANDOR_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
TIMEOUT_MS = 10_000


# --- the app on a real socket ----------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request (pytest would show hundreds on a failure); errors still log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class LiveServer:
    """``app`` under werkzeug's threaded server, on 127.0.0.1 and a port the OS picks."""

    def __init__(self, app: Flask) -> None:
        self._app = _InFlight(app)
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, self._app, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self._server.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"live-server-{self._server.port}",
            daemon=True,
        )

    def __enter__(self) -> LiveServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        # shutdown() stops the accept loop; request threads are daemons, so a keep-alive connection
        # Chromium still holds cannot hang the run. server_close() releases the listening socket.
        self._server.shutdown()
        # A request Chromium sent just before its context closed (an autosave, a preview) may still be
        # inside the app: let it finish, so its database connection goes back to the pool before the
        # test disposes of the engine (else it is left open, and garbage-collected in a later test).
        self._app.wait_idle(timeout=10)
        self._server.server_close()
        self._thread.join(timeout=10)


class _InFlight:
    """The app, counting the requests inside it (Flask has closed a request's session when it returns)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._busy = 0
        self._idle = threading.Condition()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        with self._idle:
            self._busy += 1
        try:
            return self.app(environ, start_response)
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0, timeout=timeout)


# --- one Chromium for the run ----------------------------------------------------------------------


def chromium_executable() -> str:
    """Where Chromium is: $CANDOR_CHROMIUM, else /usr/bin/chromium. Skips (or fails, in CI) if absent."""
    wanted = os.environ.get(CHROMIUM_ENV, "").strip() or DEFAULT_CHROMIUM
    found = shutil.which(wanted)
    if found is None:
        source = f"${CHROMIUM_ENV}" if os.environ.get(CHROMIUM_ENV, "").strip() else "the default path"
        missing(
            f"browser tests need Chromium, and there is none at {wanted} ({source}); "
            f"install Debian's chromium or set {CHROMIUM_ENV}"
        )
    return found


class _SharedChromium:
    """Playwright and Chromium, started on first use and stopped when the last user lets go.

    Playwright's sync API runs its own asyncio loop on a greenlet; two of them in one thread do not mix,
    so every fixture definition, wherever it was imported, takes this one instance.

    Between two sync calls Playwright leaves its loop marked as the thread's *running* loop. Left so for
    the rest of the run, every later test calling ``asyncio.run()`` (or anything built on it) would fail
    with "cannot be called from a running event loop". So the mark is held only while a browser test
    runs (``in_use``), and cleared in between.
    """

    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._users = 0

    def acquire(self) -> Browser:
        if self._browser is None:
            executable = chromium_executable()
            playwright = sync_playwright().start()
            try:
                self._browser = playwright.chromium.launch(
                    executable_path=executable, headless=True, args=CHROMIUM_ARGS, timeout=60_000
                )
            except BaseException:
                playwright.stop()
                raise
            finally:
                asyncio._set_running_loop(None)
            self._playwright = playwright
        self._users += 1
        return self._browser

    def release(self) -> None:
        self._users -= 1
        if self._users > 0 or self._playwright is None:
            return
        with self.in_use():
            if self._browser is not None:
                self._browser.close()
                self._browser = None
            self._playwright.stop()
            self._playwright = None

    @contextmanager
    def in_use(self) -> Iterator[None]:
        """Let Playwright's loop count as running in this thread for the duration, and only then."""
        assert self._playwright is not None
        asyncio._set_running_loop(self._playwright._loop)  # type: ignore[attr-defined]
        try:
            yield
        finally:
            asyncio._set_running_loop(None)


_chromium = _SharedChromium()


# --- screenshots -----------------------------------------------------------------------------------


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG as test-output/screenshots/<name>.png and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name).strip('-')}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="session", name="chromium")
def chromium_fixture() -> Iterator[Browser]:
    """The one Chromium of the run (launched on first use). Tests take ``browser``, not this."""
    browser = _chromium.acquire()
    try:
        yield browser
    finally:
        _chromium.release()


@pytest.fixture(name="browser")
def browser_fixture(chromium: Browser) -> Iterator[Browser]:
    """The run's Chromium, for a test that drives it (see ``_SharedChromium`` for why per test)."""
    with _chromium.in_use():
        yield chromium


@pytest.fixture(name="live_server")
def live_server_fixture(app: Flask) -> Iterator[str]:
    """The base URL (``http://127.0.0.1:<port>``) of the test's app, served for real."""
    with LiveServer(app) as server:
        yield server.url


@pytest.fixture(name="page")
def page_fixture(browser: Browser, live_server: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A new page in a new context; if the test fails, a screenshot of where it stood is kept."""
    context = browser.new_context(
        base_url=live_server, locale="en-GB", timezone_id="UTC", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    failed_before = request.session.testsfailed
    try:
        yield page
    finally:
        try:
            if request.session.testsfailed > failed_before and not page.is_closed():
                path = screenshot(page, f"failed-{request.node.nodeid}")
                print(f"screenshot of the failure: {path}")
        finally:
            context.close()


def sign_in(page: Page, email: str, password: str) -> None:
    """Sign in through the login form, as a person would, and wait for the signed-in page."""
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()

"""Browser tests: Debian's Chromium, driven by Playwright, against the app served on a real socket.

The fixtures (``chromium``, ``browser``, ``live_server``, ``page``) live in tests/support/browser.py,
so that page checks elsewhere in tests/ can share them; this file only makes them available here.
Without Chromium these tests are skipped, saying why; with CANDOR_REQUIRE_ALL=1 (CI) they fail instead.
"""

from tests.support.browser import (  # noqa: F401
    browser_fixture,
    chromium_fixture,
    live_server_fixture,
    page_fixture,
)

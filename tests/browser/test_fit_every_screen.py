"""Every page fits the screen: no reader page and no staff page scrolls sideways at 1280×900 or at 390×844.

The pages are not listed by hand: each visitor (a reader, then staff of each role) starts where they
would and follows every link on the blog's own pages, so a page nobody can reach is not checked and a page
anyone can reach is. Screenshots of the pages issue 11 named are saved under test-output/screenshots.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page

from tests.support.browser import screenshot, sign_in
from tests.support.pages import seed_site
from tests.support.trust import review_health_post
from tests.support.web import PASSWORD

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# Pages of one shape (/posts/<slug>, /staff/posts/<id>/edit ...) look alike: a few of each are enough.
PER_SHAPE = 2
MAX_PAGES = 80
SKIP = re.compile(r"^/(static|api)/|\.(atom|json|xml|txt|ico)$|^/login/oidc|^/logout")


def _shape(path: str) -> str:
    """/posts/taking-ibuprofen/history -> /posts/*/history; /staff/posts/12/edit -> /staff/posts/#/edit."""
    parts = urlsplit(path)
    segments = []
    for i, seg in enumerate(parts.path.split("/")):
        if seg.isdigit():
            segments.append("#")
        elif i == 2 and parts.path.startswith(("/posts/", "/people/", "/pages/", "/topics/")):
            segments.append("*")
        else:
            segments.append(seg)
    return "/".join(segments) + (
        "?" + "&".join(sorted(k.split("=")[0] for k in parts.query.split("&"))) if parts.query else ""
    )


def _overflow(page: Page) -> int:
    """How many pixels the document is wider than the viewport (0 when it fits)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


CULPRITS = """() => {
  const wider = (el) => el.getBoundingClientRect().right > window.innerWidth + 0.5;
  const scrolls = (el) => ['auto', 'hidden', 'scroll'].includes(getComputedStyle(el).overflowX);
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '');
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    if (!wider(el) || [...el.children].some(wider)) continue;
    let p = el.parentElement;
    while (p && !scrolls(p)) p = p.parentElement;
    if (!p) out.push(name(el) + ' ' + Math.round(el.getBoundingClientRect().right));
  }
  return out.slice(0, 5);
}"""


def _walk(page: Page, start: str) -> dict[str, dict[str, int]]:
    """Follow every same-site link from ``start``; each page's overflow at both sizes, by path."""
    seen_shapes: dict[str, int] = {}
    queued = {start}
    todo = deque([start])
    found: dict[str, dict[str, int]] = {}
    while todo and len(found) < MAX_PAGES:
        path = todo.popleft()
        page.set_viewport_size(DESKTOP)
        response = page.goto(path)
        if response is None or "text/html" not in response.headers.get("content-type", ""):
            continue
        wide = _overflow(page)
        page.set_viewport_size(PHONE)
        narrow = _overflow(page)
        found[path] = {"status": response.status, "1280": wide, "390": narrow}
        if narrow > 0:
            found[path]["culprits"] = page.evaluate(CULPRITS)
        origin = urlsplit(page.url)
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            parts = urlsplit(href)
            if (parts.scheme, parts.netloc) != (origin.scheme, origin.netloc):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target in queued or SKIP.search(parts.path):
                continue
            shape = _shape(target)
            if seen_shapes.get(shape, 0) >= PER_SHAPE:
                continue
            seen_shapes[shape] = seen_shapes.get(shape, 0) + 1
            queued.add(target)
            todo.append(target)
    return found


@pytest.fixture
def site(session, make_user, make_post, gate_settings) -> Any:
    seeded = seed_site(session, make_user, make_post, gate_settings)
    reviewer = make_user("author", name="Dr Rhea Reviewer", title="Consultant pharmacist")
    review_health_post(session, seeded.post, seeded.staff, reviewer)
    return seeded


def _too_wide(found: dict[str, dict[str, int]]) -> str:
    """'' when every page fits; else one line per page that does not, with its excess in pixels."""
    return "\n".join(
        f"{path}: {sizes['1280']} px too wide at 1280, {sizes['390']} px at 390 {sizes.get('culprits')}"
        for path, sizes in found.items()
        if sizes["1280"] > 0 or sizes["390"] > 0
    )


def test_no_reader_page_scrolls_sideways(page: Page, site: Any) -> None:
    found = _walk(page, "/")
    assert f"/posts/{site.post.slug}/history" in found and "/corrections" in found, sorted(found)
    assert _too_wide(found) == ""


@pytest.mark.parametrize("role", ["author", "editor", "moderator", "admin", "every role"])
def test_no_staff_page_scrolls_sideways(page: Page, site: Any, make_user, make_disclosure, role: str) -> None:
    if role == "every role":
        user = site.staff
    else:
        user = make_user(role, name=f"Role {role.capitalize()}")
        make_disclosure(user)
    sign_in(page, user.email, PASSWORD)
    found = _walk(page, "/staff/")
    assert "/staff/disclosure" in found, sorted(found)
    assert _too_wide(found) == ""


def test_history_shows_every_column_at_desktop_width_and_stacks_on_a_phone(page: Page, site: Any) -> None:
    path = f"/posts/{site.post.slug}/history"
    page.set_viewport_size(DESKTOP)
    page.goto(path)
    headers = page.locator("#history-table thead th")
    names = [h.strip() for h in headers.all_inner_texts()]
    assert names == ["Version", "Published", "Kind", "Note", "Written by", "Approved by", "Compare"]
    width = page.evaluate("window.innerWidth")
    for i in range(headers.count()):
        box = headers.nth(i).bounding_box()
        assert box is not None and box["width"] > 0 and box["x"] + box["width"] <= width, names[i]
        assert headers.nth(i).is_visible(), names[i]
    compare = page.get_by_role("link", name="Compare with version 1")
    assert compare.is_visible()
    box = compare.bounding_box()
    assert box is not None and box["x"] + box["width"] <= width
    screenshot(page, "history-1280")

    page.set_viewport_size(PHONE)
    page.goto(path)
    assert _overflow(page) <= 0
    # Each row is a block of labelled lines: the Approved-by and Compare lines are on screen, not clipped.
    last_row = page.locator("#history-table tbody tr").last
    for label in ("Approved by", "Compare"):
        cell = last_row.locator(f'td[data-label="{label}"]')
        box = cell.bounding_box()
        assert box is not None and box["width"] > 0 and box["x"] + box["width"] <= PHONE["width"], label
    screenshot(page, "history-390")


def test_post_page_and_the_disclosure_form_on_a_phone(page: Page, site: Any) -> None:
    page.set_viewport_size(PHONE)
    page.goto(f"/posts/{site.post.slug}")
    assert _overflow(page) <= 0
    # "Report an error" is closed until opened, and opens in place without leaving the page.
    details = page.locator("details#report-error")
    assert details.get_attribute("open") is None
    assert not page.get_by_label("What is wrong?").is_visible()
    page.get_by_text("Report an error", exact=True).click()
    assert page.get_by_label("What is wrong?").is_visible()
    assert page.url.endswith(f"/posts/{site.post.slug}")
    assert page.locator("#medical-review").is_visible()
    screenshot(page, "post-390")

    sign_in(page, site.staff.email, PASSWORD)
    page.goto("/staff/disclosure")
    assert _overflow(page) <= 0
    screenshot(page, "disclosure-390")

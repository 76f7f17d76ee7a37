"""Where the pagers' back links lead, and what address each page names (issue 15, session 28).

Going back from the first page of further comments leads to the post page at its comments, and from a
thread's first further replies to the post at that thread: the rows there have no page of their own. A
page reached by ``?after=`` names itself canonical; one reached back by ``?before=`` names its list's
first page when it is that page, else no canonical at all and ``noindex, follow`` (app/web/paging.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup

from app.accounts.models import User
from app.comments import queries
from app.posts import views as post_views
from app.posts.models import Post
from tests.support.web import parse

PUBLIC = "http://blog.example.org"


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return comments_config  # PUBLIC_URL is PUBLIC


def _head(page: BeautifulSoup) -> tuple[list[str], list[str]]:
    """The page's canonical addresses and robots directives."""
    canonical = [link["href"] for link in page.select('head link[rel="canonical"]')]
    robots = [meta["content"] for meta in page.select('head meta[name="robots"]')]
    return canonical, robots


def _link(page: BeautifulSoup, rel: str) -> str:
    found = page.select(f'p.more-comments a[rel="{rel}"], nav a[rel="{rel}"]')
    assert len(found) == 1, found
    return str(found[0]["href"])


def _comment(api: Any, post: Post, staff: User, body: str, parent: int | None = None) -> int:
    made = api.post(f"/api/v1/posts/{post.id}/comments", {"body": body, "parent_id": parent}, as_=staff)
    assert made.status_code == 201, made.get_json()
    return int(made.get_json()["id"])


@pytest.fixture
def staff(make_user: Callable[..., User]) -> User:
    return make_user("moderator", name="Malik Reyes")


def test_back_from_the_first_further_threads_is_the_post_at_its_comments(
    api: Any, client: Any, make_post: Callable[..., Post], staff: User
) -> None:
    post = make_post("published")
    for n in range(2 * queries.THREADS_PER_PAGE + 3):
        _comment(api, post, staff, f"Top-level comment {n}.")
    first = parse(client.get(f"/posts/{post.slug}"))
    second_path = first.select_one("#comments p.more-comments a")["href"]
    second = parse(client.get(second_path))
    assert _head(second) == ([PUBLIC + second_path], [])  # an after= page is its own address
    third_path = _link(second, "next")
    third = parse(client.get(third_path))
    # Back from the third page: the second page's rows again, at a second address, which says so.
    back_path = _link(third, "prev")
    assert "before" in parse_qs(urlsplit(back_path).query)
    back = client.get(back_path)
    assert back.status_code == 200
    again = parse(back)
    assert [b["id"] for b in again.select("div.comment-body")] == [
        b["id"] for b in second.select("div.comment-body")
    ]
    assert _head(again) == ([], ["noindex, follow"])
    # Back from there, and from the second page itself: the post, at its comments.
    for page in (again, second):
        answer = client.get(_link(page, "prev"))
        assert answer.status_code == 303
        assert answer.headers["Location"] == f"/posts/{post.slug}#comments"


def test_back_from_a_threads_first_further_replies_is_the_post_at_that_thread(
    api: Any, client: Any, make_post: Callable[..., Post], staff: User
) -> None:
    post = make_post("published")
    roots = [_comment(api, post, staff, f"Question {n}?") for n in range(queries.THREADS_PER_PAGE + 1)]
    for root in (roots[0], roots[-1]):  # one thread on the post page, one on the next page of threads
        for n in range(queries.REPLIES_PER_THREAD + 2):
            _comment(api, post, staff, f"Answer {n} to {root}.", parent=root)
    first = parse(client.get(f"/posts/{post.slug}"))
    more = first.select_one(f"#comment-{roots[0]} > p.more-comments a")["href"]
    replies = parse(client.get(more))
    canonical, robots = _head(replies)
    assert robots == [] and canonical == [PUBLIC + more]  # with its thread: the cursor alone is a 400
    assert parse_qs(urlsplit(canonical[0]).query)["thread"] == [str(roots[0])]
    back = client.get(_link(replies, "prev"))
    assert back.status_code == 303 and back.headers["Location"] == f"/posts/{post.slug}#comment-{roots[0]}"
    assert first.select_one(f"#comment-{roots[0]}") is not None

    # A thread on a later page of threads keeps its first replies on a page of their own (no post anchor).
    threads = parse(client.get(first.select_one("#comments > p.more-comments a")["href"]))
    later = threads.select_one(f"#comment-{roots[-1]} > p.more-comments a")["href"]
    back = client.get(_link(parse(client.get(later)), "prev"))
    assert back.status_code == 200
    shown = parse(back)
    assert len(shown.select("li.comment")) == queries.REPLIES_PER_THREAD
    assert _head(shown) == ([], ["noindex, follow"])


def test_the_home_pages_reached_back_name_the_first_page_or_no_canonical(
    client: Any, make_post: Callable[..., Post], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(post_views, "PER_PAGE", 2)  # a page size, not behaviour: 5 posts, 3 pages
    for n in range(5):
        make_post("published", title=f"Sleep, part {n}")
    first = parse(client.get("/"))
    assert _head(first) == ([f"{PUBLIC}/"], [])
    second_path = _link(first, "next")
    second = parse(client.get(second_path))
    assert _head(second) == ([PUBLIC + second_path], [])
    third = parse(client.get(_link(second, "next")))
    back_to_second = parse(client.get(_link(third, "prev")))
    assert _head(back_to_second) == ([], ["noindex, follow"])
    back_to_first = parse(client.get(_link(back_to_second, "prev")))
    assert [a.get_text() for a in back_to_first.select("ol.post-list > li")] == [
        a.get_text() for a in first.select("ol.post-list > li")
    ]
    assert _head(back_to_first) == ([f"{PUBLIC}/"], [])
    assert back_to_first.select_one('meta[property="og:url"]')["content"] == f"{PUBLIC}/"

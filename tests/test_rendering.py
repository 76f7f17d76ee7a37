"""Markdown is rendered once, safely: an allowlist, external links marked, hostile input refused with 422."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from app.errors import RenderError
from app.posts.rendering import render_markdown


def soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html5lib")


@pytest.mark.parametrize("source", [
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)">',
    "[click](javascript:alert(1))",
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    "![x](data:image/png;base64,AAAA)",
    '<iframe src="https://evil.example"></iframe>',
    '<form action="/x"><input name="a"></form>',
    '<p style="color:red">styled</p>',
    '<svg onload="alert(1)"><circle/></svg>',
    '<div onclick="x()">click</div>',
    '<a href="vbscript:msgbox(1)">x</a>',
    "<object data='x.swf'></object><embed src='x'>",
    "<style>body{display:none}</style>",
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
])
def test_dangerous_markup_never_survives(source):
    tree = soup(render_markdown(source))
    assert not tree.find_all(["script", "iframe", "form", "input", "svg", "object", "embed", "style", "meta"])
    for tag in tree.find_all(True):
        for attr, value in tag.attrs.items():
            assert not attr.startswith("on") and attr != "style", (tag, attr)
            if attr in ("href", "src"):
                assert not str(value).lower().startswith(("javascript:", "data:", "vbscript:")), value


def test_external_links_get_nofollow_noopener_and_local_links_do_not():
    tree = soup(render_markdown("[out](https://example.org/x) and [in](/posts/other)"))
    out, inner = tree.find_all("a")
    assert out["rel"] == ["nofollow", "noopener"]
    assert "rel" not in inner.attrs


def test_tables_fenced_code_and_footnotes_render():
    tree = soup(render_markdown("| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nx = 1\n```\n\nSee[^n].\n\n[^n]: A note."))
    assert [td.get_text() for td in tree.find_all("td")] == ["1", "2"]
    assert tree.find("code", class_="language-python").get_text().strip() == "x = 1"
    assert tree.find("div", class_="footnote") is not None
    assert tree.find("sup", id="fnref:n") is not None


def test_only_footnote_ids_survive():
    tree = soup(render_markdown('<p id="post-body">hijack</p>'))
    assert tree.find(id="post-body") is None


@pytest.mark.timeout(30)
@pytest.mark.parametrize("source", [
    "> " * 2000 + "deep",
    "".join("  " * i + "- item\n" for i in range(200)),
    "x" * 30_000,
    "a\n" * 150_000,
], ids=["deep-quotes", "deep-lists", "long-line", "too-long"])
def test_hostile_markdown_is_refused_with_a_reason(source):
    with pytest.raises(RenderError) as info:
        render_markdown(source)
    assert info.value.status == 422 and info.value.message


@pytest.mark.timeout(30)
@pytest.mark.parametrize("source", ["<![" * 6000, "*a" * 9000 + "\n", "[" * 9000 + "\n", "<!--" * 4000])
def test_pathological_runs_finish_within_the_budget_or_are_refused(source):
    try:
        html = render_markdown(source)
    except RenderError as exc:
        assert exc.status == 422
    else:
        assert "<script" not in html


def test_the_api_answers_422_for_unrenderable_markdown(api, make_user):
    r = api.post("/api/v1/posts", {"title": "Deep", "body": "> " * 500 + "x"}, as_=make_user("author"))
    assert r.status_code == 422
    assert r.get_json()["error"]["code"] == "unrenderable"
    assert "nested too deeply" in r.get_json()["error"]["message"]

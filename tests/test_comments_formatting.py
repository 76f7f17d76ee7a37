"""Comment formatting: the small format renders as promised, is always safe, and is linear-time.

HTML is checked by parsing it (html5lib in strict mode raises on any parse error, BeautifulSoup walks
the tree), never by substring alone. Pathological inputs run under a timeout, not a timing assertion.
"""

from __future__ import annotations

import html5lib
import pytest
from bs4 import BeautifulSoup
from hypothesis import given, settings
from hypothesis import strategies as st

from app.comments.formatting import LINK_REL, MAX_COMMENT_CHARS, count_links, render_comment

ALLOWED = {"p": set(), "br": set(), "em": set(), "strong": set(), "a": {"href", "rel"}}
_strict = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)


def check_safe(html: str) -> None:
    """Parse ``html`` strictly (a parse error raises) and check every element and attribute."""
    fragment = _strict.parseFragment(html)
    for element in fragment.iter():
        if element is fragment:
            continue
        assert element.tag in ALLOWED, element.tag
        assert set(element.attrib) <= ALLOWED[element.tag], element.attrib
        if element.tag == "a":
            assert element.attrib["href"].lower().startswith(("http://", "https://")), element.attrib
            assert element.attrib["rel"] == LINK_REL


def parse(html: str) -> BeautifulSoup:
    """``check_safe``, then the tree to assert on."""
    check_safe(html)
    return BeautifulSoup(f"<div>{html}</div>", "html5lib")


def test_paragraphs_split_on_blank_lines_and_single_newlines_become_breaks() -> None:
    soup = parse(render_comment("one\ntwo\n\n\n  \nthree\r\nfour"))
    paragraphs = soup.find_all("p")
    assert [p.get_text() for p in paragraphs] == ["one\ntwo", "three\nfour"]
    assert [len(p.find_all("br")) for p in paragraphs] == [1, 1]


def test_empty_and_blank_comments_render_nothing() -> None:
    assert render_comment("") == ""
    assert render_comment(" \n\n \t\n") == ""


@pytest.mark.parametrize(
    ("source", "tag", "text"),
    [
        ("a *word* here", "em", "word"),
        ("a _word_ here", "em", "word"),
        ("a **strong words** here", "strong", "strong words"),
    ],
)
def test_emphasis_and_strong(source: str, tag: str, text: str) -> None:
    soup = parse(render_comment(source))
    assert [t.get_text() for t in soup.find_all(tag)] == [text]
    assert soup.p.get_text() == f"a {text} here"


@pytest.mark.parametrize(
    "source",
    [
        "2 * 3 * 4",
        "snake_case_name",
        "a ** b",
        "*unclosed",
        "**unclosed",
        "* spaced *",
        "_ spaced _",
        "*across\nlines*",
        "**",
        "***",
        "____",
    ],
)
def test_things_that_are_not_emphasis_stay_as_written(source: str) -> None:
    soup = parse(render_comment(source))
    assert not soup.find_all(["em", "strong"])
    assert soup.get_text().replace("\n", "") == source.replace("\n", "")


def test_emphasis_does_not_nest() -> None:
    soup = parse(render_comment("**bold *not nested* here**"))
    assert soup.strong.get_text() == "bold *not nested* here"
    assert not soup.find_all("em")


def test_bare_urls_are_linked_without_trailing_punctuation() -> None:
    soup = parse(render_comment("See https://www.cdc.gov/flu/index.html. Or (https://example.org/a_(b)_c)!"))
    assert [a["href"] for a in soup.find_all("a")] == [
        "https://www.cdc.gov/flu/index.html",
        "https://example.org/a_(b)_c",
    ]
    assert soup.get_text() == "See https://www.cdc.gov/flu/index.html. Or (https://example.org/a_(b)_c)!"


def test_explicit_links_use_their_text() -> None:
    soup = parse(
        render_comment(
            "Read [the CDC page](https://www.cdc.gov/flu?a=1&b=2) and "
            "[Wiki](https://en.wikipedia.org/wiki/Flu_(disease))."
        )
    )
    links = soup.find_all("a")
    assert [(a.get_text(), a["href"]) for a in links] == [
        ("the CDC page", "https://www.cdc.gov/flu?a=1&b=2"),
        ("Wiki", "https://en.wikipedia.org/wiki/Flu_(disease)"),
    ]
    assert all(a["rel"] == ["nofollow", "ugc", "noopener"] for a in links)


def test_urls_inside_emphasis_are_linked() -> None:
    soup = parse(render_comment("*see https://example.org/x*"))
    assert soup.em.a["href"] == "https://example.org/x"


@pytest.mark.parametrize(
    "source",
    [
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](data:text/html;base64,PHNjcmlwdD4=)",
        "[click](vbscript:msgbox(1))",
        "[click](//evil.example/x)",
        "[click](/relative/path)",
        "javascript:alert(1)",
        '[x](https://a.com" onmouseover="alert(1))',
        "[x](https://a.com'onclick='alert(1)')",
    ],
)
def test_no_other_schemes_and_no_attribute_injection(source: str) -> None:
    soup = parse(render_comment(source))
    for a in soup.find_all("a"):
        assert a["href"].startswith("https://a.com")
        assert set(a.attrs) == {"href", "rel"}
    assert "javascript" not in " ".join(a["href"].lower() for a in soup.find_all("a"))


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        "<!-- comment --> <![CDATA[x]]> <?php ?>",
        "<p onclick=alert(1)>hi</p>",
        "&lt;script&gt; &amp; &#x3C;",
        "<style>body{}</style><iframe src=https://x.com></iframe>",
    ],
)
def test_raw_html_and_images_are_escaped_text(source: str) -> None:
    html = render_comment(source)
    soup = parse(html)
    assert not soup.find_all(["script", "img", "iframe", "style"])
    assert soup.p.get_text().replace("\n", "") == source.replace("\n", "")


def test_image_syntax_is_at_most_a_link() -> None:
    soup = parse(render_comment("![a cat](https://example.org/cat.png)"))
    assert not soup.find_all("img")
    assert soup.a["href"] == "https://example.org/cat.png"


def test_control_characters_surrogates_and_noncharacters_are_dropped() -> None:
    soup = parse(render_comment("a\x00b\x07c\x1bd\x7fe\ud800f\ufdd0g\uffffh\U0010fffei"))
    assert soup.get_text() == "abcdefghi"


def test_length_cap() -> None:
    render_comment("x" * MAX_COMMENT_CHARS)
    with pytest.raises(ValueError, match="at most 5,000 characters"):
        render_comment("x" * (MAX_COMMENT_CHARS + 1))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("no links here", 0),
        ("https://a.com and https://b.org/x", 2),
        ("[a](https://a.com) [b](https://b.com) https://c.com", 3),
        ("**https://a.com** and *[only the bare URL](https://a.com)*", 2),
        ("[x](javascript:alert(1)) http:// https://", 0),
    ],
)
def test_count_links_counts_what_render_links(source: str, expected: int) -> None:
    assert count_links(source) == expected
    assert len(parse(render_comment(source)).find_all("a")) == expected


def test_count_links_works_past_the_length_cap() -> None:
    assert count_links("https://a.com " * 1000) == 1000


PATHOLOGICAL = {
    "stars": "*" * 100_000,
    "double stars": "**" * 50_000,
    "star letter": "*a" * 50_000,
    "underscores": "_a " * 33_000,
    "open brackets": "[" * 100_000,
    "close brackets": "]" * 100_000,
    "bracket paren": "](" * 50_000,
    "link openers": "[a](" * 25_000,
    "link openers with scheme": "[a](https://x.com/(" * 5_300,
    "long url": "https://example.com/" + "a" * 100_000,
    "long url of parens": "https://example.com/" + ")" * 100_000,
    "long link": "[x](https://example.com/" + "(" * 100_000,
    "schemes": "https://" * 12_500,
    "mixed": "*_[](**__" * 11_000,
    "lines": "a\n" * 50_000,
}


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_pathological_100kb_inputs_render_in_linear_time(name: str) -> None:
    text = PATHOLOGICAL[name]
    assert len(text) >= 99_000
    html = render_comment(text, max_chars=None)
    count_links(text)
    check_safe(html)


@pytest.mark.timeout(10)
def test_pathological_inputs_at_the_cap_render_normally() -> None:
    for text in PATHOLOGICAL.values():
        check_safe(render_comment(text[:MAX_COMMENT_CHARS]))


_alphabet = st.sampled_from(
    list("ab *_[]()<>&\"'\n:/.h") + ["http://", "https://", "javascript:", "](", "**"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_alphabet, max_size=80).map("".join) | st.text(max_size=120))
def test_any_input_renders_to_a_safe_well_formed_fragment(source: str) -> None:
    soup = parse(render_comment(source))
    # Nothing is lost or invented: the visible text is the source without markup delimiters.
    visible = soup.get_text().replace("\n", "")
    assert set(visible) <= set(source.replace("\n", ""))
    assert len(soup.find_all("a")) == count_links(source)

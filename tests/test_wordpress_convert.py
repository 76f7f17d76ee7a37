"""WordPress content to Markdown: checked by rendering the Markdown as Candor does (Python-Markdown with
``extra``) and reading the HTML, and by the report of what was not converted."""

from __future__ import annotations

from pathlib import Path

import markdown
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import html as lxml_html

from app.wordpress.convert import (
    REPORT_BLOCK,
    REPORT_DROPPED,
    REPORT_HTML,
    REPORT_MORE,
    REPORT_SHORTCODE,
    REPORT_SOURCE,
    autop,
    convert,
)
from app.wordpress.records import Item
from app.wordpress.wxr import read

DATA = Path(__file__).parent / "data" / "wxr"


def _render(source: str):
    return lxml_html.fragment_fromstring(markdown.markdown(source, extensions=["extra"]), create_parent="div")


def _converted(content: str):
    text, report = convert(content)
    return text, report, _render(text)


def _kinds(report) -> list[tuple[str, str]]:
    return [(item.kind, item.name) for item in report]


def _fixture_item(post_id: int) -> Item:
    return next(r for r in read(DATA / "wxr-1.2.xml") if isinstance(r, Item) and r.post_id == post_id)


# --- autop --------------------------------------------------------------------------------------------


def test_autop_makes_paragraphs_of_blank_lines_and_breaks_of_single_newlines():
    assert autop("one\ntwo\n\nthree") == "<p>one<br />\ntwo</p>\n<p>three</p>\n"


def test_autop_leaves_block_tags_and_preformatted_text_alone():
    source = "<h2>Title</h2>\ntext\n<pre>a\n\nb</pre>\n<ul>\n<li>x</li>\n</ul>"
    out = autop(source)
    assert "<pre>a\n\nb</pre>" in out
    assert "<p><h2>" not in out and "<p><ul>" not in out and "<p><li>" not in out
    assert "<p>text</p>" in out


def test_autop_puts_a_quotes_text_in_a_paragraph_inside_it():
    assert autop("<blockquote>q1\nq2</blockquote>") == "<blockquote><p>q1<br />\nq2</p></blockquote>\n"


def test_autop_of_nothing_is_nothing():
    assert autop("  \n\n ") == "" and convert("") == ("", [])


# --- classic and block-editor content -----------------------------------------------------------------


def test_a_classic_post_keeps_its_paragraphs_and_line_breaks():
    text, report, rendered = _converted(_fixture_item(10).content)
    paragraphs = rendered.findall("p")
    assert [p.text_content() for p in paragraphs] == [
        "First paragraph with e\u0301 and \u00e9.",
        "Second line one\nsecond line two",
        "Code: if (a[b[0]]> 1) {}",
    ]
    assert paragraphs[1].find("br") is not None
    assert report == []


def test_block_editor_comments_go_and_their_content_stays_without_autop():
    text, report, rendered = _converted(_fixture_item(11).content)
    assert "wp:" not in text
    assert [child.tag for child in rendered] == ["p", "h3", "hr"]
    assert rendered.find("p/strong").text == "paragraph"
    assert rendered.findtext("h3") == "A heading"
    assert report == []


def test_block_editor_figures_become_an_image_then_its_caption():
    content = (
        '<!-- wp:image {"id":5,"sizeSlug":"large"} -->\n<figure class="wp-block-image size-large">'
        '<img src="https://blog.example/a.jpg" alt="The ward"/><figcaption>Opened in 2020</figcaption>'
        "</figure>\n<!-- /wp:image -->"
    )
    _, report, rendered = _converted(content)
    image = rendered.find(".//img")
    assert (image.get("src"), image.get("alt")) == ("https://blog.example/a.jpg", "The ward")
    assert rendered.findtext(".//em") == "Opened in 2020"
    assert report == []


def test_dynamic_blocks_and_teaser_breaks_are_reported():
    content = 'Intro<!--more-->\n\n<!-- wp:latest-posts {"postsToShow":3} /-->\nRest<!--nextpage-->End'
    text, report, rendered = _converted(content)
    assert [p.text for p in rendered.findall("p")] == ["Intro", "Rest", "End"]
    assert _kinds(report) == [
        (REPORT_MORE, "more"),
        (REPORT_MORE, "nextpage"),
        (REPORT_BLOCK, "latest-posts"),
    ]


# --- shortcodes ---------------------------------------------------------------------------------------


def test_a_caption_becomes_an_image_and_its_caption():
    text, report, rendered = _converted(_fixture_item(12).content)
    image = rendered.find(".//img")
    assert image.get("src") == "https://blog.clinic.example/wp-content/uploads/2020/01/ward.jpg"
    assert image.get("alt") == "The ward"
    assert rendered.findtext(".//em") == "The new ward"
    assert "[caption" not in text


@pytest.mark.parametrize(
    "content, caption",
    [
        ('[caption caption="Old style"]<img src="https://x.example/o.jpg" alt="o" />[/caption]', "Old style"),
        (
            '[wp_caption]<a href="https://x.example/big.jpg"><img src="https://x.example/o.jpg" /></a>'
            " Linked[/wp_caption]",
            "Linked",
        ),
    ],
    ids=["caption-attribute", "linked-image"],
)
def test_captions_of_every_vintage(content, caption):
    _, report, rendered = _converted(content)
    assert rendered.find(".//img").get("src") == "https://x.example/o.jpg"
    assert rendered.findtext(".//em") == caption
    assert report == []
    if "big.jpg" in content:
        assert rendered.find(".//a/img") is not None


def test_other_shortcodes_are_kept_as_written_and_reported():
    content = (
        '[gallery ids="20,21"]\n\n[embed]https://video.example/v/1[/embed]\n\n'
        '[contact_form id="4"] [my_box]in *box*[/my_box]'
    )
    text, report, _ = _converted(content)
    assert '[gallery ids="20,21"]' in text
    assert "[embed]https://video.example/v/1[/embed]" in text
    assert '[contact_form id="4"]' in text  # the underscore is not escaped inside a shortcode
    assert "[my_box]in \\*box\\*[/my_box]" in text  # the text between is converted like any text
    assert _kinds(report) == [
        (REPORT_SHORTCODE, "gallery"),
        (REPORT_SHORTCODE, "embed"),
        (REPORT_SHORTCODE, "contact_form"),
        (REPORT_SHORTCODE, "my_box"),
    ]


def test_brackets_in_prose_and_escaped_shortcodes_are_not_reported():
    text, report, rendered = _converted("He said [sic] it [[gallery]] works [citation needed].")
    assert rendered.findtext("p") == "He said [sic] it [gallery] works [citation needed]."
    assert report == []


def test_an_unclosed_caption_is_kept_as_a_shortcode():
    text, report, _ = _converted('[caption id="1"]<img src="https://x.example/a.jpg" /> no end')
    assert _kinds(report) == [(REPORT_SHORTCODE, "caption")]
    assert '[caption id="1"]' in text


# --- HTML to Markdown ---------------------------------------------------------------------------------


def test_common_html_becomes_markdown_that_renders_the_same_structure():
    content = (
        "<h2>Heading</h2>\n<p>Some <strong>bold</strong>, <em>emphasis</em> and "
        '<a href="https://x.example/p?a=1&amp;b=2" title="T">a link</a>.</p>\n'
        "<ul>\n<li>one</li>\n<li>two\n<ol><li>nested</li></ol></li>\n</ul>\n"
        "<blockquote><p>Quoted</p></blockquote>\n"
        '<p><img src="https://x.example/i.png" alt="An image" /></p>\n'
        "<pre><code>if a &lt; b:\n\n    *x* = _y_</code></pre>\n"
        "<p>Inline <code>code()</code>.</p>"
    )
    text, report, rendered = _converted(content)
    assert report == []
    assert text.startswith("## Heading\n")
    assert rendered.findtext("h2") == "Heading"
    assert rendered.find("p/strong").text == "bold" and rendered.find("p/em").text == "emphasis"
    link = rendered.find("p/a")
    assert (link.get("href"), link.get("title"), link.text) == ("https://x.example/p?a=1&b=2", "T", "a link")
    assert [li.text.strip() for li in rendered.findall("ul/li")] == ["one", "two"]
    assert rendered.findtext("ul/li/ol/li") == "nested"
    assert rendered.findtext("blockquote/p") == "Quoted"
    assert rendered.find("p/img").get("alt") == "An image"
    assert rendered.findtext("pre/code") == "if a < b:\n\n    *x* = _y_\n"
    assert rendered.findtext("p/code") == "code()"


def test_markdown_characters_in_text_stay_text():
    _, _, rendered = _converted("<p>2 * 3 * 4, snake_case_name and # not a heading</p>")
    assert rendered.findtext("p") == "2 * 3 * 4, snake_case_name and # not a heading"
    assert rendered.find("p/em") is None


@pytest.mark.parametrize(
    "content, shown",
    [
        ("<p>Use &lt;script&gt;alert(1)&lt;/script&gt; here</p>", "Use <script>alert(1)</script> here"),
        ("<p>&lt;!-- not a comment --&gt; and 1 &lt; 2 &gt; 0</p>", "<!-- not a comment --> and 1 < 2 > 0"),
        ("<p>AT&amp;T writes &amp;lt; for &lt;</p>", "AT&T writes &lt; for <"),
        ("<p><kbd>&lt;Enter&gt;</kbd></p>", "<Enter>"),
    ],
    ids=["escaped-tags", "escaped-comment", "entities", "kbd"],
)
def test_escaped_markup_in_wordpress_stays_text(content, shown):
    _, _, rendered = _converted(content)
    assert rendered.find("p").text_content() == shown
    assert rendered.find(".//script") is None


def test_a_simple_table_becomes_a_markdown_table():
    content = "<table><tr><th>Ward</th><th>Beds</th></tr><tr><td>A</td><td>12</td></tr></table>"
    text, report, rendered = _converted(content)
    assert "| Ward | Beds |" in text and report == []
    assert [th.text for th in rendered.findall(".//th")] == ["Ward", "Beds"]
    assert [td.text for td in rendered.findall(".//td")] == ["A", "12"]


def test_inline_html_markdown_lacks_is_kept_as_html():
    content = (
        "<p><del>old</del> <ins>new</ins> H<sub>2</sub>O x<sup>2</sup> "
        '<abbr title="World Health Organization">WHO</abbr> <kbd>Ctrl</kbd></p>'
    )
    _, report, rendered = _converted(content)
    paragraph = rendered.find("p")
    assert [(child.tag, child.text) for child in paragraph] == [
        ("del", "old"),
        ("ins", "new"),
        ("sub", "2"),
        ("sup", "2"),
        ("abbr", "WHO"),
        ("kbd", "Ctrl"),
    ]
    assert paragraph.find("abbr").get("title") == "World Health Organization"
    assert report == []


@pytest.mark.parametrize(
    "content, tag",
    [
        ('<iframe src="https://video.example/embed/1" width="560" onload="steal()"></iframe>', "iframe"),
        ('<video src="https://video.example/v.mp4" controls></video>', "video"),
        ("<table><tr><td colspan='2'>merged</td></tr><tr><td>a</td><td>b</td></tr></table>", "table"),
        ("<table><tr><td><p>block</p></td></tr></table>", "table"),
        ("<details><summary>More</summary>Hidden</details>", "details"),
    ],
)
def test_what_markdown_cannot_say_is_kept_as_sanitised_html_and_reported(content, tag):
    text, report, rendered = _converted(f"Before\n\n{content}\n\nAfter")
    assert _kinds(report) == [(REPORT_HTML, tag)]
    assert rendered.find(f".//{tag}") is not None
    assert [p.text for p in rendered.findall("p")] == ["Before", "After"]
    assert "onload" not in text and "steal" not in text


def test_kept_html_loses_dangerous_urls():
    text, report, _ = _converted(
        '<iframe src="javascript:alert(1)"></iframe><video src="https://ok.example/v"></video>'
    )
    assert "javascript" not in text and 'src="https://ok.example/v"' in text


@pytest.mark.parametrize(
    "content, tag",
    [
        ("<script>alert(1)</script>", "script"),
        ("<style>body{display:none}</style>", "style"),
        ('<form action="https://evil.example"><input name="card"></form>', "form"),
    ],
)
def test_scripts_styles_and_forms_are_dropped_and_reported(content, tag):
    text, report, _ = _converted(f"<p>Kept</p>{content}")
    assert text == "Kept\n"
    assert _kinds(report) == [(REPORT_DROPPED, tag)]


@pytest.mark.parametrize("depth", [101, 50_000])
def test_nesting_too_deep_to_convert_is_kept_as_source_not_a_crash(depth):
    """Parsing absurd nesting is quadratic (bs4, nh3): it is counted first, linearly, and the source is
    kept for an editor, shown as code and never as markup."""
    content = "<div>" * depth + "deep ``` fence" + "</div>" * depth
    text, report, rendered = _converted(content)
    assert _kinds(report) == [(REPORT_SOURCE, "nesting")]
    assert rendered.find(".//div") is None
    assert rendered.findtext("pre/code") == content + "\n"


def test_nesting_within_the_limit_is_converted():
    _, report, rendered = _converted("<div>" * 99 + "<p>deep</p>" + "</div>" * 99)
    assert report == [] and rendered.findtext("p") == "deep"


def test_many_unmatched_shortcode_tags_are_each_reported_once():
    content = " ".join(f'[widget n="{n}"]' for n in range(2000)) + " [/other]"
    text, report, _ = _converted(content)
    assert len(report) == 2000 and text.count("[widget") == 2000


def test_report_items_carry_a_short_excerpt_to_find_them_by():
    _, report, _ = _converted(f'<iframe src="https://v.example/{"x" * 200}"></iframe>')
    assert report[0].excerpt.startswith('<iframe src="https://v.example/xxx') and len(report[0].excerpt) == 80


_PIECES = st.sampled_from(
    [
        "<p>", "</p>", "<div>", "</div>", "<ul><li>", "</li></ul>", "<table><tr><td>", "</td></tr></table>",
        "<pre>", "</pre>", "<code>", "[caption]", "[/caption]", "[gallery id=1]", "[[x]]",
        "<!-- wp:paragraph -->", "<!-- /wp:paragraph -->", "<!-- wp:latest-posts /-->", "<!--more-->",
        "<iframe src='https://v.example'>", "<script>", "&lt;", "&amp;", "]]>", "\n", "\n\n", "*", "_",
        "`", "|", "#", ">", "<img src=x>", "<br>",
    ]
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(_PIECES | st.text(max_size=8), max_size=40).map("".join))
def test_any_content_converts_without_error_and_renders(content):
    text, report = convert(content)
    assert isinstance(text, str) and all(item.kind for item in report)
    _render(text)


def test_a_2009_classic_post_converts_like_wordpress_showed_it():
    post = next(r for r in read(DATA / "wxr-1.0.xml") if isinstance(r, Item) and r.post_id == 7)
    text, report, rendered = _converted(post.content)
    assert [child.tag for child in rendered] == ["p", "blockquote"]
    assert rendered.find("p/br") is not None
    assert rendered.find("p").text_content() == "The ward was quiet.\nThen it was not."
    assert rendered.findtext("blockquote/p") == "Never say quiet."
    assert report == []


def test_a_heading_followed_by_a_bare_line_gives_a_heading_and_a_paragraph():
    _, _, rendered = _converted(_fixture_item(30).content)
    assert [(child.tag, child.text) for child in rendered] == [("h2", "Who we are"), ("p", "A clinic.")]

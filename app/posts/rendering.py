"""Markdown to safe HTML, once, when a revision is saved (and for the staff preview).

Python-Markdown is not linear-time: deep nesting recurses until RecursionError, and runs of ``[``, ``![``,
``[^``, ``*[*``, ``<![`` or emphasis markers go quadratic even in short texts (``"[" * 15900``: 46 s or more).
Guessing which texts are risky failed, so none is trusted: every render runs in a forked child
(app/posts/sandbox.py) under a wall-clock budget (RENDER_BUDGET_SECONDS) and a memory budget
(RENDER_MEMORY_BYTES), and the worker that asked waits no longer than the budget. Whatever stops a render
(time, memory, recursion, an exception, HTML longer than MAX_HTML_CHARS) becomes a RenderError (422)
saying what the writer can change; a worker is never stuck. The fork costs a few milliseconds; renders
happen when staff save or preview, never when readers read.

Cheap linear checks run first, in the worker, only because they can name the problem better than "took
too long": the size cap and the nesting depth of quotes and lists. There is no per-line cap: a long
paragraph of prose is ordinary, and the budget deals with long lines that are not.

Bare http(s) addresses are linked (app/posts/autolink.py); the sanitiser then treats those links like any
other, and links leaving the site get ``rel="nofollow noopener"``.

Images of our own library (``/media/<sha256>.<ext>``) are made responsive after sanitising, inside the
same sandboxed child: ``srcset`` with every stored width, ``sizes``, ``width``/``height`` of the stored
image (so the page does not shift as it loads) and ``loading="lazy"``; an empty alt text takes the
library's. The caller looks the images up first (``image_infos``) and passes them in: the child never
touches the database. Other images are left as written.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from html import escape, unescape
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import nh3

from app.errors import RenderError
from app.media.services import IMG_TAG, ImageInfo, img_attributes, media_hash
from app.posts import sandbox

if TYPE_CHECKING:  # Markdown and lxml load with the first render and the first plain text (see _markdown)
    import markdown

MAX_SOURCE_CHARS = 200_000
MAX_NESTING = 16
MAX_HTML_CHARS = 10 * MAX_SOURCE_CHARS
"""Rendered HTML longer than this is refused: a few references to a very long link can multiply the text."""
RENDER_BUDGET_SECONDS = 3.0
RENDER_MEMORY_BYTES = 512 * 1024 * 1024
"""Memory a render may take on top of what the worker already has."""

# fmt: off
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "s", "span", "strong",
    "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "id"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height", "srcset", "sizes", "loading"},
    "li": {"id"},
    "sup": {"id"},
    "ol": {"start"},
    "th": {"colspan", "rowspan", "scope"},
    "td": {"colspan", "rowspan"},
}
ALLOWED_CLASSES = {
    "div": {"footnote"},
    "a": {"footnote-ref", "footnote-backref"},
    "code": {"language-" + lang for lang in (
        "python", "bash", "sh", "json", "html", "css", "javascript", "js", "sql", "text", "yaml", "r"
    )},
}
URL_SCHEMES = {"http", "https", "mailto"}
# fmt: on
_FOOTNOTE_ID = re.compile(r"^fn(ref)?:[\w-]{1,40}$")
# nh3 keeps the scheme's case, and HTTPS://x leaves the site as surely as https://x does.
_EXTERNAL_LINK = re.compile(r'<a href="(https?://[^"]*)"', re.IGNORECASE)
_LIST_MARKER = re.compile(r"^(?P<indent>[ \t]*)(?:[-*+]|\d{1,9}[.)])[ \t]")
_QUOTE_RUN = re.compile(r"^[ \t]*((?:>[ \t]*)+)")
SIZES = "(max-width: 48rem) 100vw, 48rem"
"""The post column's width, for the browser to choose a rendition from ``srcset`` before layout."""
_CANDIDATE = r"/media/[0-9a-f]{64}\.(?:jpg|png|webp|avif) \d{1,5}w"
_OUR_SRCSET = re.compile(rf"^{_CANDIDATE}(?:, {_CANDIDATE})*$")

_MESSAGES = {
    sandbox.Failure.TIME: (
        "The text took too long to render; simplify its structure (deep nesting, long runs of symbols "
        "such as [ or *)."
    ),
    sandbox.Failure.MEMORY: (
        "The text needs too much memory to render; simplify its structure (many uses of a very long "
        "link, footnote or abbreviation, deep nesting)."
    ),
    sandbox.Failure.RECURSION: "The text is nested too deeply to render.",
    sandbox.Failure.SIZE: "The text would render to too much HTML; shorten it.",
    sandbox.Failure.ERROR: "The text could not be rendered ({detail}).",
    sandbox.Failure.DIED: "The text could not be rendered.",
}


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    # Only footnote ids survive: they cannot collide with the page's own ids.
    if attr == "id":
        return value if _FOOTNOTE_ID.match(value) else None
    if tag == "img" and attr == "src" and not value.startswith(("https://", "http://", "/")):
        return None
    # Only what the image post-processor writes: our own renditions, our column's sizes, lazy loading.
    if tag == "img" and attr == "srcset" and not _OUR_SRCSET.match(value):
        return None
    if tag == "img" and attr == "sizes" and value != SIZES:
        return None
    if tag == "img" and attr == "loading" and value != "lazy":
        return None
    return value


_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    allowed_classes=ALLOWED_CLASSES,
    url_schemes=URL_SCHEMES,
    link_rel=None,
    strip_comments=True,
    attribute_filter=_attribute_filter,
    clean_content_tags={"script", "style"},
)


def sanitize(html: str) -> str:
    """Allowlist-sanitise HTML, then mark links that leave the site."""
    cleaned = _cleaner.clean(html)
    return _EXTERNAL_LINK.sub(r'<a href="\1" rel="nofollow noopener"', cleaned)


def external_links(html: str) -> list[str]:
    """The absolute http(s) links in sanitised HTML, in order."""
    return [m.group(1) for m in _EXTERNAL_LINK.finditer(html)]


def _precheck(source: str) -> None:
    """Refuse, with a precise reason, what is too large or too deeply nested to be worth a render."""
    if len(source) > MAX_SOURCE_CHARS:
        raise RenderError(
            f"The text is too long: {len(source):,} characters, the limit is {MAX_SOURCE_CHARS:,}."
        )
    for line in source.splitlines():
        quote = _QUOTE_RUN.match(line)
        if quote and quote.group(1).count(">") > MAX_NESTING:
            raise RenderError(f"Block quotes are nested too deeply: the limit is {MAX_NESTING} levels.")
        item = _LIST_MARKER.match(line)
        if item and len(item.group("indent").expandtabs(4)) // 2 > MAX_NESTING:
            raise RenderError(f"Lists are nested too deeply: the limit is {MAX_NESTING} levels.")


@functools.cache
def _markdown() -> markdown.Markdown:
    """One converter per process, built before the first fork so every child starts from a warm copy.

    The parent never converts with it; each child uses its own copy-on-write copy once, so nothing is
    shared between threads or carried from one render to the next. Markdown and its extensions are
    imported here, not with the module: the job worker imports this module (through the services it
    runs) but judges comments without rendering any, and keeps its memory for the model (issue 14).
    """
    import markdown

    from app.posts.autolink import BareUrlExtension  # a Markdown extension: loads with Markdown

    return markdown.Markdown(
        extensions=["extra", "sane_lists", "smarty", BareUrlExtension()],
        extension_configs={"smarty": {"smart_angled_quotes": False}},
    )


def responsive_images(html: str, images: Mapping[str, ImageInfo]) -> str:
    """Our library's images in sanitised HTML, given their renditions, size and lazy loading."""
    if not images:
        return html

    def one(match: re.Match[str]) -> str:
        attrs = img_attributes(match.group(1))
        sha256 = media_hash(attrs.get("src", ""))
        info = images.get(sha256) if sha256 else None
        if info is None:
            return match.group(0)
        alt = unescape(attrs.get("alt", "")).strip() or ("" if info.decorative else info.alt)
        parts = [
            ("src", info.path),
            ("alt", alt),
            *([("title", unescape(attrs["title"]))] if "title" in attrs else []),
            ("width", str(info.width)),
            ("height", str(info.height)),
            ("srcset", ", ".join(f"{path} {width}w" for path, width in info.srcset)),
            ("sizes", SIZES),
            ("loading", "lazy"),
        ]
        return "<img " + " ".join(f'{name}="{escape(value, quote=True)}"' for name, value in parts) + ">"

    return IMG_TAG.sub(one, html)


def _render(source: str, images: Mapping[str, ImageInfo] | None = None) -> str:
    """The render itself; runs in the forked child."""
    html = responsive_images(sanitize(_markdown().reset().convert(source)), images or {})
    if len(html) > MAX_HTML_CHARS:
        raise RenderError(_MESSAGES[sandbox.Failure.SIZE])
    return html


def render_markdown(source: str, images: Mapping[str, ImageInfo] | None = None) -> str:
    """Render staff Markdown to sanitised HTML, or raise RenderError with a reason a writer can act on.

    Every call forks a child under the time and memory budget; see the module docstring. ``images``:
    our library's images the text references, by hash (``app.media.services.image_infos``).
    """
    _precheck(source)
    _markdown()  # built here, in the worker, so that every child inherits it ready
    try:
        return sandbox.run(
            functools.partial(_render, images=images) if images else _render,
            source,
            seconds=RENDER_BUDGET_SECONDS,
            memory_bytes=RENDER_MEMORY_BYTES,
            max_output_bytes=4 * MAX_HTML_CHARS,
        )
    except sandbox.Refused as refused:
        raise RenderError(_MESSAGES[refused.failure].format(detail=refused.detail)) from None


def render_many(sources: list[str]) -> list[str | RenderError]:
    """Render many texts of one source (the WordPress import) as ``render_markdown`` renders each (with no
    library images: the caller renders a text that shows some by itself), in few forked children.

    Each text is held to the same checks and budget, and a text that fails fails alone: its place holds
    the RenderError ``render_markdown`` would have raised for it.
    """
    answers: list[str | RenderError | None] = [None] * len(sources)
    todo: list[int] = []
    for i, source in enumerate(sources):
        try:
            _precheck(source)
        except RenderError as refused:
            answers[i] = refused
        else:
            todo.append(i)
    _markdown()  # built here, in the worker, so that every child inherits it ready
    rendered = sandbox.run_many(
        _render,
        [sources[i] for i in todo],
        seconds=RENDER_BUDGET_SECONDS,
        memory_bytes=RENDER_MEMORY_BYTES,
        max_output_bytes=4 * MAX_HTML_CHARS,
    )
    for i, answer in zip(todo, rendered, strict=True):
        if isinstance(answer, sandbox.Refused):
            answer = RenderError(_MESSAGES[answer.failure].format(detail=answer.detail))
        answers[i] = answer
    return [a for a in answers if a is not None]


def is_external(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


def plain_text(html: str) -> str:
    """The words of sanitised HTML, whitespace folded: what search indexes and excerpts quote."""
    if not html.strip():
        return ""
    import lxml.html  # with the first plain text, not the module: the job worker needs none (issue 14)

    text = lxml.html.fromstring(f"<div>{html}</div>").text_content()
    return " ".join(text.split())


def excerpt(html: str, max_chars: int = 240) -> str:
    """The start of a text, cut at a word boundary with an ellipsis: the home page's summary."""
    text = plain_text(html)
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars].rsplit(" ", 1)[0] or text[:max_chars]
    return cut.rstrip(" ,;:.") + "…"

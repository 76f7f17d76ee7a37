"""Markdown to safe HTML, once, when a revision is saved.

Python-Markdown is not linear-time: deep nesting recurses until RecursionError and some runs (``<![``,
long emphasis or bracket runs) go quadratic. So the source is capped and pre-checked, and anything
that is not obviously small and tame is rendered in a forked child under a wall-clock budget. A failure
of any kind becomes a RenderError (422) naming the reason; a worker is never stuck.
"""

from __future__ import annotations

import multiprocessing
import re
import warnings
from typing import Any
from urllib.parse import urlsplit

import markdown
import nh3

from app.errors import RenderError

MAX_SOURCE_CHARS = 200_000
MAX_NESTING = 16
MAX_LINE_CHARS = 20_000
RENDER_BUDGET_SECONDS = 3.0
# Below this size, and past the pre-checks, rendering is cheap enough to run in-process.
IN_PROCESS_CHARS = 16_000

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "s", "span", "strong",
    "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "id"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
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
_FOOTNOTE_ID = re.compile(r"^fn(ref)?:[\w-]{1,40}$")
_EXTERNAL_LINK = re.compile(r'<a href="(https?://[^"]*)"')
_LIST_MARKER = re.compile(r"^(?P<indent>[ \t]*)(?:[-*+]|\d{1,9}[.)])[ \t]")
_QUOTE_RUN = re.compile(r"^[ \t]*((?:>[ \t]*)+)")
_RISKY = ("<![", "<!--", "<?")

_md_extensions = ["extra", "sane_lists", "smarty"]
_md_config: dict[str, Any] = {"smarty": {"smart_angled_quotes": False}}


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    # Only footnote ids survive: they cannot collide with the page's own ids.
    if attr == "id":
        return value if _FOOTNOTE_ID.match(value) else None
    if tag == "img" and attr == "src" and not value.startswith(("https://", "http://", "/")):
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


def _precheck(source: str) -> bool:
    """Refuse what is hostile outright; answer whether the rest needs the sandboxed render."""
    if len(source) > MAX_SOURCE_CHARS:
        raise RenderError(
            f"The text is too long: {len(source):,} characters, the limit is {MAX_SOURCE_CHARS:,}."
        )
    risky = any(marker in source for marker in _RISKY)
    for line in source.splitlines():
        if len(line) > MAX_LINE_CHARS:
            raise RenderError(f"A line is too long: the limit is {MAX_LINE_CHARS:,} characters per line.")
        quote = _QUOTE_RUN.match(line)
        if quote and quote.group(1).count(">") > MAX_NESTING:
            raise RenderError(f"Block quotes are nested too deeply: the limit is {MAX_NESTING} levels.")
        item = _LIST_MARKER.match(line)
        if item and len(item.group("indent").expandtabs(4)) // 2 > MAX_NESTING:
            raise RenderError(f"Lists are nested too deeply: the limit is {MAX_NESTING} levels.")
    return risky or len(source) > IN_PROCESS_CHARS


def _render_unguarded(source: str) -> str:
    html = markdown.markdown(source, extensions=_md_extensions, extension_configs=_md_config)
    return sanitize(html)


def _child(source: str, conn: Any) -> None:
    try:
        conn.send(("ok", _render_unguarded(source)))
    except RecursionError:
        conn.send(("error", "The text is nested too deeply to render."))
    except Exception as exc:  # anything Markdown raises becomes a 422, never a crash
        conn.send(("error", f"The text could not be rendered ({type(exc).__name__})."))
    finally:
        conn.close()


def _render_sandboxed(source: str) -> str:
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork() in a threaded process; the child only renders and exits.
        warnings.simplefilter("ignore", DeprecationWarning)
        proc = ctx.Process(target=_child, args=(source, child), daemon=True)
        proc.start()
    child.close()
    try:
        if not parent.poll(RENDER_BUDGET_SECONDS):
            raise RenderError(
                "The text took too long to render; simplify its structure (nesting, long runs of symbols)."
            )
        status, payload = parent.recv()
    except EOFError:
        raise RenderError("The text could not be rendered.") from None
    finally:
        parent.close()
        if proc.is_alive():
            proc.kill()
        proc.join(1)
    if status != "ok":
        raise RenderError(payload)
    return payload


def render_markdown(source: str) -> str:
    """Render staff Markdown to sanitised HTML, or raise RenderError with a reason a writer can act on."""
    if _precheck(source):
        return _render_sandboxed(source)
    try:
        return _render_unguarded(source)
    except RecursionError:
        raise RenderError("The text is nested too deeply to render.") from None


def is_external(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")

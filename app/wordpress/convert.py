"""WordPress post content to Candor's Markdown, with a report of everything not converted.

WordPress stores what its editors typed, not what it shows: the classic editor's text relies on
``wpautop`` (a blank line is a paragraph, a single newline a ``<br>``), the block editor's wraps HTML in
``<!-- wp:name {...} -->`` comments, and both may hold shortcodes (``[caption]``, ``[gallery]``, a
plugin's). ``convert`` does what WordPress does before showing a post, as far as it can without
WordPress: blocks lose their comments and keep their HTML (and autop is then skipped, as WordPress skips
it), ``[caption]`` becomes an image with its caption, other shortcodes stay as written, and the HTML is
turned into Markdown by markdownify. What Markdown cannot say (a video, an embed, a table with merged
cells) stays as HTML, sanitised by nh3, and is listed in the report, as is every shortcode kept and
everything dropped, so an editor knows what to look at.
"""

from __future__ import annotations

import bisect
import html
import re
import secrets
from dataclasses import dataclass

import nh3
from bs4 import BeautifulSoup, NavigableString, Tag
from markdownify import ATX, MarkdownConverter

REPORT_SHORTCODE = "shortcode"
"""A shortcode other than [caption], kept as written: WordPress would have replaced it with its output."""
REPORT_HTML = "html"
"""An element Markdown cannot express, kept as sanitised HTML."""
REPORT_DROPPED = "dropped"
"""An element removed: a script, a style, a form control, or what sanitising left empty."""
REPORT_BLOCK = "block"
"""A dynamic block (``<!-- wp:latest-posts /-->``): WordPress renders it on each view; nothing to keep."""
REPORT_SOURCE = "source"
"""Content too deeply nested to convert, kept as its source in a code block for an editor to redo."""
REPORT_MORE = "more"
"""``<!--more-->`` or ``<!--nextpage-->``: WordPress's teaser and page breaks, removed."""


@dataclass(frozen=True, slots=True)
class ReportItem:
    """One thing not converted: its kind (``REPORT_*``), its name (a tag, a shortcode, a block) and the
    start of its source, for an editor to find it."""

    kind: str
    name: str
    excerpt: str


# WordPress's $allblocks in wpautop(): tags that are never wrapped in a paragraph.
_BLOCK_TAGS = (
    "table|thead|tfoot|caption|col|colgroup|tbody|tr|td|th|div|dl|dd|dt|ul|ol|li|pre|form|map|area|"
    "blockquote|address|math|style|p|h[1-6]|hr|fieldset|legend|section|article|aside|hgroup|header|"
    "footer|nav|figure|figcaption|details|menu|summary|iframe|video|audio|object|embed|canvas|svg"
)
_BLOCK_OPEN = re.compile(rf"(<(?:{_BLOCK_TAGS})[\s/>])", re.IGNORECASE)
_BLOCK_CLOSE = re.compile(rf"(</(?:{_BLOCK_TAGS})>)", re.IGNORECASE)
_STARTS_BLOCK = re.compile(rf"^</?(?:{_BLOCK_TAGS})[\s/>]", re.IGNORECASE)
_PRE = re.compile(r"<pre[\s>].*?</pre>", re.IGNORECASE | re.DOTALL)
_QUOTE = re.compile(r"^\s*(<blockquote[^>]*>)(.*)</blockquote>\s*$", re.IGNORECASE | re.DOTALL)
_DOUBLE_BR = re.compile(r"<br\s*/?>\s*<br\s*/?>", re.IGNORECASE)

_BLOCK_COMMENT = re.compile(
    r"<!--\s+(/?)wp:([a-z][a-z0-9_-]*(?:/[a-z][a-z0-9_-]*)?)\s+(?:\{.*?\}\s+)?(/?)-->", re.DOTALL
)
_MORE = re.compile(r"<!--(more|nextpage)(?:\s.*?)?-->", re.DOTALL)
# A shortcode tag: [name attrs], [name attrs /] or [/name]; attributes hold no brackets.
_SHORTCODE_TAG = re.compile(r"\[(/?)([A-Za-z][\w-]*)((?:\s[^\[\]]*)?)\]")
_KNOWN_SHORTCODES = {"caption", "wp_caption", "gallery", "embed", "audio", "video", "playlist"}
_CAPTION_ATTR = re.compile(r"""\bcaption\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_CAPTION_MEDIA = re.compile(
    r"^\s*((?:<a\s[^>]*>\s*)?<img\s[^>]*>(?:\s*</a>)?)(.*)$", re.DOTALL | re.IGNORECASE
)

MAX_NESTING = 100
"""Elements nested deeper than this are not converted: the text is kept as sanitised HTML."""
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)(?:\s[^<>]*?)?(/?)>")
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_UNCONVERTIBLE = {"iframe", "video", "audio", "object", "embed", "canvas", "svg", "math", "details"}
_DROPPED = {"script", "style", "form", "input", "button", "select", "textarea", "noscript", "template"}
_CELL_BLOCKS = ["p", "div", "ul", "ol", "pre", "blockquote", "table", "br", "h1", "h2", "h3", "h4", "h5"]
_KEPT_TAGS = nh3.ALLOWED_TAGS | {
    "iframe", "video", "audio", "source", "track", "figure", "figcaption", "details", "summary", "table",
    "thead", "tbody", "tfoot", "tr", "td", "th", "caption",
}  # fmt: skip
_KEPT_ATTRIBUTES = {
    **{tag: set(attributes) for tag, attributes in nh3.ALLOWED_ATTRIBUTES.items()},
    "iframe": {"src", "width", "height", "title", "allowfullscreen"},
    "video": {"src", "width", "height", "controls", "poster"},
    "audio": {"src", "controls"},
    "source": {"src", "type"},
    "track": {"src", "kind", "srclang", "label"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
}
_KEPT_SCHEMES = {"http", "https", "mailto"}


def convert(content: str) -> tuple[str, list[ReportItem]]:
    """WordPress ``content:encoded`` as Markdown, and what could not be converted."""
    report: list[ReportItem] = []
    kept = _Kept(content)
    text = content.replace("\r\n", "\n").replace("\r", "\n")
    text = _MORE.sub(lambda m: _note(report, REPORT_MORE, m.group(1), m.group(0)) or "\n\n", text)
    text = _shortcodes(text, report, kept)
    text = _blocks_and_autop(text, report)
    if _too_deep(text):
        return _as_source(content, report)
    try:
        soup = BeautifulSoup(text, "html.parser")
        _set_aside(soup, report, kept)
        markdown = _Converter(
            heading_style=ATX,
            bullets="-",
            sub_symbol="<sub>",
            sup_symbol="<sup>",
            table_infer_header=True,
        ).convert_soup(soup)
    except RecursionError:  # pragma: no cover - _too_deep keeps nesting well inside Python's stack
        return _as_source(content, report)
    return kept.restore(markdown).strip() + "\n" if markdown.strip() else "", report


def _as_source(content: str, report: list[ReportItem]) -> tuple[str, list[ReportItem]]:
    """Nesting deeper than any real post's: parsing it is quadratic in bs4 and in nh3 alike, so neither
    sees it. The source is kept whole, as a code block (shown, never run), for an editor to redo."""
    _note(report, REPORT_SOURCE, "nesting", content)
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", content)), default=0) + 1)
    return f"{fence}html\n{content}\n{fence}\n", report


def _too_deep(text: str) -> bool:
    """Whether elements nest deeper than ``MAX_NESTING``, by a linear count of tags (void ones aside)."""
    depth = 0
    for match in _TAG.finditer(text):
        closing, name, self_closing = match.groups()
        if name.lower() in _VOID or self_closing:
            continue
        depth = max(depth - 1, 0) if closing else depth + 1
        if depth > MAX_NESTING:
            return True
    return False


def autop(text: str) -> str:
    """WordPress's ``wpautop``, in its essentials: blank lines make paragraphs, a single newline inside
    one a ``<br />``; block-level tags are never wrapped, and ``<pre>`` is left alone."""
    if not text.strip():
        return ""
    pres: dict[str, str] = {}

    def set_pre_aside(match: re.Match[str]) -> str:
        key = f"<pre wp-pre-tag-{len(pres)}></pre>"
        pres[key] = match.group(0)
        return key

    text = _PRE.sub(set_pre_aside, text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _DOUBLE_BR.sub("\n\n", text)
    text = _BLOCK_CLOSE.sub(r"\1\n\n", _BLOCK_OPEN.sub(r"\n\n\1", text))
    paragraphs = []
    for chunk in re.split(r"\n[ \t]*\n", text):
        chunk = chunk.strip("\n")
        if not chunk.strip():
            continue
        quote = _QUOTE.match(chunk)
        if quote and not _STARTS_BLOCK.match(quote.group(2).lstrip()):
            paragraphs.append(f"{quote.group(1)}{_paragraph(quote.group(2))}</blockquote>")
        elif _STARTS_BLOCK.match(chunk.lstrip()):
            paragraphs.append(chunk)
        else:
            paragraphs.append(_paragraph(chunk))
    text = "\n".join(paragraphs)
    for key, pre in pres.items():
        text = text.replace(key, pre)
    return text + "\n"


def _paragraph(text: str) -> str:
    return "<p>" + re.sub(r"[ \t]*\n[ \t]*", "<br />\n", text.strip()) + "</p>"


class _Kept:
    """What is set aside during conversion, behind tokens that markdownify passes through untouched: a
    nonce no part of the content contains, then a number."""

    def __init__(self, content: str):
        self.nonce = "wxr" + secrets.token_hex(6)
        while self.nonce in content:  # pragma: no cover - 2^-48 per try
            self.nonce = "wxr" + secrets.token_hex(6)
        self.inline: dict[str, str] = {}
        self.blocks: dict[str, str] = {}

    def keep(self, text: str, *, block: bool = False) -> str:
        token = f"{self.nonce}x{len(self.inline) + len(self.blocks)}x"
        (self.blocks if block else self.inline)[token] = text
        return token

    def restore(self, markdown: str) -> str:
        """Every token back to what it stands for, in one pass each: a block token alone on its line
        becomes a raw HTML block, any other token its text."""

        def block(match: re.Match[str]) -> str:
            token = match.group(1)
            return f"\n\n<div>\n{self.blocks[token]}\n</div>\n\n" if token in self.blocks else match.group(0)

        def inline(match: re.Match[str]) -> str:
            token = match.group(0)
            return self.inline[token] if token in self.inline else self.blocks.get(token, token)

        token = re.escape(self.nonce) + r"x\d+x"
        markdown = re.sub(rf"^[ \t]*({token})[ \t]*$", block, markdown, flags=re.MULTILINE)
        markdown = re.sub(token, inline, markdown)
        return re.sub(r"\n{3,}", "\n\n", markdown)


def _note(report: list[ReportItem], kind: str, name: str, source: str) -> None:
    report.append(ReportItem(kind, name, _excerpt(source)))


def _excerpt(source: str) -> str:
    source = " ".join(source.split())
    return source if len(source) <= 80 else source[:79] + "…"


def _blocks_and_autop(text: str, report: list[ReportItem]) -> str:
    """Block comments go and blocks keep their HTML as it is; what lies outside every block (all of a
    classic post, the freeform stretches of a block one) goes through autop. A self-closing block had
    no HTML to keep: WordPress renders it on each view, so it is reported."""
    out: list[str] = []
    depth = position = 0
    for match in _BLOCK_COMMENT.finditer(text):
        between = text[position : match.start()]
        out.append(autop(between) if depth == 0 else between)
        closing, name, self_closing = match.groups()
        if self_closing:
            if name == "separator":
                out.append("\n\n<hr />\n\n")
            elif name not in ("spacer", "more", "nextpage"):
                _note(report, REPORT_BLOCK, name, match.group(0))
        else:
            depth = max(depth - 1, 0) if closing else depth + 1
        out.append("\n\n")
        position = match.end()
    rest = text[position:]
    out.append(autop(rest) if depth == 0 else rest)
    return "".join(out)


def _shortcodes(text: str, report: list[ReportItem], kept: _Kept) -> str:
    """[caption] to an image and an emphasised caption; every other shortcode tag set aside, as written,
    and reported. ``[[name]]`` is WordPress's escape for a literal ``[name]``."""
    out: list[str] = []
    position = 0
    tags = list(_SHORTCODE_TAG.finditer(text))
    closings: dict[str, list[int]] = {}  # a name's closing tags, as indices into tags, ascending
    for index, tag in enumerate(tags):
        if tag.group(1):
            closings.setdefault(tag.group(2).lower(), []).append(index)
    consumed_until = 0
    for index, tag in enumerate(tags):
        if tag.start() < consumed_until:
            continue
        slash, name, attributes = tag.group(1), tag.group(2), tag.group(3)
        lower = name.lower()
        escaped = text[tag.start() - 1 : tag.start()] == "[" and text[tag.end() : tag.end() + 1] == "]"
        if escaped:
            out += [text[position : tag.start() - 1], kept.keep(tag.group(0))]
            position = consumed_until = tag.end() + 1
            continue
        if not slash and lower in ("caption", "wp_caption"):
            after = closings.get(lower, [])
            if (found := bisect.bisect_right(after, index)) < len(after):
                end = tags[after[found]]
                out += [text[position : tag.start()], _caption(attributes, text[tag.end() : end.start()])]
                position = consumed_until = end.end()
                continue
        looks_like = (
            lower in _KNOWN_SHORTCODES
            or "=" in attributes
            or attributes.rstrip().endswith("/")
            or bool(slash)
            or closings.get(lower, [-1])[-1] > index
        )
        if not looks_like:
            continue  # [sic], [citation needed]: prose in brackets
        if not slash:
            _note(report, REPORT_SHORTCODE, lower, tag.group(0))
        out += [text[position : tag.start()], kept.keep(tag.group(0))]
        position = tag.end()
    out.append(text[position:])
    return "".join(out)


def _caption(attributes: str, inner: str) -> str:
    """``[caption ...]<img/> text[/caption]`` (or ``caption="text"``, WordPress before 3.4) as HTML that
    converts to an image and its caption in emphasis."""
    media = _CAPTION_MEDIA.match(inner)
    image, caption = (media.group(1), media.group(2).strip()) if media else (inner, "")
    if not caption and (attribute := _CAPTION_ATTR.search(attributes)):
        caption = attribute.group(1) or attribute.group(2) or ""
    html = f"\n\n<p>{image.strip()}</p>\n"
    return html + (f"<p><em>{caption}</em></p>\n\n" if caption else "\n")


def _set_aside(soup: BeautifulSoup, report: list[ReportItem], kept: _Kept) -> None:
    """Drop what must not be kept; keep as sanitised HTML what Markdown cannot express; make block
    editor figures read as an image followed by its caption."""
    gone: set[int] = set()  # ids of elements inside one set aside (bs4's .decomposed is a search)
    for element in list(soup.find_all(True)):
        if id(element) in gone:
            continue
        name = element.name.lower()
        if name in _DROPPED or name in _UNCONVERTIBLE or (name == "table" and not _simple_table(element)):
            gone.update(id(inner) for inner in element.find_all(True))
            source = str(element)
            html = "" if name in _DROPPED else _sanitise(source)
            _note(report, REPORT_HTML if html.strip() else REPORT_DROPPED, name, source)
            element.replace_with(NavigableString(kept.keep(html, block=True) if html.strip() else ""))
        elif name == "figcaption":
            element.name = "p"
            emphasis = soup.new_tag("em")
            for child in list(element.contents):
                emphasis.append(child.extract())
            element.append(emphasis)
        elif name == "figure":
            element.name = "div"


def _simple_table(table: Tag) -> bool:
    """A table a Markdown pipe table says all of: rows of plain cells, none merged, no blocks or pipes
    in a cell, every row as wide as the first."""
    rows = table.find_all("tr")
    if not rows or table.find(["table"]) or table.find(attrs={"colspan": True}) or table.find(rowspan=True):
        return False
    widths = set()
    for row in rows:
        cells = row.find_all(["td", "th"], recursive=False)
        widths.add(len(cells))
        for cell in cells:
            if cell.find(_CELL_BLOCKS) or "|" in cell.get_text():
                return False
    return len(widths) == 1


def _sanitise(html: str) -> str:
    return nh3.clean(
        html,
        tags=_KEPT_TAGS,
        attributes=_KEPT_ATTRIBUTES,
        url_schemes=_KEPT_SCHEMES,
        strip_comments=True,
        clean_content_tags={"script", "style"},
        link_rel=None,
    )


class _Converter(MarkdownConverter):
    """markdownify, keeping as inline HTML what Candor's Markdown (Python-Markdown with ``extra``) has no
    syntax for but shows: struck, inserted, keyboard text and abbreviations."""

    def escape(self, text: str, parent_tags: set[str]) -> str:
        """Text stays text: ``&lt;script&gt;`` in WordPress is the words, and Markdown would take a bare
        ``<script>`` (or ``&lt;``) for markup. markdownify escapes only Markdown's own characters."""
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return super().escape(text, parent_tags)

    def _keep(self, el: Tag, text: str) -> str:
        if not text:
            return ""
        if el.name == "kbd":  # markdownify leaves keyboard text unescaped, as it does code
            text = html.escape(text, quote=False)
        title = el.get("title") if el.name == "abbr" else None
        opening = f'<abbr title="{html.escape(str(title))}">' if title else f"<{el.name}>"
        return f"{opening}{text}</{el.name}>"

    def convert_del(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return self._keep(el, text)

    convert_s = convert_ins = convert_kbd = convert_abbr = convert_del

    def convert_li(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        """A list item whose continuation lines are indented four spaces: Python-Markdown nests a list
        only at four, where markdownify indents by the bullet's width."""
        text = (text or "").strip()
        if not text:
            return "\n"
        parent = el.parent
        if parent is not None and parent.name == "ol":
            start = str(parent.get("start") or "1")
            first = int(start) if start.isdigit() and len(start) < 10 else 1
            bullet = f"{first + len(el.find_previous_siblings('li'))}."
        else:
            bullet = "-"
        bullet = bullet.ljust(3) + " "
        indent = " " * len(bullet)
        lines = text.split("\n")
        return bullet + lines[0] + "".join(f"\n{indent}{line}" if line else "\n" for line in lines[1:]) + "\n"

    def convert_strike(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return f"<del>{text}</del>" if text else ""

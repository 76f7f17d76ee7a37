"""Read a WordPress export (WXR 1.0, 1.1, 1.2) as a stream of records, in bounded memory, safely.

WXR is RSS 2.0 with WordPress's namespaces; the ``wp`` one names the version
(``http://wordpress.org/export/1.2/``). ``read`` parses with ``lxml.etree.iterparse`` and hands out each
channel child as a record the moment it ends, then drops its elements (and every earlier sibling, which
``iterparse`` would otherwise keep attached to the tree), so a 500 MB export needs the memory of one item,
not of the file. Within an item, comments and meta are turned into records as they end, so even an item
with thousands of comments keeps no elements around.

Safety, in two layers. Before libxml2 sees a byte, the prolog is read: a document type declaration is
refused outright, since WordPress never writes one and every entity attack (external entities, external
DTDs, billion laughs, quadratic blow-up) needs one; refusing it before parsing also keeps a huge internal
subset from being loaded. Then the parser itself runs with entities unresolved, no DTD loading, no
network, and ``huge_tree`` off, so libxml2's own limits hold (no text node over 10 MB, no nesting deeper
than 256): no field of a real export comes near them, and lifting them would be lifting the protection. A
document type that still reaches the parser is refused at the root element.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from lxml import etree

from app.wordpress.records import (
    Author,
    Category,
    Comment,
    Item,
    ItemTerm,
    Meta,
    Record,
    Site,
    Tag,
    Term,
)

VERSIONS = ("1.0", "1.1", "1.2")
_WP_NS = re.compile(r"^http://wordpress\.org/export/(1\.[012])/$")
_EXCERPT_NS = re.compile(r"^http://wordpress\.org/export/1\.[012]/excerpt/$")
_PREFIXES = {
    "http://purl.org/rss/1.0/modules/content/": "content",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://wellformedweb.org/CommentAPI/": "wfw",
}
_PROLOG_BYTES = 64 * 1024
_ATTACK = re.compile(r"amplification|entity reference loop|entities? .*too (?:big|many)", re.IGNORECASE)
_NS_DECLARATION = re.compile(r' xmlns(?::[\w.-]+)?="[^"]*"')
_SITE_FIELDS = {
    "title": "title",
    "link": "link",
    "description": "description",
    "language": "language",
    "wp:base_site_url": "base_site_url",
    "wp:base_blog_url": "base_blog_url",
    "wp:wxr_version": "wxr_version",
}
_IGNORED_CHANNEL = {"pubDate", "generator", "lastBuildDate", "image", "atom:link", "cloud", "ttl"}
_NO_DATE = "0000-00-00 00:00:00"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", re.ASCII)  # strptime's format, 10x faster


class WXRError(ValueError):
    """The file cannot be read as a WordPress export; ``line``/``column`` say where, when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        self.line, self.column, self.reason = line, column, message
        where = f"line {line}, column {column}: " if line and column else f"line {line}: " if line else ""
        super().__init__(f"{where}{message}")


class MalformedXML(WXRError):
    """Not well-formed XML (a tag left open, an undefined entity, bytes that are not the encoding)."""


class UnsafeXML(WXRError):
    """XML that uses what a WordPress export never does and attacks do: a document type declaration."""


class NotWXR(WXRError):
    """Well-formed XML, but not a WordPress export of a version this reader knows."""


@dataclass
class Counts:
    """What an export holds, for a dry run: records per kind, items per type and status, comments per
    approval state, and what was skipped (unknown channel elements and namespaces)."""

    version: str = ""
    authors: int = 0
    categories: int = 0
    tags: int = 0
    terms: int = 0
    items: Counter[tuple[str, str]] = field(default_factory=Counter)
    comments: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "version": self.version,
            "authors": self.authors,
            "categories": self.categories,
            "tags": self.tags,
            "terms": self.terms,
            "items": {f"{kind}/{status}": n for (kind, status), n in sorted(self.items.items())},
            "comments": dict(sorted(self.comments.items())),
            "skipped": dict(sorted(self.skipped.items())),
        }


class WXRReader:
    """Iterate over an export's records: one ``Site`` first, then authors, terms and items in file order.

    ``skipped`` counts, as the iteration goes, what was passed over: elements of unknown namespaces and
    unknown channel elements. An error raises ``WXRError`` (a subclass says which kind) and ends the
    iteration; records already yielded stay valid, so a caller that needs all or nothing must collect
    before acting.
    """

    def __init__(self, source: str | Path | BinaryIO):
        self.source = source
        self.skipped: Counter[str] = Counter()
        self.version = ""

    def __iter__(self) -> Iterator[Record]:
        if isinstance(source := self.source, str | Path):
            with open(source, "rb") as stream:
                yield from self._read(stream)
        else:
            yield from self._read(source)

    def _read(self, stream: BinaryIO) -> Iterator[Record]:
        etree.clear_error_log()
        events = etree.iterparse(
            _refuse_doctype(stream),
            events=("start", "end"),
            resolve_entities=False,
            load_dtd=False,
            no_network=True,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        try:
            yield from self._records(events)
        except etree.XMLSyntaxError as error:
            raise _malformed(error) from None

    def _records(self, events: etree.iterparse) -> Iterator[Record]:
        depth = 0
        site: dict[str, str] = {}
        site_line = 0
        site_sent = False
        item: _ItemBuilder | None = None
        names = _Names(self.skipped)
        for event, element in events:
            if event == "start":
                depth += 1
                if depth == 1:
                    self.version = _check_root(element, names)
                elif depth == 2 and names.of(element.tag, count=False) != "channel":
                    raise NotWXR(
                        f"expected <channel> inside <rss>, found <{element.tag}>", element.sourceline
                    )
                elif depth == 3 and names.of(element.tag, count=False) == "item":
                    item = _ItemBuilder(names, element.sourceline or 0)
                continue
            depth -= 1
            if depth == 3 and item is not None:
                item.add(element)
                _drop(element)
                continue
            if depth != 2:
                continue
            name = names.of(element.tag)
            if name in _SITE_FIELDS and not site_sent:
                site[_SITE_FIELDS[name]] = _text(element)
                site_line = element.sourceline or site_line
            elif name is None:
                pass  # an unknown namespace: counted by _Names
            elif name in _SITE_FIELDS:
                self.skipped[f"channel {name} after the first record"] += 1
            elif name in _IGNORED_CHANNEL or name.startswith("wfw:"):
                pass
            else:
                if not site_sent:
                    site_sent = True
                    yield self._site(site, site_line)
                record = self._channel_record(name, element, item)
                item = None
                if record is None:
                    self.skipped[f"channel {name}"] += 1
                else:
                    yield record
            _drop(element)
        if not site_sent:
            yield self._site(site, site_line)

    def _site(self, fields: dict[str, str], line: int) -> Site:
        fields = {k: v if k in ("title", "description") else v.strip() for k, v in fields.items()}
        fields.setdefault("wxr_version", self.version)
        return Site(**fields, line=line)

    def _channel_record(self, name: str, element: etree._Element, item: _ItemBuilder | None) -> Record | None:
        line = element.sourceline or 0
        if name == "item" and item is not None:
            return item.build(line)
        fields = _fields(element, self.skipped)
        if name == "wp:author":
            return Author(
                login=_strip(fields, "author_login"),
                id=_int_or_none(fields.get("author_id")),
                email=_strip(fields, "author_email"),
                display_name=fields.get("author_display_name", ""),
                first_name=fields.get("author_first_name", ""),
                last_name=fields.get("author_last_name", ""),
                line=line,
            )
        if name == "wp:category":
            return Category(
                nicename=_strip(fields, "category_nicename"),
                name=fields.get("cat_name", ""),
                parent=_strip(fields, "category_parent"),
                term_id=_int_or_none(fields.get("term_id")),
                description=fields.get("category_description", ""),
                line=line,
            )
        if name == "wp:tag":
            return Tag(
                slug=_strip(fields, "tag_slug"),
                name=fields.get("tag_name", ""),
                term_id=_int_or_none(fields.get("term_id")),
                description=fields.get("tag_description", ""),
                line=line,
            )
        if name == "wp:term":
            return Term(
                taxonomy=_strip(fields, "term_taxonomy"),
                slug=_strip(fields, "term_slug"),
                name=fields.get("term_name", ""),
                parent=_strip(fields, "term_parent"),
                term_id=_int_or_none(fields.get("term_id")),
                description=fields.get("term_description", ""),
                line=line,
            )
        return None


def read(source: str | Path | BinaryIO) -> Iterator[Record]:
    """The records of an export, streamed: see ``WXRReader``."""
    return iter(WXRReader(source))


def count(source: str | Path | BinaryIO) -> Counts:
    """Read a whole export and count what it holds, keeping nothing else: a dry run's figures."""
    reader = WXRReader(source)
    counts = Counts()
    for record in reader:
        if isinstance(record, Item):
            counts.items[(record.post_type, record.status)] += 1
            counts.comments.update(comment.approved for comment in record.comments)
        elif isinstance(record, Author):
            counts.authors += 1
        elif isinstance(record, Category):
            counts.categories += 1
        elif isinstance(record, Tag):
            counts.tags += 1
        elif isinstance(record, Term):
            counts.terms += 1
    counts.version = reader.version
    counts.skipped = reader.skipped
    return counts


def _malformed(error: etree.XMLSyntaxError) -> WXRError:
    """The error, where it happened. With entities left unresolved, lxml reports some errors (an
    undefined entity) as a bare "no element found" at line 0; libxml2's log, cleared when the parse
    began, then has the cause."""
    message = re.sub(r", line \d+, column \d+$", "", error.msg or str(error))
    line, column = error.position if error.position else (error.lineno, 0)
    if not line:
        fatal = [entry for entry in error.error_log if entry.level_name == "FATAL" and entry.line]
        if fatal:
            message, line, column = fatal[-1].message, fatal[-1].line, fatal[-1].column
    if not line:
        message, line = f"{message} (the file holds no XML)", 1
    if "too big" in message or "huge" in message.lower():
        message += " (a single field over libxml2's 10 MB limit, which stays on: no real export needs more)"
    if _ATTACK.search(message):  # libxml2's own guard tripped first: an attack, not a typo
        return UnsafeXML(f"{message.strip()}: entity expansion is refused", line, column or None)
    return MalformedXML(message.strip(), line, column or None)


# --- safety ------------------------------------------------------------------------------------------

_PROLOG_SKIP = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)


class _Replay:
    """A stream read again from its start: the bytes already read for the prolog check, then the rest.
    For streams that cannot seek (a pipe, standard input)."""

    def __init__(self, head: bytes, stream: BinaryIO):
        self.head, self.stream = head, stream

    def read(self, size: int = -1) -> bytes:
        if not self.head:
            return self.stream.read(size)
        if size is None or size < 0:
            data, self.head = self.head + self.stream.read(), b""
        else:
            data, self.head = self.head[:size], self.head[size:]
        return data


def _refuse_doctype(stream: BinaryIO) -> BinaryIO | _Replay:
    """Refuse a document type declaration before the parser reads it; the stream to parse, from where it
    was.

    Reads the prolog (at most 64 KiB: the XML declaration, comments and processing instructions before
    the root element) in the encoding the byte order mark names, UTF-8 otherwise, which covers every
    ASCII-compatible encoding as far as markup goes.
    """
    seekable = stream.seekable()
    start = stream.tell() if seekable else 0
    head = stream.read(_PROLOG_BYTES)
    if seekable:
        stream.seek(start)
    encoding = "utf-8"
    for bom, name in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32")):
        if head.startswith(bom):
            encoding = name
    if encoding == "utf-8" and head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        encoding = "utf-16"
    text = head.decode(encoding, errors="replace").lstrip("\ufeff")
    position = 0
    while match := _PROLOG_SKIP.match(text, position):
        position = match.end()
    if text.startswith("<!DOCTYPE", position) or text.startswith("<!doctype", position):
        line = text.count("\n", 0, position) + 1
        raise UnsafeXML(
            "a document type declaration (<!DOCTYPE ...>) is refused: WordPress exports have none, and it "
            "is how entity attacks (external entities, billion laughs) are made",
            line,
        )
    return stream if seekable else _Replay(head, stream)


def _check_root(root: etree._Element, names: _Names) -> str:
    """The version of the export, from the root's ``wp`` namespace; refuse what is not WXR."""
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.system_url or docinfo.public_id:
        raise UnsafeXML("a document type declaration is refused", root.sourceline)
    if names.of(root.tag) != "rss":
        raise NotWXR(f"the root element is <{root.tag}>, not <rss>", root.sourceline)
    versions = [m.group(1) for uri in root.nsmap.values() if uri and (m := _WP_NS.match(uri))]
    if not versions:
        raise NotWXR(
            "no WordPress export namespace (http://wordpress.org/export/1.0/ to 1.2/) on <rss>: "
            "not a WXR file, or a version this reader does not know",
            root.sourceline,
        )
    return max(versions)


# --- elements to values ------------------------------------------------------------------------------


class _Names:
    """Clark-notation tags to ``prefix:local`` names under the prefixes WordPress uses, whatever prefix
    the file chose; ``None`` for an unknown namespace, which is counted in ``skipped``."""

    def __init__(self, skipped: Counter[str]):
        self.skipped = skipped
        self._cache: dict[str, str | None] = {}

    def of(self, tag: object, *, count: bool = True) -> str | None:
        if not isinstance(tag, str):
            return None  # an entity or a comment node
        if tag in self._cache:
            name = self._cache[tag]
        else:
            name = self._cache[tag] = self._resolve(tag)
        if name is None and count:
            self.skipped[f"namespace {tag[1:].partition('}')[0]}"] += 1
        return name

    @staticmethod
    def _resolve(tag: str) -> str | None:
        if not tag.startswith("{"):
            return tag
        uri, _, local = tag[1:].partition("}")
        if _WP_NS.match(uri):
            return f"wp:{local}"
        if _EXCERPT_NS.match(uri):
            return f"excerpt:{local}"
        if uri == "http://www.w3.org/2005/Atom":
            return f"atom:{local}"
        prefix = _PREFIXES.get(uri)
        return f"{prefix}:{local}" if prefix else None


def _text(element: etree._Element) -> str:
    """An element's text: CDATA and character data alike; markup left inside it (invalid in WXR, where
    content is escaped or in CDATA) is kept as serialised XML rather than lost."""
    text = element.text or ""
    for child in element:
        if isinstance(child.tag, str):
            markup = etree.tostring(child, encoding="unicode", with_tail=True)
            text += _NS_DECLARATION.sub("", markup)  # lxml repeats the ancestors' declarations
        else:
            text += child.tail or ""
    return text


def _fields(element: etree._Element, skipped: Counter[str]) -> dict[str, str]:
    """The ``wp:`` children of a small element (an author, a term, a meta pair), by local name."""
    fields = {}
    for child in element:
        if isinstance(child.tag, str) and (match := re.match(r"^\{([^}]*)\}(.*)$", child.tag)):
            if _WP_NS.match(match.group(1)):
                fields[match.group(2)] = _text(child)
                continue
        skipped[f"field {child.tag}"] += 1
    return fields


def _strip(fields: dict[str, str], key: str) -> str:
    return fields.get(key, "").strip()


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value.strip()) if value is not None and value.strip() else None
    except ValueError:
        return None


def _drop(element: etree._Element) -> None:
    """Free an ended element and the siblings before it: what keeps iterparse's memory flat."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


class _ItemBuilder:
    """Gathers an item's fields as its children end, so no child element outlives its own end."""

    _INTS = {"wp:post_id", "wp:post_parent", "wp:menu_order"}
    _DATES = {"wp:post_date", "wp:post_modified"}
    _GMT_DATES = {"wp:post_date_gmt", "wp:post_modified_gmt"}
    _VERBATIM = {
        "title": "title",
        "description": "description",
        "content:encoded": "content",
        "excerpt:encoded": "excerpt",
        "wp:post_password": "post_password",
    }
    _STRIPPED = {
        "link": "link",
        "pubDate": "pub_date",
        "dc:creator": "creator",
        "wp:comment_status": "comment_status",
        "wp:ping_status": "ping_status",
        "wp:post_name": "post_name",
        "wp:status": "status",
        "wp:post_type": "post_type",
        "wp:attachment_url": "attachment_url",
    }

    def __init__(self, names: _Names, line: int):
        self.names = names
        self.line = line
        self.values: dict[str, object] = {}
        self.terms: list[ItemTerm] = []
        self.meta: list[Meta] = []
        self.comments: list[Comment] = []
        self.problems: list[str] = []

    def add(self, element: etree._Element) -> None:
        name = self.names.of(element.tag)
        if name is None:
            return
        if name in self._VERBATIM:
            self.values[self._VERBATIM[name]] = _text(element)
        elif name in self._STRIPPED:
            self.values[self._STRIPPED[name]] = _text(element).strip()
        elif name == "guid":
            self.values["guid"] = _text(element).strip()
            self.values["guid_is_permalink"] = element.get("isPermaLink", "true").strip().lower() == "true"
        elif name in self._INTS:
            key = name.removeprefix("wp:")
            self.values[key] = self._int(_text(element), key)
        elif name in self._DATES or name in self._GMT_DATES:
            key = {"post_date": "date", "post_modified": "modified"}.get(
                name.removeprefix("wp:").removesuffix("_gmt"), ""
            )
            gmt = name in self._GMT_DATES
            self.values[key + ("_gmt" if gmt else "")] = self._date(_text(element), gmt, name)
        elif name == "wp:is_sticky":
            self.values["is_sticky"] = _text(element).strip() == "1"
        elif name == "category":
            self.terms.append(
                ItemTerm(
                    domain=element.get("domain", "").strip(),
                    nicename=element.get("nicename", "").strip(),
                    name=_text(element),
                )
            )
        elif name == "wp:postmeta":
            fields = _fields(element, self.names.skipped)
            self.meta.append(Meta(key=fields.get("meta_key", ""), value=fields.get("meta_value", "")))
        elif name == "wp:comment":
            self.comments.append(self._comment(element))
        else:
            self.names.skipped[f"item {name}"] += 1

    def build(self, line: int) -> Item:
        post_id = self.values.pop("post_id", None)
        if post_id is None:
            self.problems.append("no wp:post_id")
            post_id = 0
        self.values.setdefault("post_type", "post")
        return Item(
            post_id=post_id,  # type: ignore[arg-type]
            **self.values,  # type: ignore[arg-type]
            terms=tuple(self.terms),
            meta=tuple(self.meta),
            comments=tuple(self.comments),
            problems=tuple(self.problems),
            line=line,
        )

    def _comment(self, element: etree._Element) -> Comment:
        fields: dict[str, str] = {}
        meta: list[Meta] = []
        for child in element:
            local = self.names.of(child.tag) or ""
            if local == "wp:commentmeta":
                pair = _fields(child, self.names.skipped)
                meta.append(Meta(key=pair.get("meta_key", ""), value=pair.get("meta_value", "")))
            elif local.startswith("wp:comment_"):
                fields[local.removeprefix("wp:comment_")] = _text(child)
            elif local:
                self.names.skipped[f"comment {local}"] += 1
        where = f"comment {fields.get('id', '?').strip()}"
        return Comment(
            id=self._int(fields.get("id", ""), f"{where} id"),
            author=fields.get("author", ""),
            author_email=fields.get("author_email", "").strip(),
            author_url=fields.get("author_url", "").strip(),
            author_ip=fields.get("author_IP", "").strip(),
            date=self._date(fields.get("date", ""), False, f"{where} date"),
            date_gmt=self._date(fields.get("date_gmt", ""), True, f"{where} date_gmt"),
            content=fields.get("content", ""),
            approved=fields.get("approved", "1").strip(),
            type=fields.get("type", "").strip(),
            parent=self._int(fields.get("parent", ""), f"{where} parent"),
            user_id=self._int(fields.get("user_id", ""), f"{where} user_id"),
            meta=tuple(meta),
            line=element.sourceline or 0,
        )

    def _int(self, value: str, what: str) -> int:
        number = _int_or_none(value)
        if number is None and value.strip():
            self.problems.append(f"{what}: {value.strip()[:40]!r} is not a number")
        return number or 0

    def _date(self, value: str, gmt: bool, what: str) -> datetime | None:
        value = value.strip()
        if not value or value == _NO_DATE:
            return None
        try:
            if not _DATE.match(value):
                raise ValueError(value)
            parsed = datetime.fromisoformat(value)  # naive: the zone is set below
        except ValueError:
            self.problems.append(f"{what}: {value[:40]!r} is not a date")
            return None
        return parsed.replace(tzinfo=UTC) if gmt else parsed

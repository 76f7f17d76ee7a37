"""Write records as a WXR 1.2 export, streamed: what ``wxr.read`` reads back as equal records.

Shaped like WordPress's own ``export_wp()`` so that WordPress's importer takes it: free text goes in
CDATA, as WordPress writes it. A CDATA section cannot hold ``]]>``, so the text is split there
(``]]]]><![CDATA[>``, the idiom WordPress's ``wxr_cdata()`` uses); it cannot carry a carriage return
either (XML turns every ``\\r`` into ``\\n``), so each one leaves the section as ``&#13;``. Characters
XML 1.0 cannot carry at all (most C0 controls, lone surrogates, U+FFFE, U+FFFF) are dropped, and
``dropped`` counts them: an export that WordPress cannot parse would be worse than one missing a
control character.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import BinaryIO
from xml.sax.saxutils import escape, quoteattr

from app.wordpress.records import Author, Category, Comment, Item, Meta, Record, Site, Tag, Term

WP = "http://wordpress.org/export/1.2/"
_HEADER = """<?xml version="1.0" encoding="UTF-8" ?>
<rss version="2.0"
\txmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"
\txmlns:content="http://purl.org/rss/1.0/modules/content/"
\txmlns:wfw="http://wellformedweb.org/CommentAPI/"
\txmlns:dc="http://purl.org/dc/elements/1.1/"
\txmlns:wp="http://wordpress.org/export/1.2/"
>
<channel>
"""
_FOOTER = "</channel>\n</rss>\n"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NO_DATE = "0000-00-00 00:00:00"


class WXRWriter:
    """Write a channel to ``out`` (bytes, UTF-8): ``site`` at once, then each record given to ``write``,
    then the closing tags on ``close`` (or leaving the ``with`` block)."""

    def __init__(self, out: BinaryIO, site: Site):
        self.out = out
        self.dropped = 0
        self._put(_HEADER)
        self._put(
            f"\t<title>{self._escape(site.title)}</title>\n"
            f"\t<link>{self._escape(site.link)}</link>\n"
            f"\t<description>{self._escape(site.description)}</description>\n"
            f"\t<language>{self._escape(site.language)}</language>\n"
            "\t<wp:wxr_version>1.2</wp:wxr_version>\n"
            f"\t<wp:base_site_url>{self._escape(site.base_site_url)}</wp:base_site_url>\n"
            f"\t<wp:base_blog_url>{self._escape(site.base_blog_url)}</wp:base_blog_url>\n"
        )

    def __enter__(self) -> WXRWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()

    def close(self) -> None:
        self._put(_FOOTER)

    def write(self, record: Record) -> None:
        if isinstance(record, Item):
            self._put(self._item(record))
        elif isinstance(record, Author):
            self._put(
                "\t<wp:author>"
                + self._wp("author_id", record.id)
                + self._wp("author_login", record.login, cdata=True)
                + self._wp("author_email", record.email, cdata=True)
                + self._wp("author_display_name", record.display_name, cdata=True)
                + self._wp("author_first_name", record.first_name, cdata=True)
                + self._wp("author_last_name", record.last_name, cdata=True)
                + "</wp:author>\n"
            )
        elif isinstance(record, Category):
            self._put(
                "\t<wp:category>"
                + self._wp("term_id", record.term_id)
                + self._wp("category_nicename", record.nicename, cdata=True)
                + self._wp("category_parent", record.parent, cdata=True)
                + self._wp("cat_name", record.name, cdata=True)
                + self._wp("category_description", record.description, cdata=True)
                + "</wp:category>\n"
            )
        elif isinstance(record, Tag):
            self._put(
                "\t<wp:tag>"
                + self._wp("term_id", record.term_id)
                + self._wp("tag_slug", record.slug, cdata=True)
                + self._wp("tag_name", record.name, cdata=True)
                + self._wp("tag_description", record.description, cdata=True)
                + "</wp:tag>\n"
            )
        elif isinstance(record, Term):
            self._put(
                "\t<wp:term>"
                + self._wp("term_id", record.term_id)
                + self._wp("term_taxonomy", record.taxonomy, cdata=True)
                + self._wp("term_slug", record.slug, cdata=True)
                + self._wp("term_parent", record.parent, cdata=True)
                + self._wp("term_name", record.name, cdata=True)
                + self._wp("term_description", record.description, cdata=True)
                + "</wp:term>\n"
            )
        elif isinstance(record, Site):
            raise TypeError("the site is given once, when the writer is made")
        else:
            raise TypeError(f"not a WXR record: {type(record).__name__}")

    def _item(self, item: Item) -> str:
        guid_flag = "true" if item.guid_is_permalink else "false"
        parts = [
            "\t<item>\n",
            f"\t\t<title>{self._cdata(item.title)}</title>\n",
            f"\t\t<link>{self._escape(item.link)}</link>\n",
            f"\t\t<pubDate>{self._escape(item.pub_date)}</pubDate>\n",
            f"\t\t<dc:creator>{self._cdata(item.creator)}</dc:creator>\n",
            f'\t\t<guid isPermaLink="{guid_flag}">{self._escape(item.guid)}</guid>\n',
            f"\t\t<description>{self._cdata(item.description)}</description>\n",
            f"\t\t<content:encoded>{self._cdata(item.content)}</content:encoded>\n",
            f"\t\t<excerpt:encoded>{self._cdata(item.excerpt)}</excerpt:encoded>\n",
            "\t\t" + self._wp("post_id", item.post_id) + "\n",
            "\t\t" + self._wp("post_date", _date(item.date), cdata=True) + "\n",
            "\t\t" + self._wp("post_date_gmt", _date(item.date_gmt, utc=True), cdata=True) + "\n",
            "\t\t" + self._wp("post_modified", _date(item.modified), cdata=True) + "\n",
            "\t\t" + self._wp("post_modified_gmt", _date(item.modified_gmt, utc=True), cdata=True) + "\n",
            "\t\t" + self._wp("comment_status", item.comment_status, cdata=True) + "\n",
            "\t\t" + self._wp("ping_status", item.ping_status, cdata=True) + "\n",
            "\t\t" + self._wp("post_name", item.post_name, cdata=True) + "\n",
            "\t\t" + self._wp("status", item.status, cdata=True) + "\n",
            "\t\t" + self._wp("post_parent", item.post_parent) + "\n",
            "\t\t" + self._wp("menu_order", item.menu_order) + "\n",
            "\t\t" + self._wp("post_type", item.post_type, cdata=True) + "\n",
            "\t\t" + self._wp("post_password", item.post_password, cdata=True) + "\n",
            "\t\t" + self._wp("is_sticky", int(item.is_sticky)) + "\n",
        ]
        if item.attachment_url:
            parts.append("\t\t" + self._wp("attachment_url", item.attachment_url, cdata=True) + "\n")
        for term in item.terms:
            attributes = ""
            if term.domain or term.nicename:
                attributes = f" domain={self._attr(term.domain)} nicename={self._attr(term.nicename)}"
            parts.append(f"\t\t<category{attributes}>{self._cdata(term.name)}</category>\n")
        parts += [f"\t\t<wp:postmeta>{self._meta(meta)}</wp:postmeta>\n" for meta in item.meta]
        parts += [self._comment(comment) for comment in item.comments]
        parts.append("\t</item>\n")
        return "".join(parts)

    def _comment(self, comment: Comment) -> str:
        fields = [
            self._wp("comment_id", comment.id),
            self._wp("comment_author", comment.author, cdata=True),
            self._wp("comment_author_email", comment.author_email, cdata=True),
            self._wp("comment_author_url", comment.author_url),
            self._wp("comment_author_IP", comment.author_ip, cdata=True),
            self._wp("comment_date", _date(comment.date), cdata=True),
            self._wp("comment_date_gmt", _date(comment.date_gmt, utc=True), cdata=True),
            self._wp("comment_content", comment.content, cdata=True),
            self._wp("comment_approved", comment.approved, cdata=True),
            self._wp("comment_type", comment.type, cdata=True),
            self._wp("comment_parent", comment.parent),
            self._wp("comment_user_id", comment.user_id),
        ]
        fields += [f"<wp:commentmeta>{self._meta(meta)}</wp:commentmeta>" for meta in comment.meta]
        return "\t\t<wp:comment>\n" + "".join(f"\t\t\t{field}\n" for field in fields) + "\t\t</wp:comment>\n"

    def _meta(self, meta: Meta) -> str:
        return self._wp("meta_key", meta.key, cdata=True) + self._wp("meta_value", meta.value, cdata=True)

    def _wp(self, name: str, value: object, *, cdata: bool = False) -> str:
        text = "" if value is None else str(value)
        return f"<wp:{name}>{self._cdata(text) if cdata else self._escape(text)}</wp:{name}>"

    def _cdata(self, text: str) -> str:
        parts = []
        for number, piece in enumerate(self._valid(text).split("\r")):
            if number:
                parts.append("&#13;")
            if piece:
                parts.append("<![CDATA[" + piece.replace("]]>", "]]]]><![CDATA[>") + "]]>")
        return "".join(parts)

    def _escape(self, text: str) -> str:
        return escape(self._valid(text), {"\r": "&#13;"})

    def _attr(self, text: str) -> str:
        return quoteattr(self._valid(text))

    def _valid(self, text: str) -> str:
        cleaned, dropped = _NOT_XML.subn("", text)
        self.dropped += dropped
        return cleaned

    def _put(self, text: str) -> None:
        self.out.write(text.encode("utf-8"))


def write_wxr(out: BinaryIO, site: Site, records: Iterable[Record]) -> int:
    """Write a whole export; the number of characters dropped as not XML."""
    with WXRWriter(out, site) as writer:
        for record in records:
            writer.write(record)
    return writer.dropped


def _date(value: datetime | None, *, utc: bool = False) -> str:
    """WordPress's ``Y-m-d H:i:s``; a ``_gmt`` field's aware time is first brought to UTC (a naive one is
    taken as UTC already), a local field's written as its wall-clock time."""
    if value is None:
        return _NO_DATE
    if utc and value.tzinfo is not None:
        value = value.astimezone(UTC)
    day = f"{value.year:04}-{value.month:02}-{value.day:02}"
    return f"{day} {value.hour:02}:{value.minute:02}:{value.second:02}"

"""Writing WXR 1.2: what the reader reads back equal, whatever the text holds."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from app.wordpress.records import Author, Category, Comment, Item, ItemTerm, Meta, Site, Tag, Term
from app.wordpress.write import WXRWriter, write_wxr
from app.wordpress.wxr import read

DATA = Path(__file__).parent / "data" / "wxr"


def _round_trip(records: list) -> list:
    out = io.BytesIO()
    write_wxr(out, records[0], records[1:])
    return list(read(io.BytesIO(out.getvalue())))


@pytest.mark.parametrize("name", ["wxr-1.2.xml", "wxr-1.0.xml"])
def test_a_read_export_written_back_reads_equal(name):
    records = list(read(DATA / name))
    again = _round_trip(records)
    assert again[0] == dataclasses.replace(records[0], wxr_version="1.2")  # always written as 1.2
    assert again[1:] == records[1:]


def test_the_output_is_shaped_as_wordpress_writes_it():
    out = io.BytesIO()
    item = Item(
        post_id=5, title="T", content="a]]>b", status="publish", terms=(ItemTerm("post_tag", "x", "X"),)
    )
    write_wxr(out, Site(title="S"), [Author(login="amina", id=1), item])
    root = etree.fromstring(out.getvalue())
    wp = "{http://wordpress.org/export/1.2/}"
    channel = root.find("channel")
    assert root.tag == "rss" and root.get("version") == "2.0"
    assert channel.findtext(f"{wp}wxr_version") == "1.2"
    assert channel.find(f"{wp}author").findtext(f"{wp}author_login") == "amina"
    written = channel.find("item")
    assert written.findtext(f"{wp}post_id") == "5" and written.findtext(f"{wp}status") == "publish"
    assert written.findtext("{http://purl.org/rss/1.0/modules/content/}encoded") == "a]]>b"
    category = written.find("category")
    assert (category.get("domain"), category.get("nicename"), category.text) == ("post_tag", "x", "X")
    assert b"<![CDATA[a]]]]><![CDATA[>b]]>" in out.getvalue()  # WordPress's own split


@pytest.mark.parametrize(
    "text",
    [
        "]]>",
        "]]>]]>",
        "]]]>>",
        "a]]",
        "]]",
        ">",
        "x\r\ny",
        "\r",
        "]]\r>",
        "<![CDATA[",
        "<![CDATA[\r]]>",
        "&amp;",
    ],
)
def test_text_that_breaks_naive_cdata_survives(text):
    records = [Site(title=text), Item(post_id=1, title=text, content=text, excerpt=text)]
    again = _round_trip(records)
    assert again[0].title == text
    assert (again[1].title, again[1].content, again[1].excerpt) == (text, text, text)


def test_characters_xml_cannot_carry_are_dropped_and_counted():
    out = io.BytesIO()
    with WXRWriter(out, Site()) as writer:
        writer.write(Item(post_id=1, content="bell\x07 nul\x00 ok\ufffe \ud800end", title="t\x1b"))
    assert writer.dropped == 5
    item = list(read(io.BytesIO(out.getvalue())))[1]
    assert (item.content, item.title) == ("bell nul ok end", "t")


def test_the_site_and_foreign_objects_are_not_records_to_write():
    with WXRWriter(io.BytesIO(), Site()) as writer:
        with pytest.raises(TypeError):
            writer.write(Site())
        with pytest.raises(TypeError):
            writer.write("an item")  # type: ignore[arg-type]


# --- any text round-trips -----------------------------------------------------------------------------

_XML_CHAR = st.characters(
    blacklist_categories=("Cs",),
    blacklist_characters="\ufffe\uffff",
).filter(lambda c: c in "\t\n\r" or ord(c) >= 0x20)
_TEXT = st.text(_XML_CHAR, max_size=40) | st.sampled_from(
    ["]]>", "\r\n", "]]]]><![CDATA[>", " lead", "trail "]
)
_TOKEN = st.text(
    st.characters(whitelist_categories=("L", "N"), whitelist_characters="-_.@:/?=&%"), max_size=20
)
_WHEN = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(  # noqa: DTZ001
    lambda d: d.replace(microsecond=0)
)
_META = st.builds(Meta, key=_TEXT, value=_TEXT)
_COMMENT = st.builds(
    Comment,
    id=st.integers(1, 10**12),
    author=_TEXT,
    author_email=_TOKEN,
    author_url=_TOKEN,
    author_ip=_TOKEN,
    date=st.none() | _WHEN,
    date_gmt=st.none() | _WHEN.map(lambda d: d.replace(tzinfo=UTC)),
    content=_TEXT,
    approved=st.sampled_from(["1", "0", "spam", "trash", "post-trashed"]),
    type=_TOKEN,
    parent=st.integers(0, 10**6),
    user_id=st.integers(0, 10**6),
    meta=st.lists(_META, max_size=2).map(tuple),
)
_ITEM = st.builds(
    Item,
    post_id=st.integers(1, 10**12),
    post_type=_TOKEN.filter(bool),
    status=_TOKEN,
    title=_TEXT,
    link=_TOKEN,
    guid=_TOKEN,
    guid_is_permalink=st.booleans(),
    pub_date=_TOKEN,
    creator=_TOKEN,
    description=_TEXT,
    content=_TEXT,
    excerpt=_TEXT,
    date=st.none() | _WHEN,
    date_gmt=st.none() | _WHEN.map(lambda d: d.replace(tzinfo=UTC)),
    post_name=_TOKEN,
    post_parent=st.integers(0, 10**6),
    menu_order=st.integers(-100, 100),
    post_password=_TEXT,
    is_sticky=st.booleans(),
    attachment_url=_TOKEN,
    terms=st.lists(st.builds(ItemTerm, domain=_TOKEN, nicename=_TOKEN, name=_TEXT), max_size=3).map(tuple),
    meta=st.lists(_META, max_size=2).map(tuple),
    comments=st.lists(_COMMENT, max_size=3).map(tuple),
)
_OTHERS = st.one_of(
    st.builds(
        Author,
        login=_TOKEN,
        id=st.none() | st.integers(1, 10**6),
        email=_TOKEN,
        display_name=_TEXT,
        first_name=_TEXT,
        last_name=_TEXT,
    ),
    st.builds(Category, nicename=_TOKEN, name=_TEXT, parent=_TOKEN, term_id=st.none() | st.integers(1, 99)),
    st.builds(Tag, slug=_TOKEN, name=_TEXT, description=_TEXT),
    st.builds(Term, taxonomy=_TOKEN, slug=_TOKEN, name=_TEXT, parent=_TOKEN, description=_TEXT),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    site=st.builds(
        Site, title=_TEXT, link=_TOKEN, description=_TEXT, base_site_url=_TOKEN, wxr_version=st.just("1.2")
    ),
    records=st.lists(st.one_of(_ITEM, _OTHERS), max_size=5),
)
def test_any_records_written_read_back_equal(site, records):
    assert _round_trip([site, *records]) == [site, *records]


def test_gmt_fields_are_written_in_utc_whatever_zone_the_record_holds():
    paris = timezone(timedelta(hours=1))
    when = datetime(2020, 1, 5, 10, 30, tzinfo=paris)
    item = Item(post_id=1, date=datetime(2020, 1, 5, 10, 30), date_gmt=when)  # noqa: DTZ001
    again = _round_trip([Site(), item])[1]
    assert again.date_gmt == datetime(2020, 1, 5, 9, 30, tzinfo=UTC)
    assert again.date == datetime(2020, 1, 5, 10, 30)  # noqa: DTZ001 - local time stays as written

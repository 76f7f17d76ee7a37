"""Reading WordPress exports: every field of WXR 1.0 and 1.2, hostile and broken files, bounded memory."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.wordpress.records import Author, Category, Comment, Item, ItemTerm, Meta, Site, Tag, Term
from app.wordpress.wxr import MalformedXML, NotWXR, UnsafeXML, WXRError, WXRReader, count, read
from tests.support.wxr_gen import generate

DATA = Path(__file__).parent / "data" / "wxr"
ROOT = Path(__file__).resolve().parent.parent


def _records(name: str) -> list:
    return list(read(DATA / name))


def _items(name: str) -> dict[int, Item]:
    return {r.post_id: r for r in _records(name) if isinstance(r, Item)}


# --- WXR 1.2 ------------------------------------------------------------------------------------------


def test_the_site_comes_first_with_its_urls_and_version():
    site = _records("wxr-1.2.xml")[0]
    assert site == Site(
        title="Clinic 🩺 Blog — مدونة העיאדה",
        link="https://blog.clinic.example",
        description="Notes from the wards",
        language="en-GB",
        base_site_url="https://clinic.example",
        base_blog_url="https://blog.clinic.example",
        wxr_version="1.2",
    )


def test_authors_keep_multi_line_and_non_latin_names():
    authors = [r for r in _records("wxr-1.2.xml") if isinstance(r, Author)]
    assert authors == [
        Author(
            login="amina",
            id=1,
            email="amina@clinic.example",
            display_name="Dr Amina\nal-Rashid 🩺",
            first_name="أمينة",
            last_name="al-Rashid",
        ),
        Author(login="zoe", id=2, email="zoe@clinic.example", display_name="Zoë Noël", first_name="Zoë"),
    ]


def test_nested_categories_name_their_parent_and_tags_and_terms_are_read():
    records = _records("wxr-1.2.xml")
    categories = [r for r in records if isinstance(r, Category)]
    assert [(c.nicename, c.parent, c.name) for c in categories] == [
        ("health", "", "Health & Care"),
        ("cardiology", "health", "Cardiology"),
        ("arrhythmia", "cardiology", "קצב לב"),
    ]
    assert categories[0].description == "All about <health>"
    tags = [r for r in records if isinstance(r, Tag)]
    assert tags[0].name == "Wellbeing ✨ Ç\u0327a\u0300"  # combining marks kept, not normalised
    assert [t.slug for t in tags] == ["wellbeing", "%d9%82%d9%84%d8%a8"]
    assert [r for r in records if isinstance(r, Term)] == [
        Term(taxonomy="nav_menu", slug="main-menu", name="Main menu", term_id=8)
    ]


def test_every_post_status_and_type_is_read_as_written():
    items = _items("wxr-1.2.xml")
    assert {i: (item.post_type, item.status) for i, item in items.items()} == {
        10: ("post", "publish"),
        11: ("post", "future"),
        12: ("post", "draft"),
        13: ("post", "pending"),
        14: ("post", "private"),
        15: ("post", "trash"),
        30: ("page", "publish"),
        31: ("page", "publish"),
        20: ("attachment", "inherit"),
        40: ("nav_menu_item", "publish"),
        50: ("post", ""),
    }


def test_a_published_post_keeps_every_field():
    post = _items("wxr-1.2.xml")[10]
    assert post.title == "Published: café, naïve, 🫀 and שלום"
    assert post.guid == "https://blog.clinic.example/?p=10" and post.guid_is_permalink is False
    assert post.link == "https://blog.clinic.example/2020/01/05/published/"
    assert post.creator == "amina"
    assert post.date == datetime(2020, 1, 5, 10, 30)  # noqa: DTZ001 - the site's local time, as exported
    assert post.date_gmt == datetime(2020, 1, 5, 9, 30, tzinfo=UTC)
    assert post.modified_gmt == datetime(2020, 1, 6, 10, 0, tzinfo=UTC)
    assert post.post_name == "published" and post.is_sticky is True
    assert post.terms == (
        ItemTerm("category", "arrhythmia", "קצב לב"),
        ItemTerm("post_tag", "wellbeing", "Wellbeing ✨ Ç\u0327a\u0300"),
    )
    assert post.meta == (Meta("_edit_last", "1"),)


def test_cdata_split_around_its_own_terminator_is_joined_back():
    post = _items("wxr-1.2.xml")[10]
    assert post.content.endswith("Code: if (a[b[0]]> 1) {}")
    assert "e\u0301 and \u00e9" in post.content  # decomposed and precomposed stay distinct
    assert post.excerpt == "An excerpt ]]> with a split"
    assert post.comments[0].content == "Approved 👍 with ]]> inside"


def test_threaded_comments_of_every_status():
    comments = _items("wxr-1.2.xml")[10].comments
    assert [(c.id, c.parent, c.approved) for c in comments] == [
        (100, 0, "1"),
        (101, 100, "0"),
        (102, 101, "spam"),
        (103, 100, "trash"),
    ]
    first = comments[0]
    assert first == Comment(
        id=100,
        author="Jean-Luc\nPicard",
        author_email="jl@example.org",
        author_url="https://example.org/~jl",
        author_ip="192.0.2.1",
        date=datetime(2020, 1, 5, 12, 0),  # noqa: DTZ001
        date_gmt=datetime(2020, 1, 5, 11, 0, tzinfo=UTC),
        content="Approved 👍 with ]]> inside",
        approved="1",
        type="comment",
        meta=(Meta("akismet_result", "false"),),
    )
    assert comments[1].author == "مريم" and comments[1].author_ip == "2001:db8::1"
    assert comments[3].user_id == 2


def test_pages_keep_their_parent_and_order():
    items = _items("wxr-1.2.xml")
    assert (items[31].post_parent, items[31].menu_order) == (30, 2)
    assert items[30].post_parent == 0


def test_missing_optional_tags_give_defaults_and_unreadable_values_are_named():
    items = _items("wxr-1.2.xml")
    assert items[50] == Item(post_id=50, title="Minimal")
    assert items[12].date_gmt is None  # WordPress's 0000-00-00 for a draft never published
    assert items[15].date_gmt is None
    assert items[15].problems == ("wp:post_date_gmt: 'not a date' is not a date",)
    assert items[13].link == "" and items[13].guid == "" and items[13].terms == ()


def test_attachments_and_block_content_are_read_verbatim():
    items = _items("wxr-1.2.xml")
    assert items[20].attachment_url == "https://blog.clinic.example/wp-content/uploads/2020/01/ward.jpg"
    assert items[20].post_parent == 12
    assert items[11].content.startswith("<!-- wp:paragraph -->\n<p>Block editor <strong>")


def test_unknown_namespaces_are_skipped_and_counted_never_fatal():
    reader = WXRReader(DATA / "wxr-1.2.xml")
    records = list(reader)
    assert len(records) == 20
    assert reader.skipped == {"namespace http://example.com/jetpack/1.0/": 2}


def test_records_carry_the_line_they_start_on_for_reports():
    items = _items("wxr-1.2.xml")
    lines = (DATA / "wxr-1.2.xml").read_text(encoding="utf-8").splitlines()
    assert lines[items[11].line - 1].strip() == "<item>"
    assert "<wp:post_id>11</wp:post_id>" in "".join(lines[items[11].line : items[11].line + 20])


# --- WXR 1.0 ------------------------------------------------------------------------------------------


def test_wxr_1_0_reads_with_its_own_namespace_and_shapes():
    records = _records("wxr-1.0.xml")
    assert records[0].wxr_version == "1.0" and records[0].description == "Since 2009 — ✍️"
    assert not [r for r in records if isinstance(r, Author)]  # 1.0 has no wp:author
    assert [(c.nicename, c.parent) for c in records if isinstance(c, Category)] == [
        ("uncategorized", ""),
        ("nursing", ""),
        ("night-shift", "nursing"),
    ]
    post = next(r for r in records if isinstance(r, Item) and r.post_type == "post")
    assert post.guid_is_permalink is True
    assert post.terms == (
        ItemTerm("", "", "Night shift 🌙"),
        ItemTerm("category", "night-shift", "Night shift 🌙"),
        ItemTerm("tag", "", "Rota"),
        ItemTerm("tag", "rota", "Rota"),
    )
    assert [(c.id, c.parent, c.approved, c.type) for c in post.comments] == [
        (1, 0, "1", ""),
        (2, 1, "1", ""),
        (3, 0, "0", "pingback"),
    ]


def test_count_gives_a_dry_runs_figures():
    counts = count(DATA / "wxr-1.2.xml").as_dict()
    assert counts == {
        "version": "1.2",
        "authors": 2,
        "categories": 3,
        "tags": 2,
        "terms": 1,
        "items": {
            "attachment/inherit": 1,
            "nav_menu_item/publish": 1,
            "page/publish": 2,
            "post/": 1,
            "post/draft": 1,
            "post/future": 1,
            "post/pending": 1,
            "post/private": 1,
            "post/publish": 1,
            "post/trash": 1,
        },
        "comments": {"0": 1, "1": 1, "spam": 1, "trash": 1},
        "skipped": {"namespace http://example.com/jetpack/1.0/": 2},
    }
    json.dumps(counts)  # a report can carry it as it is


def test_the_export_namespace_may_use_any_prefix():
    source = (
        (DATA / "wxr-1.0.xml")
        .read_text(encoding="utf-8")
        .replace("wp:", "wordpress:")
        .replace("xmlns:wp=", "xmlns:wordpress=")
    )
    items = [r for r in read(io.BytesIO(source.encode())) if isinstance(r, Item)]
    assert [i.post_id for i in items] == [7, 8] and items[0].status == "publish"


# --- broken and hostile files -------------------------------------------------------------------------


def test_a_malformed_file_names_the_line_and_column():
    with pytest.raises(MalformedXML) as raised:
        list(read(DATA / "malformed.xml"))
    assert (raised.value.line, raised.value.column) == (6, 25)
    assert str(raised.value).startswith("line 6, column 25: Opening and ending tag mismatch: title")


@pytest.mark.parametrize(
    "source, line",
    [
        (b"", 1),
        (b'<?xml version="1.0"?>\n<rss xmlns:wp="http://wordpress.org/export/1.2/"><channel>\n<item>', 3),
        (b'<rss xmlns:wp="http://wordpress.org/export/1.2/"><channel>\n<title>&nbsp;</title>', 2),
        (b'<?xml version="1.0" encoding="UTF-8"?>\n<rss xmlns:wp="http://wordpress.org/export/1.2/">\xff', 2),
    ],
    ids=["empty", "truncated", "undefined-entity", "bad-utf8"],
)
def test_broken_files_raise_a_clear_error_with_the_line(source, line):
    with pytest.raises(MalformedXML) as raised:
        list(read(io.BytesIO(source)))
    assert raised.value.line == line
    assert str(raised.value).startswith(f"line {line}")


@pytest.mark.parametrize(
    "source, message",
    [
        (b"<feed><channel/></feed>", "the root element is <feed>, not <rss>"),
        (b'<rss version="2.0"><channel><item/></channel></rss>', "no WordPress export namespace"),
        (b'<rss xmlns:wp="http://wordpress.org/export/1.3/"><channel/></rss>', "no WordPress export"),
        (b'<rss xmlns:wp="http://wordpress.org/export/1.2/"><item/></rss>', "expected <channel>"),
    ],
)
def test_what_is_not_a_wordpress_export_is_refused(source, message):
    with pytest.raises(NotWXR, match=message):
        list(read(io.BytesIO(source)))


@pytest.mark.parametrize("name", ["xxe.xml", "billion-laughs.xml"])
def test_entity_attacks_are_refused_before_parsing(name):
    with pytest.raises(UnsafeXML) as raised:
        list(read(DATA / name))
    assert raised.value.line == 2
    assert "document type declaration" in str(raised.value)


def _doctype_after(padding: bytes, doctype: bytes) -> bytes:
    return (
        b'<?xml version="1.0"?>\n'
        + padding
        + doctype
        + b'\n<rss xmlns:wp="http://wordpress.org/export/1.2/"><channel><title>&x;</title></channel></rss>'
    )


@pytest.mark.parametrize(
    "doctype",
    [
        b'<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        b'<!DOCTYPE rss SYSTEM "http://127.0.0.1:9/evil.dtd">',
        b'<!DOCTYPE rss [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>',
        b'<!DOCTYPE rss [<!ENTITY x "' + b"a" * 50_000 + b'">]>',  # quadratic blow-up's entity
    ],
    ids=["external-entity", "external-dtd", "parameter-entity", "quadratic"],
)
@pytest.mark.parametrize("padding", [b"", b"<!-- a comment -->\n<?pi x?>\n"], ids=["bare", "after-comments"])
def test_every_kind_of_document_type_is_refused(doctype, padding):
    with pytest.raises(UnsafeXML):
        list(read(io.BytesIO(_doctype_after(padding, doctype))))


@pytest.mark.parametrize("name", ["xxe.xml", "billion-laughs.xml"])
def test_a_doctype_past_the_scanned_prolog_is_still_refused_by_the_parser(name):
    """The prolog check reads 64 KiB; a doctype hidden behind more comments than that meets the second
    layer: entities unresolved (no expansion, nothing read from the system), the DTD refused at the root
    element."""
    attack = (DATA / name).read_bytes()
    declaration_end = attack.index(b"?>") + 2
    source = attack[:declaration_end] + b"\n<!--" + b"x" * 70_000 + b"-->" + attack[declaration_end:]
    with pytest.raises(UnsafeXML, match="document type declaration is refused|entity expansion is refused"):
        list(read(io.BytesIO(source)))


def test_a_utf16_export_is_scanned_in_its_own_encoding():
    source = _doctype_after(b"", b'<!DOCTYPE rss [<!ENTITY x "lol">]>').decode()
    source = source.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    with pytest.raises(UnsafeXML):
        list(read(io.BytesIO(source.encode("utf-16"))))
    clean = (
        (DATA / "wxr-1.0.xml").read_text(encoding="utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    )
    assert [r.post_id for r in read(io.BytesIO(clean.encode("utf-16"))) if isinstance(r, Item)] == [7, 8]


def test_nesting_deeper_than_libxml2s_limit_is_refused_not_followed():
    deep = b"<x>" * 300 + b"</x>" * 300
    source = (
        b'<rss xmlns:wp="http://wordpress.org/export/1.2/"><channel><item>'
        + deep
        + b"</item></channel></rss>"
    )
    with pytest.raises(MalformedXML, match="[Ee]xcessive depth"):
        list(read(io.BytesIO(source)))


def test_every_error_is_one_kind_for_callers():
    for cls in (MalformedXML, UnsafeXML, NotWXR):
        assert issubclass(cls, WXRError) and issubclass(cls, ValueError)


# --- bounded memory -----------------------------------------------------------------------------------

_PEAK = """
import json, resource, sys
sys.path.insert(0, {root!r})
from app.wordpress.wxr import read
from app.wordpress.records import Item
items = comments = 0
for record in read(sys.argv[1]):
    if isinstance(record, Item):
        items += 1
        comments += len(record.comments)
print(json.dumps({{"items": items, "comments": comments,
                  "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""


def _peak(path: Path) -> dict:
    script = _PEAK.format(root=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


@pytest.mark.slow
def test_a_large_export_streams_in_memory_that_does_not_grow_with_the_file(tmp_path):
    """Peak memory reading 3 MB and reading 30 MB differ by far less than the 27 MB between them: an
    implementation that kept the tree (or the records) would grow by a multiple of the file."""
    small = generate(tmp_path / "small.xml", 3_000_000, seed=1)
    large = generate(tmp_path / "large.xml", 30_000_000, seed=2)
    small_run, large_run = _peak(tmp_path / "small.xml"), _peak(tmp_path / "large.xml")
    assert (small_run["items"], small_run["comments"]) == (small.items, small.comments)
    assert (large_run["items"], large_run["comments"]) == (large.items, large.comments)
    growth_mib = (large_run["peak_kib"] - small_run["peak_kib"]) / 1024
    assert growth_mib < 8, f"peak memory grew by {growth_mib:.1f} MiB for 27 MB more export"


def test_a_field_over_libxml2s_limit_is_a_clear_error_not_a_lifted_limit():
    huge = b"a" * 10_500_000
    source = (
        b'<rss xmlns:wp="http://wordpress.org/export/1.2/" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        b"<channel><item><wp:post_id>1</wp:post_id><content:encoded><![CDATA[%s]]></content:encoded>"
        b"</item></channel></rss>" % huge
    )
    with pytest.raises(MalformedXML, match="10 MB limit") as raised:
        list(read(io.BytesIO(source)))
    assert raised.value.line == 1


def test_markup_left_unescaped_in_a_field_is_kept_as_markup():
    source = (
        b'\xef\xbb\xbf<rss xmlns:wp="http://wordpress.org/export/1.2/"><channel>'
        b"<item><title>a <b>bold</b> c</title><wp:post_id>1</wp:post_id></item></channel></rss>"
    )
    assert list(read(io.BytesIO(source)))[1].title == "a <b>bold</b> c"


class _Pipe(io.RawIOBase):
    """Bytes that can be read once and never sought, like standard input."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._data.read(min(len(buffer), 1000))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_a_stream_that_cannot_seek_is_read_whole_and_still_checked():
    source = (DATA / "wxr-1.2.xml").read_bytes()
    assert list(read(io.BufferedReader(_Pipe(source)))) == list(read(DATA / "wxr-1.2.xml"))
    with pytest.raises(UnsafeXML):
        list(read(io.BufferedReader(_Pipe((DATA / "xxe.xml").read_bytes()))))


def test_wxr_1_1_reads_like_1_2():
    source = (DATA / "wxr-1.2.xml").read_bytes().replace(b"export/1.2/", b"export/1.1/")
    source = source.replace(b"<wp:wxr_version>1.2<", b"<wp:wxr_version>1.1<")
    records = list(read(io.BytesIO(source)))
    assert records[0].wxr_version == "1.1"
    assert records[1:] == list(read(DATA / "wxr-1.2.xml"))[1:]


def test_site_fields_after_the_first_record_are_counted_not_lost_silently():
    source = (
        b'<rss xmlns:wp="http://wordpress.org/export/1.2/"><channel><title>Early</title>'
        b"<item><wp:post_id>1</wp:post_id></item><title>Late</title></channel></rss>"
    )
    reader = WXRReader(io.BytesIO(source))
    assert list(reader)[0].title == "Early"
    assert reader.skipped == {"channel title after the first record": 1}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_damage_to_an_export_gives_records_or_a_wxr_error_nothing_else(data):
    source = bytearray((DATA / "wxr-1.2.xml").read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(source) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            source[at] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del source[at : at + data.draw(st.integers(1, 200))]
        else:
            source[at:at] = data.draw(
                st.sampled_from([b"<", b"]]>", b"&", b"<!DOCTYPE x>", b"\x00", b"\xff"])
            )
    try:
        records = list(read(io.BytesIO(bytes(source))))
    except WXRError as error:
        assert error.line and error.line >= 1
    else:
        assert isinstance(records[0], Site)

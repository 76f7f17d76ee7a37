"""A corpus of hostile inputs, and the checks every answer to them must pass.

Candor promises that no input yields a 5xx. The values here are the ones that broke (or would break)
something real: what the databases cannot store (NUL, lone surrogates, integers past 64 bits), what
makes Python-Markdown recurse or go quadratic, what a sanitiser must neutralise, what a JSON or form
parser chokes on. Each corpus is a ``{readable id: value}`` dict, so a failing subtest names the value
and a new hostile value is one new line. Feature tests import the corpora that fit their fields.

Values are sized for the limits in force (MAX_CONTENT_LENGTH 1 MiB, body 200,000 characters, title
300, note 2,000): where a limit matters the corpus has one value just over it, and tests expect 422.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes

from bs4 import BeautifulSoup


@dataclass(frozen=True)
class RawJson:
    """A JSON fragment spliced into a body as is: NaN, Infinity, escapes json.dumps would never write."""

    text: str


# --- strings, for any text field ------------------------------------------------------------------

TEXT: dict[str, Any] = {
    "empty": "",
    "blank": " \t ",
    "nul": "a\x00b",
    "only-nul": "\x00",
    "lone-high-surrogate": "a\ud800b",
    "lone-low-surrogate": "\udfff",
    "reversed-surrogate-pair": "\udc00\ud800",
    "control-chars": "a\x01\x07\x1b[31mred",
    "c1-controls": "a\x85\x9b\x9f",
    "crlf-injection": "a\r\nSet-Cookie: session=stolen",
    "rtl-override": "invoice\u202egnp.exe",
    "bidi-isolates": "\u2067abc\u2069\u200f",
    "zero-width": "a\u200b\u200c\u200d\u2060\ufeffb",
    "only-zero-width": "\u200b\u200b\ufeff",
    "combining-flood": "a" + "\u0301" * 1999,
    "nfc-expands": "\u0958" * 299,  # each becomes two code points under NFC: over a 300-char limit
    "astral-emoji": "\U0001fa7a" * 100,
    "noncharacters": "\ufffe\uffff\U0010ffff\ue000",
    "replacement-char": "\ufffd" * 10,
    "unicode-digits": "\u0663\u00b2\u2167",
    "superscript-two": "\u00b2",  # str.isdigit() says yes, int() says no
    "arabic-indic-three": "\u0663",  # str.isdigit() and int() both say 3
    "fullwidth-script": "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e",
    "sql-quote": "'; DROP TABLE posts; --",
    "sql-union": "1' UNION SELECT password_hash FROM users --",
    "sql-like-wildcards": "%_%\\%",
    "format-strings": "{0.__class__} %s%n {{7*7}} ${7*7}",
    "jinja": "{{ config.SECRET_KEY }}{% raw %}",
    "path-traversal": "../../../../etc/passwd",
    "html-entities": "&lt;script&gt;&#x3C;&#0;&nbsp;",
    "digits-5000": "9" * 5000,
    "long-word": "a" * 100_000,
    "long-line": "word " * 4001,  # 20,005 characters on one line
}

# --- script payloads: refused, or accepted and neutralised -----------------------------------------

SCRIPTS: dict[str, str] = {
    "script-tag": "<script>alert(1)</script>",
    "script-unclosed": "<script>alert(1)",
    "script-split": "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "script-uppercase": "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "img-onerror": '<img src=x onerror="alert(1)">',
    "img-onerror-unquoted": "<img src=https://example.org/x.png onerror=alert(1)//>",
    "event-on-allowed-tag": '<a href="https://example.org/" onclick="alert(1)" onmouseover=alert(1)>x</a>',
    "javascript-link-markdown": "[click](javascript:alert(1))",
    "javascript-link-html": '<a href="javascript:alert(1)">x</a>',
    "javascript-link-entities": '<a href="jav&#x09;ascript&#58;alert(1)">x</a>',
    "javascript-link-whitespace": '<a href=" \x01javascript:alert(1)">x</a>',
    "javascript-reference-link": "[x][1]\n\n[1]: javascript:alert(1)",
    "javascript-autolink": "<javascript:alert(1)>",
    "javascript-image": "![x](javascript:alert(1))",
    "vbscript-link": '<a href="vbscript:msgbox(1)">x</a>',
    "data-url-link": "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "data-url-image": "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "image-title-breakout": '![x" onerror="alert(1)](https://example.org/x.png "t\\" onload=\\"alert(1)")',
    "svg-onload": '<svg onload="alert(1)"><script>alert(1)</script></svg>',
    "svg-use-data": '<svg><use href="data:image/svg+xml,&lt;svg id=x onload=alert(1)&gt;#x"/></svg>',
    "math-xlink": '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    "iframe-srcdoc": '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>',
    "object-embed": '<object data="javascript:alert(1)"></object><embed src="javascript:alert(1)">',
    "style-tag": "<style>body{background:url(javascript:alert(1))}</style>",
    "style-attribute": '<div style="background:url(javascript:alert(1))">x</div>',
    "form-formaction": (
        '<form action="javascript:alert(1)"><button formaction="javascript:alert(1)">x</button></form>'
    ),
    "meta-refresh": '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "base-href": '<base href="javascript:alert(1)//">',
    "comment-breakout": "<!--><script>alert(1)</script>-->",
    "cdata-breakout": "<![CDATA[><script>alert(1)</script>]]>",
    "clobbering-ids": (
        '<a id="main" name="csrf_token" href="https://example.org/">x</a><form id="post-body"></form>'
    ),
    "code-span-script": "`<script>alert(1)</script>` and\n\n    <script>alert(2)</script>",
}

# --- Markdown built to recurse, go quadratic or exhaust a renderer -------------------------------

MARKDOWN: dict[str, str] = {
    "nested-blockquotes-1000": "> " * 1000 + "deep",
    "blockquote-staircase-400": "\n".join(">" * i + " a" for i in range(1, 401)),
    "nested-lists-one-line-1000": "- " * 1000 + "deep",
    "nested-ordered-lists-1000": "1. " * 1000 + "deep",
    "nested-lists-indented-600": "\n".join("\t" * i + "- a" for i in range(600)),
    "nested-emphasis-1000": "*" * 1000 + "deep" + "*" * 1000,
    "nested-emphasis-mixed-1000": "*_" * 500 + "deep" + "_*" * 500,
    "nested-html-1000": "<div>" * 1000 + "deep" + "</div>" * 1000,
    "nested-links-1000": "[" * 1000 + "a" + "](https://example.org/)" * 1000,
    "cdata-run-5000": "<![" * 5000,
    "bracket-run-20000": "[" * 20000,
    "emphasis-run-20000": "*a" * 20000,
    "underscore-run": "_a" * 9999,
    "backtick-run": "`" * 20000,
    "comment-run": "<!--" * 5000,
    "processing-instruction-run": "<?" * 5000,
    "open-tag-run": "<a" * 9999,
    "entity-run": "&#" * 9999,
    "backslash-run": "\\" * 19999,
    "unclosed-tags": "<b>" * 5000,
    "code-fences": "```\n" * 5000,
    "attribute-flood": "<a " + "x=1 " * 4000 + ">",
    "indent-19999": " " * 19999 + "a",
}

# --- JSON values that are not what a field expects -----------------------------------------------

JSON_TYPES: dict[str, Any] = {
    "null": None,
    "true": True,
    "false": False,
    "zero": 0,
    "negative": -1,
    "number": 42,
    "float": 1.5,
    "int-32-overflow": 2**31,
    "int-64-overflow": 2**64,
    "huge-int": 10**100,
    "empty-list": [],
    "list-of-text": ["a", "b"],
    "list-of-objects": [{"x": 1}],
    "nested-lists": [[["a"]]],
    "empty-object": {},
    "object": {"$gt": ""},
    "number-as-text": "1",
    "float-as-text": "1.0",
    "nan": RawJson("NaN"),
    "infinity": RawJson("-Infinity"),
    "float-overflow": RawJson("1e999"),
    "int-4301-digits": RawJson("1" * 4301),
    "escaped-nul": RawJson('"a\\u0000b"'),
    "escaped-lone-surrogate": RawJson('"\\ud800"'),
    "escaped-reversed-pair": RawJson('"\\udc00\\ud83d"'),
}

# --- values for http(s) reference lists --------------------------------------------------------

URLS: dict[str, Any] = {
    "javascript": ["javascript:alert(1)"],
    "javascript-whitespace": [" javascript:alert(1)"],
    "data": ["data:text/html,<script>alert(1)</script>"],
    "vbscript": ["vbscript:msgbox(1)"],
    "file": ["file:///etc/passwd"],
    "relative": ["/posts/x"],
    "scheme-only": ["https://"],
    "no-scheme": ["example.org"],
    "space": ["https://example.org/a b"],
    "nul": ["https://example.org/\x00"],
    "lone-surrogate": ["https://example.org/\ud800"],
    "rtl-host": ["https://exa\u202emple.org/"],
    "idn": ["https://\u0430pple.com/"],
    "credentials": ["https://user:pass@example.org/"],
    "bad-port": ["https://example.org:99999999999/"],
    "ipv6-junk": ["http://[::1::]/"],
    "quote-breakout": ['https://example.org/"><script>alert(1)</script>'],
    "over-2000-chars": ["https://example.org/" + "a" * 2000],
    "over-50-items": [f"https://example.org/{i}" for i in range(51)],
    "duplicates": ["https://example.org/"] * 1000,
    "many-distinct": [f"http://a{i}" for i in range(20_000)],
    "lines-as-text": "https://example.org/a\nhttps://example.org/b",
    "list-of-numbers": [1, 2],
    "list-of-nulls": [None, None],
    "nested-lists": [["https://example.org/"]],
}

# --- lists of objects (disclosure interests) -------------------------------------------------------

INTERESTS: dict[str, Any] = {
    "not-objects": [1, "a", None],
    "nested-lists": [[{"entity": "Acme"}]],
    "relationship-list": [{"entity": "Acme", "relationship": ["consulting"]}],
    "relationship-object": [{"entity": "Acme", "relationship": {"consulting": True}}],
    "relationship-number": [{"entity": "Acme", "relationship": 1}],
    "entity-nul": [{"entity": "Ac\x00me", "relationship": "consulting"}],
    "entity-lone-surrogate": [{"entity": "\ud800", "relationship": "consulting"}],
    "entity-rtl": [{"entity": "Ac\u202eme", "relationship": "consulting"}],
    "entity-script": [{"entity": "<script>alert(1)</script>", "relationship": "consulting"}],
    "entity-object": [{"entity": {"$ne": None}, "relationship": "consulting"}],
    "entity-too-long": [{"entity": "x" * 201, "relationship": "consulting"}],
    "paid-text": [{"entity": "Acme", "relationship": "consulting", "paid": "yes"}],
    "since-junk": [{"entity": "Acme", "relationship": "consulting", "since": "2024-99-99\x00"}],
    "since-list": [{"entity": "Acme", "relationship": "consulting", "since": [2024]}],
    "description-huge": [{"entity": "Acme", "relationship": "consulting", "description": "x" * 100_000}],
    "too-many": [{"entity": f"Company {i}", "relationship": "consulting"} for i in range(51)],
    "thousands": [{"entity": "Acme", "relationship": "consulting"}] * 5000,
}

# --- numbers in JSON (revision numbers) ------------------------------------------------------------

NUMBERS: dict[str, Any] = {
    "int-32-max": 2**31 - 1,
    "int-32-overflow": 2**31,
    "int-63-overflow": 2**63,
    "negative-huge": -(10**30),
    "float-integral": 1.0,
    "exponent": RawJson("1e2"),
    "negative-zero": RawJson("-0"),
}

# --- raw request bodies for any JSON endpoint ---------------------------------------------------

RAW_BODIES: dict[str, bytes] = {
    "empty": b"",
    "whitespace": b" \n\t ",
    "not-json": b"title=x&body=y",
    "truncated": b'{"title": "x", "body": "y"',
    "trailing-garbage": b'{"title": "x", "body": "y"} {}',
    "single-quotes": b"{'title': 'x'}",
    "comments": b'{"title": "x" /* hi */}',
    "top-level-null": b"null",
    "top-level-array": b'[["title", "x"], ["body", "y"]]',
    "top-level-string": b'"title"',
    "top-level-number": b"1",
    "top-level-nan": b"NaN",
    "deep-array": b"[" * 200_000,
    "deep-object": b'{"a":' * 100_000,
    "deep-array-closed": b"[" * 50_000 + b"]" * 50_000,
    "duplicate-keys": (
        b'{"title": "a", "title": {"x": 1}, "body": "b", "body": null, "revision": 1, "revision": "1"}'
    ),
    "invalid-utf8": b'{"title": "\xff\xfe", "body": "\xed\xa0\x80", "note": "\xc0\x80"}',
    "utf8-bom": b'\xef\xbb\xbf{"title": "x", "body": "y"}',
    "utf16": '{"title": "x", "body": "y"}'.encode("utf-16"),
    "utf32": '{"title": "x", "body": "y"}'.encode("utf-32"),
    "raw-nul": b'{"title": "a\x00", "body": "b"}',
    "escaped-lone-surrogate-key": b'{"\\ud800": 1, "title": "x", "body": "y"}',
    "huge-int-literal": b'{"revision": ' + b"9" * 5000 + b', "base_revision": 1}',
    "big-exponent": b'{"revision": 1e999999, "base_revision": -1e999999}',
    "whitespace-flood": b" " * 300_000 + b"{}",
    "many-keys": b"{" + b",".join(b'"k%d": %d' % (i, i) for i in range(10_000)) + b"}",
}

CONTENT_TYPES: dict[str, str | None] = {
    "missing": None,
    "text-plain": "text/plain",
    "form-urlencoded": "application/x-www-form-urlencoded",
    "multipart-no-boundary": "multipart/form-data",
    "multipart-bad-boundary": "multipart/form-data; boundary=",
    "json-latin1": "application/json; charset=latin-1",
    "json-bogus-charset": "application/json; charset=no-such-codec",
    "json-suffix": "application/problem+json",
    "almost-json": "application/jsonx",
    "garbage": "\x01\x02;;;=",
}

# --- raw form values (bytes, as a browser or a script could send them) -------------------------

FORM_BYTES: dict[str, bytes] = {
    "invalid-utf8": b"\xff\xfe",
    "utf8-encoded-surrogate": b"\xed\xa0\x80",
    "overlong-nul": b"\xc0\x80",
    "truncated-utf8": b"abc\xe2\x82",
    "latin1": "caf\xe9".encode("latin-1"),
    "raw-nul": b"a\x00b",
    "raw-crlf": b"a\r\nb",
}


SCRIPT_SAMPLE = ("script-tag", "img-onerror", "javascript-link-html", "svg-onload")


def form_values(*, all_scripts: bool = True) -> dict[str, bytes]:
    """Hostile values for a form field: the raw bytes plus the text corpus, UTF-8 encoded.

    ``all_scripts=False`` keeps a sample of the script payloads, for fields shown only as escaped text.
    """
    scripts = SCRIPTS if all_scripts else {k: SCRIPTS[k] for k in SCRIPT_SAMPLE}
    values = dict(FORM_BYTES)
    for name, text in {**TEXT, **scripts}.items():
        values[name] = text.encode("utf-8", "surrogatepass")
    return values


# --- URL parts ---------------------------------------------------------------------------------

# For ``<int:...>`` path segments; sent as is, so percent-escapes stay escapes.
PATH_INTS: dict[str, str] = {
    "zero": "0",
    "negative": "-1",
    "int-64-overflow": "18446744073709551616",
    "huge": "99999999999999999999",
    "digits-5000": "1" * 5000,
    "float": "1.5",
    "text": "abc",
    "arabic-indic-digit": "%D9%A3",
    "superscript-two": "%C2%B2",
    "nul": "1%00",
}

# For string path segments (slugs).
PATH_SEGMENTS: dict[str, str] = {
    "nul": "%00",
    "nul-inside": "a%00b",
    "invalid-utf8": "%FF%FE",
    "utf8-surrogate": "%ED%A0%80",
    "rtl-override": "%E2%80%AEtxt",
    "long": "a" * 10000,
    "traversal": "..%2F..%2Fconfig.py",
    "encoded-slash": "a%2Fb",
    "sql": "x'%20OR%20'1'='1",
    "script": "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "crlf": "a%0D%0ASet-Cookie:x=1",
}

QUERIES: dict[str, str] = {
    "page-negative": "page=-1",
    "page-text": "page=abc",
    "page-huge": "page=99999999999999999999",
    "page-5000-digits": "page=" + "9" * 5000,
    "page-superscript": "page=%C2%B2",
    "page-arabic-indic": "page=%D9%A3",
    "page-nul": "page=1%00",
    "page-surrogate": "page=%ED%A0%80",
    # Cursors (app/cursors.py): garbled, huge, of another list, the wrong types, nested, NUL.
    "after-garbled": "after=%%%###",
    "after-not-base64": "after=not-a-cursor!",
    "after-huge": "after=" + "A" * 100_000,
    "after-other-list": "after=WyJhdWRpdCIsIjIwMjYtMTItMDNUMDA6MDA6MDArMDA6MDAiLDFd",
    "after-wrong-types": "after=WyJwb3N0cyIsMSwidHdvIl0",
    "after-nested": "after=" + "W1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW10" * 4,
    "after-naive-time": "after=WyJwb3N0cyIsIjIwMjYtMTItMDNUMDA6MDA6MDAiLDFd",
    "after-bigint": "after=WyJwb3N0cyIsIjIwMjYtMTItMDNUMDA6MDA6MDArMDA6MDAiLDk5OTk5"
    + "OTk5OTk5OTk5OTk5OTk5OTk5XQ",
    "after-nul": "after=1%00",
    "per-page-billion": "per_page=1000000000",
    "per-page-negative": "per_page=-5",
    "from-to-huge": "from=99999999999999999999&to=-1",
    "status-junk": "status=%00%27%22%3C",
    # NUL under every parameter name a page might read and pass to the database.
    "nul-everywhere": "&".join(
        f"{k}=1%00"
        for k in (
            "q",
            "state",
            "status",
            "sort",
            "kind",
            "tag",
            "from",
            "to",
            "page",
            "per_page",
            "next",
            "token",
        )
    ),
    "many-params": "&".join(f"p{i}={i}" for i in range(2000)),
    "long-value": "q=" + "a" * 50_000,
}

AUTHORIZATION: dict[str, str] = {
    "huge": "Bearer " + "a" * 100_000,
    "huge-with-prefix": "Bearer cnd_" + "a" * 8000,
    "just-under-length-limit": "Bearer cnd_" + "a" * 196,
    "bearer-empty": "Bearer ",
    "bearer-word-only": "Bearer",
    "junk": "Bearer !!!@@@###",
    "unicode": "Bearer cnd_\U0001fa7a\u202e",
    "latin1-mojibake": "Bearer cnd_\xe2\x80\xae\xff",
    "nul": "Bearer cnd_\x00abc",
    "sql": "Bearer cnd_' OR '1'='1",
    "basic": "Basic YWRtaW46YWRtaW4=",
    "double-bearer": "Bearer Bearer cnd_abc",
    "lowercase-scheme": "bearer cnd_abc",
    "tabs": "Bearer\tcnd_abc",
}

# Other request headers the app reads (the comment pipeline keeps User-Agent and Referer).
HEADERS: dict[str, tuple[str, str]] = {
    "user-agent-nul": ("User-Agent", "Mozilla\x00/5.0"),
    "user-agent-controls": ("User-Agent", "Mozilla\x1b[31m\x7f"),
    "user-agent-huge": ("User-Agent", "M" * 50_000),
    "user-agent-mojibake": ("User-Agent", "Mozilla \xe2\x80\xae\xff"),
    "referer-javascript": ("Referer", "javascript:alert(1)"),
    "referer-huge": ("Referer", "https://example.org/" + "a" * 50_000),
    "cookie-forged-session": ("Cookie", "session=eyJ1c2VyX2lkIjoxfQ.forged.signature"),
    "cookie-garbage": ("Cookie", "session=\x00\x01; ;;=; a=" + "b" * 10_000),
    "accept-language-junk": ("Accept-Language", "*;q=NaN, \xff;q=-1, " + "x" * 5000),
    "accept-junk": ("Accept", "application/json;q=2, */*;q=abc"),
    "host-junk": ("Host", "exa mple.org:99999"),
    "content-length-lie": ("Content-Length", "99999999999999999999"),
}

FORWARDED_FOR: dict[str, str] = {
    "garbage": "not-an-ip",
    "empty": "",
    "script": "<script>alert(1)</script>",
    "many-hops": ", ".join(["203.0.113.7"] * 500),
    "huge": "a" * 20_000,
    "ipv6-junk": ":::::",
    "unicode": "\u0661.\u0662.\u0663.\u0664",
    "commas-only": ",,,,",
    "spoof-local": "127.0.0.1",
}


# --- building requests -----------------------------------------------------------------------------

_SLOT = "__candor_hostile_slot__"


def json_body(base: dict[str, Any], field: str, value: Any) -> bytes:
    """``base`` with ``field`` set to ``value``, as JSON bytes; RawJson values are spliced in verbatim.

    Lone surrogates come out as ``\\ud800`` escapes (json.dumps escapes non-ASCII), as a client would send.
    """
    if isinstance(value, RawJson):
        return json.dumps({**base, field: _SLOT}).replace(json.dumps(_SLOT), value.text).encode()
    return json.dumps({**base, field: value}).encode()


def urlencoded(fields: dict[str, bytes]) -> bytes:
    return "&".join(f"{name}={quote_from_bytes(value)}" for name, value in fields.items()).encode()


def multipart(fields: dict[str, bytes], boundary: str = "candorhostileboundary") -> tuple[bytes, str]:
    b = boundary.encode()
    parts = [
        b"--"
        + b
        + b'\r\nContent-Disposition: form-data; name="'
        + name.encode()
        + b'"\r\n\r\n'
        + value
        + b"\r\n"
        for name, value in fields.items()
    ]
    return b"".join(parts) + b"--" + b + b"--\r\n", f"multipart/form-data; boundary={boundary}"


# --- checking answers --------------------------------------------------------------------------------


def problem_with_error(response: Any) -> str | None:
    """Why a response breaks the error contract, or None: under 500, and a 4xx says what went wrong.

    API answers (and the editor page's JSON helpers under /staff/writing/) carry JSON ``error.message``;
    HTML pages carry an ``<h1>`` with text.
    """
    status = response.status_code
    if status >= 500:
        return f"answered {status}"
    if status < 400:
        return None
    if response.request.path.startswith(("/api/", "/staff/writing/")):
        data = response.get_json(silent=True)
        message = (data or {}).get("error", {}).get("message") if isinstance(data, dict) else None
        if not isinstance(message, str) or not message.strip():
            return f"{status} without JSON error.message: {response.get_data()[:200]!r}"
        return None
    if not response.mimetype == "text/html":
        return f"{status} is {response.mimetype}, not an HTML page"
    heading = BeautifulSoup(response.get_data(as_text=True), "html.parser").find("h1")
    if heading is None or not heading.get_text(strip=True):
        return f"{status} HTML page without an <h1>"
    return None


_URL_ATTRIBUTES = {
    "href",
    "src",
    "action",
    "formaction",
    "xlink:href",
    "data",
    "poster",
    "background",
    "srcset",
    "cite",
    "longdesc",
    "codebase",
    "lowsrc",
    "dynsrc",
}
_FRAGMENT_FORBIDDEN_TAGS = {
    "script",
    "iframe",
    "frame",
    "object",
    "embed",
    "svg",
    "math",
    "style",
    "link",
    "meta",
    "base",
    "form",
    "input",
    "button",
    "textarea",
    "select",
    "template",
}
_INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")


def _dangerous_url(value: str) -> bool:
    # Browsers ignore ASCII whitespace and controls inside a scheme, and compare it case-insensitively.
    squeezed = _INVISIBLE.sub("", value).lower()
    return squeezed.startswith(("javascript:", "vbscript:", "data:"))


def _page_script_is_ours(tag: Any) -> bool:
    """The page's own scripts: a same-origin file from /static/, or JSON-LD data that parses as JSON."""
    if tag.get("src", "").startswith("/static/") and not tag.string:
        return True
    if tag.get("type") == "application/ld+json":
        try:
            json.loads(tag.string or "")
        except ValueError:
            return False
        return True
    return False


def active_content(html: str, *, fragment: bool) -> list[str]:
    """Everything in ``html`` that could run script: <script>, on* handlers, javascript:/data: URLs.

    On a whole page the site's own scripts are allowed (files from /static/, JSON-LD data); a payload
    that broke out of either would show up as an element of its own. ``fragment`` (stored post HTML)
    allows no script at all, nor what a post never needs and a sanitiser must strip: frames, SVG,
    forms, <style>, style attributes.
    """
    # html5lib parses as browsers do, but its adoption agency is quadratic in open formatting elements
    # ("<b>" * 5000 takes 15 s). Past 20,000 characters the stdlib tokenizer is used: it sees the same
    # tags and attributes in well-formed (sanitised) HTML.
    soup = BeautifulSoup(html, "html5lib" if len(html) <= 20_000 else "html.parser")
    found: list[str] = []
    for tag in soup.find_all(True):
        if tag.name == "script" and (fragment or not _page_script_is_ours(tag)):
            found.append(f"<script>{(tag.string or '')[:40]}")
        elif fragment and tag.name in _FRAGMENT_FORBIDDEN_TAGS:
            found.append(f"<{tag.name}>")
        for attr, value in tag.attrs.items():
            text = " ".join(value) if isinstance(value, list) else str(value)
            if attr.lower().startswith("on"):
                found.append(f"<{tag.name} {attr}=...>")
            elif attr.lower() in _URL_ATTRIBUTES and _dangerous_url(text):
                found.append(f"<{tag.name} {attr}={text[:40]!r}>")
            elif fragment and attr.lower() == "style":
                found.append(f"<{tag.name} style=...>")
    return found

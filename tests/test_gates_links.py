"""The direct-link gate and the dead-link checker. Nothing here reaches the internet: the checker talks to
a stdlib HTTP server on 127.0.0.1 (allow-listed, as the checker refuses loopback by default; see
tests/test_outbound.py), or to a recording fetcher when only the scheduling matters."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.gates.links import (
    DEFAULT_REDIRECTORS,
    DEFAULT_SHORTENERS,
    LinkProblem,
    LinkStatus,
    check_direct,
    check_urls,
    extract_links,
    find_indirect,
)
from app.outbound import Answer, Fetcher, OutboundPolicy

# --- shorteners and redirect wrappers -----------------------------------------------------------------


SHORTENERS = [
    "bit.ly",
    "t.co",
    "tinyurl.com",
    "goo.gl",
    "ow.ly",
    "lnkd.in",
    "buff.ly",
    "is.gd",
    "rebrand.ly",
    "cutt.ly",
    "shorturl.at",
    "tiny.cc",
    "t.ly",
    "rb.gy",
    "dlvr.it",
    "fb.me",
    "amzn.to",
    "trib.al",
    "s.id",
]


@pytest.mark.parametrize("host", SHORTENERS)
def test_known_shorteners_are_listed_and_refused(host: str) -> None:
    assert host in DEFAULT_SHORTENERS
    url = f"https://{host}/abc123"
    assert check_direct(url) == LinkProblem(url, f"{host} is a URL shortener; link to the source directly")


def test_subdomains_of_a_shortener_match_and_hosts_are_case_insensitive() -> None:
    problem = check_direct("http://WWW.Bit.Ly./x")
    assert problem is not None and problem.reason.startswith("bit.ly is a URL shortener")


def test_a_host_that_merely_ends_like_a_shortener_is_not_one() -> None:
    assert check_direct("https://habit.ly/x") is None
    assert check_direct("https://notbit.ly.example.org/x") is None


@pytest.mark.parametrize(
    "url",
    [
        "https://youtu.be/dQw4w9WgXcQ",  # YouTube's own canonical short form of one video
        "https://doi.org/10.1056/NEJMoa2034577",  # a DOI is the canonical address of a paper
        "https://www.google.com/search?q=mayo",  # google.com is listed only at /url
        "https://www.ncbi.nlm.nih.gov/pubmed/31234567",
        "http://example.org",
    ],
)
def test_direct_links_pass(url: str) -> None:
    assert check_direct(url) is None


@pytest.mark.parametrize(
    ("url", "entry"),
    [
        ("https://www.google.com/url?q=https://example.org/paper&sa=D", "google.com/url"),
        ("https://google.com/url?url=https://example.org/", "google.com/url"),
        ("https://l.facebook.com/l.php?u=https%3A%2F%2Fexample.org%2F", "l.facebook.com"),
        ("https://lm.facebook.com/l.php?u=x", "lm.facebook.com"),
        ("https://out.reddit.com/t3_abc?url=x", "out.reddit.com"),
        ("https://href.li/?https://example.org", "href.li"),
        (
            "https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fexample.org",
            "safelinks.protection.outlook.com",
        ),
        ("https://urldefense.proofpoint.com/v2/url?u=https-3A__example.org", "urldefense.proofpoint.com"),
        ("https://urldefense.com/v3/__https://example.org__;!!x", "urldefense.com"),
        ("https://mayoclinic.us5.list-manage.com/track/click?u=1&id=2", "list-manage.com/track/click"),
    ],
)
def test_redirect_wrappers_are_refused(url: str, entry: str) -> None:
    problem = check_direct(url)
    assert problem is not None
    assert problem.reason.startswith(f"{entry} is a redirect wrapper; link to the source directly")


def test_a_wrapper_that_names_its_target_suggests_it() -> None:
    problem = check_direct("https://www.google.com/url?q=https://example.org/paper&sa=D")
    assert problem is not None and problem.reason.endswith("(https://example.org/paper)")


def test_wrapper_paths_match_only_themselves_and_below() -> None:
    assert "list-manage.com/track/click" in DEFAULT_REDIRECTORS
    assert check_direct("https://us5.list-manage.com/subscribe?u=1") is None
    assert check_direct("https://www.google.com/urls-are-fine") is None
    assert check_direct("https://www.google.com/url/deeper") is not None


def test_operators_can_extend_the_list_with_hosts_and_paths() -> None:
    extra = ["go.example.com", "*.tracker.example.net", "news.example.org/out", "  "]
    for url in (
        "https://go.example.com/x",
        "https://a.tracker.example.net/y",
        "https://news.example.org/out?u=z",
    ):
        problem = check_direct(url, extra_hosts=extra)
        assert problem is not None and "on this site's list of indirect links" in problem.reason
    assert check_direct("https://news.example.org/story", extra_hosts=extra) is None
    # the defaults still apply alongside the extras
    assert check_direct("https://bit.ly/x", extra_hosts=extra) is not None


def test_operators_can_add_youtu_be_if_they_disagree() -> None:
    assert check_direct("https://youtu.be/x", extra_hosts=["youtu.be"]) is not None


@pytest.mark.parametrize(
    "url", ["mailto:jane@example.org", "ftp://example.org/file", "javascript:alert(1)", "file:///etc/passwd"]
)
def test_only_http_and_https_are_direct_links(url: str) -> None:
    for allow_relative in (False, True):
        assert check_direct(url, allow_relative=allow_relative) == LinkProblem(url, "not an http(s) link")


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "http://",
        "https:///path",
        "http://[::1",
        "http://exa mple.org/",
        "http://example.org:99999/",
        "http://-bad-.example.org/",
        "https://a..b/",
    ],
)
def test_malformed_urls_are_named_as_such(url: str) -> None:
    assert check_direct(url) == LinkProblem(url, "malformed URL")


@pytest.mark.parametrize("url", ["/posts/x", "#fn:1", "../about", "?page=2", "//example.org/x"])
def test_relative_links_are_allowed_in_text_and_refused_as_references(url: str) -> None:
    assert check_direct(url, allow_relative=True) is None
    assert check_direct(url) == LinkProblem(url, "not an http(s) link")


def test_protocol_relative_links_to_a_shortener_are_refused_even_in_text() -> None:
    assert check_direct("//bit.ly/x", allow_relative=True) is not None


def test_a_scheme_less_shortener_or_www_link_is_not_mistaken_for_a_relative_path() -> None:
    problem = check_direct("bit.ly/abc", allow_relative=True)
    assert problem is not None and problem.reason.startswith("bit.ly is a URL shortener")
    problem = check_direct("www.example.org/paper", allow_relative=True)
    assert problem is not None and problem.reason == "not an http(s) link; add https:// in front"


def test_find_indirect_reports_each_distinct_problem_once_in_order() -> None:
    urls = [
        "https://example.org",
        "https://bit.ly/a",
        "/local",
        "https://bit.ly/a",
        "mailto:x@y.z",
        "https://t.co/b",
    ]
    problems = find_indirect(urls, allow_relative=True)
    assert [p.url for p in problems] == ["https://bit.ly/a", "mailto:x@y.z", "https://t.co/b"]
    assert find_indirect(["https://go.example.com/x"], extra_hosts=["go.example.com"])[0].url.endswith("/x")


# --- extracting links --------------------------------------------------------------------------------


def test_extract_links_reads_hrefs_in_order_with_entities_decoded() -> None:
    html = (
        '<p><a href="https://example.org/a?x=1&amp;y=2" rel="nofollow noopener">one</a> '
        "<a title='t' href='/posts/x'>two</a> <a id=\"fnref:1\" href=\"#fn:1\">3</a>"
        '<a name="anchor">no href</a> <a href="">empty</a> <img src="https://img.example.org/i.png">'
        '<A HREF="https://bit.ly/x"/></p>'
    )
    assert extract_links(html) == [
        "https://example.org/a?x=1&y=2",
        "/posts/x",
        "#fn:1",
        "https://bit.ly/x",
    ]


def test_extract_links_ignores_href_like_text() -> None:
    assert extract_links('<p>write &lt;a href="https://bit.ly/x"&gt; in code</p><code>href="x"</code>') == []


# --- the dead-link checker against a local server -------------------------------------------------------


Server = tuple[str, list[tuple[str, str]]]
"""The local server's base URL and its log of (method, path) requests."""


class _Handler(BaseHTTPRequestHandler):
    log: list[tuple[str, str]]
    release: threading.Event

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def _answer(self, status: int, location: str | None = None, body: bool = True) -> None:
        payload = b"hello" if body else b""
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _route(self) -> None:
        self.log.append((self.command, self.path))
        path = self.path.split("?", 1)[0]
        if path == "/ok":
            self._answer(200)
        elif path == "/missing":
            self._answer(404)
        elif path == "/error":
            self._answer(500)
        elif path.startswith("/chain/"):
            hops = int(path.rsplit("/", 1)[1])
            self._answer(302, "/ok" if hops <= 1 else f"/chain/{hops - 1}")
        elif path == "/moved-to-missing":
            self._answer(301, "/missing")
        elif path == "/loop":
            self._answer(302, "/loop")
        elif path == "/no-head":
            self._answer(405 if self.command == "HEAD" else 200)
        elif path == "/head-not-implemented":
            self._answer(501 if self.command == "HEAD" else 200)
        elif path == "/slow":
            self.release.wait(5)
            try:
                self._answer(200)
            except OSError:
                pass  # the client gave up long ago
        else:
            self._answer(404)

    do_GET = _route
    do_HEAD = _route


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    log: list[tuple[str, str]] = []
    release = threading.Event()
    handler = type("Handler", (_Handler,), {"log": log, "release": release})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", log
    finally:
        release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


LOOPBACK_ALLOWED = OutboundPolicy(allow=("127.0.0.1",))


@pytest.fixture
def client() -> Fetcher:
    return Fetcher(LOOPBACK_ALLOWED)


def check_one(url: str, client: Fetcher, **kwargs: float) -> LinkStatus:
    [status] = check_urls([url], client, per_host_delay=0, **kwargs)  # type: ignore[arg-type]
    return status


@pytest.mark.parametrize(
    ("path", "ok", "status"),
    [
        ("/ok", True, 200),
        ("/missing", False, 404),
        ("/error", False, 500),
        ("/chain/3", True, 200),  # a redirect to a live page is fine
        ("/moved-to-missing", False, 404),  # the final page counts, not the first answer
    ],
)
def test_status_after_redirects_decides(
    server: Server, client: Fetcher, path: str, ok: bool, status: int
) -> None:
    base, _ = server
    assert check_one(base + path, client) == LinkStatus(base + path, ok, status, None)


@pytest.mark.parametrize("path", ["/no-head", "/head-not-implemented"])
def test_head_comes_first_and_get_follows_when_head_is_refused(
    server: Server, client: Fetcher, path: str
) -> None:
    base, log = server
    log.clear()
    assert check_one(base + path, client) == LinkStatus(base + path, True, 200, None)
    assert log == [("HEAD", path), ("GET", path)]


def test_a_live_page_needs_only_a_head(server: Server, client: Fetcher) -> None:
    base, log = server
    log.clear()
    check_one(base + "/ok", client)
    assert log == [("HEAD", "/ok")]


def test_a_redirect_loop_is_reported(server: Server) -> None:
    base, _ = server
    result = check_one(base + "/loop", Fetcher(OutboundPolicy(allow=("127.0.0.1",), max_redirects=5)))
    assert result == LinkStatus(base + "/loop", False, None, "too many redirects")


@pytest.mark.timeout(20)
def test_a_slow_server_times_out(server: Server, client: Fetcher) -> None:
    base, _ = server
    result = check_one(base + "/slow", client, timeout=0.3)
    assert result == LinkStatus(base + "/slow", False, None, "timeout")


def test_a_closed_port_is_a_connection_failure(client: Fetcher) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = check_one(f"http://127.0.0.1:{port}/", client)
    assert not result.ok and result.status is None
    assert result.error is not None and result.error.startswith("connection failed")


def test_duplicates_are_checked_once_and_reported_once(server: Server, client: Fetcher) -> None:
    base, log = server
    log.clear()
    urls = [base + "/ok", base + "/ok", " " + base + "/ok ", base + "/ok#section", base + "/missing"]
    results = check_urls(urls, client, per_host_delay=0)
    assert [r.url for r in results] == [base + "/ok", base + "/ok#section", base + "/missing"]
    assert [r.ok for r in results] == [True, True, False]
    assert log == [("HEAD", "/ok"), ("HEAD", "/missing")]


def test_links_that_are_not_http_are_reported_without_a_request(client: Fetcher) -> None:
    results = check_urls(["mailto:x@example.org", "/posts/x", "http://"], client, per_host_delay=0)
    assert results == [
        LinkStatus("mailto:x@example.org", False, None, "not an http(s) link"),
        LinkStatus("/posts/x", False, None, "not an http(s) link"),
        LinkStatus("http://", False, None, "malformed URL"),
    ]


# --- politeness, with a fake clock and a mock transport ---------------------------------------------------


class FakeTime:
    """A clock that only moves when slept on, so spacing can be asserted exactly and tests never wait."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class RecordingFetcher(Fetcher):
    """Answers 200 to everything, and notes when each host was asked (the network is not the point)."""

    def __init__(self, fake: FakeTime, seen: list[tuple[float, str]]) -> None:
        super().__init__()
        self.fake, self.seen = fake, seen

    def fetch(
        self, method: str, url: str, *, timeout: float | None = None, max_bytes: int | None = None
    ) -> Answer:
        self.seen.append((self.fake.now, url.split("/")[2]))
        self.fake.now += 0.25  # each request takes a quarter of a second
        return Answer(url, 200, (), b"", False, 0)


def test_requests_to_one_host_are_spaced_and_hosts_interleave() -> None:
    fake, seen = FakeTime(), []
    urls = [f"https://a.example/{i}" for i in range(3)] + [f"https://b.example/{i}" for i in range(3)]
    http = RecordingFetcher(fake, seen)
    results = check_urls(urls, http, per_host_delay=1.0, sleep=fake.sleep, clock=fake.clock)
    assert all(r.ok for r in results) and [r.url for r in results] == urls
    assert [host for _, host in seen] == ["a.example", "b.example"] * 3
    for host in ("a.example", "b.example"):
        times = [t for t, h in seen if h == host]
        assert all(later - earlier >= 1.0 + 0.25 for earlier, later in zip(times, times[1:], strict=False))
    # Interleaved: the run costs two delays per host in parallel, not the five a serial queue would.
    assert fake.now - 100.0 == pytest.approx(3.0)
    assert sum(fake.sleeps) == pytest.approx(1.5)


def test_no_sleep_when_every_request_goes_to_a_different_host() -> None:
    fake, seen = FakeTime(), []
    http = RecordingFetcher(fake, seen)
    check_urls([f"https://h{i}.example/" for i in range(5)], http, sleep=fake.sleep, clock=fake.clock)
    assert fake.sleeps == [] and len(seen) == 5


def test_hosts_past_their_limit_are_reported_not_requested() -> None:
    fake, seen = FakeTime(), []
    urls = [f"https://a.example/{i}" for i in range(5)] + ["https://b.example/0"]
    http = RecordingFetcher(fake, seen)
    results = check_urls(urls, http, per_host_delay=0.5, max_per_host=2, sleep=fake.sleep, clock=fake.clock)
    assert len(seen) == 3
    assert [r.url for r in results] == urls
    assert [r.ok for r in results] == [True, True, False, False, False, True]
    for skipped in results[2:5]:
        assert (skipped.status, skipped.error) == (None, "skipped: host limit")

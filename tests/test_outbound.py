"""Outbound requests reach only public destinations (app/outbound.py).

Real sockets throughout: pages are served on 127.0.0.1 and 127.0.0.2 (both loopback on Linux) by stdlib
servers that count every request. A test that allow-lists a server shows the request *would* arrive
(one hit); the same request refused under the default policy leaves zero hits, and a watch on
``socket.create_connection`` shows no connection was even attempted, to any address.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme

from app.gates.links import check_direct
from app.outbound import (
    Fetcher,
    OutboundPolicy,
    Refused,
    Timeout,
    TooManyRedirects,
    Unreachable,
    check_url,
    host_problem,
    parse_allow,
    parse_ipv4_any_form,
)


@dataclass
class Site:
    host: str
    port: int
    hits: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"


class _Handler(BaseHTTPRequestHandler):
    site: Site
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _route(self) -> None:
        self.site.hits.append((self.path, dict(self.headers.items())))
        path, _, query = self.path.partition("?")
        if path == "/ok":
            self._send(200, {}, b"hello")
        elif path == "/to":  # /to?<absolute or relative URL>
            self._send(302, {"Location": query, "Set-Cookie": "session=secret; Path=/"})
        elif path.startswith("/chain/"):
            hops = int(path.rsplit("/", 1)[1])
            self._send(301, {"Location": "/ok" if hops <= 1 else f"/chain/{hops - 1}"})
        elif path == "/see-other":
            self._send(303, {"Location": "/ok"})
        elif path == "/big":
            self.send_response(200)
            self.send_header("Content-Length", str(50_000_000))
            self.end_headers()
            try:
                for _ in range(50_000):
                    self.wfile.write(b"x" * 1000)
            except OSError:
                pass  # the client stopped reading, as it should
        elif path == "/endless":  # no length, never ends: only the byte cap stops it
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"3e8\r\n" + b"y" * 1000 + b"\r\n")
            except OSError:
                pass
        elif path == "/trickle":  # one byte at a time, forever: only the total time stops it
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            try:
                for _ in range(1000):
                    self.wfile.write(b"z")
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                pass
        else:
            self._send(404, {})

    do_GET = _route
    do_HEAD = _route


def _serve(host: str) -> Iterator[Site]:
    site = Site(host, 0)
    server = ThreadingHTTPServer((host, 0), type("Handler", (_Handler,), {"site": site}))
    server.daemon_threads = True
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def _loopback_site() -> Iterator[Site]:
    yield from _serve("127.0.0.1")


@pytest.fixture(scope="module")
def _other_loopback_site() -> Iterator[Site]:
    yield from _serve("127.0.0.2")


@pytest.fixture
def site(_loopback_site: Site) -> Site:
    """A page server on 127.0.0.1, its count of requests at zero."""
    _loopback_site.hits.clear()
    return _loopback_site


@pytest.fixture
def other_site(_other_loopback_site: Site) -> Site:
    """A second server on 127.0.0.2: "the public site" when only it is allow-listed."""
    _other_loopback_site.hits.clear()
    return _other_loopback_site


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every TCP connection attempt, wherever it goes (the watch passes them through)."""
    seen: list[tuple[str, int]] = []
    real = socket.create_connection

    def watched(address, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", watched)
    return seen


def allowing(*entries: str, **limits: object) -> Fetcher:
    return Fetcher(OutboundPolicy(allow=entries, **limits))  # type: ignore[arg-type]


# --- a request that is allowed arrives, once -------------------------------------------------------


def test_an_allow_listed_server_is_reached(site: Site, connections: list[tuple[str, int]]) -> None:
    answer = allowing("127.0.0.1").fetch("GET", site.url("/ok"))
    assert (answer.status, answer.body, answer.redirects) == (200, b"hello", 0)
    assert [path for path, _ in site.hits] == ["/ok"]
    assert connections == [("127.0.0.1", site.port)]


def test_an_allow_listed_name_is_reached_and_keeps_its_host_header(site: Site) -> None:
    answer = allowing("localhost").fetch("GET", f"http://localhost:{site.port}/ok")
    assert answer.status == 200
    [(_, headers)] = site.hits
    assert headers["Host"] == f"localhost:{site.port}"


def test_only_our_own_few_headers_are_sent(site: Site) -> None:
    allowing("127.0.0.1").fetch("HEAD", site.url("/ok"))
    [(_, headers)] = site.hits
    assert {name.lower() for name in headers} == {
        "host",
        "user-agent",
        "accept",
        "accept-encoding",
        "connection",
    }
    assert headers["Accept-Encoding"] == "identity"


# --- every forbidden form is refused before any connection -----------------------------------------

LOOPBACK_FORMS = [
    "127.0.0.1",
    "127.0.0.2",
    "127.255.255.254",
    "localhost",
    "LOCALHOST",
    "localhost.",
    "2130706433",  # decimal
    "0x7f000001",  # hex
    "0x7f.1",  # hex, short
    "0x7F.0.0.1",
    "0177.0.0.1",  # octal
    "0177.1",
    "00000177.0.0.1",
    "017700000001",
    "127.1",  # short forms
    "127.0.1",
    "127.000.000.001",  # zero-padded (octal to some parsers)
    "[::1]",
    "[0:0:0:0:0:0:0:1]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped
    "[::ffff:7f00:1]",
    "[0:0:0:0:0:ffff:127.0.0.1]",
    "[::127.0.0.1]",  # IPv4-compatible (deprecated)
    "[2002:7f00:1::]",  # 6to4
    "[64:ff9b::127.0.0.1]",  # NAT64
    "0.0.0.0",
    "0",
    "[::]",
    "\uff11\uff12\uff17.\uff10.\uff10.\uff11",  # fullwidth digits: browsers and IDNA read 127.0.0.1
    "127\u30020\u30020\u30021",  # ideographic full stops
    "\u24db\u24de\u24d2\u24d0\u24db\u24d7\u24de\u24e2\u24e3",  # circled letters: localhost
]


@pytest.mark.parametrize("host", LOOPBACK_FORMS)
def test_loopback_in_any_form_is_refused_without_a_connection(
    site: Site, connections: list[tuple[str, int]], host: str
) -> None:
    with pytest.raises(Refused):
        Fetcher().fetch("GET", f"http://{host}:{site.port}/ok")
    assert site.hits == [] and connections == []


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://10.255.255.255/",
        "http://172.16.0.1/",
        "http://172.31.255.254/",
        "http://192.168.0.1/",
        "http://169.254.1.1/",  # link-local
        "http://169.254.169.254/latest/meta-data/",  # metadata
        "http://169.254.170.2/v2/credentials",
        "http://100.100.100.200/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA.GOOGLE.INTERNAL./",
        "http://metadata/",
        "http://100.64.0.1/",  # CGNAT
        "http://100.127.255.254/",
        "http://[fe80::1]/",
        "http://[fe80::1%25eth0]/",
        "http://[fc00::1]/",
        "http://[fd12:3456::1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://224.0.0.1/",
        "http://239.255.255.250/",
        "http://[ff02::1]/",
        "http://240.0.0.1/",  # reserved
        "http://255.255.255.255/",
        "http://192.0.2.1/",  # documentation
        "http://198.18.0.1/",  # benchmarking
        "http://0xa9fea9fe/",  # 169.254.169.254 in hex
        "http://2852039166/",  # ... in decimal
        "http://0251.0376.0251.0376/",  # ... in octal
        "http://10.1/",
        "http://foo.localhost/",
        "http://printer.local/",
        "http://db.internal/",
        "http://router.lan/",
        "http://intranet/",
        "http://256.0.0.1/",  # numeric but no address
        "http://1.2.3.4.5/",
        "http://0x100000000/",
    ],
)
def test_private_link_local_metadata_and_local_names_are_refused(
    connections: list[tuple[str, int]], url: str
) -> None:
    with pytest.raises(Refused):
        Fetcher().fetch("GET", url)
    assert connections == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/",
        "file:///etc/passwd",
        "gopher://example.org/",
        "http://user:pass@example.org/",
        "http://user@example.org/",
        "https://:@example.org/",
        "http://example.org\\@127.0.0.1/",
        "http://exa mple.org/",
        "http://example.org:22/",  # not a web port
        "http://example.org:6379/",
        "https://example.org:99999/",
        "http:///path",
    ],
)
def test_other_schemes_userinfo_odd_ports_and_malformed_urls_are_refused(
    connections: list[tuple[str, int]], url: str
) -> None:
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["93.184.215.14"]

    with pytest.raises(Refused):
        Fetcher(resolve=resolve).fetch("GET", url)
    assert connections == [] and asked == []  # refused before DNS was even asked


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f.1", "0177.0.0.1", "127.1", "127.000.000.001", "user:pw@127.0.0.1"]
)
def test_the_allow_list_admits_the_address_but_never_its_odd_spellings_nor_credentials(
    site: Site, connections: list[tuple[str, int]], host: str
) -> None:
    with pytest.raises(Refused):
        allowing("127.0.0.1").fetch("GET", f"http://{host}:{site.port}/ok")
    assert site.hits == [] and connections == []


def test_an_allow_list_of_one_address_does_not_admit_its_neighbour(site: Site) -> None:
    with pytest.raises(Refused, match="127.0.0.1 is a loopback address"):
        allowing("127.0.0.2").fetch("GET", site.url("/ok"))
    assert site.hits == []


# --- names: resolved once, every address checked, then pinned ----------------------------------------


def test_a_name_that_resolves_to_loopback_is_refused_by_its_address(
    site: Site, connections: list[tuple[str, int]]
) -> None:
    """``localhost`` goes through the real resolver; the refusal names the address it resolved to. (An
    allow-list naming some other network lets the test server's odd port past the port rule.)"""
    reason = r"localhost resolves to (127\.0\.0\.1|::1), a loopback address"
    with pytest.raises(Refused, match=reason):
        Fetcher().fetch("GET", "http://localhost/ok")
    with pytest.raises(Refused, match=reason):
        allowing("192.0.2.0/24").fetch("GET", f"http://localhost:{site.port}/ok")
    assert site.hits == [] and connections == []


def test_a_name_is_refused_if_any_of_its_addresses_is_not_public(connections: list[tuple[str, int]]) -> None:
    def resolve(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "10.1.2.3"]

    with pytest.raises(Refused, match=r"10\.1\.2\.3, a private address"):
        Fetcher(resolve=resolve).fetch("GET", "http://mixed.example/")
    assert connections == []


def test_a_name_that_does_not_resolve_is_unreachable(connections: list[tuple[str, int]]) -> None:
    def resolve(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(Unreachable, match="could not be resolved"):
        Fetcher(resolve=resolve).fetch("GET", "https://nowhere.example/")
    assert connections == []


def test_the_connection_goes_to_the_address_checked_not_to_a_second_answer(
    site: Site, other_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name first resolves to the allowed 127.0.0.2, then to 127.0.0.1. The request
    lands on 127.0.0.2, with the name in its Host header, and nothing asks DNS a second time."""
    answers = iter(["127.0.0.2", "127.0.0.1", "127.0.0.1"])
    asked: list[str] = []
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host != "rebind.example":
            return real(host, port, *args, **kwargs)
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    answer = allowing("127.0.0.2").fetch("GET", f"http://rebind.example:{other_site.port}/ok")
    assert answer.status == 200
    assert [(path, headers["Host"]) for path, headers in other_site.hits] == [
        ("/ok", f"rebind.example:{other_site.port}")
    ]
    assert site.hits == [] and asked == ["rebind.example"]


@pytest.fixture(scope="module")
def tls_site() -> Iterator[tuple[Site, trustme.CA, list[str | None]]]:
    """An HTTPS server on 127.0.0.1 whose certificate names only ``secure.example``; it notes the SNI
    name each client sent."""
    ca = trustme.CA()
    snis: list[str | None] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("secure.example").configure_cert(context)
    context.sni_callback = lambda sock, name, ctx: snis.append(name)
    site = Site("127.0.0.1", 0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"site": site}))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site, ca, snis
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_https_goes_to_the_pinned_address_with_the_name_for_sni_host_and_certificate(
    tls_site: tuple[Site, trustme.CA, list[str | None]],
) -> None:
    site, ca, snis = tls_site
    site.hits.clear()
    snis.clear()
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    fetcher = Fetcher(
        OutboundPolicy(allow=("127.0.0.1",)),
        resolve=lambda host, port: ["127.0.0.1"],
        ssl_context=client_context,
    )
    answer = fetcher.fetch("GET", f"https://secure.example:{site.port}/ok")
    assert (answer.status, answer.body) == (200, b"hello")
    assert snis == ["secure.example"]
    assert [headers["Host"] for _, headers in site.hits] == [f"secure.example:{site.port}"]


def test_https_refuses_a_certificate_for_another_name_at_the_same_address(
    tls_site: tuple[Site, trustme.CA, list[str | None]],
) -> None:
    site, ca, _ = tls_site
    site.hits.clear()
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    fetcher = Fetcher(
        OutboundPolicy(allow=("127.0.0.1",)),
        resolve=lambda host, port: ["127.0.0.1"],
        ssl_context=client_context,
    )
    with pytest.raises(Unreachable, match="certificate|CERTIFICATE"):
        fetcher.fetch("GET", f"https://other.example:{site.port}/ok")
    with pytest.raises(Unreachable):  # nor is an unknown CA trusted by default
        Fetcher(OutboundPolicy(allow=("127.0.0.1",)), resolve=lambda host, port: ["127.0.0.1"]).fetch(
            "GET", f"https://secure.example:{site.port}/ok"
        )
    assert site.hits == []


# --- redirects: by hand, each hop checked, capped ---------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/ok",
        "http://localhost:{port}/ok",
        "http://2130706433:{port}/ok",
        "http://0x7f.1:{port}/ok",
        "http://[::ffff:127.0.0.1]:{port}/ok",
        "http://169.254.169.254/latest/meta-data/",
        "http://user:pass@127.0.0.2:{other}/ok",
        "file:///etc/passwd",
    ],
)
def test_a_redirect_from_an_allowed_host_into_loopback_is_refused(
    site: Site, other_site: Site, connections: list[tuple[str, int]], target: str
) -> None:
    location = target.format(port=site.port, other=other_site.port)
    with pytest.raises(Refused):
        allowing("127.0.0.2").fetch("GET", other_site.url(f"/to?{location}"))
    assert [path for path, _ in other_site.hits] == [f"/to?{location}"]
    assert site.hits == []
    assert connections == [("127.0.0.2", other_site.port)]


def test_a_redirect_within_the_allowed_host_is_followed_without_the_cookie_it_set(other_site: Site) -> None:
    answer = allowing("127.0.0.2").fetch("GET", other_site.url("/to?/ok"))
    assert (answer.status, answer.redirects, answer.url) == (200, 1, other_site.url("/ok"))
    assert [path for path, _ in other_site.hits] == ["/to?/ok", "/ok"]
    assert all("Cookie" not in headers and "Authorization" not in headers for _, headers in other_site.hits)


def test_redirects_are_capped(site: Site) -> None:
    fetcher = allowing("127.0.0.1", max_redirects=5)
    assert fetcher.fetch("HEAD", site.url("/chain/5")).redirects == 5
    site.hits.clear()
    with pytest.raises(TooManyRedirects):
        fetcher.fetch("HEAD", site.url("/chain/9"))
    assert len(site.hits) == 6  # the first request and five redirects, then no more


def test_a_303_turns_a_get_into_a_get_and_a_head_stays_a_head(site: Site) -> None:
    assert allowing("127.0.0.1").fetch("HEAD", site.url("/see-other")).status == 200
    assert allowing("127.0.0.1").fetch("GET", site.url("/see-other")).body == b"hello"


# --- size and time ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/big", "/endless"])
def test_at_most_the_byte_cap_is_read(site: Site, path: str) -> None:
    answer = allowing("127.0.0.1", max_bytes=10_000).fetch("GET", site.url(path))
    assert answer.status == 200 and answer.truncated
    assert len(answer.body) == 10_000


def test_max_bytes_zero_reads_no_body(site: Site) -> None:
    answer = allowing("127.0.0.1").fetch("GET", site.url("/big"), max_bytes=0)
    assert answer.status == 200 and answer.body == b"" and not answer.truncated


@pytest.mark.timeout(30)
def test_a_trickling_answer_is_cut_off_by_the_total_time(site: Site) -> None:
    """Each byte arrives well within any read timeout; only the budget for the whole fetch ends it."""
    with pytest.raises(Timeout):
        allowing("127.0.0.1", timeout=0.5).fetch("GET", site.url("/trickle"))


def test_a_closed_port_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(Unreachable, match="connection failed"):
        allowing("127.0.0.1").fetch("GET", f"http://127.0.0.1:{port}/")


# --- the pure checks, and the allow-list's own shape --------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("192.168.257", "192.168.1.1"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("1.2.3.4", "1.2.3.4"),
    ],
)
def test_numeric_hosts_are_read_as_inet_aton_reads_them(spelling: str, address: str) -> None:
    assert str(parse_ipv4_any_form(spelling)) == address
    assert str(parse_ipv4_any_form(spelling)) == socket.inet_ntoa(socket.inet_aton(spelling))


@pytest.mark.parametrize(
    "host", ["example.org", "93.184.215.14", "[2606:4700::1111]", "xn--bcher-kva.example"]
)
def test_public_hosts_have_no_problem(host: str) -> None:
    assert host_problem(host) is None


def test_check_url_pins_what_it_checked() -> None:
    destination = check_url(
        "https://Example.ORG/a%20b/é?q=ü#frag", OutboundPolicy(), lambda host, port: ["93.184.215.14"]
    )
    assert destination.addresses == ("93.184.215.14",)
    assert (destination.host, destination.port, destination.target) == (
        "example.org",
        443,
        "/a%20b/%C3%A9?q=%C3%BC",
    )


@pytest.mark.parametrize("entry", ["http://x/", "a b", "user@host", "10.0.0.0/33", "1.2.3.999"])
def test_a_malformed_allow_list_entry_is_an_error(entry: str) -> None:
    with pytest.raises(ValueError):
        parse_allow([entry])


def test_allow_list_entries_are_names_addresses_and_networks() -> None:
    names, networks = parse_allow(["Wiki.Intranet.", "127.0.0.1", "10.0.0.0/8", "[::1]", ""])
    assert names == {"wiki.intranet"}
    assert [str(n) for n in networks] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]


# --- the direct-link gate: links in posts --------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/admin",
        "http://LOCALHOST:8080/",
        "http://app.localhost/",
        "http://db.internal/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://printer.local/",
        "http://intranet/wiki",
        "http://127.0.0.1/",
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0177.0.0.1/",
        "http://10.0.0.5/records",
        "http://172.16.4.4/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.1.1/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[fd00:ec2::254]/",
        "http://[fc00::1]/",
        "http://[::ffff:192.168.1.1]/",
        "https://0.0.0.0/",
        "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/",
        "http://127\u30020\u30020\u30021/",
        "http://\u24db\u24de\u24d2\u24d0\u24db\u24d7\u24de\u24e2\u24e3/",
        "http://0\uff587f.1/",
    ],
)
def test_the_direct_link_gate_refuses_links_into_private_networks(url: str) -> None:
    problem = check_direct(url)
    assert problem is not None and problem.private
    assert "readers cannot reach it" in problem.reason
    assert check_direct(url, allow_relative=True) == problem  # in post text as in references


def test_the_direct_link_gate_refuses_credentials_in_links() -> None:
    problem = check_direct("https://clinic.example@evil.example/login")
    assert problem is not None and "user name or password" in problem.reason


def test_the_direct_link_gate_admits_what_the_allow_list_admits() -> None:
    assert check_direct("http://127.0.0.1:5000/x", allow_private=["127.0.0.1"]) is None
    assert check_direct("http://wiki.intranet/x", allow_private=["wiki.intranet"]) is None
    assert check_direct("http://10.2.3.4/x", allow_private=["10.0.0.0/8"]) is None
    assert check_direct("http://0x7f.1/", allow_private=["127.0.0.1"]) is not None

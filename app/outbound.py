"""Requests Candor makes to URLs that people wrote (references and links in posts): only to the public
internet, never to the machine it runs on, its network or a cloud's metadata service.

A link in a post is chosen by its author, and a redirect by whoever runs the linked site, so a naive
link checker is a way into the clinic's network (server-side request forgery). Every request here is
checked before any connection is made, at every redirect hop:

* **Scheme and form.** ``http`` and ``https`` only; no user name or password in the URL
  (``http://user:pass@host/``); ports 80, 443, 8080 and 8443 only (:data:`PUBLIC_PORTS`: other ports are
  where internal services listen), except for allow-listed destinations.
* **Names and addresses.** IPv4 written in any form but four decimal numbers (``2130706433``,
  ``0x7f.1``, ``0177.0.0.1``, ``127.1``) is refused outright, whatever it means: browsers, curl and
  resolvers each read those differently. A name is resolved once (``getaddrinfo``) and refused if *any*
  address it resolves to is not public: loopback, private (RFC 1918), link-local, unique-local
  (``fc00::/7``), multicast, reserved, unspecified, shared (CGNAT ``100.64/10``), cloud metadata
  (``169.254.169.254``, ``fd00:ec2::254``), or IPv6 that embeds such an IPv4 address (IPv4-mapped,
  6to4, Teredo, NAT64). Names that only mean something inside a network (``localhost``,
  ``*.localhost``, ``*.local``, ``*.internal``, ``metadata.google.internal``) are refused too.
* **Pinned connection.** The connection goes to exactly the address that was checked: the network
  backend below knows only that address and never resolves a name, so a DNS answer that changes between
  the check and the connect (DNS rebinding) cannot redirect it. The ``Host`` header, TLS SNI and
  certificate check still use the name in the URL.
* **Redirects by hand.** At most ``max_redirects`` hops, each checked like the first.
* **Limits.** At most ``max_bytes`` of a body are read; the whole fetch, every hop, connect and read
  included, keeps to ``timeout`` seconds (each socket operation waits at most for what is left; name
  resolution is bounded by the system resolver's own timeout).
* **Nothing of ours is sent.** No cookies, no ``Authorization``, no proxy from the environment (a proxy
  would resolve names itself); only ``User-Agent``, ``Accept`` and ``Accept-Encoding: identity`` (so the
  byte cap is the size of what is kept).

The escape hatch is :attr:`OutboundPolicy.allow` (``CANDOR_OUTBOUND_ALLOW``): host names and addresses
or networks (CIDR) that may be reached although they are not public, for tests that serve pages on
``127.0.0.1`` and for intranets. An allowed name is reached whatever it resolves to; an allowed network
admits the addresses in it. The non-decimal IPv4 forms stay refused even then.

Flask-free: the link checker and the direct-link gate use it; the web edge builds the policy from config.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import httpcore

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
"""``resolve(host, port)``: the addresses a name stands for, as strings; raises ``OSError`` if none."""

PUBLIC_PORTS = frozenset({80, 443, 8080, 8443})
"""Ports a non-allow-listed destination may use: the web's defaults and their common alternates."""

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean ...
        "169.254.170.2",  # AWS ECS task credentials
        "100.100.100.200",  # Alibaba Cloud
        "fd00:ec2::254",  # AWS over IPv6
    )
)
METADATA_NAMES = frozenset({"metadata.google.internal", "metadata", "instance-data", "metadata.azure.com"})
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa", ".lan", ".intranet")
_LOCAL_NAMES = frozenset(
    {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", "broadcasthost"}
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NUMERIC_LABEL = re.compile(r"(0[xX][0-9a-fA-F]*|[0-9]+)")
_DOTTED_QUAD = re.compile(r"(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}")


# --- errors ------------------------------------------------------------------------------------------


class OutboundError(Exception):
    """A fetch that gave no answer; ``reason`` says why in words for a report."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Refused(OutboundError):
    """The destination (or a redirect's) is not allowed; no connection was made to it."""


class TooManyRedirects(OutboundError):
    pass


class Timeout(OutboundError):
    pass


class Unreachable(OutboundError):
    """The name did not resolve, the connection failed, or the answer was not HTTP."""


# --- the policy --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboundPolicy:
    """What may be fetched, and how much.

    :param allow: host names, addresses and networks (``127.0.0.1``, ``10.0.0.0/8``, ``wiki.intranet``)
        that may be reached although not public; for tests and intranets. Empty by default.
    """

    allow: tuple[str, ...] = ()
    max_redirects: int = 5
    max_bytes: int = 1_000_000
    timeout: float = 10.0
    ports: frozenset[int] = PUBLIC_PORTS
    user_agent: str = "Candor"
    _names: frozenset[str] = field(init=False, repr=False, compare=False)
    _networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        names, networks = parse_allow(self.allow)
        object.__setattr__(self, "_names", names)
        object.__setattr__(self, "_networks", networks)

    def allows_name(self, host: str) -> bool:
        return _normal_name(host) in self._names

    def may_allow_other_ports(self, host: str) -> bool:
        """Whether ``host`` could turn out allow-listed (only allow-listed destinations use other ports)."""
        return bool(self._networks) or self.allows_name(host)

    def allows_address(self, address: IPAddress) -> bool:
        return any(address.version == net.version and address in net for net in self._networks)


def parse_allow(
    entries: Iterable[str],
) -> tuple[frozenset[str], tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]]:
    """Split allow-list entries into host names and networks; a bare address is a one-address network.

    :raises ValueError: an entry that is neither (config reports it at start-up).
    """
    names: set[str] = set()
    networks = []
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        name = _normal_name(entry)
        if not name or any(ch in name for ch in "/:@ ") or _NUMERIC_LABEL.fullmatch(name.rsplit(".", 1)[-1]):
            raise ValueError(f"not a host name, address or network: {entry!r}")
        names.add(name)
    return frozenset(names), tuple(networks)


def _normal_name(host: str) -> str:
    return host.strip().rstrip(".").lower()


# --- pure checks (no DNS): also the direct-link gate's ---------------------------------------------------


def address_problem(address: IPAddress) -> str | None:
    """Why ``address`` is not a public internet address, or ``None`` when it is."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return "a scoped (link-local) address"
        embedded = embedded_ipv4(address)
        if embedded is not None:
            problem = address_problem(embedded)
            return f"an IPv6 form of {embedded}, {problem}" if problem else None
    if address.is_loopback:
        return "a loopback address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if isinstance(address, ipaddress.IPv6Address) and address in ipaddress.ip_network("fc00::/7"):
        return "a unique-local address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "not a public address"
    return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries, if any: IPv4-mapped (``::ffff:a.b.c.d``), 6to4
    (``2002:AABB:CCDD::/48``), Teredo (``2001:0::/32``, the client's, obfuscated in the last 32 bits),
    NAT64/SIIT (RFC 6052's ``64:ff9b::a.b.c.d``), or the deprecated IPv4-compatible ``::a.b.c.d``. Used
    where an IPv6 address must be judged as the IPv4 one behind it: a destination (``address_problem``)
    and a reader the rate limits count (``app.comments.burst.sender_key``)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(address))
    return None


def parse_ipv4_any_form(host: str) -> ipaddress.IPv4Address | None:
    """``host`` as an IPv4 address in any form ``inet_aton`` accepts (``127.1``, ``0x7f.0.0.1``,
    ``0177.0.0.1``, ``2130706433``), or ``None`` when it is not numeric."""
    labels = host.rstrip(".").split(".")
    if not labels or len(labels) > 4 or not all(_NUMERIC_LABEL.fullmatch(label) for label in labels):
        return None
    if any(len(label) > 34 for label in labels):  # no IPv4 number is that long (and int() has limits)
        return None
    values = []
    for label in labels:
        if label[:2].lower() == "0x":
            values.append(int(label[2:] or "0", 16))
        elif len(label) > 1 and label.startswith("0"):
            if not set(label) <= set("01234567"):
                return None
            values.append(int(label, 8))
        else:
            values.append(int(label))
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        return None
    number = last
    for i, v in enumerate(head):
        number |= v << (24 - 8 * i)
    return ipaddress.IPv4Address(number)


def looks_numeric(host: str) -> bool:
    """Whether ``host`` would be read as an IPv4 address (its last label is a number), as URL parsers do."""
    last = host.rstrip(".").rsplit(".", 1)[-1]
    return bool(last) and bool(_NUMERIC_LABEL.fullmatch(last))


def to_ascii(host: str) -> str:
    """A host name as DNS and URL parsers see it: IDNA (so NFKC: fullwidth ``１２７．０．０．１`` is
    ``127.0.0.1``, and ``。`` is a dot), lower case. IPv6 literals pass unchanged.

    :raises Refused: not encodable (an empty or overlong label).
    """
    if ":" in host:
        return host.lower()
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise Refused("malformed host name") from None


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` (as :func:`to_ascii` gives it) spells, if it is an address literal.

    :raises Refused: numeric but not four decimal numbers, or not a valid address at all.
    """
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.replace("%25", "%"))
        except ValueError:
            raise Refused(f"{host} is not a valid IPv6 address") from None
    if not looks_numeric(host):
        return None
    address = parse_ipv4_any_form(host)
    if address is None:
        raise Refused(f"{host} is not a valid IPv4 address")
    if not _DOTTED_QUAD.fullmatch(host.rstrip(".")):
        raise Refused(f"{host} is an IPv4 address ({address}) not written as four decimal numbers")
    return address


def name_problem(host: str) -> str | None:
    """Why a host *name* only means something inside a network, or ``None``."""
    name = _normal_name(host)
    if name in METADATA_NAMES:
        return "a cloud metadata name"
    if name in _LOCAL_NAMES or name.endswith(_LOCAL_SUFFIXES):
        return "a local network name"
    if "." not in name:
        return "a name without a domain (only meaningful inside a network)"
    return None


def host_problem(host: str, policy: OutboundPolicy | None = None) -> str | None:
    """Why a URL's host is not on the public internet, judged without DNS; ``None`` if nothing is known
    against it. For the direct-link gate: "http://10.0.0.5/" or "http://localhost/" in a post."""
    policy = policy or OutboundPolicy()
    try:
        host = to_ascii(host.strip().strip("[]"))
        address = literal_address(host)
    except Refused as exc:
        return exc.reason
    if address is not None:
        if policy.allows_address(address):
            return None
        problem = address_problem(address)
        return f"{address} is {problem}" if problem else None
    if policy.allows_name(host):
        return None
    problem = name_problem(host)
    return f"{_normal_name(host)} is {problem}" if problem else None


# --- a checked destination -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Destination:
    """One hop's target, checked: where to connect (``addresses``, in order) and what to say to it."""

    url: str
    scheme: str
    host: str  # as the Host header and SNI carry it: IDNA-encoded, IPv6 in brackets
    port: int
    target: str  # path and query
    addresses: tuple[str, ...]


def _default_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_url(url: str, policy: OutboundPolicy, resolve: Resolver = _default_resolve) -> Destination:
    """Check ``url`` as a destination and resolve it, once.

    :raises Refused: anything the module docstring lists; no connection is made.
    :raises Unreachable: the name does not resolve.
    """
    if any(ch.isspace() or ord(ch) < 0x20 or ch == "\\" for ch in url):
        raise Refused("malformed URL")
    try:
        parts = urlsplit(url)
        explicit_port = parts.port
    except ValueError:
        raise Refused("malformed URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise Refused("not an http(s) link")
    if "@" in parts.netloc:
        raise Refused("a user name or password in the URL")
    raw_host = (parts.hostname or "").rstrip(".")
    if not raw_host:
        raise Refused("malformed URL")
    port = explicit_port if explicit_port is not None else (443 if scheme == "https" else 80)
    if port == 0:
        raise Refused("malformed URL")

    raw_host = to_ascii(raw_host)
    address = literal_address(raw_host)
    if address is not None:
        ascii_host = f"[{address}]" if address.version == 6 else str(address)
        named_ok = False
        if not policy.allows_address(address):
            problem = address_problem(address)
            if problem:
                raise Refused(f"{address} is {problem}")
        addresses: tuple[str, ...] = (str(address),)
        allowed = policy.allows_address(address)
    else:
        ascii_host = raw_host
        named_ok = policy.allows_name(ascii_host)
        odd_port = explicit_port is not None and port not in policy.ports
        if odd_port and not named_ok and not policy.may_allow_other_ports(ascii_host):
            raise Refused(_port_reason(port, policy))  # before asking DNS anything
        try:
            resolved = resolve(ascii_host, port)
        except (OSError, UnicodeError):
            resolved = []
        checked = []
        for text in resolved:
            try:
                ip = ipaddress.ip_address(text.split("%", 1)[0] if "%" in text else text)
            except ValueError:
                raise Refused(f"{ascii_host} resolves to something that is not an address") from None
            if "%" in text and not named_ok:
                raise Refused(f"{ascii_host} resolves to {text}, a scoped (link-local) address")
            if not named_ok and not policy.allows_address(ip):
                problem = address_problem(ip)
                if problem:
                    raise Refused(f"{ascii_host} resolves to {ip}, {problem}")
            checked.append(str(ip))
        if not named_ok:
            problem = name_problem(ascii_host)
            if problem:
                raise Refused(f"{ascii_host} is {problem}")
        if not checked:
            raise Unreachable(f"{ascii_host} could not be resolved")
        addresses = tuple(checked)
        allowed = named_ok or all(policy.allows_address(ipaddress.ip_address(a)) for a in checked)

    if explicit_port is not None and port not in policy.ports and not (allowed or named_ok):
        raise Refused(_port_reason(port, policy))
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    target = quote(target, safe="!#$%&'()*+,/:;=?@[]~")  # an IRI's non-ASCII path, percent-encoded
    host_header = ascii_host if explicit_port is None else f"{ascii_host}:{port}"
    clean = urlunsplit((scheme, host_header, parts.path, parts.query, ""))
    return Destination(clean, scheme, host_header, port, target, addresses)


def _port_reason(port: int, policy: OutboundPolicy) -> str:
    return f"port {port} is not a web port ({', '.join(map(str, sorted(policy.ports)))})"


# --- a pinned, budgeted connection ---------------------------------------------------------------------


class _Budget:
    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def left(self, wanted: float | None = None) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise httpcore.ReadTimeout("out of time")
        return remaining if wanted is None else min(wanted, remaining)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, budget: _Budget) -> None:
        self._inner, self._budget = inner, budget

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._budget.left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._budget.left(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        tls = self._inner.start_tls(ssl_context, server_hostname, self._budget.left(timeout))
        return _Stream(tls, self._budget)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to one checked address whatever host httpcore asks for: it never resolves a name."""

    def __init__(self, address: str, budget: _Budget) -> None:
        self._address, self._budget = address, budget
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            self._address, port, self._budget.left(timeout), None, socket_options
        )
        return _Stream(stream, self._budget)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("no unix sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except httpcore.TimeoutException:
        raise Timeout("timeout") from None
    except httpcore.ConnectError as exc:
        raise Unreachable(f"connection failed: {exc or 'refused'}") from None
    except (httpcore.ProtocolError, httpcore.NetworkError) as exc:
        raise Unreachable(f"no valid HTTP answer: {type(exc).__name__}") from None
    except ssl.SSLError as exc:
        raise Unreachable(f"TLS failed: {exc.reason or exc}") from None


# --- fetching ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """The last hop's answer. ``body`` is at most the byte cap; ``truncated`` says there was more."""

    url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    truncated: bool
    redirects: int


@dataclass
class Fetcher:
    """Fetches URLs under an :class:`OutboundPolicy`.

    ``resolve`` and ``ssl_context`` are the system's by default; tests may give a resolver that answers
    for made-up names, or a context that trusts a test CA.
    """

    policy: OutboundPolicy = field(default_factory=OutboundPolicy)
    resolve: Resolver = _default_resolve
    ssl_context: ssl.SSLContext | None = None

    def fetch(
        self, method: str, url: str, *, timeout: float | None = None, max_bytes: int | None = None
    ) -> Answer:
        """``method`` (``HEAD`` or ``GET``) on ``url``, following redirects by hand, each hop checked.

        :param timeout: seconds for the whole fetch (default: the policy's).
        :param max_bytes: most body bytes to read (default: the policy's; 0 reads none).
        :raises Refused, TooManyRedirects, Timeout, Unreachable:
        """
        budget = _Budget(self.policy.timeout if timeout is None else timeout)
        limit = self.policy.max_bytes if max_bytes is None else max_bytes
        current, redirects = url, 0
        while True:
            destination = check_url(current, self.policy, self.resolve)
            status, headers, body, truncated = self._exchange(method, destination, budget, limit)
            location = _header(headers, "location")
            if status not in REDIRECT_STATUSES or location is None:
                return Answer(destination.url, status, headers, body, truncated, redirects)
            if redirects >= self.policy.max_redirects:
                raise TooManyRedirects(f"more than {self.policy.max_redirects} redirects")
            redirects += 1
            if status == 303 and method != "HEAD":
                method = "GET"
            try:
                current = urlunsplit(
                    urlsplit(urljoin(destination.url, location.strip()))._replace(fragment="")
                )
            except ValueError:
                raise Unreachable("redirected to a malformed URL") from None
            if urlsplit(current).scheme.lower() not in ("http", "https"):
                raise Refused("redirected to a link that is not http(s)")

    def _exchange(
        self, method: str, destination: Destination, budget: _Budget, limit: int
    ) -> tuple[int, tuple[tuple[str, str], ...], bytes, bool]:
        last_error: OutboundError = Unreachable("no address")
        for address in destination.addresses:
            try:
                return self._exchange_with(method, destination, address, budget, limit)
            except Unreachable as exc:  # try the name's next checked address
                last_error = exc
                if not str(exc).startswith("connection failed"):
                    raise
        raise last_error

    def _exchange_with(
        self, method: str, destination: Destination, address: str, budget: _Budget, limit: int
    ) -> tuple[int, tuple[tuple[str, str], ...], bytes, bool]:
        headers = [
            (b"Host", destination.host.encode("ascii")),
            (b"User-Agent", self.policy.user_agent.encode("ascii", "replace")),
            (b"Accept", b"*/*"),
            (b"Accept-Encoding", b"identity"),
            (b"Connection", b"close"),
        ]
        host = destination.host.rsplit(":", 1)[0] if not destination.host.endswith("]") else destination.host
        host = host.strip("[]")
        request = httpcore.Request(
            method=method.encode("ascii"),
            url=httpcore.URL(
                scheme=destination.scheme.encode("ascii"),
                host=host.encode("ascii"),
                port=destination.port,
                target=destination.target.encode("ascii", "strict"),
            ),
            headers=headers,
            extensions={"timeout": {"connect": None, "read": None, "write": None, "pool": None}},
        )
        context = self.ssl_context or _default_ssl_context()
        with (
            _errors(),
            httpcore.ConnectionPool(
                ssl_context=context,
                max_connections=1,
                max_keepalive_connections=0,
                retries=0,
                network_backend=_PinnedBackend(address, budget),
            ) as pool,
        ):
            response = pool.handle_request(request)
            try:
                body, truncated = _read_capped(response, limit if method != "HEAD" else 0)
            finally:
                response.close()
        decoded = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers)
        return response.status, decoded, body, truncated


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    """The system's CAs, certificate and host name checked; loaded once (it takes a fifth of a second)."""
    return ssl.create_default_context()


def _read_capped(response: httpcore.Response, limit: int) -> tuple[bytes, bool]:
    if limit <= 0:
        return b"", False
    chunks, size = [], 0
    for chunk in response.iter_stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit], True
    return b"".join(chunks), False


def _header(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)

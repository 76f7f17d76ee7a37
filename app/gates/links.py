"""Direct links: the code of ethics promises to "link directly to online references and original source
materials".

A shortener (bit.ly) or a redirect wrapper (google.com/url, Outlook safelinks) hides where a reference
goes, can be repointed after review, often tracks the reader, and dies when the service does (goo.gl
stopped resolving in 2025). So references must be plain ``http(s)`` links to the source, and links in
post text may also be relative (``/posts/x``, ``#fn:1``).

Two deliberate omissions from the default list:

* ``youtu.be`` is YouTube's own canonical short form of one video (its share button makes it). It
  names the platform, resolves to exactly one video and cannot be repointed by a third party, so it is
  as direct as ``youtube.com/watch?v=``. Operators who disagree add it with ``extra_hosts``.
* ``doi.org`` redirects too, but a DOI *is* the persistent, canonical address of a paper.

Links into a private, local or internal network (``http://10.0.0.5/``, ``http://localhost/``, the cloud
metadata address) are refused too: readers cannot follow them, and a link checker that fetched them
would be a way into the clinic's network. :mod:`app.outbound` says what counts; its allow-list
(``CANDOR_OUTBOUND_ALLOW``) admits the hosts a test or an intranet needs.

The dead-link checker is polite by construction: one check per distinct URL, requests to a host spaced
by ``per_host_delay`` (hosts interleaved, so the run takes about the longest host's share, not the sum),
and a cap per host per run. Every request goes through :class:`app.outbound.Fetcher`, which refuses
non-public destinations at every redirect hop. The fetcher, clock and sleep are injected, so tests
never touch the network or wait.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit, urlunsplit

from app import outbound

DEFAULT_SHORTENERS: frozenset[str] = frozenset(
    {
        "a.co",
        "adf.ly",
        "amzn.eu",
        "amzn.to",
        "bit.do",
        "bit.ly",
        "bitly.com",
        "bl.ink",
        "buff.ly",
        "clck.ru",
        "cutt.ly",
        "dlvr.it",
        "fb.me",
        "goo.gl",
        "hubs.la",
        "hubs.ly",
        "ift.tt",
        "is.gd",
        "j.mp",
        "lnkd.in",
        "msft.it",
        "ow.ly",
        "qrco.de",
        "rb.gy",
        "rebrand.ly",
        "s.id",
        "shorte.st",
        "shorturl.at",
        "spr.ly",
        "t.co",
        "t.ly",
        "tiny.cc",
        "tinyurl.com",
        "trib.al",
        "v.gd",
        "wp.me",
    }
)
"""Hosts whose every link is a shortened redirect. Subdomains match too (``www.bit.ly``)."""

DEFAULT_REDIRECTORS: frozenset[str] = frozenset(
    {
        # search engines and social networks that wrap outbound links
        "google.com/url",
        "news.google.com/articles",
        "news.google.com/rss/articles",
        "bing.com/ck/a",
        "duckduckgo.com/l",
        "l.facebook.com",
        "lm.facebook.com",
        "l.instagram.com",
        "l.messenger.com",
        "out.reddit.com",
        "t.umblr.com",
        "youtube.com/redirect",
        "linkedin.com/redir",
        "href.li",
        "slack-redir.net/link",
        # mail security scanners
        "safelinks.protection.outlook.com",
        "urldefense.proofpoint.com",
        "urldefense.com",
        # newsletter click trackers and affiliate redirects
        "list-manage.com/track/click",
        "ct.sendgrid.net",
        "mandrillapp.com/track/click",
        "rs6.net/tn.jsp",
        "go.redirectingat.com",
        "click.linksynergy.com",
    }
)
"""Redirect wrappers, as ``host`` or ``host/path``; a host's subdomains match, a path matches itself
and anything below it (``us5.list-manage.com/track/click?u=...``)."""

_Index = dict[str, list[tuple[str, "_Listed"]]]
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_WRAPPED_TARGET_PARAMS = ("q", "url", "u", "target", "dest", "destination")


@dataclass(frozen=True)
class LinkProblem:
    """A link that is not a direct link, and why in words a writer can act on. ``private`` marks a link
    into a private, local or internal network (or a cloud's metadata service), which readers cannot
    follow and the link checker will not fetch."""

    url: str
    reason: str
    private: bool = False


@dataclass(frozen=True)
class LinkStatus:
    """The outcome of checking one URL.

    ``status`` is the final HTTP status after redirects, ``None`` when no answer came; ``error`` says why
    there was no answer ("timeout", "skipped: host limit", ...) and is ``None`` when there was one.
    """

    url: str
    ok: bool
    status: int | None
    error: str | None


# --- host lists -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Listed:
    entry: str
    what: str


def _parse_entry(entry: str) -> tuple[str, str] | None:
    """``"*.Example.com/Track/"`` becomes ``("example.com", "/track")``; blanks become ``None``."""
    cleaned = entry.strip().lower()
    cleaned = re.sub(r"^[a-z][a-z0-9+.-]*://", "", cleaned).removeprefix("*.").removeprefix(".")
    host, _, path = cleaned.partition("/")
    host = host.rstrip(".")
    if not host:
        return None
    return host, ("/" + path).rstrip("/") if path else ""


def _build_index(groups: Iterable[tuple[Iterable[str], str]]) -> _Index:
    index: _Index = {}
    for entries, what in groups:
        for entry in entries:
            parsed = _parse_entry(entry)
            if parsed is None:
                continue
            host, path = parsed
            index.setdefault(host, []).append((path, _Listed(host + path, what)))
    return index


_DEFAULT_GROUPS: tuple[tuple[Iterable[str], str], ...] = (
    (DEFAULT_SHORTENERS, "a URL shortener"),
    (DEFAULT_REDIRECTORS, "a redirect wrapper"),
)
_DEFAULT_INDEX = _build_index(_DEFAULT_GROUPS)


def _index_for(extra_hosts: Iterable[str]) -> _Index:
    extras = [entry for entry in extra_hosts if entry.strip()]
    if not extras:
        return _DEFAULT_INDEX
    return _build_index((*_DEFAULT_GROUPS, (extras, "on this site's list of indirect links")))


def _lookup(index: _Index, host: str, path: str) -> _Listed | None:
    """The listed entry for ``host`` or one of its parent domains whose path covers ``path``."""
    labels = host.split(".")
    path = path.lower()
    for i in range(len(labels)):
        for prefix, listed in index.get(".".join(labels[i:]), ()):
            if not prefix or path == prefix or path.startswith(prefix + "/"):
                return listed
    return None


def _valid_host(host: str) -> bool:
    if host.startswith("[") or ":" in host:  # IPv6 literal; urlsplit has already checked the brackets
        return True
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.rstrip(".").split(".")
    return all(_HOST_LABEL.fullmatch(label) for label in labels)


def _wrapped_target(query: str) -> str | None:
    """Where a redirect wrapper points, when it says so plainly (``?q=https://...``)."""
    params = parse_qs(query)
    for name in _WRAPPED_TARGET_PARAMS:
        for value in params.get(name, ()):
            if value.startswith(("http://", "https://")):
                return value
    return None


def _problem_for_host(url: str, host: str, path: str, query: str, index: _Index) -> LinkProblem | None:
    listed = _lookup(index, host, path)
    if listed is None:
        return None
    reason = f"{listed.entry} is {listed.what}; link to the source directly"
    target = _wrapped_target(query) if listed.what == "a redirect wrapper" else None
    if target:
        reason += f" ({target})"
    return LinkProblem(url, reason)


# --- public checks ------------------------------------------------------------------------------------


def check_direct(
    url: str,
    extra_hosts: Iterable[str] = (),
    *,
    allow_relative: bool = False,
    allow_private: Iterable[str] = (),
) -> LinkProblem | None:
    """What is wrong with ``url`` as a direct link, or ``None`` when nothing is.

    :param extra_hosts: the operator's additions, as ``host`` or ``host/path`` (``*.`` is ignored:
        subdomains always match).
    :param allow_relative: accept links within the site (``/posts/x``, ``#fn:1``), as post text may;
        references must be absolute ``http(s)`` links and leave it ``False``.
    :param allow_private: hosts and networks that may be linked although not public
        (``CANDOR_OUTBOUND_ALLOW``: tests, intranets); see :mod:`app.outbound`.
    """
    return _check(url, _index_for(extra_hosts), allow_relative, _policy(allow_private))


def find_indirect(
    urls: Iterable[str],
    extra_hosts: Iterable[str] = (),
    *,
    allow_relative: bool = False,
    allow_private: Iterable[str] = (),
) -> list[LinkProblem]:
    """Every problem among ``urls``, once per distinct URL, in order of first appearance."""
    index = _index_for(extra_hosts)
    policy = _policy(allow_private)
    seen: set[str] = set()
    problems: list[LinkProblem] = []
    for url in urls:
        if url in seen:
            continue
        seen.add(url)
        problem = _check(url, index, allow_relative, policy)
        if problem is not None:
            problems.append(problem)
    return problems


def _policy(allow_private: Iterable[str]) -> outbound.OutboundPolicy:
    try:
        return outbound.OutboundPolicy(allow=tuple(allow_private))
    except ValueError:  # config checks the list at start-up; a bad entry here allows nothing
        return outbound.OutboundPolicy()


def _check(
    url: str, index: _Index, allow_relative: bool, policy: outbound.OutboundPolicy
) -> LinkProblem | None:
    raw = url.strip()
    if not raw or any(ch.isspace() or ord(ch) < 0x20 for ch in raw):
        return LinkProblem(url, "malformed URL")
    try:
        parts = urlsplit(raw)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        return LinkProblem(url, "malformed URL")
    scheme = parts.scheme.lower()

    if not scheme and not parts.netloc:
        # "www.example.org/x" and "bit.ly/x" parse as relative paths: name the real mistake.
        first = parts.path.split("/", 1)[0].lower()
        if "." in first and _lookup(index, first, "/" + parts.path.partition("/")[2]):
            return _problem_for_host(url, first, "/" + parts.path.partition("/")[2], parts.query, index)
        if first.startswith("www."):
            return LinkProblem(url, "not an http(s) link; add https:// in front")
        return None if allow_relative else LinkProblem(url, "not an http(s) link")

    if scheme and scheme not in ("http", "https"):
        return LinkProblem(url, "not an http(s) link")
    host = (parts.hostname or "").rstrip(".")
    if not host or not _valid_host(host):
        return LinkProblem(url, "malformed URL")
    if not scheme and not allow_relative:  # protocol-relative "//example.org/x"
        return LinkProblem(url, "not an http(s) link")
    if "@" in parts.netloc:
        return LinkProblem(url, "a user name or password in a link; link to the page itself")
    private = outbound.host_problem(host, policy)
    if private is not None:
        return LinkProblem(url, f"{private}: readers cannot reach it; link to a public address", private=True)
    return _problem_for_host(url, host, parts.path, parts.query, index)


class _HrefCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        for name, value in attrs:
            if name == "href" and value is not None and value.strip():
                self.hrefs.append(value.strip())
                return


def extract_links(html: str) -> list[str]:
    """The ``href`` of every ``<a>`` in ``html``, entities decoded, in document order.

    A real HTML parser rather than a regex: attribute order, quoting and ``&amp;`` in query strings vary
    even in sanitised output, and a regex would silently miss some of them.
    """
    collector = _HrefCollector()
    collector.feed(html)
    collector.close()
    return collector.hrefs


# --- dead-link checker --------------------------------------------------------------------------------


def _check_one(fetcher: outbound.Fetcher, url: str, timeout: float) -> tuple[bool, int | None, str | None]:
    """HEAD, then GET if the server refuses HEAD; redirects followed, every hop checked by
    :mod:`app.outbound` (a link into a private network is refused, not fetched); no body is read."""
    try:
        answer = fetcher.fetch("HEAD", url, timeout=timeout)
        if answer.status in (405, 501):
            answer = fetcher.fetch("GET", url, timeout=timeout, max_bytes=0)
    except outbound.Timeout:
        return False, None, "timeout"
    except outbound.TooManyRedirects:
        return False, None, "too many redirects"
    except outbound.Refused as exc:
        if exc.reason in ("redirected to a link that is not http(s)", "malformed URL"):
            return False, None, exc.reason
        return False, None, f"refused: {exc.reason}"
    except outbound.Unreachable as exc:
        reason = exc.reason
        return (
            False,
            None,
            reason if reason.startswith("connection failed") else f"connection failed: {reason}",
        )
    # A 3xx that survives redirect-following has no usable Location: the link is broken.
    return 200 <= answer.status < 300, answer.status, None


def check_urls(
    urls: Iterable[str],
    fetcher: outbound.Fetcher,
    *,
    per_host_delay: float = 1.0,
    max_per_host: int = 20,
    timeout: float = 10,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[LinkStatus]:
    """Whether each distinct URL still answers, politely.

    One status per distinct URL, in order of first appearance. URLs that differ only in their fragment
    share one request (the fragment never reaches the server). A "check" is a HEAD (plus a GET when
    HEAD is refused) with its redirects; checks to one host start at least ``per_host_delay`` seconds
    after the previous one finished, and the next check always goes to the host that is free soonest,
    so hosts are interleaved. Past ``max_per_host`` checks a host's URLs are reported, not requested.
    """
    order: list[str] = []
    target_of: dict[str, str] = {}
    outcome: dict[str, tuple[bool, int | None, str | None]] = {}
    queues: dict[str, deque[str]] = {}
    queued: set[str] = set()

    for url in urls:
        stripped = url.strip()
        if stripped in target_of:
            continue
        order.append(stripped)
        try:
            parts = urlsplit(stripped)
            host = (parts.hostname or "").lower()
        except ValueError:
            parts, host = None, ""
        if parts is None or parts.scheme.lower() not in ("http", "https"):
            target_of[stripped] = stripped
            outcome[stripped] = (False, None, "not an http(s) link" if parts is not None else "malformed URL")
            continue
        if not host:
            target_of[stripped] = stripped
            outcome[stripped] = (False, None, "malformed URL")
            continue
        target = urlunsplit(parts._replace(fragment=""))
        target_of[stripped] = target
        if target in queued or target in outcome:
            continue
        queue = queues.setdefault(host, deque())
        if len(queue) >= max_per_host:
            outcome[target] = (False, None, "skipped: host limit")
            continue
        queue.append(target)
        queued.add(target)

    position = {host: i for i, host in enumerate(queues)}
    free_at = {host: float("-inf") for host in queues}
    while True:
        ready = [host for host, queue in queues.items() if queue]
        if not ready:
            break
        host = min(ready, key=lambda h: (free_at[h], position[h]))
        wait = free_at[host] - clock()
        if wait > 0:
            sleep(wait)
        target = queues[host].popleft()
        outcome[target] = _check_one(fetcher, target, timeout)
        free_at[host] = clock() + per_host_delay

    return [LinkStatus(url, *outcome[target_of[url]]) for url in order]

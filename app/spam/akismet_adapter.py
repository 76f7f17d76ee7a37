"""Akismet behind a small adapter that never lets the outside world's failures escape.

A reader's comment must not be lost, or published unchecked, because Akismet is down, slow, refusing
our key or talking nonsense: every such failure becomes ``Verdict.UNAVAILABLE`` and the app holds the
comment for a moderator. Without a key the answer is ``Verdict.NO_KEY`` and no request is made.

The akismet library always talks to ``https://rest.akismet.com`` and has no base-URL option, so the
httpx client it is given carries a transport that re-targets each request at ``AKISMET_API_URL`` (a
local server speaking the same protocol, in tests and staging) and holds the whole call, connect
included, to one time budget. No Flask here.
"""

from __future__ import annotations

import contextvars
import enum
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import akismet
import httpcore
import httpx

log = logging.getLogger(__name__)

AKISMET_API_URL = "https://rest.akismet.com"
DEFAULT_TIMEOUT = 2.0
USER_AGENT = f"Candor | {akismet.USER_AGENT}"
COMMENT_TYPES = ("comment", "reply")

T = TypeVar("T")
TransportFactory = Callable[[], httpx.BaseTransport]


@dataclass(frozen=True)
class AkismetSettings:
    """What the adapter needs to know; ``api_key`` None (or empty) means Akismet is not used.

    Invalid settings raise ValueError at construction, so a misconfigured deployment fails at start-up
    rather than holding every comment with a puzzling reason.
    """

    api_key: str | None = field(repr=False)
    blog_url: str
    api_url: str = AKISMET_API_URL
    timeout: float = DEFAULT_TIMEOUT
    is_test: bool = False

    def __post_init__(self) -> None:
        url = httpx.URL(self.api_url)
        if url.scheme not in ("http", "https") or not url.host or url.query or url.fragment:
            raise ValueError(f"Akismet API URL must be an http(s) base URL, not {self.api_url!r}")
        if not self.timeout > 0:  # also refuses NaN
            raise ValueError(f"Akismet timeout must be a positive number of seconds, not {self.timeout!r}")
        if self.api_key and not self.blog_url.startswith(("http://", "https://")):
            raise ValueError(f"Akismet needs the blog's full http(s) URL, not {self.blog_url!r}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AkismetSettings:
        """Read the ``AKISMET_*`` settings; every environment but production marks calls ``is_test``."""
        return cls(
            api_key=config.get("AKISMET_API_KEY") or None,
            blog_url=config.get("AKISMET_BLOG_URL") or "",
            api_url=config.get("AKISMET_API_URL") or AKISMET_API_URL,
            timeout=float(config.get("AKISMET_TIMEOUT") or DEFAULT_TIMEOUT),
            is_test=config.get("CANDOR_ENV", "development") != "production",
        )


@dataclass(frozen=True, kw_only=True)
class CommentSignals:
    """Everything Akismet weighs about one comment. Empty strings and None are simply not sent.

    ``user_role`` "administrator" tells Akismet the author is trusted staff; ``recheck_reason`` marks a
    second look at a comment already checked (for example one held while Akismet was unavailable).
    Datetimes must be aware; they are sent as ISO 8601 UTC.
    """

    user_ip: str
    user_agent: str
    referrer: str
    permalink: str
    comment_type: Literal["comment", "reply"]
    comment_author: str
    comment_author_email: str
    comment_content: str
    blog_lang: str
    blog_charset: str = "UTF-8"
    comment_date_gmt: datetime | None = None
    comment_post_modified_gmt: datetime | None = None
    user_role: str | None = None
    recheck_reason: str | None = None

    def __post_init__(self) -> None:
        if self.comment_type not in COMMENT_TYPES:
            raise ValueError(f"comment_type must be one of {COMMENT_TYPES}, not {self.comment_type!r}")
        for name in ("comment_date_gmt", "comment_post_modified_gmt"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} must be an aware datetime")

    def arguments(self, *, is_test: bool) -> dict[str, Any]:
        """Keyword arguments for the akismet client's comment_check / submit_spam / submit_ham."""
        values: dict[str, Any] = {
            "user_ip": self.user_ip,
            "user_agent": self.user_agent,
            "referrer": self.referrer,
            "permalink": self.permalink,
            "comment_type": self.comment_type,
            "comment_author": self.comment_author,
            "comment_author_email": self.comment_author_email,
            "comment_content": self.comment_content,
            "blog_lang": self.blog_lang,
            "blog_charset": self.blog_charset,
            "comment_date_gmt": _iso_utc(self.comment_date_gmt),
            "comment_post_modified_gmt": _iso_utc(self.comment_post_modified_gmt),
            "user_role": self.user_role,
            "recheck_reason": self.recheck_reason,
        }
        # Akismet reads any non-empty is_test as true, so it is sent only when meant.
        if is_test:
            values["is_test"] = True
        return {name: value for name, value in values.items() if value not in (None, "")}


def _iso_utc(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds")


class Verdict(enum.Enum):
    """Akismet's answer about a comment, or why there is none."""

    HAM = "ham"
    SPAM = "spam"
    DISCARD = "discard"  # blatant spam: Akismet's "pro tip" says it need not even be kept
    UNAVAILABLE = "unavailable"  # no usable answer: down, slow, refusing, or nonsense
    NO_KEY = "no_key"  # no API key configured, nothing was asked

    @property
    def is_spam(self) -> bool:
        return self in (Verdict.SPAM, Verdict.DISCARD)


@dataclass(frozen=True)
class AkismetResult:
    verdict: Verdict
    detail: str


_VERDICTS = {
    akismet.CheckResponse.HAM: AkismetResult(Verdict.HAM, "Akismet: not spam"),
    akismet.CheckResponse.SPAM: AkismetResult(Verdict.SPAM, "Akismet: spam"),
    akismet.CheckResponse.DISCARD: AkismetResult(Verdict.DISCARD, "Akismet: blatant spam (discard)"),
}

# The deadline of the adapter call in progress in this thread (or context); None outside one.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("akismet_deadline", default=None)


def _within_budget(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` shortened to what is left of the current call's budget; raise once none is left."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the Akismet call used up its time budget")
    return left if timeout is None else min(timeout, left)


class _BudgetedStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _within_budget(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _within_budget(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        timeout = _within_budget(timeout, httpcore.ConnectTimeout)
        return _BudgetedStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _BudgetedBackend(httpcore.NetworkBackend):
    """Sockets whose every connect, read and write waits at most for what is left of the budget.

    httpx's timeouts apply to each phase afresh, and httpcore fixes the read timeout once for all the
    reads of a response's headers (and again for its body), so a server that accepts and then trickles
    its answer a byte at a time could hold a call indefinitely. Here the limit shrinks as time passes.
    (Name resolution happens inside the connect and is not interruptible; Akismet's host resolves fast.)
    """

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _within_budget(timeout, httpcore.ConnectTimeout)
        return _BudgetedStream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        timeout = _within_budget(timeout, httpcore.ConnectTimeout)
        return _BudgetedStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


# httpcore's errors as the httpx ones the akismet library expects (it tells timeouts from the rest).
_HTTPX_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core_error, httpx_error in _HTTPX_ERRORS:
            if isinstance(exc, core_error):
                raise httpx_error(str(exc) or type(exc).__name__) from exc
        raise


class _BudgetedBody(httpx.SyncByteStream):
    def __init__(self, inner: Iterable[bytes]) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._inner

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            with _as_httpx_errors():
                close()


class BudgetedTransport(httpx.BaseTransport):
    """An HTTP(S) transport whose whole exchange, connect included, keeps to the call's budget.

    Outside an adapter call it behaves like httpx's own transport with the client's timeouts.
    """

    def __init__(self) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_BudgetedBackend(),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = dict(request.extensions.get("timeout", {}))
        # Waiting for a free pooled connection spends the same budget.
        timeouts["pool"] = _within_budget(timeouts.get("pool"), httpcore.PoolTimeout)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions={**request.extensions, "timeout": timeouts},
        )
        with _as_httpx_errors():
            core_response = self._pool.handle_request(core_request)
        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=_BudgetedBody(core_response.stream),
            extensions=core_response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


class AkismetTransport(httpx.BaseTransport):
    """Re-targets the akismet library's requests at the configured base URL.

    The path is kept and prefixed with the base URL's own path, so ``https://rest.akismet.com/1.1/x``
    becomes ``http://127.0.0.1:8123/1.1/x`` (or ``https://proxy.example/akismet/1.1/x``).
    """

    def __init__(self, api_url: str, inner: httpx.BaseTransport) -> None:
        self._base = httpx.URL(api_url)
        self._prefix = self._base.raw_path.rstrip(b"/")
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = self._base.copy_with(raw_path=self._prefix + request.url.raw_path)
        request.headers["Host"] = request.url.netloc.decode("ascii")
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class AkismetChecker:
    """Asks Akismet about comments and reports spam/ham back; never raises for outside failures.

    The client is built on first use and reused (one connection pool); ``close()`` releases it. Only
    akismet's own errors are turned into UNAVAILABLE / False: the library already wraps every
    transport failure in them, and anything else would be a bug here that should not hide.

    :param transport_factory: builds the transport that actually sends requests (``BudgetedTransport``,
        which enforces the total budget); tests may pass ``lambda: httpx.MockTransport(handler)``.
    """

    def __init__(
        self, settings: AkismetSettings, *, transport_factory: TransportFactory = BudgetedTransport
    ) -> None:
        self.settings = settings
        self._transport_factory = transport_factory
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None
        self._client: akismet.SyncClient | None = None

    def __enter__(self) -> AkismetChecker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http.close()
            self._http = self._client = None

    def check(self, signals: CommentSignals) -> AkismetResult:
        """Akismet's verdict on one comment; UNAVAILABLE (with the reason) when there is none."""
        if not self.settings.api_key:
            return AkismetResult(Verdict.NO_KEY, "no Akismet API key is configured")
        arguments = signals.arguments(is_test=self.settings.is_test)
        try:
            answer = self._call(lambda client: client.comment_check(**arguments))
        except akismet.AkismetError as exc:
            return AkismetResult(Verdict.UNAVAILABLE, self._failed("comment-check", exc))
        # CheckResponse is an IntEnum whose DISCARD is truthy too: look it up, never test its truth.
        return _VERDICTS[answer]

    def submit_spam(self, signals: CommentSignals) -> bool:
        """Tell Akismet it missed this spam. False when that did not happen, so it can be retried."""
        return self._submit("submit-spam", signals)

    def submit_ham(self, signals: CommentSignals) -> bool:
        """Tell Akismet this was not spam after all. False when that did not happen."""
        return self._submit("submit-ham", signals)

    def _submit(self, operation: str, signals: CommentSignals) -> bool:
        if not self.settings.api_key:
            log.info("Akismet %s skipped: no API key is configured", operation)
            return False
        arguments = signals.arguments(is_test=self.settings.is_test)
        try:
            if operation == "submit-spam":
                return self._call(lambda client: client.submit_spam(**arguments))
            return self._call(lambda client: client.submit_ham(**arguments))
        except akismet.AkismetError as exc:
            self._failed(operation, exc)
            return False

    def _call(self, operation: Callable[[akismet.SyncClient], T]) -> T:
        token = _deadline.set(time.monotonic() + self.settings.timeout)
        try:
            return operation(self._akismet())
        finally:
            _deadline.reset(token)

    def _akismet(self) -> akismet.SyncClient:
        # SyncClient's plain constructor makes no request (only validated_client() and `with` call
        # verify-key). Verifying first would cost a second round trip per comment; a wrong key is
        # caught anyway, since Akismet then answers "invalid" and the library raises APIKeyError.
        with self._lock:
            if self._client is None:
                assert self.settings.api_key
                self._http = httpx.Client(
                    transport=AkismetTransport(self.settings.api_url, self._transport_factory()),
                    headers={"User-Agent": USER_AGENT},
                    timeout=self.settings.timeout,
                )
                self._client = akismet.SyncClient(
                    config=akismet.Config(key=self.settings.api_key, url=self.settings.blog_url),
                    http_client=self._http,
                )
            return self._client

    def _failed(self, operation: str, exc: akismet.AkismetError) -> str:
        detail = _describe(exc, self.settings.timeout)
        log.warning("Akismet %s failed: %s", operation, detail)
        log.debug("Akismet %s failure in full", operation, exc_info=exc)
        return detail


def _describe(exc: akismet.AkismetError, timeout: float) -> str:
    """A moderator-readable reason; the library's own messages carry whole response bodies."""
    if isinstance(exc, akismet.APIKeyError):
        return "Akismet refused the API key or blog URL"
    if isinstance(exc, akismet.ProtocolError):
        return "Akismet gave an answer outside its protocol"
    cause = exc.__cause__
    if isinstance(cause, httpx.TimeoutException):
        return f"Akismet did not answer within {timeout:g} s"
    if isinstance(cause, httpx.HTTPStatusError):
        return f"Akismet answered HTTP {cause.response.status_code}"
    if isinstance(cause, httpx.HTTPError):
        return f"could not reach Akismet ({type(cause).__name__}: {cause})"
    return f"Akismet call failed: {exc}"

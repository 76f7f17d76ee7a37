"""A local HTTP server that speaks Akismet's REST protocol, with faults that can be switched on at will.

Tests drive the real akismet client against it (STYLE.md, convention 10), so what is exercised is the
wire protocol, not a mock of the library. It answers like rest.akismet.com:

* ``POST /1.1/verify-key``: "valid" for ``api_key`` (any blog URL), "invalid" otherwise.
* ``POST /1.1/comment-check``: "true" or "false". Spam is decided as Akismet's documented test
  triggers say (author ``akismet-guaranteed-spam`` or e-mail ``akismet-guaranteed-spam@example.com``
  is spam, ``user_role=administrator`` is ham), plus content markers ("viagra", "casino" ...): one
  marker is spam, two or more is blatant spam, answered with ``X-akismet-pro-tip: discard``.
* ``POST /1.1/submit-spam`` and ``/1.1/submit-ham``: "Thanks for making the web a better place."
* A wrong key answers "invalid" everywhere; a missing ``api_key``, ``blog`` or ``user_ip`` answers
  "Missing required field: ..." with an ``X-akismet-debug-help`` header, as the real service does.

Fault modes (``server.mode = ...`` or ``server.set_mode(...)``, at any time):

* ``normal``: as above.
* ``down``: the listening socket is closed, so connections are refused; leaving the mode reopens the
  same port.
* ``slow``: waits ``slow_seconds`` before answering (longer than any sane client timeout).
* ``dribble``: answers normally but one byte every ``dribble_interval`` seconds, so no single read
  waits long while the whole answer takes many seconds (catches per-read instead of total timeouts).
* ``refusing``: answers HTTP ``status`` (503 unless given, e.g. 500).
* ``nonsense``: answers 200 with ``body`` ("maybe" unless given, e.g. an HTML page).

Every request that arrives is recorded (path, form fields, headers), in every mode.

Usage::

    with AkismetServer() as server:
        settings = AkismetSettings(api_key=server.api_key, blog_url=..., api_url=server.base_url, ...)
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

VALID_KEY = "candor-test-key"
GUARANTEED_SPAM_AUTHOR = "akismet-guaranteed-spam"
GUARANTEED_SPAM_EMAIL = "akismet-guaranteed-spam@example.com"
SPAM_MARKERS = ("viagra", "casino", "cialis", "payday loan")
SUBMISSION_THANKS = "Thanks for making the web a better place."
MODES = ("normal", "down", "slow", "dribble", "refusing", "nonsense")

VERIFY_KEY = "/1.1/verify-key"
COMMENT_CHECK = "/1.1/comment-check"
SUBMIT_SPAM = "/1.1/submit-spam"
SUBMIT_HAM = "/1.1/submit-ham"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    form: dict[str, str]
    headers: dict[str, str]


@dataclass(frozen=True)
class _Answer:
    status: int
    body: str
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "text/plain; charset=utf-8"


class AkismetServer:
    """An Akismet look-alike on 127.0.0.1 and a random port, served from a daemon thread."""

    def __init__(
        self, *, api_key: str = VALID_KEY, slow_seconds: float = 10.0, dribble_interval: float = 0.2
    ) -> None:
        self.api_key = api_key
        self.slow_seconds = slow_seconds
        self.dribble_interval = dribble_interval
        self.port = 0
        self._mode = "normal"
        self._fault_status = 503
        self._fault_body = "maybe"
        self._fault_content_type = "text/plain; charset=utf-8"
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        # Set to cut short any handler that is sleeping or dribbling (on stop, or a mode change).
        self._release = threading.Event()

    # Lifecycle ----------------------------------------------------------------------------------

    def __enter__(self) -> AkismetServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self._release.clear()
        self._listen()

    def stop(self) -> None:
        self._release.set()
        self._close_listener()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config_overrides(self, *, timeout: float = 1.0) -> dict[str, Any]:
        """The ``AKISMET_*`` settings that point a Candor app at this server."""
        return {
            "AKISMET_API_KEY": self.api_key,
            "AKISMET_BLOG_URL": "http://blog.example.org/",
            "AKISMET_API_URL": self.base_url,
            "AKISMET_TIMEOUT": timeout,
        }

    def _listen(self) -> None:
        httpd = _HTTPServer(("127.0.0.1", self.port), _Handler)
        httpd.fake = self
        self.port = httpd.server_address[1]
        thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-akismet", daemon=True
        )
        thread.start()
        self._httpd, self._thread = httpd, thread

    def _close_listener(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()  # also waits for handler threads, which _release cut short
        assert self._thread is not None
        self._thread.join()
        self._httpd = self._thread = None

    # Faults -------------------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        self.set_mode(mode)

    def set_mode(
        self, mode: str, *, status: int = 503, body: str = "maybe", content_type: str | None = None
    ) -> None:
        """Switch fault mode; ``status`` is for ``refusing``, ``body``/``content_type`` for ``nonsense``."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; pick one of {MODES}")
        # Let any handler still sleeping or dribbling under the old mode finish now.
        self._release.set()
        if mode == "down":
            self._close_listener()
        self._release.clear()
        self._fault_status = status
        self._fault_body = body
        self._fault_content_type = content_type or (
            "text/html; charset=utf-8" if body.lstrip().startswith("<") else "text/plain; charset=utf-8"
        )
        self._mode = mode
        if mode != "down" and self._httpd is None and self.port:
            self._listen()

    # Recording ----------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path == path]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    # The protocol -------------------------------------------------------------------------------

    def _answer(self, path: str, form: dict[str, str]) -> _Answer:
        if self._mode == "refusing":
            return _Answer(self._fault_status, "Service Unavailable")
        if self._mode == "nonsense":
            return _Answer(200, self._fault_body, content_type=self._fault_content_type)
        if path == VERIFY_KEY:
            return self._verify_key(form)
        if path not in (COMMENT_CHECK, SUBMIT_SPAM, SUBMIT_HAM):
            return _Answer(404, "Not Found")
        for required in ("api_key", "blog", "user_ip"):
            if not form.get(required):
                message = f"Missing required field: {required}."
                return _Answer(200, message, (("X-akismet-debug-help", message),))
        if form["api_key"] != self.api_key:
            return _Answer(200, "invalid", (("X-akismet-debug-help", "Your API key is not valid."),))
        if path == COMMENT_CHECK:
            return self._comment_check(form)
        return _Answer(200, SUBMISSION_THANKS)

    def _verify_key(self, form: dict[str, str]) -> _Answer:
        if not form.get("key") or not form.get("blog"):
            return _Answer(200, "invalid", (("X-akismet-debug-help", 'Empty "key" or "blog" value'),))
        return _Answer(200, "valid" if form["key"] == self.api_key else "invalid")

    def _comment_check(self, form: dict[str, str]) -> _Answer:
        guid = (("X-akismet-guid", "00000000-0000-4000-8000-000000000000"),)
        if form.get("user_role") == "administrator":
            return _Answer(200, "false", guid)
        content = form.get("comment_content", "").lower()
        markers = sum(marker in content for marker in SPAM_MARKERS)
        if markers >= 2:
            return _Answer(200, "true", guid + (("X-akismet-pro-tip", "discard"),))
        guaranteed = (
            form.get("comment_author") == GUARANTEED_SPAM_AUTHOR
            or form.get("comment_author_email") == GUARANTEED_SPAM_EMAIL
        )
        if markers or guaranteed:
            return _Answer(200, "true", guid)
        return _Answer(200, "false", guid)


class _HTTPServer(ThreadingHTTPServer):
    fake: AkismetServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout) leaves a broken pipe behind; that is the point, not an error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "FakeAkismet/1.0"

    def log_message(self, *args: Any) -> None:
        pass  # keep test output quiet; the recorded requests say what arrived

    def do_GET(self) -> None:
        self._reply(_Answer(405, "Method Not Allowed"))

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace")
        form = dict(parse_qsl(raw, keep_blank_values=True))
        path = self.path.split("?", 1)[0]
        fake._record(RecordedRequest("POST", path, form, dict(self.headers.items())))
        mode = fake.mode
        if mode == "slow" and fake._release.wait(fake.slow_seconds):
            return  # released by stop() or a mode change: hang up without answering
        answer = fake._answer(path, form)
        if mode == "dribble":
            self._dribble(answer)
        else:
            self._reply(answer)

    def _reply(self, answer: _Answer) -> None:
        body = answer.body.encode("utf-8")
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in answer.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _dribble(self, answer: _Answer) -> None:
        body = answer.body.encode("utf-8")
        head = (
            f"HTTP/1.0 {answer.status} OK\r\nContent-Type: {answer.content_type}\r\n"
            f"Content-Length: {len(body)}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in answer.headers)
            + "\r\n"
        ).encode("latin-1")
        self.close_connection = True
        for byte in head + body:
            if self.server.fake._release.wait(self.server.fake.dribble_interval):
                return
            self.wfile.write(bytes([byte]))
            self.wfile.flush()

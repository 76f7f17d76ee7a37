"""A local HTTP endpoint standing in for a CDN's purge API: it records every purge it is sent.

``PurgeServer.fail_next`` makes it answer 503 that many times first, as a CDN having a bad minute.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class PurgeServer:
    def __init__(self) -> None:
        self.purges: list[dict[str, Any]] = []
        self.fail_next = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server protocol
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with server._lock:
                    if server.fail_next > 0:
                        server.fail_next -= 1
                        self.send_response(503)
                        self.end_headers()
                        return
                    server.purges.append(
                        {
                            "urls": json.loads(body),
                            "keys": self.headers.get("Surrogate-Key", "").split(),
                            "type": self.headers.get("Content-Type"),
                        }
                    )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status": "ok"}')

            def log_message(self, *_args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_port}/purge"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def urls(self) -> set[str]:
        with self._lock:
            return {url for purge in self.purges for url in purge["urls"]}

    def clear(self) -> None:
        with self._lock:
            self.purges.clear()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

"""``flask links check`` against a local server: dead links listed by author with status and since when."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask

HITS: list[str] = []


@pytest.fixture
def app_config() -> dict[str, Any]:
    """The source site below listens on 127.0.0.1, which only the allow-list lets anyone link or reach."""
    return {"OUTBOUND_ALLOW": ["127.0.0.1"]}


class _Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        HITS.append(self.path)
        status = 404 if "gone" in self.path else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = _answer
    do_GET = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def source_site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_links_check_lists_dead_links_for_their_authors(runner, make_post, make_user, source_site):
    author = make_user("author", name="Dr Ada Okafor")
    make_post(
        "published",
        author=author,
        title="Sleep",
        references=[f"{source_site}/study"],
        body=f"See [the trial]({source_site}/gone/trial) and [us](/posts/x).",
    )
    make_post("draft", author=author, references=[f"{source_site}/gone/draft-only"])
    result = runner.invoke(args=["links", "check", "--delay", "0"])
    assert result.exit_code == 0, result.output
    assert "Checked 2 link(s) in 1 published post(s); 1 dead." in result.output
    assert "Dr Ada Okafor:" in result.output
    dead_line = next(line for line in result.output.splitlines() if "/gone/trial" in line)
    assert "[404]" in dead_line and "dead since" in dead_line
    assert "draft-only" not in result.output


def test_a_link_that_stays_dead_keeps_the_time_it_first_failed(runner, make_post, source_site):
    make_post("published", references=[f"{source_site}/gone/a"])
    first = runner.invoke(args=["links", "check", "--delay", "0"]).output
    second = runner.invoke(args=["links", "check", "--delay", "0"]).output
    since = [
        line.split("dead since ")[1][:16] for line in (first + second).splitlines() if "dead since" in line
    ]
    assert len(since) == 2 and since[0] == since[1]


def test_without_the_allow_list_a_loopback_link_is_refused_and_never_fetched(
    app: Flask, runner, make_post, source_site
):
    make_post("published", references=[f"{source_site}/study"], body=f"[a]({source_site}/page)")
    app.config["OUTBOUND_ALLOW"] = []
    from app.web import outside

    outside.init_app(app)  # the fetcher as a deployment without CANDOR_OUTBOUND_ALLOW builds it
    HITS.clear()
    result = runner.invoke(args=["links", "check", "--delay", "0"])
    assert result.exit_code == 0, result.output
    assert "2 dead" in result.output
    assert result.output.count("[refused: 127.0.0.1 is a loopback address]") == 2
    assert HITS == []


def test_a_bad_allow_list_entry_stops_the_app_at_start(database_url, tmp_path):
    from app import create_app

    with pytest.raises(ValueError, match="CANDOR_OUTBOUND_ALLOW"):
        create_app({"DATABASE_URL": database_url, "TESTING": True, "OUTBOUND_ALLOW": ["http://x/"]})

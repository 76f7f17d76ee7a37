"""The Akismet adapter, driving the real akismet client against a local server that speaks its protocol.

Whatever Akismet does (answer, fail, stall, talk nonsense), the adapter returns a verdict within about
its time budget and never raises; without a key it asks nothing at all.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from app.spam.akismet_adapter import (
    AKISMET_API_URL,
    AkismetChecker,
    AkismetSettings,
    CommentSignals,
    Verdict,
)
from tests.support.akismet_server import (
    COMMENT_CHECK,
    GUARANTEED_SPAM_AUTHOR,
    SUBMIT_HAM,
    SUBMIT_SPAM,
    VERIFY_KEY,
    AkismetServer,
)

TIMEOUT = 1.0
MARGIN = 2.0  # scheduling slack on a busy machine; the bound is what matters, not the exact time
BLOG_URL = "http://blog.example.org/"


@pytest.fixture
def server() -> Iterator[AkismetServer]:
    with AkismetServer() as running:
        yield running


def settings_for(server: AkismetServer, **overrides: object) -> AkismetSettings:
    values: dict[str, object] = {
        "api_key": server.api_key,
        "blog_url": BLOG_URL,
        "api_url": server.base_url,
        "timeout": TIMEOUT,
        "is_test": True,
    }
    values.update(overrides)
    return AkismetSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def checker(server: AkismetServer) -> Iterator[AkismetChecker]:
    with AkismetChecker(settings_for(server)) as adapter:
        yield adapter


def signals(**overrides: object) -> CommentSignals:
    values: dict[str, object] = {
        "user_ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        "referrer": "https://search.example.net/?q=clinic",
        "permalink": "http://blog.example.org/posts/opening-hours",
        "comment_type": "comment",
        "comment_author": "Ada Reader",
        "comment_author_email": "ada@example.net",
        "comment_content": "Thank you, the new evening hours help a lot.",
        "blog_lang": "en",
        "comment_date_gmt": datetime(2025, 3, 1, 12, 30, tzinfo=UTC),
        "comment_post_modified_gmt": datetime(2025, 2, 28, 9, 0, tzinfo=UTC),
    }
    values.update(overrides)
    return CommentSignals(**values)  # type: ignore[arg-type]


# Verdicts --------------------------------------------------------------------------------------


def test_ordinary_comment_is_ham(checker: AkismetChecker) -> None:
    result = checker.check(signals())
    assert result.verdict is Verdict.HAM
    assert not result.verdict.is_spam


def test_comment_with_a_spam_marker_is_spam(checker: AkismetChecker) -> None:
    result = checker.check(signals(comment_content="Cheap viagra here"))
    assert result.verdict is Verdict.SPAM
    assert result.verdict.is_spam


def test_akismet_guaranteed_spam_author_is_spam(checker: AkismetChecker) -> None:
    assert checker.check(signals(comment_author=GUARANTEED_SPAM_AUTHOR)).verdict is Verdict.SPAM


def test_blatant_spam_is_discard_and_still_counts_as_spam(checker: AkismetChecker) -> None:
    result = checker.check(signals(comment_content="viagra at the casino, click now"))
    assert result.verdict is Verdict.DISCARD
    assert result.verdict.is_spam


def test_administrator_role_is_ham_even_with_spam_author(checker: AkismetChecker) -> None:
    result = checker.check(signals(comment_author=GUARANTEED_SPAM_AUTHOR, user_role="administrator"))
    assert result.verdict is Verdict.HAM


# What is sent ----------------------------------------------------------------------------------


def test_every_signal_reaches_akismet(server: AkismetServer, checker: AkismetChecker) -> None:
    checker.check(signals())
    [request] = server.requests_to(COMMENT_CHECK)
    assert request.form == {
        "api_key": server.api_key,
        "blog": BLOG_URL,
        "user_ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        "referrer": "https://search.example.net/?q=clinic",
        "permalink": "http://blog.example.org/posts/opening-hours",
        "comment_type": "comment",
        "comment_author": "Ada Reader",
        "comment_author_email": "ada@example.net",
        "comment_content": "Thank you, the new evening hours help a lot.",
        "blog_lang": "en",
        "blog_charset": "UTF-8",
        "comment_date_gmt": "2025-03-01T12:30:00+00:00",
        "comment_post_modified_gmt": "2025-02-28T09:00:00+00:00",
        "is_test": "true",
    }
    assert request.headers["User-Agent"].startswith("Candor | akismet.py/")


def test_reply_is_sent_with_comment_type_reply(server: AkismetServer, checker: AkismetChecker) -> None:
    checker.check(signals(comment_type="reply"))
    [request] = server.requests_to(COMMENT_CHECK)
    assert request.form["comment_type"] == "reply"


def test_datetimes_are_sent_in_utc(server: AkismetServer, checker: AkismetChecker) -> None:
    paris = timezone(timedelta(hours=1))
    checker.check(signals(comment_date_gmt=datetime(2025, 3, 1, 13, 30, tzinfo=paris)))
    [request] = server.requests_to(COMMENT_CHECK)
    assert request.form["comment_date_gmt"] == "2025-03-01T12:30:00+00:00"


def test_production_calls_are_not_marked_is_test(server: AkismetServer) -> None:
    with AkismetChecker(settings_for(server, is_test=False)) as production:
        production.check(signals())
    [request] = server.requests_to(COMMENT_CHECK)
    assert "is_test" not in request.form


def test_empty_signals_are_left_out(server: AkismetServer, checker: AkismetChecker) -> None:
    checker.check(signals(referrer="", comment_date_gmt=None, comment_post_modified_gmt=None))
    [request] = server.requests_to(COMMENT_CHECK)
    assert not {"referrer", "comment_date_gmt", "comment_post_modified_gmt"} & request.form.keys()


def test_building_the_checker_makes_no_request(server: AkismetServer) -> None:
    with AkismetChecker(settings_for(server)):
        pass
    assert server.requests == []


def test_a_check_is_one_request_without_a_verify_key_round_trip(
    server: AkismetServer, checker: AkismetChecker
) -> None:
    checker.check(signals())
    checker.check(signals())
    assert [request.path for request in server.requests] == [COMMENT_CHECK, COMMENT_CHECK]
    assert server.requests_to(VERIFY_KEY) == []


def test_requests_are_retargeted_at_the_configured_base_url_and_path() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="false")

    settings = AkismetSettings(
        api_key="k", blog_url=BLOG_URL, api_url="https://staging.example:8443/akismet/", timeout=TIMEOUT
    )
    with AkismetChecker(settings, transport_factory=lambda: httpx.MockTransport(answer)) as adapter:
        assert adapter.check(signals()).verdict is Verdict.HAM
    [request] = seen
    assert str(request.url) == "https://staging.example:8443/akismet/1.1/comment-check"
    assert request.headers["Host"] == "staging.example:8443"


# No key ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("api_key", [None, ""])
def test_without_a_key_every_comment_is_no_key_and_nothing_is_sent(
    server: AkismetServer, api_key: str | None
) -> None:
    with AkismetChecker(settings_for(server, api_key=api_key)) as adapter:
        assert adapter.check(signals()).verdict is Verdict.NO_KEY
        assert adapter.submit_spam(signals()) is False
        assert adapter.submit_ham(signals()) is False
    assert server.requests == []


# Faults ----------------------------------------------------------------------------------------

FAULTS = [
    pytest.param({"mode": "down"}, "could not reach Akismet", id="down"),
    pytest.param({"mode": "slow"}, "did not answer within 1 s", id="slow"),
    # One byte every 0.2 s: no single read times out, so only a total budget stops this one.
    pytest.param({"mode": "dribble"}, "did not answer within 1 s", id="dribble-total-budget"),
    pytest.param({"mode": "refusing", "status": 500}, "HTTP 500", id="refusing-500"),
    pytest.param({"mode": "refusing", "status": 503}, "HTTP 503", id="refusing-503"),
    pytest.param({"mode": "nonsense", "body": "maybe"}, "outside its protocol", id="nonsense-maybe"),
    pytest.param(
        {"mode": "nonsense", "body": "<html><body>Gateway says hi</body></html>"},
        "outside its protocol",
        id="nonsense-html",
    ),
]


@pytest.mark.parametrize(("fault", "reason"), FAULTS)
def test_check_is_unavailable_within_its_budget_whatever_goes_wrong(
    server: AkismetServer, checker: AkismetChecker, fault: dict[str, object], reason: str
) -> None:
    server.set_mode(**fault)  # type: ignore[arg-type]
    started = time.monotonic()
    result = checker.check(signals())
    elapsed = time.monotonic() - started
    assert result.verdict is Verdict.UNAVAILABLE
    assert reason in result.detail
    assert elapsed < TIMEOUT + MARGIN


def test_a_refused_key_is_unavailable(server: AkismetServer) -> None:
    with AkismetChecker(settings_for(server, api_key="not-the-key")) as adapter:
        result = adapter.check(signals())
    assert result.verdict is Verdict.UNAVAILABLE
    assert result.detail == "Akismet refused the API key or blog URL"


@pytest.fixture
def unanswered_connect_url() -> Iterator[str]:
    """A port whose accept queue is full: a new connect neither succeeds nor is refused, it hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    queued = socket.create_connection(("127.0.0.1", port), timeout=1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        queued.close()
        listener.close()


def test_the_budget_covers_a_connect_that_hangs(server: AkismetServer, unanswered_connect_url: str) -> None:
    with AkismetChecker(settings_for(server, api_url=unanswered_connect_url)) as adapter:
        started = time.monotonic()
        result = adapter.check(signals())
        elapsed = time.monotonic() - started
    assert result.verdict is Verdict.UNAVAILABLE
    assert result.detail == "Akismet did not answer within 1 s"
    assert elapsed < TIMEOUT + MARGIN


def test_checks_work_again_once_akismet_is_back(server: AkismetServer, checker: AkismetChecker) -> None:
    for fault in ("down", "slow", "refusing", "nonsense"):
        server.set_mode(fault)
        assert checker.check(signals()).verdict is Verdict.UNAVAILABLE
        server.set_mode("normal")
        assert checker.check(signals()).verdict is Verdict.HAM


# Submitting spam and ham -----------------------------------------------------------------------


def test_submit_spam_reports_the_comment_and_succeeds(server: AkismetServer, checker: AkismetChecker) -> None:
    assert checker.submit_spam(signals(comment_content="Missed this one")) is True
    [request] = server.requests_to(SUBMIT_SPAM)
    assert request.form["comment_content"] == "Missed this one"
    assert request.form["user_ip"] == "203.0.113.7"
    assert request.form["is_test"] == "true"


def test_submit_ham_reports_the_comment_and_succeeds(server: AkismetServer, checker: AkismetChecker) -> None:
    assert checker.submit_ham(signals(comment_author="False Positive")) is True
    [request] = server.requests_to(SUBMIT_HAM)
    assert request.form["comment_author"] == "False Positive"
    assert request.form["permalink"] == "http://blog.example.org/posts/opening-hours"


@pytest.mark.parametrize("submit", ["submit_spam", "submit_ham"])
@pytest.mark.parametrize(("fault", "reason"), FAULTS)
def test_failed_submission_returns_false_within_its_budget(
    server: AkismetServer,
    checker: AkismetChecker,
    submit: str,
    fault: dict[str, object],
    reason: str,
) -> None:
    server.set_mode(**fault)  # type: ignore[arg-type]
    started = time.monotonic()
    assert getattr(checker, submit)(signals()) is False
    assert time.monotonic() - started < TIMEOUT + MARGIN


def test_submission_with_a_refused_key_returns_false(server: AkismetServer) -> None:
    with AkismetChecker(settings_for(server, api_key="not-the-key")) as adapter:
        assert adapter.submit_spam(signals()) is False
        assert adapter.submit_ham(signals()) is False


# Settings and signals --------------------------------------------------------------------------


def test_settings_from_config_mark_calls_is_test_outside_production() -> None:
    config = {
        "AKISMET_API_KEY": "k",
        "AKISMET_BLOG_URL": BLOG_URL,
        "AKISMET_API_URL": "http://127.0.0.1:9999",
        "AKISMET_TIMEOUT": 2.5,
        "CANDOR_ENV": "development",
    }
    settings = AkismetSettings.from_config(config)
    assert (settings.api_key, settings.api_url, settings.timeout, settings.is_test) == (
        "k",
        "http://127.0.0.1:9999",
        2.5,
        True,
    )
    assert AkismetSettings.from_config({**config, "CANDOR_ENV": "production"}).is_test is False
    assert AkismetSettings.from_config({"AKISMET_BLOG_URL": BLOG_URL}).api_url == AKISMET_API_URL


def test_settings_never_show_the_key() -> None:
    assert "sekrit" not in repr(AkismetSettings(api_key="sekrit", blog_url=BLOG_URL))


@pytest.mark.parametrize(
    "overrides",
    [
        {"api_url": "rest.akismet.com"},
        {"api_url": "ftp://rest.akismet.com"},
        {"api_url": "http://127.0.0.1:1/?x=1"},
        {"timeout": 0},
        {"timeout": float("nan")},
        {"blog_url": "blog.example.org"},
    ],
)
def test_misconfigured_settings_are_refused_at_start(overrides: dict[str, object]) -> None:
    values: dict[str, object] = {"api_key": "k", "blog_url": BLOG_URL, **overrides}
    with pytest.raises(ValueError):
        AkismetSettings(**values)  # type: ignore[arg-type]


def test_signals_refuse_naive_datetimes_and_unknown_types() -> None:
    with pytest.raises(ValueError, match="aware"):
        signals(comment_date_gmt=datetime(2025, 3, 1, 12, 30))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="comment_type"):
        signals(comment_type="trackback")

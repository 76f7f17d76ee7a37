"""Skip for lack of a component on a workstation; fail for it in CI.

A developer without Chromium, Java or PostgreSQL still gets a green ``make test`` with skips that say
why. CI sets ``CANDOR_REQUIRE_ALL=1`` (``.ci/run`` does), and there a missing component is a failure:
a suite that quietly skipped its browser tests would prove nothing.
"""

from __future__ import annotations

import os
import socket
from typing import NoReturn

import pytest

REQUIRE_ALL_ENV = "CANDOR_REQUIRE_ALL"


def required() -> bool:
    return os.environ.get(REQUIRE_ALL_ENV, "").strip() not in ("", "0")


def missing(reason: str) -> NoReturn:
    """Skip with ``reason``, or fail with it when every component is required."""
    if required():
        pytest.fail(f"{reason} [{REQUIRE_ALL_ENV}=1: a missing component fails the run]", pytrace=False)
    pytest.skip(reason)


def require_redis() -> None:
    """Redis on 127.0.0.1:6379, which the queue, shared limits and shared page cache tests use: a missing
    one skips (fails in CI)."""
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        missing("Redis is not listening on 127.0.0.1:6379")

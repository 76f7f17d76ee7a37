"""A real SMTP server on loopback for the tests that send e-mail (aiosmtpd), and what it received."""

from __future__ import annotations

import email
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import policy as policies
from email.message import Message
from email.policy import Policy
from typing import Any

from aiosmtpd.controller import Controller


class Inbox:
    """aiosmtpd's handler: keeps every message, except the first ``refuse`` for which ``refusing`` says
    so, which get a temporary error (451), as a busy mail server answers."""

    def __init__(
        self,
        *,
        policy: Policy = policies.compat32,
        refuse: int = 0,
        refusing: Callable[[Message], bool] = lambda message: True,
    ) -> None:
        self.messages: list[Message] = []
        self.policy = policy
        self.refuse = refuse
        self.refused = 0
        self.refusing = refusing

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        message = email.message_from_bytes(envelope.content, policy=self.policy)
        if self.refused < self.refuse and self.refusing(message):
            self.refused += 1
            return "451 Try again later"
        self.messages.append(message)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(inbox: Inbox) -> Iterator[int]:
    """An SMTP server on 127.0.0.1 handing what it receives to ``inbox``; yields its port."""
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()

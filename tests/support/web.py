"""Helpers for driving and reading HTML pages in tests: parse, sign in, fetch CSRF tokens."""

from __future__ import annotations

import re
from typing import Any

from bs4 import BeautifulSoup
from flask.testing import FlaskClient

PASSWORD = "correct horse battery staple"


def parse(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html5lib")


def form_csrf_token(client: FlaskClient, path: str) -> str:
    soup = parse(client.get(path))
    field = soup.find("input", attrs={"name": "csrf_token"})
    assert field is not None, f"no CSRF field on {path}"
    return str(field["value"])


def log_in(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    token = form_csrf_token(client, "/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def text_of(soup: BeautifulSoup, selector: str) -> str:
    node = soup.select_one(selector)
    assert node is not None, f"nothing matches {selector}"
    return re.sub(r"\s+", " ", node.get_text(" ")).strip()

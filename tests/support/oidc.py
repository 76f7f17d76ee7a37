"""A real OpenID provider on loopback for the single sign-on tests: ``oidc-provider-mock``, served by
werkzeug in a thread, spoken to over real HTTP.

The mock signs its ID tokens with its own RSA key and lets a test set the claims a subject gets
(``PUT /users/<sub>``); claims set that way are laid over the registered ones, so a test can make it
issue a token for another audience, an expired one, or one with another nonce. What it cannot do on its
own (sign with a key its JWKS does not publish, name another issuer in its discovery document) the
``Tamper`` middleware wrapped around a second instance does: still the mock's real endpoints, with one
answer changed on the way out.
"""

from __future__ import annotations

import base64
import json
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

with warnings.catch_warnings():
    # The mock imports authlib.jose, which Authlib now marks deprecated; that is the mock's business.
    warnings.simplefilter("ignore")
    import oidc_provider_mock

CLIENT_ID = "candor-blog"
CLIENT_SECRET = "candor-test-client-secret"


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass
class Tamper:
    """Changes made to the mock's answers, set by a test while the provider runs."""

    # Re-sign every issued ID token with this key (same ``kid``): a signature the JWKS cannot verify.
    resign_with: RSAKey | None = None
    # Change these claims of the ID token but keep the mock's signature: a tampered token.
    edit_claims: dict[str, Any] = field(default_factory=dict)
    # The issuer the discovery document claims to be.
    discovery_issuer: str | None = None

    def wrap(self, app: Callable[..., Any]) -> Callable[..., Any]:
        def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            path = environ.get("PATH_INFO", "")
            if path not in ("/oauth2/token", "/.well-known/openid-configuration"):
                return app(environ, start_response)
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                captured.update(status=status, headers=headers)
                return lambda data: None

            body = b"".join(app(environ, capture))
            if captured["status"].startswith("200"):
                data = json.loads(body)
                if path == "/oauth2/token" and "id_token" in data:
                    data["id_token"] = self._change(data["id_token"])
                elif path != "/oauth2/token" and self.discovery_issuer:
                    data["issuer"] = self.discovery_issuer
                body = json.dumps(data).encode()
            headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
            start_response(captured["status"], [*headers, ("Content-Length", str(len(body)))])
            return [body]

        return middleware

    def _change(self, token: str) -> str:
        header, payload, signature = token.split(".")
        claims = _b64json(payload)
        if self.resign_with is not None:
            return jwt.encode(_b64json(header), claims, self.resign_with)
        if self.edit_claims:
            claims.update(self.edit_claims)
            edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
            return f"{header}.{edited}.{signature}"
        return token


def _b64json(part: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


@dataclass
class Provider:
    """A running provider: its issuer URL, and the levers a test pulls."""

    issuer: str
    tamper: Tamper

    def set_user(self, sub: str, claims: dict[str, Any]) -> None:
        """What the provider says about ``sub`` from now on (standard claims need their scope)."""
        response = httpx.put(f"{self.issuer}/users/{quote(sub, safe='')}", json=claims, timeout=10)
        assert response.status_code == 204, response.text

    def authorize(self, authorization_url: str, sub: str) -> str:
        """Sign ``sub`` in at the provider's real authorization endpoint, as its login form would; return
        where the provider sends the browser back (our callback URL, with code and state)."""
        assert authorization_url.startswith(self.issuer + "/"), authorization_url
        response = httpx.post(authorization_url, data={"sub": sub}, timeout=10)
        assert response.status_code == 302, response.text
        return response.headers["location"]


@contextmanager
def running_provider(host: str = "127.0.0.1") -> Iterator[Provider]:
    """oidc-provider-mock on 127.0.0.1 and a free port, with a ``Tamper`` in front (idle until set).

    ``host`` is the name its issuer URL uses: ``localhost`` makes it another site than the blog on
    127.0.0.1 for a browser (its own cookies, and the blog's SameSite cookie crossing back to the blog).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        provider_app = oidc_provider_mock.app(require_nonce=True)
    tamper = Tamper()
    provider_app.wsgi_app = tamper.wrap(provider_app.wsgi_app)  # type: ignore[method-assign]
    server: BaseWSGIServer = make_server(
        "127.0.0.1", 0, provider_app, threaded=True, request_handler=_QuietHandler
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="oidc-provider", daemon=True
    )
    thread.start()
    try:
        yield Provider(issuer=f"http://{host}:{server.port}", tamper=tamper)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def oidc_config(provider: Provider, **extra: Any) -> dict[str, Any]:
    """App config overrides turning single sign-on on against ``provider``."""
    return {
        "OIDC_ISSUER": provider.issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_NAME": "Clinic Login",
        "OIDC_ROLE_CLAIM": None,
        "OIDC_ROLE_MAP": {},
        "OIDC_AUTO_PROVISION": False,
        "OIDC_ONLY": False,
        "OIDC_CONTACT": "the Public Affairs office (blog-admins@clinic.example)",
        "OIDC_TIMEOUT": 5.0,
        **extra,
    }


def start(client: FlaskClient, next_path: str | None = None) -> str:
    """Begin single sign-on in ``client``'s browser session; the provider's authorization URL."""
    response = client.get("/login/oidc", query_string={"next": next_path} if next_path else None)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def callback_path(location: str) -> str:
    """The path and query of the provider's redirect back to the blog, for the test client."""
    parts = urlsplit(location)
    assert parts.path == "/login/oidc/callback", location
    return f"{parts.path}?{parts.query}"


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def sign_in(client: FlaskClient, provider: Provider, sub: str, next_path: str | None = None) -> Any:
    """The whole flow: start, sign in at the provider, come back. The callback's response."""
    location = provider.authorize(start(client, next_path), sub)
    return client.get(callback_path(location))

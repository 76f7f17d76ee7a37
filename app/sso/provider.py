"""The OpenID provider as the blog sees it: a relying party for the authorization code flow with PKCE.

No Flask here: the views keep the pending sign-in (state, nonce, PKCE verifier) in the signed session and
hand it back. Everything the provider says is checked before a claim is believed: the discovery
document must name the configured issuer; the ID token's signature must verify against the issuer's JWKS
with an algorithm the issuer announced (never ``none``, never HMAC with a public key); ``iss``, ``aud``
(this client alone), ``exp``, ``iat`` and ``nonce`` must hold. Authlib supplies the PKCE challenge,
random tokens and the ID token claim rules; joserfc the signature check; httpx the calls, each with a
timeout, no redirects followed and the client secret only ever in the token request's Basic header.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

if TYPE_CHECKING:  # Authlib and joserfc (with cryptography, about 17 MB) load at the first sign-in
    from joserfc.jwk import KeySet

log = logging.getLogger(__name__)

SCOPE = "openid email profile"
# Asymmetric algorithms only: an HMAC "signature" keyed with the client secret proves nothing about who
# made the token, and ``none`` proves nothing at all.
SAFE_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"})
LEEWAY_SECONDS = 60
# An ID token issued longer ago than this is stale, whatever its ``exp`` says: the flow takes minutes.
MAX_TOKEN_AGE_SECONDS = 600
METADATA_MAX_AGE_SECONDS = 3600
MAX_RESPONSE_BYTES = 512 * 1024


class ProviderError(Exception):
    """The provider could not be reached or answered something unusable. The message is for the log."""


class TokenRejected(Exception):
    """The provider answered, but its ID token does not prove who signed in. The message is for the log."""


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    timeout: float = 5.0

    @classmethod
    def from_config(cls, config: Any) -> OidcSettings | None:
        if not config.get("OIDC_ISSUER"):
            return None
        return cls(
            issuer=config["OIDC_ISSUER"],
            client_id=config["OIDC_CLIENT_ID"],
            client_secret=config["OIDC_CLIENT_SECRET"],
            timeout=float(config.get("OIDC_TIMEOUT", 5.0)),
        )


@dataclass(frozen=True)
class PendingSignIn:
    """What the browser must bring back: kept in its signed session, each value used once."""

    state: str
    nonce: str
    code_verifier: str
    next_path: str
    started_at: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "nonce": self.nonce,
            "verifier": self.code_verifier,
            "next": self.next_path,
            "at": self.started_at,
        }

    @classmethod
    def from_dict(cls, state: str, data: Any) -> PendingSignIn | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(state, str(data["nonce"]), str(data["verifier"]), str(data["next"]), float(data["at"]))
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Metadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    algorithms: tuple[str, ...]
    secret_in_body: bool
    fetched_at: float


def _same_issuer(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


class OidcProvider:
    """One configured issuer. Discovery and keys are fetched on first use and kept, so a provider that is
    down delays sign-in, never the blog's start."""

    def __init__(self, settings: OidcSettings, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self._transport = transport
        self._lock = threading.Lock()
        self._metadata: Metadata | None = None
        self._keys: KeySet | None = None

    # --- the provider's documents ------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        """A client for one sign-in's calls, closed after them: sign-ins are rare, and a pool kept for the
        app's lifetime would hold sockets nobody closes. No proxies from the environment, no redirects."""
        return httpx.Client(
            timeout=self.settings.timeout, follow_redirects=False, transport=self._transport, trust_env=False
        )

    def _get_json(self, url: str, *, headers: dict[str, str] | None = None) -> dict[str, Any]:
        try:
            with self._client() as http:
                response = http.get(url, headers={"Accept": "application/json", **(headers or {})})
        except httpx.HTTPError as exc:
            raise ProviderError(f"GET {url} failed: {type(exc).__name__}") from None
        return self._json(response, f"GET {url}")

    @staticmethod
    def _json(response: httpx.Response, what: str) -> dict[str, Any]:
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise ProviderError(f"{what}: answer too large")
        if response.status_code != 200:
            raise ProviderError(f"{what}: HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise ProviderError(f"{what}: not JSON") from None
        if not isinstance(data, dict):
            raise ProviderError(f"{what}: not a JSON object")
        return data

    def _endpoint(self, doc: dict[str, Any], name: str, required: bool = True) -> str | None:
        value = doc.get(name)
        if value is None and not required:
            return None
        parts = urlsplit(value) if isinstance(value, str) else None
        issuer_scheme = urlsplit(self.settings.issuer).scheme
        # An https issuer must keep every endpoint on https: a token sent over http is a token given away.
        if parts is None or not parts.hostname or parts.scheme not in ("https", issuer_scheme):
            raise ProviderError(f"discovery document: bad {name}")
        return value

    def metadata(self) -> Metadata:
        with self._lock:
            cached = self._metadata
            if cached is not None and time.monotonic() - cached.fetched_at < METADATA_MAX_AGE_SECONDS:
                return cached
            url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
            doc = self._get_json(url)
            # OpenID Connect Discovery 1.0, 4.3: the document must name the very issuer it was fetched for;
            # otherwise one provider could speak for another (the mix-up attack).
            if not isinstance(doc.get("issuer"), str) or not _same_issuer(
                doc["issuer"], self.settings.issuer
            ):
                raise ProviderError("discovery document names another issuer")
            auth_methods = doc.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
            if not isinstance(auth_methods, list):
                auth_methods = ["client_secret_basic"]
            announced = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
            algorithms = tuple(a for a in announced if isinstance(a, str) and a in SAFE_ALGORITHMS)
            if not algorithms:
                raise ProviderError("discovery document: no asymmetric ID token signing algorithm")
            metadata = Metadata(
                issuer=doc["issuer"],
                authorization_endpoint=str(self._endpoint(doc, "authorization_endpoint")),
                token_endpoint=str(self._endpoint(doc, "token_endpoint")),
                jwks_uri=str(self._endpoint(doc, "jwks_uri")),
                userinfo_endpoint=self._endpoint(doc, "userinfo_endpoint", required=False),
                algorithms=algorithms,
                # client_secret_basic is the default; a provider that supports only _post gets that.
                secret_in_body="client_secret_basic" not in auth_methods
                and "client_secret_post" in auth_methods,
                fetched_at=time.monotonic(),
            )
            if cached is None or cached.jwks_uri != metadata.jwks_uri:
                self._keys = None
            self._metadata = metadata
            return metadata

    def _key_set(self, metadata: Metadata, *, refresh: bool = False) -> KeySet:
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet

        with self._lock:
            if self._keys is None or refresh:
                try:
                    self._keys = KeySet.import_key_set(self._get_json(metadata.jwks_uri))  # type: ignore[arg-type]
                except (JoseError, ValueError, TypeError, KeyError) as exc:
                    raise ProviderError(f"JWKS unusable: {type(exc).__name__}") from None
            return self._keys

    # --- the flow ----------------------------------------------------------------------------------

    def start(self, redirect_uri: str, next_path: str) -> tuple[str, PendingSignIn]:
        """The provider's authorization URL to send the browser to, and what to remember until it returns."""
        from authlib.common.security import generate_token
        from authlib.common.urls import add_params_to_uri
        from authlib.oauth2.rfc7636 import create_s256_code_challenge

        metadata = self.metadata()
        pending = PendingSignIn(
            state=generate_token(43),
            nonce=generate_token(43),
            code_verifier=generate_token(64),
            next_path=next_path,
            started_at=time.time(),
        )
        url = add_params_to_uri(
            metadata.authorization_endpoint,
            [
                ("response_type", "code"),
                ("client_id", self.settings.client_id),
                ("redirect_uri", redirect_uri),
                ("scope", SCOPE),
                ("state", pending.state),
                ("nonce", pending.nonce),
                ("code_challenge", create_s256_code_challenge(pending.code_verifier)),
                ("code_challenge_method", "S256"),
            ],
        )
        return url, pending

    def finish(self, pending: PendingSignIn, code: str, redirect_uri: str) -> dict[str, Any]:
        """Exchange the code (with the PKCE verifier) and return the ID token's verified claims, with the
        userinfo endpoint's added when the ID token lacks e-mail (same subject required)."""
        metadata = self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": pending.code_verifier,
        }
        auth: tuple[str, str] | None = (self.settings.client_id, self.settings.client_secret)
        if metadata.secret_in_body:
            form.update(client_id=self.settings.client_id, client_secret=self.settings.client_secret)
            auth = None
        try:
            with self._client() as http:
                response = http.post(
                    metadata.token_endpoint, data=form, auth=auth, headers={"Accept": "application/json"}
                )
        except httpx.HTTPError as exc:
            raise ProviderError(f"token request failed: {type(exc).__name__}") from None
        if response.status_code in (400, 401):
            # invalid_grant and the like: a used, expired or foreign code. The body may echo parameters.
            raise TokenRejected(f"token endpoint refused the code: HTTP {response.status_code}")
        token = self._json(response, "token request")
        id_token = token.get("id_token")
        if not isinstance(id_token, str) or len(id_token) > 64 * 1024:
            raise TokenRejected("no ID token in the token response")
        claims = self.verify_id_token(metadata, id_token, pending.nonce, token.get("access_token"))
        if (
            "email" not in claims
            and metadata.userinfo_endpoint
            and isinstance(token.get("access_token"), str)
        ):
            info = self._get_json(
                metadata.userinfo_endpoint, headers={"Authorization": f"Bearer {token['access_token']}"}
            )
            if info.get("sub") != claims["sub"]:
                raise TokenRejected("userinfo answered for another subject")
            claims = {**info, **claims}
        return claims

    def verify_id_token(
        self, metadata: Metadata, id_token: str, nonce: str, access_token: Any = None
    ) -> dict[str, Any]:
        from authlib.oidc.core import CodeIDToken
        from joserfc import jwt
        from joserfc.errors import JoseError
        from joserfc.jws import JWSRegistry

        registry = JWSRegistry(algorithms=list(metadata.algorithms))
        try:
            try:
                decoded = jwt.decode(id_token, self._key_set(metadata), registry=registry)
            except JoseError as exc:
                if "kid" not in type(exc).__name__.lower() and "key" not in str(exc).lower():
                    raise
                # The provider may have rotated its keys since they were fetched: fetch them once more.
                decoded = jwt.decode(id_token, self._key_set(metadata, refresh=True), registry=registry)
        except (JoseError, ValueError, TypeError) as exc:
            raise TokenRejected(f"ID token signature: {type(exc).__name__}") from None
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {
                "iss": {"essential": True, "value": metadata.issuer},
                "sub": {"essential": True},
                "aud": {"essential": True, "value": self.settings.client_id},
                "exp": {"essential": True},
                "iat": {"essential": True},
                "nonce": {"essential": True, "value": nonce},
            },
            {
                "nonce": nonce,
                "client_id": self.settings.client_id,
                **({"access_token": access_token} if isinstance(access_token, str) else {}),
            },
        )
        try:
            claims.validate(leeway=LEEWAY_SECONDS)
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise TokenRejected(f"ID token claims: {exc}") from None
        aud = claims["aud"]
        # This client alone: a token also meant for another party could be replayed to it.
        if aud != self.settings.client_id and aud != [self.settings.client_id]:
            raise TokenRejected("ID token audience is not this client alone")
        iat = claims["iat"]
        now = time.time()
        if (
            not isinstance(iat, int | float)
            or iat > now + LEEWAY_SECONDS
            or iat < now - MAX_TOKEN_AGE_SECONDS
        ):
            raise TokenRejected("ID token issued at an implausible time")
        if not isinstance(claims["sub"], str) or not 0 < len(claims["sub"]) <= 255:
            raise TokenRejected("ID token subject unusable")
        return dict(claims)

"""The relying party's side of the authorization code flow with PKCE.

`begin` makes a fresh `state`, `nonce` and PKCE verifier and the provider's
authorization URL (Authlib's `prepare_grant_uri`, S256 challenge); the
caller keeps the `Pending` sign-in until the browser comes back. `finish`
checks the returned `state` against it, trades the code and the verifier
for tokens at the token endpoint (client_secret_basic, client_secret_post
or, without a secret, as a public client), and verifies the ID token: its
signature with a key of the provider's JWKS and an algorithm of a fixed
list of asymmetric ones that the provider advertises (never the token's
own choice, never `none` or HMAC), then `iss` (the configured issuer),
`aud` (and `azp` when there are several audiences), `exp`, `iat`, `sub`
and the sign-in's `nonce`. The discovery document (validated with
Authlib's `OpenIDProviderMetadata`, RP-initiated logout included) and the
JWKS are cached for an hour; a key id not in the JWKS fetches it again, at
most once a minute.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import quote

import httpx
import msgspec
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc import rpinitiated
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from adapters.oidc.config import OidcConfig, roles_in

PINNED: Final = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
"""ID token algorithms accepted, whatever else a provider offers."""
SCOPE: Final = "openid profile email"
CACHE_SECONDS: Final = 3600.0
JWKS_REFRESH_SECONDS: Final = 60.0
MAX_ANSWER_BYTES: Final = 1024 * 1024


class SignOnRefused(Exception):
    """The sign-in cannot be accepted; `reason` is short and safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProviderUnavailable(Exception):
    """The provider cannot be reached, or answers what no provider should."""


class Pending(msgspec.Struct, frozen=True, kw_only=True):
    """A sign-in sent to the provider, kept by the browser until it returns."""

    state: str
    nonce: str
    verifier: str
    redirect_uri: str
    next: str


class Identity(msgspec.Struct, frozen=True, kw_only=True):
    """Who the provider says signed in, and the roles it gives them."""

    subject: str
    name: str
    roles: tuple[str, ...]


class _Provider(msgspec.Struct, frozen=True, kw_only=True):
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None
    algorithms: tuple[str, ...]
    auth_methods: tuple[str, ...]
    fetched: float


class OidcClient:
    def __init__(
        self,
        config: OidcConfig,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.http = http or httpx.AsyncClient(timeout=10.0, follow_redirects=False)
        self.clock = clock
        self._provider: _Provider | None = None
        self._keys: tuple[KeySet, float] | None = None

    async def close(self) -> None:
        await self.http.aclose()

    async def begin(self, redirect_uri: str, next_page: str) -> tuple[Pending, str]:
        """A new sign-in and the provider URL to send the browser to."""
        provider = await self.provider()
        pending = Pending(
            state=generate_token(32),
            nonce=generate_token(32),
            verifier=generate_token(64),
            redirect_uri=redirect_uri,
            next=next_page,
        )
        url = prepare_grant_uri(
            provider.authorization_endpoint,
            self.config.client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=SCOPE,
            state=pending.state,
            nonce=pending.nonce,
            code_challenge=create_s256_code_challenge(pending.verifier),
            code_challenge_method="S256",
        )
        return pending, str(url)

    async def finish(self, pending: Pending, *, state: str, code: str) -> Identity:
        """The identity of a sign-in the provider sent back with `code`."""
        if not secrets.compare_digest(state.encode(), pending.state.encode()):
            raise SignOnRefused("the answer does not belong to the sign-in this browser started")
        if not code:
            raise SignOnRefused("the provider sent no authorization code")
        provider = await self.provider()
        id_token = await self._redeem(provider, pending, code)
        claims = await self._verified(provider, id_token, pending.nonce)
        name = next(
            (
                value
                for value in (claims.get(key) for key in ("preferred_username", "email", "name"))
                if isinstance(value, str) and value
            ),
            claims["sub"],
        )
        return Identity(
            subject=str(claims["sub"]),
            name=str(name),
            roles=tuple(roles_in(claims, self.config.roles_claim)),
        )

    async def logout_url(self, post_logout_redirect_uri: str) -> str | None:
        """The provider's end-session URL (RP-initiated logout), None when it
        advertises none or cannot be reached."""
        try:
            provider = await self.provider()
        except ProviderUnavailable:
            return None
        if provider.end_session_endpoint is None:
            return None
        params = [
            ("client_id", self.config.client_id),
            ("post_logout_redirect_uri", post_logout_redirect_uri),
        ]
        return str(add_params_to_uri(provider.end_session_endpoint, params))

    # ---- the provider's documents ---------------------------------------------

    async def provider(self) -> _Provider:
        """The discovery document, fetched again once an hour old."""
        cached = self._provider
        if cached is not None and self.clock() - cached.fetched < CACHE_SECONDS:
            return cached
        issuer = self.config.issuer
        data = await self._json("GET", issuer.rstrip("/") + "/.well-known/openid-configuration")
        self._provider = _provider(data, issuer, self.clock())
        return self._provider

    async def _key_set(self, provider: _Provider, *, fresh: bool) -> KeySet:
        cached = self._keys
        now = self.clock()
        if cached is not None and _usable(now - cached[1], fresh=fresh):
            return cached[0]
        data = await self._json("GET", provider.jwks_uri)
        try:
            keys = KeySet.import_key_set(
                {"keys": [key for key in data.get("keys", []) if key.get("use", "sig") == "sig"]}
            )
        except (JoseError, ValueError, TypeError, AttributeError) as error:
            raise ProviderUnavailable(f"the provider's JWKS cannot be read: {error}") from None
        self._keys = (keys, now)
        return keys

    # ---- the token endpoint and the ID token ----------------------------------

    async def _redeem(self, provider: _Provider, pending: Pending, code: str) -> str:
        fields: dict[str, str] = {"code": code, "code_verifier": pending.verifier}
        auth: httpx.BasicAuth | None = None
        secret = self.config.client_secret
        if secret is None:
            fields["client_id"] = self.config.client_id
        elif "client_secret_basic" in provider.auth_methods or not provider.auth_methods:
            auth = httpx.BasicAuth(quote(self.config.client_id, safe=""), quote(secret, safe=""))
        else:
            fields.update(client_id=self.config.client_id, client_secret=secret)
        body = prepare_token_request(
            "authorization_code", redirect_uri=pending.redirect_uri, **fields
        )
        answer = await self._json("POST", provider.token_endpoint, content=body, auth=auth)
        id_token = answer.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise SignOnRefused("the provider's answer holds no ID token")
        return id_token

    async def _verified(self, provider: _Provider, id_token: str, nonce: str) -> dict[str, Any]:
        try:
            token = jwt.decode(
                id_token, await self._key_set(provider, fresh=False), algorithms=provider.algorithms
            )
        except JoseError:
            # Perhaps a key the provider started using since we fetched its JWKS.
            try:
                keys = await self._key_set(provider, fresh=True)
                token = jwt.decode(id_token, keys, algorithms=provider.algorithms)
            except (JoseError, ValueError) as error:
                raise SignOnRefused(f"the ID token's signature is not valid ({error})") from None
        except ValueError as error:
            raise SignOnRefused(f"the ID token cannot be read ({error})") from None
        claims = token.claims
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self.clock()),
            leeway=self.config.leeway_seconds,
            iss={"essential": True, "value": provider.issuer},
            aud={"essential": True, "value": self.config.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except JoseError as error:
            raise SignOnRefused(f"the ID token was refused ({error})") from None
        _check_party(claims, self.config.client_id)
        return claims

    async def _json(self, method: str, url: str, **options: Any) -> dict[str, Any]:
        try:
            answer = await self.http.request(
                method,
                url,
                headers={"Accept": "application/json"}
                | (
                    {"Content-Type": "application/x-www-form-urlencoded"}
                    if method == "POST"
                    else {}
                ),
                **options,
            )
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"{url} cannot be reached ({type(error).__name__})") from None
        data = _object(answer.content)
        if answer.status_code == 400 and method == "POST":
            what = data.get("error") if data else None
            raise SignOnRefused(f"the provider refused the sign-in ({what or 'no reason given'})")
        if answer.status_code != 200 or data is None:
            raise ProviderUnavailable(f"{url} answered {answer.status_code}, not a JSON object")
        return data


def _usable(age: float, *, fresh: bool) -> bool:
    """Whether cached keys of that age serve (asked for fresh ones: only
    when fetched moments ago)."""
    return age < (JWKS_REFRESH_SECONDS if fresh else CACHE_SECONDS)


def _object(content: bytes) -> dict[str, Any] | None:
    if len(content) > MAX_ANSWER_BYTES:
        return None
    try:
        data = msgspec.json.decode(content)
    except msgspec.DecodeError:
        return None
    return data if isinstance(data, dict) else None


def _provider(data: dict[str, Any], issuer: str, now: float) -> _Provider:
    """The parts of a discovery document we use, once it is found valid."""
    metadata = OpenIDProviderMetadata(data)
    try:
        metadata.validate(metadata_classes=[rpinitiated.OpenIDProviderMetadata])
    except ValueError as error:
        raise ProviderUnavailable(
            f"the provider's discovery document is not valid: {error}"
        ) from None
    if data["issuer"] != issuer:
        raise ProviderUnavailable(
            f"the provider calls itself {data['issuer']!r}, not INVTRACK_OIDC_ISSUER {issuer!r}"
        )
    offered = data.get("id_token_signing_alg_values_supported") or []
    algorithms = tuple(name for name in PINNED if name in offered)
    if not algorithms:
        raise ProviderUnavailable(f"the provider signs ID tokens with none of {', '.join(PINNED)}")
    return _Provider(
        issuer=data["issuer"],
        authorization_endpoint=data["authorization_endpoint"],
        token_endpoint=data["token_endpoint"],
        jwks_uri=data["jwks_uri"],
        end_session_endpoint=data.get("end_session_endpoint") or None,
        algorithms=algorithms,
        auth_methods=tuple(data.get("token_endpoint_auth_methods_supported") or ()),
        fetched=now,
    )


def _check_party(claims: dict[str, Any], client_id: str) -> None:
    """With several audiences the token must name us as its authorized party."""
    audience = claims.get("aud")
    party = claims.get("azp")
    if isinstance(audience, list) and len(audience) > 1 and party is None:
        raise SignOnRefused("the ID token has several audiences and no azp")
    if party is not None and party != client_id:
        raise SignOnRefused("the ID token was issued to another party (azp)")

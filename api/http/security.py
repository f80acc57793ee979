"""Bearer tokens on the query routes: 401 without a valid one, 403 without scope."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency

from adapters.auth import Claims
from api.services.access import NotAuthenticated, VerifiedTokens, authenticate, require


async def provide_reader(
    request: Request[Any, Any, Any], verifier: NamedDependency[VerifiedTokens]
) -> Claims:
    """The caller's claims, when its bearer token holds `read`, `write` or `admin`."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("a bearer token is required")
    claims = await authenticate(verifier, token.strip())
    require(claims, "read", "reading")
    return claims


async def provide_admin(
    request: Request[Any, Any, Any], verifier: NamedDependency[VerifiedTokens]
) -> Claims:
    """The caller's claims, when its bearer token holds `admin`."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("a bearer token is required")
    claims = await authenticate(verifier, token.strip())
    require(claims, "admin", "managing push subscriptions")
    return claims

"""Bearer tokens on the query routes: 401 without a valid one, 403 without scope."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency

from adapters.auth import Claims, InvalidToken, KeysUnavailable, TokenVerifier, allows
from api.problems import Problem, keys_unavailable


async def provide_reader(
    request: Request[Any, Any, Any], verifier: NamedDependency[TokenVerifier]
) -> Claims:
    """The caller's claims, when its token holds `read`, `write` or `admin`."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(
            401,
            "Unauthorized",
            "a bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        claims = await verifier.verify_async(token.strip())
    except InvalidToken as error:
        raise Problem(
            401,
            "Unauthorized",
            str(error),
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None
    except KeysUnavailable:
        raise keys_unavailable() from None
    if not allows(claims, "read"):
        raise Problem(403, "Forbidden", "the token's scope does not allow reading")
    return claims
